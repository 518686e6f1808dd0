"""Asking: the question a state shows, its buttons, and the token that tells a stale press apart."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from dialogs.flow import Ask
from neuroseq_core.domain.events import Button, Reply
from neuroseq_core.engine.registry import PROMPT_TEXTS, SOURCES
from neuroseq_core.engine.turn import Turn


def buttons(turn: Turn, ask: Ask) -> list[Button]:
    """The buttons of a state, in order (answer options run from fine to worried)."""
    fixed = [Button(id=o, label=turn.t(ask.label.format(id=o))) for o in ask.options]
    return SOURCES[ask.source](turn, fixed) if ask.source else fixed


def _point(turn: Turn) -> str:
    return f"{turn.state}:{turn.s.question_id or ''}"


def _token(turn: Turn) -> str:
    # A new token for each new point of the conversation; asking again at the same point keeps it,
    # so the buttons of a question asked again still work.
    point = _point(turn)
    if turn.s.prompt_point != point:
        turn.s.seq += 1
        turn.s.prompt_point = point
    return f"{turn.s.seq:x}{zlib.crc32(point.encode()) & 0xFFF:03x}"


def prompt(turn: Turn, note: str | None = None) -> None:
    """Ask (or ask again) what the current state asks; `note` (or the turn's note) is said first."""
    note = note or turn.note
    turn.note = None
    ask = turn.flow.asks.get(turn.state)
    if ask is None:
        if note:
            turn.say(note)
        # Not started (or erased): nothing to carry on, so "type /start to begin", as after declining.
        turn.say("declined.hint" if turn.state in ("declined", turn.flow.initial) else "paused.hint")
        return
    again = turn.s.prompt_point == _point(turn)
    token = _token(turn)
    turn.s.token = token
    message = ask.again if again and ask.again else ask.message
    word = PROMPT_TEXTS.get(message)
    text = word(turn, message) if word else turn.t(message)
    if note:
        text = turn.t(note) + "\n\n" + text
    turn.replies.append(
        Reply(
            text=text,
            choices=buttons(turn, ask),
            token=token,
            kind="question",
            numbers_are_answers=ask.source == "age_bands",
        )
    )


def side_question(turn: Turn, text: str, button_ids: Sequence[str], before: Sequence[Button] = ()) -> None:
    """A question beside the flow (confirm, danger check): the state and the question on screen stay."""
    choices = [*before, *(Button(id=b, label=turn.t(b)) for b in button_ids)]
    turn.replies.append(Reply(text=text, choices=choices, token=turn.s.token or None, kind="question"))
