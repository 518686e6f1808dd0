"""The learned part of the safety screen: a linear model over n-grams, served with NumPy alone.

Training uses scikit-learn (neuroseq_core.safety.train) and happens only when the labelled
examples change: the weights are cached by the examples' content hash as a plain .npz file
(no pickle), so start-up reads arrays instead of training or importing scikit-learn (1.4 s).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from neuroseq_core.safety.features import LONG_MESSAGE, WINDOW_STEP, WINDOW_WORDS, word_features
from neuroseq_core.safety.words import normalise

# Bump when features, training or the file layout change: old caches are then ignored.
MODEL_VERSION = "ngram-lr-3"
DANGER = "danger"  # the last output column: any danger at all, learned from every example
SPEAKERS: tuple[str, ...] = ("child", "adult_about_child", "adult_self", "adult_about_adult")

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Scores:
    """What the model reads in one message: danger at all, a probability per category, who speaks."""

    danger: float
    categories: dict[str, float]
    speakers: dict[str, float]

    def speaker(self, child_at_least: float) -> str:
        """Who seems to speak. "child" only when the model is this sure; a person speaking of
        themselves whose age is unsure is "adult_self", answered in words that fit any age."""
        top = max(self.speakers, key=lambda k: self.speakers[k])
        if top == "child" and self.speakers["child"] < child_at_least:
            return "adult_self"
        return top


class LinearModel:
    """TF-IDF over `features.analyse`, then one logistic output per category and a speaker softmax."""

    def __init__(
        self,
        vocabulary: Sequence[str],
        idf: FloatArray,
        category_coef: FloatArray,
        category_intercept: FloatArray,
        speaker_coef: FloatArray,
        speaker_intercept: FloatArray,
        categories: Sequence[str],
        speakers: Sequence[str],
    ) -> None:
        """Weights as trained: rows follow `vocabulary`; category columns, then the danger column."""
        self.vocabulary = {term: i for i, term in enumerate(vocabulary)}
        self.terms = list(vocabulary)
        self.idf = idf
        self.category_coef = category_coef
        self.category_intercept = category_intercept
        self.speaker_coef = speaker_coef
        self.speaker_intercept = speaker_intercept
        self.categories = tuple(categories)
        self.speakers = tuple(speakers)

    # ---- serving ------------------------------------------------------------------------------

    def _position_ids(self, words: list[str]) -> list[list[int]]:
        # The feature ids each word brings (its word and character n-grams, and the word pairs and
        # triples ending on it), each distinct word read once: a long message repeats its words.
        get = self.vocabulary.get
        own: dict[str, list[int]] = {}
        out: list[list[int]] = []
        for i, word in enumerate(words):
            ids = own.get(word)
            if ids is None:
                ids = own[word] = [j for j in (get(f) for f in word_features(word)) if j is not None]
            extra = []
            if i:
                extra.append(get("b:" + words[i - 1] + " " + word))
            if i > 1:
                extra.append(get("t:" + words[i - 2] + " " + words[i - 1] + " " + word))
            out.append(ids + [j for j in extra if j is not None])
        return out

    def _logits(self, ids: list[int]) -> tuple[FloatArray, FloatArray]:
        if not ids:
            return self.category_intercept.copy(), self.speaker_intercept.copy()
        idx, counts = np.unique(np.asarray(ids, dtype=np.intp), return_counts=True)
        w = (1.0 + np.log(counts)) * self.idf[idx]
        norm = float(np.sqrt(np.dot(w, w)))
        if norm:
            w /= norm
        return w @ self.category_coef[idx] + self.category_intercept, w @ self.speaker_coef[
            idx
        ] + self.speaker_intercept

    def scores(self, text: str) -> Scores:
        """Probabilities per category (the most worrying piece of the message counts) and the speaker."""
        words = normalise(text).split()
        per_word = self._position_ids(words)
        pieces = [range(len(words))]
        if len(words) > LONG_MESSAGE:  # a danger sentence buried in a long paste is read on its own too
            pieces += [
                range(i, min(i + WINDOW_WORDS, len(words)))
                for i in range(0, len(words) - WINDOW_STEP, WINDOW_STEP)
            ]
        best_cat: FloatArray | None = None
        best_spk: FloatArray | None = None
        best_top = -np.inf
        for piece in pieces:
            cat, spk = self._logits([j for i in piece for j in per_word[i]])
            best_cat = cat if best_cat is None else np.maximum(best_cat, cat)
            if cat[-1] > best_top:  # who speaks is read where the danger is
                best_top, best_spk = float(cat[-1]), spk
        assert best_cat is not None and best_spk is not None
        probs = 1.0 / (1.0 + np.exp(-best_cat))
        danger = float(probs[-1])  # the danger column
        probs = probs[:-1]
        spk = np.exp(best_spk - best_spk.max())
        spk /= spk.sum()
        return Scores(
            danger=danger,
            categories={c: float(p) for c, p in zip(self.categories, probs, strict=True)},
            speakers={k: float(p) for k, p in zip(self.speakers, spk, strict=True)},
        )

    # ---- the cache file -----------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the weights to an .npz file readable only by this account, atomically."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(
                    fh,
                    vocabulary=np.asarray(self.terms, dtype=np.str_),
                    idf=self.idf,
                    category_coef=self.category_coef.astype(np.float32),
                    category_intercept=self.category_intercept,
                    speaker_coef=self.speaker_coef.astype(np.float32),
                    speaker_intercept=self.speaker_intercept,
                    categories=np.asarray(self.categories, dtype=np.str_),
                    speakers=np.asarray(self.speakers, dtype=np.str_),
                )
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        """Read weights written by `save` (no pickle is ever loaded)."""
        with np.load(path, allow_pickle=False) as data:
            return cls(
                vocabulary=[str(t) for t in data["vocabulary"]],
                idf=data["idf"].astype(np.float64),
                category_coef=data["category_coef"].astype(np.float64),
                category_intercept=data["category_intercept"].astype(np.float64),
                speaker_coef=data["speaker_coef"].astype(np.float64),
                speaker_intercept=data["speaker_intercept"].astype(np.float64),
                categories=[str(c) for c in data["categories"]],
                speakers=[str(s) for s in data["speakers"]],
            )


def fingerprint(parts: Sequence[bytes]) -> str:
    """The cache key of a model: the version and every byte it is trained from."""
    digest = hashlib.sha256(MODEL_VERSION.encode())
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()[:32]


def cache_dir() -> Path:
    """Where trained weights are kept: $XDG_CACHE_HOME/neuroseq (or ~/.cache/neuroseq)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "neuroseq"
