"""Training the safety model with scikit-learn. Imported only when no cached weights fit the examples."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from neuroseq_core.safety.examples import Example
from neuroseq_core.safety.features import analyse_folded
from neuroseq_core.safety.model import SPEAKERS, LinearModel
from neuroseq_core.safety.words import CATEGORIES, normalise


def fit(examples: Sequence[Example], c: float = 8.0, min_df: int = 2) -> LinearModel:
    """Learn a logistic output per category (multi-label), one for any danger, and a speaker softmax."""
    folded = [normalise(e.text) for e in examples]
    vectorizer = TfidfVectorizer(
        analyzer=analyse_folded, sublinear_tf=True, min_df=min_df, norm="l2", dtype=np.float64
    )
    x = vectorizer.fit_transform(folded)
    coefs, intercepts = [], []
    for category in CATEGORIES:
        y = np.asarray([category in e.labels for e in examples], dtype=int)
        clf = LogisticRegression(C=c, class_weight="balanced", solver="liblinear", max_iter=2000)
        clf.fit(x, y)
        coefs.append(clf.coef_[0])
        intercepts.append(clf.intercept_[0])
    clf = LogisticRegression(C=c, solver="liblinear", max_iter=2000)
    clf.fit(x, np.asarray([bool(e.labels) for e in examples], dtype=int))
    coefs.append(clf.coef_[0])
    intercepts.append(clf.intercept_[0])
    danger = [i for i, e in enumerate(examples) if e.speaker is not None]
    speakers = [SPEAKERS.index(examples[i].speaker or "") for i in danger]
    spk = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    spk.fit(x[danger], speakers)
    # A speaker absent from the examples still gets a (never chosen) column, so shapes stay fixed.
    spk_coef = np.full((len(SPEAKERS), x.shape[1]), 0.0)
    spk_icpt = np.full(len(SPEAKERS), -1e3)
    for row, cls in enumerate(spk.classes_):
        spk_coef[cls] = spk.coef_[row] if spk.coef_.shape[0] > 1 else spk.coef_[0] * (1 if row else -1)
        spk_icpt[cls] = spk.intercept_[row] if spk.intercept_.shape[0] > 1 else 0.0
    return LinearModel(
        vocabulary=list(vectorizer.get_feature_names_out()),
        idf=vectorizer.idf_.astype(np.float64),
        category_coef=np.stack(coefs, axis=1),
        category_intercept=np.asarray(intercepts),
        speaker_coef=spk_coef.T.copy(),
        speaker_intercept=spk_icpt,
        categories=CATEGORIES,
        speakers=SPEAKERS,
    )
