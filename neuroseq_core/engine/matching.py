"""Typed input read as a person means it: a button's number or label (forgiving a slip or two), the
words people use for a button (content/typed.yaml), an age at the age question, a language's name,
and the words of a hard moment."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

from dialogs.flow import Ask
from neuroseq_core.content.render import to_plain
from neuroseq_core.domain.events import Button
from neuroseq_core.domain.models import AgeBand
from neuroseq_core.engine.asking import buttons
from neuroseq_core.engine.turn import Turn

MAX_TYPED = 200  # longer text is never a button
_AGE = re.compile(r"(?<!\d)(\d{1,2})(?!\d)")
_MONTHS = re.compile(r"\b(?:months?|mos?|meses|mes)\b")
_NOT_AN_AGE = re.compile(r"\b(?:year|grade|class|curso|grado|ano de|año de)\s*\d", re.IGNORECASE)


def fold(text: str) -> str:
    """Fold case, accents, apostrophes and spacing, for matching what was typed."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"['’`´]", "", text)
    text = re.sub(r"[^\w\s]+", " ", text)
    return re.sub(r"\s+", " ", text).strip().casefold()


def _distance(a: str, b: str, limit: int) -> int:
    """Edit distance with adjacent swaps (Damerau), giving up past `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def _slips(word: str) -> int:
    return 0 if len(word) < 4 else (1 if len(word) < 8 else 2)


def match_button(
    raw: str, choices: Sequence[Button], words: Mapping[str, Sequence[str]] | None = None
) -> Button | None:
    """The button a typed line means: its number (1-based), its label, a word for it, or its label
    with a slip or two; None if none (or if two buttons are as close)."""
    if len(raw) > MAX_TYPED:
        return None
    text = fold(raw)
    if text.isdigit():
        i = int(text)
        return choices[i - 1] if 1 <= i <= len(choices) else None
    labels = {b.id: fold(to_plain(b.label)) for b in choices}
    exact = [b for b in choices if labels[b.id] == text]
    if exact:
        return exact[0]
    said = [b for b in choices if text in {fold(w) for w in (words or {}).get(b.id, ())}]
    if said:
        return said[0]
    # A slip or two, but never in numbers: "12 anos" is not "0-2 anos".
    wordy = [b for b in choices if not any(ch.isdigit() for ch in labels[b.id])]
    if any(ch.isdigit() for ch in text):
        return None
    scored = [(_distance(text, labels[b.id], _slips(labels[b.id])), b) for b in wordy]
    near = sorted((d, i) for i, (d, b) in enumerate(scored) if d <= _slips(labels[b.id]))
    if near and (len(near) == 1 or near[0][0] < near[1][0]):
        return scored[near[0][1]][1]
    # Part of one label and of no other ("a lot of help" for "With a lot of help").
    within = [b for b in wordy if len(text) >= 5 and f" {text} " in f" {labels[b.id]} "]
    return within[0] if len(within) == 1 else None


def typed_words(turn: Turn) -> dict[str, list[str]]:
    """Button id -> the words people type for it, in the user's language."""
    return {cid: by_lang.get(turn.lang, []) for cid, by_lang in turn.c.typed.choices.items()}


def match_choice(turn: Turn, raw: str, ask: Ask) -> str | None:
    """A typed number, label or word of the current state's choices, as a choice id."""
    button = match_button(raw, buttons(turn, ask), typed_words(turn))
    return button.id if button else None


def typed_age(raw: str, bands: Sequence[AgeBand]) -> tuple[int, int | None, AgeBand] | None:
    """An age typed at the age question ("4", "he is 5", "tiene 12 años", "18 months"): the years,
    the months when given in months, and the band."""
    if len(raw) > MAX_TYPED:
        return None
    found = _AGE.findall(raw)
    if len(found) != 1 or _NOT_AN_AGE.search(raw):  # "year 2", "grade 3": a school year, not an age
        return None
    age, months = int(found[0]), None
    if _MONTHS.search(fold(raw)):  # "18 months", "8 meses"
        age, months = age // 12, age
    band = next((b for b in bands if b.min_age <= age <= b.max_age), None)
    return (age, months, band) if band else None


def typed_language(turn: Turn, raw: str) -> str | None:
    """A language the user asked for by name ("español", "english"), if it is not the current one."""
    text = fold(raw)
    for lang, names in turn.c.typed.languages.items():
        if lang in turn.c.languages.languages and text in {fold(n) for n in names}:
            return None if lang == turn.lang else lang
    return None


def sounds_like_a_hard_moment(turn: Turn, raw: str) -> bool:
    """The words of a hard moment right now, in any language we have (help, screaming, hitting...)."""
    if len(raw) > 2 * MAX_TYPED:
        return False
    text = f" {fold(raw)} "
    return any(f" {fold(w)} " in text for words in turn.c.typed.panic.values() for w in words)
