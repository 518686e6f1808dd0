"""Which safety reply fits who is speaking: pure choices over a verdict, no wording (that is content)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

# The reply template for (category, who speaks), falling back to `safety.<category>`. A teacher or
# a parent is never given the words meant for a child, nor an adult telling of their own abuse.
VARIANTS: dict[tuple[str, str], str] = {
    ("suicide_self_harm", "child"): "safety.suicide_self_harm.child",
    ("suicide_self_harm", "adult_about_child"): "safety.suicide_self_harm.other",
    ("suicide_self_harm", "adult_about_adult"): "safety.suicide_self_harm.other",
    ("child_at_risk", "child"): "safety.child_at_risk.child",
    ("child_at_risk", "adult_self"): "safety.child_at_risk.self",
    ("domestic_violence", "child"): "safety.domestic_violence.child",
    ("domestic_violence", "adult_about_child"): "safety.domestic_violence.other",
    ("domestic_violence", "adult_about_adult"): "safety.domestic_violence.other",
}
SAFETY_TEMPLATES: tuple[str, ...] = tuple(sorted(set(VARIANTS.values())))
# Whose lines fit best where the category's own would not: a child who sees violence at home
# needs a child line, not an adults' domestic-violence line.
LINES_FROM: dict[tuple[str, str], str] = {
    ("domestic_violence", "child"): "child_at_risk",
}

NICKNAME_MAX = 24
NICKNAME_WORDS = 3
# Letters (any script), marks, spaces, and the few signs names carry: Mary-Jo, O'Neil, J.J.
_NAME_CHARS = re.compile(r"^[\w\s'’.&<>\-]+$")


def speaker_for(speaker: str, role: str | None) -> str:
    """Who we answer: a teacher is never answered as a child, whatever the wording suggests."""
    if role == "educator" and speaker == "child":
        return "adult_about_child"
    return speaker


def template_for(category: str, speaker: str) -> str:
    """The message id of the reply for this category and speaker."""
    return VARIANTS.get((category, speaker), f"safety.{category}")


def lines_category(category: str, speaker: str) -> str:
    """The helpline category to list for this reply."""
    return LINES_FROM.get((category, speaker), category)


def audience_for(speaker: str) -> str:
    """Whose helplines: children's lines for a child, every line for an adult about a child (to
    pass on), adults' lines for an adult about an adult, and every line for a person speaking of
    themselves (their age is not known)."""
    return {"child": "child", "adult_about_adult": "adult"}.get(speaker, "all")


def recent(
    categories: list[str], at: dt.datetime | None, now: dt.datetime | None, minutes: int
) -> tuple[str, ...]:
    """The categories of a danger reply given within the last `minutes`, else none."""
    if not categories or at is None or now is None:
        return ()
    return tuple(categories) if dt.timedelta(0) <= now - at <= dt.timedelta(minutes=minutes) else ()


def is_nickname(name: str) -> bool:
    """A short name, not a sentence: at most 24 characters and 3 words, no digits or sentence signs."""
    if not name or len(name) > NICKNAME_MAX or len(name.split()) > NICKNAME_WORDS:
        return False
    if any(unicodedata.category(ch) == "So" for ch in name):  # an emoji nickname is fine
        name = "".join(ch for ch in name if unicodedata.category(ch) != "So").strip() or "x"
    return bool(_NAME_CHARS.match(name)) and not any(ch.isdigit() for ch in name)
