"""What comes into the engine (events) and what goes out (replies): plain data, no I/O."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from neuroseq_core.domain.circle import World


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    # The adapter's clock: the engine has none of its own (dates on profiles, reminders, context).
    now: dt.datetime
    # What the service read for this event from the store (a circle, an invite), when it needs any.
    world: World | None = None


class Start(_Event):
    """The user opened the bot (/start, or the console began)."""

    kind: Literal["start"] = "start"
    language: str | None = None  # Telegram's language_code, if any
    payload: str | None = None  # a deep link's start parameter (an invite code), if any


class Choice(_Event):
    """A button press or a typed number/label: an option id, and the token of its question."""

    kind: Literal["choice"] = "choice"
    option_id: str
    token: str | None = None  # None: typed, so it belongs to the current question
    # The message the pressed button was on (an adapter's opaque id; None when typed or unknown):
    # a questionnaire question is edited into the next one there.
    message_id: int | None = None


class Text(_Event):
    """Free text typed by the user."""

    kind: Literal["text"] = "text"
    text: str


class Command(_Event):
    """A /command: its name without the slash, lower case, and any words after it."""

    kind: Literal["command"] = "command"
    name: str
    args: str = ""


class Unsupported(_Event):
    """Something the bot cannot read: a sticker, a photo, voice, a document, a location."""

    kind: Literal["unsupported"] = "unsupported"
    what: str = "other"
    # An edited message's new text: never applied as an answer, but still screened for danger.
    text: str | None = None


class Due(_Event):
    """A reminder the user asked for has come due (e.g. a check-in a few days after the ideas)."""

    kind: Literal["due"] = "due"
    what: str


Event = Annotated[Start | Choice | Text | Command | Unsupported | Due, Field(discriminator="kind")]


class Button(BaseModel):
    """One choice offered to the user."""

    model_config = ConfigDict(frozen=True)

    id: str
    label: str


class Picture(BaseModel):
    """A request for a picture the adapter renders (e.g. the sequence with where to start)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["sequence", "progress"] = "sequence"
    steps: list[str]  # step names, bottom-up, in the user's language
    start_index: int  # which of them is where to start
    caption: str  # the same content in words: the picture never carries meaning alone
    title: str = ""
    # "progress": a word or two beside each step (e.g. "steadier"), bottom-up; words, never scores.
    notes: list[str] = Field(default_factory=list)
    # "progress": how each step changed, bottom-up, drawn as a shape beside its words (one colour:
    # a shape is read without a colour scale): steadier, same, more (support), unknown.
    changes: list[Literal["steadier", "same", "more", "unknown"]] = Field(default_factory=list)


ReplyKind = Literal["question", "notice", "safety", "result"]


class Reply(BaseModel):
    """One message to the user: Telegram-HTML text, optional buttons, optional picture."""

    model_config = ConfigDict(frozen=True)

    text: str
    choices: list[Button] = Field(default_factory=list)
    token: str | None = None  # the question these choices belong to (for stale presses)
    picture: Picture | None = None
    # "question" replies carry buttons; "safety" replies answer danger; "notice" anything else.
    kind: ReplyKind = "notice"
    numbers_are_answers: bool = False  # a typed number is an answer (an age), not a button's number
    # The button press this answers was not taken (an old, unknown or forgotten button): the pressed
    # message is left as it is, not marked with the chosen answer.
    press_refused: bool = False
    # The next question shown in place of the pressed one: the adapter edits that message (the id
    # from Choice.message_id) into this reply, after "✓ <echo>", the answer just given.
    edits: int | None = None
    echo: str | None = None
    # An invite code to show: Telegram shows it as a link that opens the bot, the console as /join.
    invite: str | None = None


def parse_command(text: str) -> tuple[str, str] | None:
    """("name", "args") for "/Name@bot args"; None when the text is not a command."""
    if not text.startswith("/") or len(text) < 2:
        return None
    head, _sep, args = text[1:].partition(" ")
    name = head.split("@", 1)[0].strip().lower()
    if not name or not all(c.isalnum() or c == "_" for c in name):
        return None
    return name, args.strip()
