"""Reply → Bot API calls: HTML text split to Telegram's limits, inline keyboards, the sequence picture.

Pure functions: no network here, so every limit is tested without a server.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from functools import lru_cache

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.picture import render_sequence_png
from neuroseq_core.domain.events import Button, Picture, Reply

MAX_TEXT = 4096  # characters of a message after entity parsing (UTF-16 code units)
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64  # bytes
MAX_ROW = 8  # buttons in one keyboard row
SEPARATOR = "|"


class RenderError(ValueError):
    """A reply cannot be shown on Telegram as it is (a content or engine bug, not a user error)."""


@dataclass(frozen=True)
class OutgoingMessage:
    """One sendMessage call."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None


@dataclass(frozen=True)
class OutgoingPhoto:
    """One sendPhoto call (PNG bytes, caption in Telegram HTML)."""

    png: bytes = field(repr=False)
    caption: str = ""


@dataclass(frozen=True)
class OutgoingEdit:
    """One editMessageText call: the pressed question's message becomes the next question. When it
    cannot be edited (gone, or too old), the same text goes as a new message."""

    message_id: int
    text: str
    keyboard: InlineKeyboardMarkup | None = None


Outgoing = OutgoingMessage | OutgoingPhoto | OutgoingEdit

_ATOM = re.compile(r"<[^>]*>|&#?\w+;|[\s\S]", re.UNICODE)
_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)[^>]*>")
_EMPTY_PAIR = re.compile(r"<([a-zA-Z][\w-]*)[^>]*></\1>")


def visible_length(text: str) -> int:
    """Length Telegram counts for HTML text: tags dropped, entities as one char, in UTF-16 units."""
    plain = html.unescape(re.sub(r"<[^>]*>", "", text))
    return len(plain.encode("utf-16-le")) // 2


def _has_words(text: str) -> bool:
    return bool(html.unescape(re.sub(r"<[^>]*>", "", text)).strip())


def _atom_length(atom: str) -> int:
    if atom.startswith("<") and atom.endswith(">") and len(atom) > 1:
        return 0
    if atom.startswith("&") and atom.endswith(";") and len(atom) > 2:
        return len(html.unescape(atom).encode("utf-16-le")) // 2
    return len(atom.encode("utf-16-le")) // 2


def split_html(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split HTML text into parts of at most `limit` visible characters.

    Cuts at a line break where it can, else at a space, else anywhere between characters; never
    inside a tag or an entity. Tags open at a cut are closed at the end of the part and opened again
    at the start of the next, so every part is valid HTML on its own.
    """
    if visible_length(text) <= limit:
        return [text] if _has_words(text) else []
    atoms = _ATOM.findall(text)
    parts: list[str] = []
    open_tags: list[tuple[str, str]] = []  # (name, the opening tag as written)
    start = 0
    while start < len(atoms):
        used = 0
        end = start
        last_newline = last_space = -1
        while end < len(atoms):
            n = _atom_length(atoms[end])
            if used + n > limit:
                break
            used += n
            if atoms[end] == "\n":
                last_newline = end
            elif atoms[end] in (" ", "\t"):
                last_space = end
            end += 1
        if end < len(atoms):
            # Prefer a line boundary, then a word boundary, if it leaves a reasonably full part.
            if last_newline > start:
                end = last_newline + 1
            elif last_space > start:
                end = last_space + 1
            elif end == start:  # a single atom over the limit cannot happen for limit >= 2
                end = start + 1
        prefix = "".join(tag for _name, tag in open_tags)
        chunk = atoms[start:end]
        for atom in chunk:
            match = _TAG.fullmatch(atom)
            if match is None:
                continue
            closing, name = match.group(1) == "/", match.group(2).lower()
            if not closing:
                open_tags.append((name, atom))
            else:
                for i in range(len(open_tags) - 1, -1, -1):
                    if open_tags[i][0] == name:
                        del open_tags[i]
                        break
        suffix = "".join(f"</{name}>" for name, _tag in reversed(open_tags))
        body = _EMPTY_PAIR.sub("", prefix + "".join(chunk).strip() + suffix)
        if _has_words(body):
            parts.append(body)
        start = end
    return parts


def callback_data(token: str | None, option_id: str) -> str:
    """The callback_data of a button: "<token>|<option id>", at most 64 bytes."""
    data = f"{token or ''}{SEPARATOR}{option_id}"
    if len(data.encode("utf-8")) > MAX_CALLBACK_DATA:
        raise RenderError(f"callback data for option {option_id!r} is over {MAX_CALLBACK_DATA} bytes")
    return data


def parse_callback_data(data: str | None) -> tuple[str | None, str] | None:
    """(token or None, option id) from callback_data, or None when it is not ours."""
    if not data or SEPARATOR not in data:
        return None
    token, _sep, option_id = data.partition(SEPARATOR)
    if not option_id:
        return None
    return (token or None), option_id


def per_row(labels: list[str]) -> int:
    """How many buttons share a row: short labels 4, medium 3 or 2, long ones alone."""
    longest = max((len(label) for label in labels), default=0)
    if longest <= 6:
        cap = 4
    elif longest <= 11:
        cap = 3
    elif longest <= 18:
        cap = 2
    else:
        cap = 1
    return min(cap, MAX_ROW)


def keyboard(choices: list[Button], token: str | None) -> InlineKeyboardMarkup | None:
    """An inline keyboard in the given order (least to most concern), rows balanced in size."""
    if not choices:
        return None
    cap = per_row([b.label for b in choices])
    rows_needed = -(-len(choices) // cap)
    # Balanced rows (5 buttons at 4 a row become 3 + 2, not 4 + 1); earlier rows take the extra.
    base, extra = divmod(len(choices), rows_needed)
    rows: list[list[InlineKeyboardButton]] = []
    index = 0
    for r in range(rows_needed):
        size = base + (1 if r < extra else 0)
        rows.append(
            [
                InlineKeyboardButton(b.label, callback_data=callback_data(token, b.id))
                for b in choices[index : index + size]
            ]
        )
        index += size
    return InlineKeyboardMarkup(rows)


@lru_cache(maxsize=128)
def _picture_png(picture_json: str) -> bytes:
    """A picture drawn once per distinct picture (7 ms each; a few dozen are ever distinct: steps,
    bands, words and language), kept for the next user who gets the same one."""
    return render_sequence_png(Picture.model_validate_json(picture_json))


def invite_link(username: str | None, code: str) -> str:
    """An invite as Telegram shows it: a deep link that opens the bot with the code
    (https://t.me/<bot>?start=<code>); without the bot's username, the /join command."""
    if not username:
        return f"/join {html.escape(code)}"
    url = f"https://t.me/{html.escape(username)}?start={html.escape(code)}"
    return f'<a href="{url}">{url}</a>'


def render_reply(reply: Reply, username: str | None = None) -> list[Outgoing]:
    """The Bot API calls that show one reply: the picture first, then the text (keyboard on its last
    part). `username`: the bot's, for an invite's link."""
    if reply.invite is not None:
        reply = reply.model_copy(update={"text": f"{reply.text}\n\n{invite_link(username, reply.invite)}"})
    out: list[Outgoing] = []
    if reply.picture is not None:
        caption = reply.picture.caption
        png = _picture_png(reply.picture.model_dump_json())
        if visible_length(caption) <= MAX_CAPTION:
            out.append(OutgoingPhoto(png=png, caption=caption))
        else:
            # Too long for a caption: the words still go out, as their own message.
            out.append(OutgoingPhoto(png=png))
            out.extend(OutgoingMessage(text=part) for part in split_html(caption))
    markup = keyboard(reply.choices, reply.token)
    if reply.edits is not None and reply.picture is None:
        shown = in_place_text(reply.text, reply.echo)
        if shown is not None:
            return [OutgoingEdit(message_id=reply.edits, text=shown, keyboard=markup)]
    parts = split_html(reply.text)
    if not parts and markup is not None:
        raise RenderError("a reply with choices needs text to attach them to")
    for i, part in enumerate(parts):
        out.append(OutgoingMessage(text=part, keyboard=markup if i == len(parts) - 1 else None))
    return out


def in_place_text(question_html: str, echo: str | None) -> str | None:
    """The next question shown in the pressed message: "✓ " and the answer given, a blank line, the
    question. None when that is too long for one message (then it is sent as new messages)."""
    text = question_html if not echo else f"✓ {html.escape(echo, quote=False)}\n\n{question_html}"
    return text if _has_words(text) and visible_length(text) <= MAX_TEXT else None


def answered_text(question_html: str, label: str) -> str | None:
    """The question message after a press: its text, a blank line, "✓ " and the chosen label.

    None when that would be too long for one message (then only the keyboard is removed). A question
    shown in place of the one before it loses that one's echo: one answer shows, the one just given.
    """
    if question_html.startswith("✓ ") and "\n\n" in question_html:
        question_html = question_html.split("\n\n", 1)[1]
    text = f"{question_html}\n\n✓ {html.escape(label, quote=False)}"
    return text if visible_length(text) <= MAX_TEXT else None


def label_for(markup: InlineKeyboardMarkup | None, data: str) -> str | None:
    """The label of the button with this callback_data on a message's keyboard."""
    if markup is None:
        return None
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == data:
                return button.text
    return None
