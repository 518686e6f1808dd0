"""What the learned screen reads of a message: character and word n-grams of its folded text.

The same word features serve training (the analyzer handed to scikit-learn) and serving (the model
gathers them per word, in plain Python and NumPy), so the two never read a word differently.
"""

from __future__ import annotations

from collections.abc import Iterator

CHAR_MIN, CHAR_MAX = 2, 5
# A long message (over LONG_MESSAGE words) is also read in windows of WINDOW_WORDS words, so a
# danger sentence buried in a long paste is not diluted by everything around it. On dev, windows
# for shorter messages raised false positives more than recall.
LONG_MESSAGE = 80
WINDOW_WORDS = 24
WINDOW_STEP = 12


def analyse_folded(folded: str) -> list[str]:
    """The features of text folded by `normalise`: word 1-3 grams and in-word character 2-5 grams."""
    return list(_features(folded))


def _features(folded: str) -> Iterator[str]:
    words = folded.split()
    for i, word in enumerate(words):
        yield from word_features(word)
        if i:
            yield "b:" + words[i - 1] + " " + word
        if i > 1:
            yield "t:" + words[i - 2] + " " + words[i - 1] + " " + word


def word_features(word: str) -> Iterator[str]:
    """The features of one word alone: itself, and its character 2-5 grams with word edges."""
    yield "w:" + word
    padded = f" {word} "
    n = len(padded)
    for size in range(CHAR_MIN, min(CHAR_MAX, n) + 1):
        for start in range(n - size + 1):
            yield padded[start : start + size]
