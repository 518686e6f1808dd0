"""The sequence picture: a valid PNG, bottom-up, start marked, calm palette, fast."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from bot.picture import BLOCK_EDGE, HEIGHT, START_EDGE, WIDTH, render_sequence_png
from neuroseq_core.domain.events import Picture

STEPS = ["Regulate", "Relate", "Reason"]


def picture(start: int = 0, title: str = "Start here", steps: list[str] | None = None) -> Picture:
    return Picture(steps=steps or STEPS, start_index=start, caption="Start with the first step", title=title)


def load(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGB")


def test_png_signature_and_size():
    png = render_sequence_png(picture())
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert load(png).size == (WIDTH, HEIGHT)
    assert 2_000 < len(png) < 200_000


@pytest.mark.parametrize("start", [0, 1, 2])
def test_start_block_has_the_thick_outline_bottom_up(start):
    image = load(render_sequence_png(picture(start)))
    # Blocks are stacked bottom-up: block i sits in band i counted from the bottom.
    x = 90 + 3  # inside the left edge of the blocks, on the outline
    bands = []
    for index in range(3):
        block_h = (HEIGHT - 80 - 2 * 14) // 3
        y_mid = HEIGHT - 40 - index * (block_h + 14) - block_h // 2
        bands.append(image.getpixel((x, y_mid)))
    assert bands[start] == START_EDGE
    assert all(colour != START_EDGE for i, colour in enumerate(bands) if i != start)


def test_different_starts_and_titles_draw_different_pictures():
    assert render_sequence_png(picture(0)) != render_sequence_png(picture(2))
    assert render_sequence_png(picture(0, title="")) != render_sequence_png(picture(0, title="Start here"))


def test_no_red_green_coding():
    image = load(render_sequence_png(picture(1)))
    colours = {c for _count, c in image.getcolors(maxcolors=1_000_000)}
    strong_red = [c for c in colours if c[0] > 180 and c[1] < 90 and c[2] < 90]
    strong_green = [c for c in colours if c[1] > 150 and c[0] < 90 and c[2] < 90]
    assert strong_red == [] and strong_green == []
    assert BLOCK_EDGE in colours and START_EDGE in colours


@pytest.mark.parametrize(
    "pic",
    [
        Picture(steps=["<b>Regulate</b> &amp; calm", "Relate", "Reason"], start_index=0, caption="c"),
        Picture(
            steps=["A very long step name that has to wrap over several lines"] * 3,
            start_index=1,
            caption="c",
            title="x " * 80,
        ),
        Picture(steps=["One"], start_index=5, caption="c"),
        Picture(steps=[], start_index=0, caption="c"),
        Picture(
            steps=["Régler", "Relier", "Raisonner", "Plus"],
            start_index=-1,
            caption="c",
            title="Commencer ici",
        ),
    ],
)
def test_odd_inputs_still_render(pic):
    assert render_sequence_png(pic).startswith(b"\x89PNG")


def test_renders_well_under_100_ms():
    render_sequence_png(picture())  # warm the font cache
    runs = 10
    started = time.perf_counter()
    for i in range(runs):
        render_sequence_png(picture(i % 3))
    mean_ms = (time.perf_counter() - started) / runs * 1000
    assert mean_ms < 100, f"{mean_ms:.1f} ms per picture"


def test_the_font_is_shipped_and_draws_every_picture_label_in_every_language(content):
    from bot.picture import FONT_FILE, missing_glyphs

    assert FONT_FILE.is_file() and (FONT_FILE.parent / "LICENSE-DejaVu.txt").is_file()
    assert missing_glyphs("Empieza aquí") == set()
    assert missing_glyphs("x\U0001f319") == {"\U0001f319"}  # the check does see a missing glyph
    drawn: list[str] = []
    for lang in content.languages.languages:
        drawn += [content.local(st.name, lang) for st in content.sequence.steps]
        drawn += [content.local(lv.name, lang) for lv in content.sequence.levels]
        for mid in ("picture.start_here", "progress.steadier", "progress.same", "progress.more"):
            drawn.append(str(content.text(mid, lang, child="Sam")))
    missing = {text: sorted(missing_glyphs(text)) for text in drawn if missing_glyphs(text)}
    assert missing == {}
