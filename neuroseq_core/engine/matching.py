"""Typed input matched to buttons: a number (1-based) or a label, folded for case, accents and spacing."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from dialogs.flow import Ask
from neuroseq_core.content.render import to_plain
from neuroseq_core.domain.events import Button
from neuroseq_core.engine.asking import buttons
from neuroseq_core.engine.turn import Turn


def fold(text: str) -> str:
    """Fold case, accents and spacing, for matching a typed label to a button."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", text).strip().casefold()


def match_button(raw: str, choices: Sequence[Button]) -> Button | None:
    """The button a typed line means: its number (1-based) or its label; None if neither."""
    if len(raw) > 200:
        return None
    text = fold(raw).rstrip(").")
    if text.isdigit():
        i = int(text)
        return choices[i - 1] if 1 <= i <= len(choices) else None
    return next((b for b in choices if fold(to_plain(b.label)) == text), None)


def match_choice(turn: Turn, raw: str, ask: Ask) -> str | None:
    """A typed number or label of the current state's choices, as a choice id."""
    button = match_button(raw, buttons(turn, ask))
    return button.id if button else None
