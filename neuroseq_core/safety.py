"""The safety screen: finds danger in any free-text message, in any language the content has.

Lexicons live in content/safety/<lang>.yaml and are written in a small pattern language that staff
can read (see the top of content/safety/en.yaml). Patterns compile to regular expressions at load
time; both the patterns and the messages go through the same `normalise`, so a misspelling rule
written once holds on both sides.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from neuroseq_core.yamlio import ContentError, YamlError, display_name, line_of, load_yaml

CategoryId = Literal[
    "medical_emergency",
    "suicide_self_harm",
    "child_at_risk",
    "domestic_violence",
    "caregiver_breaking_point",
]

# When one message matches several categories, the reply follows this order. A body that needs
# help now comes first: someone not breathing or who has swallowed pills dies in minutes, and the
# emergency number is also the first step for an attempt in progress. Then a life at risk by the
# person's own hand, then a child being harmed (a child cannot protect themselves), then an adult
# harmed by a partner, then a carer near breaking point (whose reply also covers keeping the child
# safe). Every reply carries the emergency number, so a lower category is never left without help.
CATEGORIES: tuple[CategoryId, ...] = (
    "medical_emergency",
    "suicide_self_harm",
    "child_at_risk",
    "domestic_violence",
    "caregiver_breaking_point",
)

# Sample data for rendering the safety templates in the content check; the keys are exactly those
# that resources.safety_context builds (a test holds the two together).
SAMPLE_CONTEXT: dict[str, object] = {
    "category": "suicide_self_harm",
    "language": "en",
    "region_id": "us",
    "region_name": "United States",
    "emergency_number": "911",
    "is_educator": True,
    "lines": [
        {"name": "988 Suicide & Crisis Lifeline", "phone": "988", "text": "988", "web": "", "hours": "24/7"},
        {"name": "Childhelp", "phone": "1-800-422-4453", "text": "", "web": "", "hours": ""},
    ],
    "all_lines": [
        {"name": "988 Suicide & Crisis Lifeline", "phone": "988", "text": "988", "web": "", "hours": "24/7"},
        {"name": "findahelpline.com", "phone": "", "text": "", "web": "https://findahelpline.com", "hours": ""},
    ],
}

# ---------------------------------------------------------------------------------------------
# Normalisation

_APOSTROPHES = re.compile("['’‘`´ʼ]")
_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
# A token that mixes letters with leet characters ("k1ll", "su1cide", "$uicide", "d13").
_LEET_TOKEN = re.compile(r"[^\s]*[a-z][0-9@$][^\s]*|[0-9@$][a-z][^\s]*")
_REPEATS = re.compile(r"([^\W\d_])\1+")
_NON_WORD = re.compile(r"[\W_]+")


def _unleet(token: str) -> str:
    # A leet character counts as a letter only next to a letter, so "12yo", "3am" and "2nd" keep
    # their digits while "k1ll" and "$uicide" become words.
    chars = list(token)
    for i, ch in enumerate(chars):
        if ch not in _LEET:
            continue
        before = chars[i - 1].isalpha() if i > 0 else False
        after = i + 1 < len(chars) and chars[i + 1].isalpha()
        if before or (after and ch in "$@") or (after and i == 0 and sum(c.isalpha() for c in token) >= 3):
            chars[i] = _LEET[ch]
    return "".join(chars)


def normalise(text: str) -> str:
    """Fold text for matching: lower case, no accents, leetspeak undone, letters unrepeated, words only."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _APOSTROPHES.sub("", text)
    if any(ch in _LEET for ch in text):
        text = _LEET_TOKEN.sub(lambda m: _unleet(m.group(0)), text)
    # Squeezing every doubled letter ("sooo" -> "so", "kill" -> "kil") also folds the commonest
    # misspellings; patterns are squeezed the same way, so "kill" in a lexicon still matches.
    text = _REPEATS.sub(r"\1", text)
    return _NON_WORD.sub(" ", text).strip()


# ---------------------------------------------------------------------------------------------
# The lexicon files


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
    negations: list[str] = Field(default_factory=list)  # directly before a match, these cancel it
    categories: dict[CategoryId, CategoryLexicon]


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


def _word_regex(raw: str) -> str:
    prefix = raw.endswith("*")
    word = normalise(raw[:-1] if prefix else raw)
    if not word:
        raise PatternError(f"{raw!r} has no letters or digits to match")
    if "*" in raw[:-1]:
        raise PatternError(f"{raw!r}: a * goes at the end of a word (suicid*) or stands alone (want to * die)")
    body = r"\ ".join(re.escape(part) for part in word.split(" "))
    return body + (r"[^ ]* " if prefix else " ")


def compile_pattern(pattern: str, max_gap: int) -> str:
    """Turn one lexicon pattern into a regex over normalised text that starts at a word."""
    parts: list[str] = []  # one regex per element, each consuming its trailing space
    required = 0
    group: list[list[str]] | None = None
    last_kind = ""
    for kind, value in _tokens(pattern):
        if kind == "(":
            if group is not None:
                raise PatternError("groups cannot be nested; write the alternatives out")
            group = [[]]
        elif kind == "|":
            if group is None:
                raise PatternError("| only separates alternatives inside ( )")
            group.append([])
        elif kind == ")":
            if group is None:
                raise PatternError("a ) without its (")
            if any(not alt for alt in group):
                raise PatternError("an empty alternative in ( | ); use ? after the group for optional words")
            parts.append("(?:" + "|".join("".join(alt) for alt in group) + ")")
            required += 1
            group = None
        elif kind == "?":
            if last_kind not in (")", "word") or group is not None:
                raise PatternError("? goes right after a word or a ( ) group, outside any group")
            parts[-1] = "(?:" + parts[-1] + ")?"
            required -= 1
        elif kind == "gap":
            if group is not None:
                raise PatternError("a * gap cannot stand inside ( )")
            if not parts or last_kind == "gap":
                raise PatternError("a * gap must stand between words")
            n = int(value[1:]) if len(value) > 1 else max_gap
            if not 1 <= n <= 8:
                raise PatternError(f"{value}: a gap can skip 1 to 8 words")
            parts.append(f"(?:[^ ]+ ){{0,{n}}}")
        else:
            if group is not None:
                group[-1].append(_word_regex(value))
            else:
                parts.append(_word_regex(value))
                required += 1
        last_kind = kind
    if group is not None:
        raise PatternError("a ( without its )")
    if last_kind == "gap":
        raise PatternError("a * gap must stand between words, not at the end")
    if required <= 0:
        raise PatternError("the pattern must have at least one word that is not optional")
    return "".join(parts)


def _union(bodies: list[str]) -> re.Pattern[str] | None:
    if not bodies:
        return None
    # Each body ends in the space after its last word; the text is padded with spaces, so every
    # match starts and ends at a word boundary.
    return re.compile("(?<= )(?:" + "|".join(bodies) + ")")


@dataclass(frozen=True)
class _Compiled:
    """One language's category: triggers, and what cancels a trigger."""

    triggers: re.Pattern[str]
    unless: re.Pattern[str] | None
    negation: re.Pattern[str] | None


class SafetyScreen:
    """Finds the most urgent danger category in a message, or None."""

    categories: tuple[str, ...] = CATEGORIES

    def __init__(self, compiled: dict[str, dict[str, _Compiled]]) -> None:
        """Build from compiled lexicons: category -> language -> patterns."""
        self._compiled = compiled
        self.languages: tuple[str, ...] = tuple(sorted({lang for c in compiled.values() for lang in c}))

    @classmethod
    def load(cls, content_dir: Path) -> tuple[SafetyScreen, list[ContentError]]:
        """Load every content/safety/<lang>.yaml; errors name file and line."""
        errors: list[ContentError] = []
        compiled: dict[str, dict[str, _Compiled]] = {c: {} for c in CATEGORIES}
        folder = content_dir / "safety"
        files = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
        if not files:
            errors.append(ContentError(display_name(folder, content_dir), 1, "no safety lexicon: add safety/en.yaml"))
        for path in files:
            for lang, category, item in _load_file(path, content_dir, errors):
                compiled[category][lang] = item
        for category in CATEGORIES:
            if files and not compiled[category]:
                errors.append(
                    ContentError("safety", 1, f"no lexicon has patterns for {category}: add some to safety/en.yaml")
                )
        return cls(compiled), errors

    def screen(self, text: str, language: str = "en") -> str | None:
        """The most urgent category the text matches in any language's lexicon, or None."""
        folded = " " + normalise(text) + " "
        if folded == "  ":
            return None
        for category in CATEGORIES:
            by_lang = self._compiled[category]
            # The writer's language first only because it is the likeliest hit; the answer is the same.
            order = sorted(by_lang, key=lambda lang: lang != language)
            for lang in order:
                if _matches(by_lang[lang], folded):
                    return category
        return None


def _matches(item: _Compiled, text: str) -> bool:
    pos = 0
    while (m := item.triggers.search(text, pos)) is not None:
        if not _negated(item.negation, text, m.start()) and not _excepted(item.unless, text, m):
            return True
        pos = m.start() + 1
    return False


def _negated(negation: re.Pattern[str] | None, text: str, start: int) -> bool:
    # A negation cancels a match only when it ends right where the match begins ("not suicidal",
    # "no one is hurting him"); "I'm not ok, I want to die" keeps its match. Negations are short,
    # so looking back over the last six words is enough.
    if negation is None:
        return False
    word_start = start
    for _ in range(6):
        word_start = text.rfind(" ", 0, word_start - 1) + 1
        if word_start <= 0:
            break
        if negation.fullmatch(text, word_start, start):
            return True
    return False


def _excepted(unless: re.Pattern[str] | None, text: str, m: re.Match[str]) -> bool:
    if unless is None:
        return False
    lo = max(0, m.start() - 120)
    return any(u.start() < m.end() - 1 and u.end() - 1 > m.start() for u in unless.finditer(text, lo, m.end() + 120))


def _load_file(path: Path, root: Path, errors: list[ContentError]) -> Iterator[tuple[str, str, _Compiled]]:
    name = display_name(path, root)
    try:
        data: Any = load_yaml(path, root)
    except YamlError as exc:
        errors.append(exc.error)
        return
    try:
        lexicon = Lexicon.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            errors.append(ContentError(name, line_of(data, err["loc"]), f"{where}: {err['msg']}"))
        return
    if lexicon.language != path.stem:
        errors.append(
            ContentError(name, line_of(data, ["language"]), f"language is {lexicon.language!r}: it must match the file name")
        )

    def build(patterns: list[str], loc: list[str | int]) -> re.Pattern[str] | None:
        bodies = []
        for i, pattern in enumerate(patterns):
            try:
                bodies.append(compile_pattern(pattern, lexicon.max_gap))
            except PatternError as exc:
                errors.append(ContentError(name, line_of(data, [*loc, i]), f"pattern {pattern!r}: {exc}"))
        return _union(bodies)

    negation = build(lexicon.negations, ["negations"])
    for category, cat in lexicon.categories.items():
        triggers = build(cat.patterns, ["categories", category, "patterns"])
        unless = build(cat.unless, ["categories", category, "unless"])
        if triggers is not None:
            yield lexicon.language, category, _Compiled(triggers, unless, negation)


def run_safety_check(stdin: TextIO, stdout: TextIO, screen: SafetyScreen, language: str = "en") -> int:
    """`neuroseq safety check`: each input line gets its category (or `none`), a tab, and the line."""
    for raw in stdin:
        message = raw.rstrip("\r\n")
        stdout.write(f"{screen.screen(message, language) or 'none'}\t{message}\n")
    return 0
