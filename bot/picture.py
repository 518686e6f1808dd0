"""Draws the Regulate → Relate → Reason sequence as a PNG, bottom-up, with where to start marked.

Only words the Picture carries are drawn (step names and its title); the caption carries the same
meaning in words, so the picture never stands alone. Calm Okabe–Ito colours (colour-blind safe),
no red–green coding, no scores and no heat map: it is a sketch of an order, not a measurement.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from neuroseq_core.content.render import to_plain
from neuroseq_core.domain.events import Picture

WIDTH, HEIGHT = 720, 600
MARGIN = 40
BLOCK_GAP = 14
BLOCK_WIDTH = 380
# Okabe–Ito blue and orange, with pale tints for the blocks: readable for every common
# colour-vision type, and none of it reads as a traffic light.
BACKGROUND = (250, 250, 247)
BLOCK_FILLS = [(204, 228, 244), (222, 236, 247), (238, 245, 251)]  # tints of sky blue #56B4E9
BLOCK_EDGE = (86, 180, 233)  # sky blue
START_EDGE = (0, 114, 178)  # blue #0072B2
ARROW = (230, 159, 0)  # orange #E69F00
TEXT = (34, 34, 34)

FontType = ImageFont.FreeTypeFont | ImageFont.ImageFont


# DejaVu Sans, shipped with the package (bot/fonts, its licence beside it): full Latin, Greek and
# Cyrillic coverage, so every language's labels render; Pillow's own default font has no "í".
FONT_FILE = Path(__file__).with_name("fonts") / "DejaVuSans.ttf"


@lru_cache(maxsize=8)
def font(size: int) -> ImageFont.FreeTypeFont:
    """The picture font at a size."""
    return ImageFont.truetype(str(FONT_FILE), size=size)


def missing_glyphs(text: str) -> set[str]:
    """The characters of `text` the picture font cannot draw (they would show as a box)."""
    f = font(22)
    box = f.getmask(chr(0x10FFFD)).getbbox()  # a private-use character: drawn as the .notdef box
    notdef = bytes(f.getmask(chr(0x10FFFD)))
    return {
        ch
        for ch in set(text)
        if not ch.isspace() and f.getmask(ch).getbbox() == box and bytes(f.getmask(ch)) == notdef
    }


def _font(size: int) -> FontType:
    return font(size)


def _change_mark(draw: ImageDraw.ImageDraw, x: int, y: int, change: str) -> None:
    """A shape for how a step changed, in one colour: a check (steadier), a level line (about the
    same), a plus in a circle (needs more support now), a dotted circle (not enough to compare)."""
    r = 14
    if change == "steadier":
        draw.line([(x - 10, y), (x - 3, y + 8), (x + 11, y - 9)], fill=START_EDGE, width=5, joint="curve")
    elif change == "same":
        draw.line([(x - 11, y - 4), (x + 11, y - 4)], fill=START_EDGE, width=4)
        draw.line([(x - 11, y + 4), (x + 11, y + 4)], fill=START_EDGE, width=4)
    elif change == "more":
        draw.ellipse([(x - r, y - r), (x + r, y + r)], outline=START_EDGE, width=3)
        draw.line([(x - 7, y), (x + 7, y)], fill=START_EDGE, width=3)
        draw.line([(x, y - 7), (x, y + 7)], fill=START_EDGE, width=3)
    else:
        for i in range(0, 360, 45):
            draw.arc([(x - r, y - r), (x + r, y + r)], i, i + 20, fill=BLOCK_EDGE, width=3)


def _text_width(draw: ImageDraw.ImageDraw, text: str, font: FontType) -> float:
    left, _top, right, _bottom = draw.textbbox((0, 0), text, font=font)
    return right - left


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: FontType, width: float) -> list[str]:
    """Greedy word wrap to a pixel width (a single over-long word stays on its own line)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if current and _text_width(draw, candidate, font) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _centered(
    draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], lines: list[str], font: FontType
) -> None:
    x0, y0, x1, y1 = box
    line_h = draw.textbbox((0, 0), "Ag", font=font)[3] + 6
    total = line_h * len(lines)
    y = y0 + (y1 - y0 - total) / 2
    for line in lines:
        w = _text_width(draw, line, font)
        draw.text((x0 + (x1 - x0 - w) / 2, y), line, fill=TEXT, font=font)
        y += line_h


def render_sequence_png(picture: Picture) -> bytes:
    """The sequence as PNG bytes: steps stacked bottom-up, the starting step outlined and pointed at."""
    steps = [to_plain(s).strip() for s in picture.steps] or [""]
    start = min(max(picture.start_index, 0), len(steps) - 1)
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    name_font = _font(30)
    label_font = _font(22)

    count = len(steps)
    top, bottom = MARGIN, HEIGHT - MARGIN
    block_h = (bottom - top - BLOCK_GAP * (count - 1)) // count
    left = MARGIN + 50  # room for the upward arrow that shows the order
    right = left + BLOCK_WIDTH

    # The order of the sequence, shown without words: a thin arrow from bottom to top.
    ax = MARGIN + 16
    draw.line([(ax, bottom - 6), (ax, top + 18)], fill=BLOCK_EDGE, width=4)
    draw.polygon([(ax - 11, top + 22), (ax + 11, top + 22), (ax, top + 2)], fill=BLOCK_EDGE)

    start_box = (0, 0, 0, 0)
    for index, name in enumerate(steps):
        # Bottom-up: the first step is drawn lowest.
        y1 = bottom - index * (block_h + BLOCK_GAP)
        y0 = y1 - block_h
        box = (left, y0, right, y1)
        fill = BLOCK_FILLS[min(index, len(BLOCK_FILLS) - 1)]
        is_start = index == start
        draw.rounded_rectangle(
            box,
            radius=18,
            fill=fill,
            outline=START_EDGE if is_start else BLOCK_EDGE,
            width=8 if is_start else 2,
        )
        _centered(draw, box, _wrap(draw, name, name_font, BLOCK_WIDTH - 40), name_font)
        if is_start:
            start_box = box

    if picture.notes:
        # Progress: a few words beside each step (how it changed), in place of the start pointer.
        line_h = draw.textbbox((0, 0), "Ag", font=label_font)[3] + 4
        for index, note in enumerate(picture.notes[:count]):
            y1 = bottom - index * (block_h + BLOCK_GAP)
            mid = y1 - block_h // 2
            text_left = right + 24
            if index < len(picture.changes):
                _change_mark(draw, right + 36, mid, picture.changes[index])
                text_left = right + 64
            lines = _wrap(draw, to_plain(note).strip(), label_font, WIDTH - text_left - 12)
            y = mid - line_h * len(lines) / 2
            for line in lines:
                draw.text((text_left, y), line, fill=TEXT, font=label_font)
                y += line_h
        return _png(image)

    # The pointer to where to start: an orange arrow from the right, with the Picture's own title.
    _x0, y0, x1, y1 = start_box
    mid = (y0 + y1) // 2
    tip = x1 + 12
    tail = tip + 70
    draw.line([(tail, mid), (tip + 18, mid)], fill=ARROW, width=8)
    draw.polygon([(tip + 24, mid - 16), (tip + 24, mid + 16), (tip, mid)], fill=ARROW)
    title = to_plain(picture.title).strip()
    if title:
        text_left = tail + 10
        lines = _wrap(draw, title, label_font, WIDTH - text_left - 12)
        line_h = draw.textbbox((0, 0), "Ag", font=label_font)[3] + 4
        y = mid - line_h * len(lines) / 2
        for line in lines:
            draw.text((text_left, y), line, fill=TEXT, font=label_font)
            y += line_h

    return _png(image)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    # compress_level 3: a few KB larger than 9 and several times faster; these pictures are small.
    image.save(out, format="PNG", compress_level=3)
    return out.getvalue()
