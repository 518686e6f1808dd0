"""Answers -> profile: a band per level, and the lowest level that needs support."""

from __future__ import annotations

from collections.abc import Mapping

from neuroseq_core.domain.models import LEVEL_ORDER, AgeBand, Band, LevelId, Question, StepId
from neuroseq_core.domain.session import LevelResult, Profile


def band_for(mean: float, level: LevelId, age_band: AgeBand) -> Band:
    """The band of a level's mean concern, by the age band's thresholds."""
    t = age_band.thresholds[level]
    if mean >= t.more_support:
        return "more_support"
    if mean >= t.some_support:
        return "some_support"
    return "on_track"


def score(
    questions: list[Question],
    answers: Mapping[str, str | None],
    age_band: AgeBand,
    steps: Mapping[str, StepId],
) -> Profile:
    """Score the answered questions; skipped questions count for nothing.

    `steps` maps each level to its step (from content's sequence).
    """
    sums: dict[LevelId, int] = dict.fromkeys(LEVEL_ORDER, 0)
    counts: dict[LevelId, int] = dict.fromkeys(LEVEL_ORDER, 0)
    for q in questions:
        chosen = answers.get(q.id)
        if chosen is None:
            continue
        for opt in q.options:
            if opt.id == chosen:
                sums[q.level] += opt.concern
                counts[q.level] += 1
                break
    results: list[LevelResult] = []
    for level in LEVEL_ORDER:
        n = counts[level]
        mean = sums[level] / n if n else 0.0
        band: Band = band_for(mean, level, age_band) if n else "on_track"
        results.append(LevelResult(level=level, band=band, answered=n, mean_concern=round(mean, 3)))
    start = next((r for r in results if r.band != "on_track"), results[0])
    return Profile(
        levels=results,
        start_level=start.level,
        start_step=steps[start.level],
        start_on_track=start.band == "on_track",
    )
