"""The safety lexicon: the fast, precise layer of the safety screen, in every language the content has.

Lexicons live in content/safety/lexicon/<lang>.yaml and are written in a small pattern language that staff
can read (see the top of content/safety/lexicon/en.yaml). Patterns compile to regular expressions at load
time; both the patterns and the messages go through the same `normalise`, so a misspelling rule
written once holds on both sides.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from neuroseq_core.content.yamlio import ContentError, display_name, line_of, read_folder
from neuroseq_core.safety.words import CATEGORIES, CategoryId, normalise


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CategoryLexicon(_Strict):
    """The patterns of one category in one language."""

    patterns: list[str] = Field(min_length=1)
    unless: list[str] = Field(default_factory=list)  # a match overlapping one of these is dropped


class Lexicon(_Strict):
    """One language's lexicon: negations and, per category, patterns."""

    language: str
    max_gap: int = Field(default=3, ge=1, le=8)  # what a bare `*` between words may skip
    lists: dict[str, list[str]] = Field(default_factory=dict)  # `{name}` in a pattern: one of these
    negations: list[str] = Field(default_factory=list)  # directly before a match, these cancel it
    categories: dict[CategoryId, CategoryLexicon]
    # Words of swallowing or poison: a medical reply adds a poison line only when one is present
    # (never for strangulation or a fall).
    poisoning: list[str] = Field(default_factory=list)
    # Harm that needs a doctor now whatever else is going on (strangulation, a head hit against a
    # wall): a reply in another category also leads with the emergency number.
    medical_also: list[str] = Field(default_factory=list)


class PatternError(ValueError):
    """A pattern that does not follow the pattern language."""


_TOKEN = re.compile(r"\s*(?:(\()|(\))|(\|)|(\?)|(\*\d*)(?=[\s()|?]|$)|([^\s()|?]+))")


def _tokens(pattern: str) -> Iterator[tuple[str, str]]:
    pos = 0
    pattern = pattern.rstrip()
    while pos < len(pattern):
        m = _TOKEN.match(pattern, pos)
        if m is None:  # pragma: no cover - every character is matched by one branch
            raise PatternError(f"cannot read {pattern[pos:]!r}")
        kinds = ("(", ")", "|", "?", "gap", "word")
        for kind, value in zip(kinds, m.groups(), strict=True):
            if value is not None:
                yield kind, value
        pos = m.end()


# The words a pattern can start with: (word, True) for a word prefix such as `suicid*`.
Firsts = frozenset[tuple[str, bool]]


@functools.lru_cache(maxsize=16384)  # the same words recur across patterns, languages and /reload
def _word_regex(raw: str) -> tuple[str, Firsts]:
    prefix = raw.endswith("*")
    word = normalise(raw[:-1] if prefix else raw)
    if not word:
        raise PatternError(f"{raw!r} has no letters or digits to match")
    if "*" in raw[:-1]:
        raise PatternError(
            f"{raw!r}: a * goes at the end of a word (suicid*) or stands alone (want to * die)"
        )
    parts = word.split(" ")
    body = r"\ ".join(re.escape(part) for part in parts)
    first = (parts[0], prefix and len(parts) == 1)
    return body + (r"[^ ]* " if prefix else " "), frozenset([first])


_LIST_REF = re.compile(r"\{([^{}]*)\}")


def compile_pattern(
    pattern: str, max_gap: int, lists: dict[str, list[str]] | None = None
) -> tuple[str, Firsts]:
    """Turn one lexicon pattern into a regex over normalised text, and the words it can start with."""

    def expand(m: re.Match[str]) -> str:
        items = (lists or {}).get(m.group(1))
        if not items:
            known = ", ".join(sorted(lists or {})) or "none"
            raise PatternError(f"{{{m.group(1)}}} is not a list in this file (lists: {known})")
        if any("{" in item or "}" in item for item in items):
            raise PatternError(f"list {m.group(1)!r} refers to another list; write its words out")
        return "(" + "|".join(items) + ")"

    tokens = list(_tokens(_LIST_REF.sub(expand, pattern)))
    body, firsts, pos = _sequence(tokens, 0, max_gap)
    if pos < len(tokens):
        kind = tokens[pos][0]
        raise PatternError("a ) without its (" if kind == ")" else "| only separates alternatives inside ( )")
    return body, firsts


def _sequence(
    tokens: list[tuple[str, str]], pos: int, max_gap: int, leading: bool = True
) -> tuple[str, Firsts, int]:
    # One run of elements up to a `|`, a `)` or the end; each element's regex consumes its
    # trailing space, so elements simply follow one another. An optional element before the
    # first required one (`(my|his)? dad`) cannot change whether a message matches, only where
    # the match starts, so it is dropped: otherwise "my", "the" and "a" would start a regex at
    # every other word of a message.
    parts: list[str] = []
    firsts: set[tuple[str, bool]] = set()
    required = 0
    last_gap = False
    while pos < len(tokens) and tokens[pos][0] not in ("|", ")"):
        kind, value = tokens[pos]
        pos += 1
        if kind == "?":
            raise PatternError("? goes right after a word or a ( ) group")
        if kind == "gap":
            if not parts or last_gap:
                raise PatternError("a * gap must stand between words")
            n = int(value[1:]) if len(value) > 1 else max_gap
            if not 1 <= n <= 8:
                raise PatternError(f"{value}: a gap can skip 1 to 8 words")
            parts.append(f"(?:[^ ]+ ){{0,{n}}}")
            last_gap = True
            continue
        if kind == "(":
            alternatives = []
            element_firsts: set[tuple[str, bool]] = set()
            while True:
                alt, alt_firsts, pos = _sequence(tokens, pos, max_gap, leading and required == 0)
                alternatives.append(alt)
                element_firsts |= alt_firsts
                if pos >= len(tokens):
                    raise PatternError("a ( without its )")
                if tokens[pos][0] == ")":
                    pos += 1
                    break
                pos += 1  # the `|`
            element = "(?:" + "|".join(alternatives) + ")"
        else:
            element, word_firsts = _word_regex(value)
            element_firsts = set(word_firsts)
        optional = pos < len(tokens) and tokens[pos][0] == "?"
        if optional:
            pos += 1
            if leading and required == 0:
                continue
            element = "(?:" + element + ")?"
        if required == 0:
            firsts |= element_firsts  # the words a match can start with
        if not optional:
            required += 1
        parts.append(element)
        last_gap = False
    if last_gap:
        raise PatternError("a * gap must stand between words, not at the end")
    if required == 0:
        raise PatternError(
            "an empty pattern or alternative: every ( | ) choice needs a word that is not optional"
        )
    return "".join(parts), frozenset(firsts), pos


@dataclass
class _Collected:
    """Pattern regexes gathered from every lexicon file, before compiling."""

    triggers: dict[str, list[tuple[str, Firsts]]] = field(default_factory=lambda: {c: [] for c in CATEGORIES})
    unless: dict[str, list[str]] = field(default_factory=lambda: {c: [] for c in CATEGORIES})
    negations: list[str] = field(default_factory=list)
    poisoning: list[str] = field(default_factory=list)
    medical_also: list[str] = field(default_factory=list)


def _union(bodies: list[str]) -> re.Pattern[str] | None:
    # Each body ends in the space after its last word and the text is padded with spaces, so a
    # match starts and ends at word boundaries.
    return re.compile("(?<= )(?:" + "|".join(bodies) + ")") if bodies else None


# For one first word: (category index, the regex of that category's patterns starting with it).
_Entry = tuple[int, re.Pattern[str]]


class LexiconScreen:
    """Finds the most urgent danger category a lexicon pattern matches in a message, or None."""

    categories: tuple[str, ...] = CATEGORIES

    def __init__(self, collected: _Collected) -> None:
        """Compile what the lexicon files gave."""
        # Every language's patterns, negations and exceptions apply to every message: a Spanish
        # speaker may write English, and "no es suicida" must be cancelled even when the English
        # `suicid*` is what matched it.
        self._names: list[str] = []
        self._unless: list[re.Pattern[str] | None] = []
        self._negation = _union(collected.negations)
        self._poisoning = _union(collected.poisoning)
        self._medical_also = _union(collected.medical_also)
        # Indexed by the word a match can start with, so that at each word of a message only the
        # few patterns that can start there run: trying every pattern at every word of a
        # 4,096-character message costs 5 ms and more, the index keeps it near 1 ms.
        self._exact: dict[str, list[_Entry]] = {}
        self._prefix: dict[str, list[_Entry]] = {}
        for category in CATEGORIES:
            if not collected.triggers[category]:
                continue
            key = len(self._names)
            self._names.append(category)
            self._unless.append(_union(collected.unless[category]))
            by_first: dict[tuple[str, bool], list[str]] = {}
            for body, firsts in collected.triggers[category]:
                for first in firsts:
                    by_first.setdefault(first, []).append(body)
            for (word, is_prefix), bodies in by_first.items():
                regex = _union(bodies)
                assert regex is not None
                (self._prefix if is_prefix else self._exact).setdefault(word, []).append((key, regex))
        self._prefix_lengths = sorted({len(word) for word in self._prefix})

    @classmethod
    def load(cls, content_dir: Path) -> tuple[LexiconScreen, list[ContentError]]:
        """Load every content/safety/lexicon/<lang>.yaml; errors name file and line."""
        errors: list[ContentError] = []
        collected = _Collected()
        folder = content_dir / "safety" / "lexicon"
        files = list(read_folder(content_dir, "safety/lexicon", errors))
        if not files and not errors:
            name = display_name(folder, content_dir)
            errors.append(ContentError(name, 1, "no safety lexicon: add safety/lexicon/en.yaml"))
        for path, name, data in files:
            _load_lexicon(path.stem, name, data, collected, errors)
        for category in CATEGORIES:
            if files and not collected.triggers[category]:
                message = f"no lexicon has patterns for {category}: add some to safety/lexicon/en.yaml"
                errors.append(ContentError(display_name(folder, content_dir), 1, message))
        return cls(collected), errors

    def poisoning(self, text: str) -> bool:
        """The message speaks of swallowing something or of poison."""
        return _found(self._poisoning, text)

    def medical_also(self, text: str) -> bool:
        """The message speaks of harm that needs a doctor now (strangled, head hit against a wall)."""
        return _found(self._medical_also, text)

    def screen(self, text: str) -> str | None:
        """The most urgent category the text matches in any language's lexicon, or None."""
        norm = normalise(text)
        if not norm:
            return None
        words = norm.split(" ")
        entries = {word: self._entries(word) for word in set(words)}
        candidates: list[tuple[int, int, re.Pattern[str]]] = []
        pos = 1  # the padded text below starts with a space
        for word in words:
            for key, regex in entries[word]:
                candidates.append((key, pos, regex))
            pos += len(word) + 1
        padded = f" {norm} "
        # Category indexes follow CATEGORIES, so the first valid match is the most urgent one.
        for key, start, regex in sorted(candidates, key=lambda c: c[0]):
            m = regex.match(padded, start)
            if m and not self._negated(padded, start) and not _excepted(self._unless[key], padded, m):
                return self._names[key]
        return None

    def _entries(self, word: str) -> list[_Entry]:
        found = list(self._exact.get(word, ()))
        for n in self._prefix_lengths:
            if n > len(word):
                break
            found.extend(self._prefix.get(word[:n], ()))
        return found

    def _negated(self, text: str, start: int) -> bool:
        # A negation cancels a match only when it ends right where the match begins ("not
        # suicidal", "no one is hurting him"); "I'm not ok, I want to die" keeps its match.
        # Negations are short, so looking back over six words is enough.
        if self._negation is None:
            return False
        word_start = start
        for _ in range(6):
            word_start = text.rfind(" ", 0, word_start - 1) + 1
            if word_start <= 0:
                break
            if self._negation.fullmatch(text, word_start, start):
                return True
        return False


def _found(regex: re.Pattern[str] | None, text: str) -> bool:
    return regex is not None and regex.search(f" {normalise(text)} ") is not None


def _excepted(unless: re.Pattern[str] | None, text: str, m: re.Match[str]) -> bool:
    # An exception cancels a match it overlaps by at least one word ("to die for", "food poisoning").
    if unless is None:
        return False
    lo, hi = max(0, m.start() - 120), m.end() + 120
    return any(u.start() < m.end() - 1 and u.end() - 1 > m.start() for u in unless.finditer(text, lo, hi))


def _load_lexicon(stem: str, name: str, data: Any, collected: _Collected, errors: list[ContentError]) -> None:
    try:
        lexicon = Lexicon.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = err["loc"]
            if loc and loc[-1] == "[key]":  # a key of `categories` that is not a category id
                loc = loc[:-1]
                message = f"{loc[-1]!r} is not a category; use one of: {', '.join(CATEGORIES)}"
            else:
                message = f"{'.'.join(str(p) for p in loc)}: {err['msg']}"
            errors.append(ContentError(name, line_of(data, loc), message))
        return
    if lexicon.language != stem:
        message = f"language is {lexicon.language!r}: it must match the file name"
        errors.append(ContentError(name, line_of(data, ["language"]), message))

    def compiled(patterns: list[str], loc: list[str | int]) -> list[tuple[str, Firsts]]:
        out = []
        for i, pattern in enumerate(patterns):
            try:
                out.append(compile_pattern(pattern, lexicon.max_gap, lexicon.lists))
            except PatternError as exc:
                errors.append(ContentError(name, line_of(data, [*loc, i]), f"pattern {pattern!r}: {exc}"))
        return out

    collected.negations += [body for body, _ in compiled(lexicon.negations, ["negations"])]
    collected.poisoning += [body for body, _ in compiled(lexicon.poisoning, ["poisoning"])]
    collected.medical_also += [body for body, _ in compiled(lexicon.medical_also, ["medical_also"])]
    for category, cat in lexicon.categories.items():
        at: list[str | int] = ["categories", category]
        collected.triggers[category] += compiled(cat.patterns, [*at, "patterns"])
        collected.unless[category] += [body for body, _ in compiled(cat.unless, [*at, "unless"])]
