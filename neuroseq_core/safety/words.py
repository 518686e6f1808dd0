"""What every layer of the safety screen shares: the categories in the order replies follow, and
`normalise`, the one folding of text that lexicon patterns, features and examples all go through."""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Literal

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
    "numbers": [{"number": "911", "where": "United States, Canada"}, {"number": "112", "where": "Europe"}],
    "all_lines": [
        {"name": "988 Suicide & Crisis Lifeline", "phone": "988", "text": "988", "web": "", "hours": "24/7"},
        {
            "name": "findahelpline.com",
            "phone": "",
            "text": "",
            "web": "https://findahelpline.com",
            "hours": "",
        },
    ],
}

# ---------------------------------------------------------------------------------------------
# Normalisation

_APOSTROPHES = re.compile("['’‘`´ʼ]")
# Words whose squeezed form is another, harmless word: "she picks her nose" is not "noose".
KEEP_DOUBLES = frozenset({"noose", "nooses"})
_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
# A token that mixes letters with leet characters ("k1ll", "su1cide", "$uicide", "d13").
# Anchored at the start of a token so the scan stays linear on long runs without spaces.
_LEET_TOKEN = re.compile(r"(?<!\S)\S*?(?:[a-z][0-9@$]|[0-9@$][a-z])\S*")
# The combining marks that NFKD splits off accented letters (é -> e + ´), all in the BMP.
_COMBINING = re.compile(
    "[" + "".join(re.escape(chr(c)) for c in range(0x300, 0x10000) if unicodedata.combining(chr(c))) + "]+"
)
# Most messages are ASCII once accents are gone; for them str.translate and [a-z] classes are
# several times faster than the Unicode-aware regexes, which keep the 5 ms budget comfortable.
_ASCII_NON_WORD = str.maketrans({chr(c): " " for c in range(128) if not chr(c).isalnum()})
_ASCII_REPEAT = re.compile(r"([a-z])(?=\1)")
_REPEAT = re.compile(r"([^\W\d_])(?=\1)")
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


@functools.lru_cache(maxsize=256)  # one message is folded by the lexicon, the topics and the model
def normalise(text: str) -> str:
    """Fold text for matching: lower case, no accents, leetspeak undone, letters unrepeated, words only."""
    text = unicodedata.normalize("NFKD", text.lower())
    if not text.isascii():
        text = _COMBINING.sub("", text)
    text = _APOSTROPHES.sub("", text)
    if any(ch in _LEET for ch in text):
        text = _LEET_TOKEN.sub(lambda m: _unleet(m.group(0)), text)
    # Squeezing every doubled letter ("sooo" -> "so", "kill" -> "kil") also folds the commonest
    # misspellings; patterns are squeezed the same way, so "kill" in a lexicon still matches.
    # A few words would become another word ("noose" -> "nose") and keep their doubles.
    if text.isascii():
        text = text.translate(_ASCII_NON_WORD)
        repeat = _ASCII_REPEAT
    else:
        text = _NON_WORD.sub(" ", text)
        repeat = _REPEAT
    if not any(word in text for word in KEEP_DOUBLES):
        return " ".join(repeat.sub("", text).split())
    return " ".join(w if w in KEEP_DOUBLES else repeat.sub("", w) for w in text.split())


# ---------------------------------------------------------------------------------------------
# The lexicon files
