"""Answers -> profile: a band per level, and the lowest level that needs support."""

from __future__ import annotations

from collections.abc import Mapping

from neuroseq_core.domain.models import LEVEL_ORDER, AgeBand, Band, LevelId, NeedId, Question, StepId, UseId
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

    A level with no answer is "unknown", never steady. The start is the lowest level that needs
    support; failing that, the lowest level we know nothing about; failing that, the bottom.
    The answers also say what the child needs most (each question's needs, weighted by the
    concern of its answer) and what the ideas should keep away from (the options' `avoid`).
    `steps` maps each level to its step (from content's sequence).
    """
    sums: dict[LevelId, int] = dict.fromkeys(LEVEL_ORDER, 0)
    counts: dict[LevelId, int] = dict.fromkeys(LEVEL_ORDER, 0)
    needs: dict[NeedId, float] = {}
    avoid: set[UseId] = set()
    for q in questions:
        chosen = answers.get(q.id)
        opt = next((o for o in q.options if o.id == chosen), None)
        if opt is None:
            continue
        sums[q.level] += opt.concern
        counts[q.level] += 1
        avoid.update(opt.avoid)
        for i, need in enumerate(q.needs):
            # "Often" or more: what an idea may say the carer told us ("you told me sleep is hard").
            weight = opt.concern * (1.0 if i == 0 else 0.6) if opt.concern >= 2 else 0.0
            if weight:
                needs[need] = needs.get(need, 0.0) + weight
    results: list[LevelResult] = []
    for level in LEVEL_ORDER:
        n = counts[level]
        mean = sums[level] / n if n else 0.0
        band: Band = band_for(mean, level, age_band) if n else "unknown"
        results.append(LevelResult(level=level, band=band, answered=n, mean_concern=round(mean, 3)))
    start = (
        next((r for r in results if r.band in ("some_support", "more_support")), None)
        or next((r for r in results if r.band == "unknown"), None)
        or results[0]
    )
    return Profile(
        levels=results,
        start_level=start.level,
        start_step=steps[start.level],
        start_on_track=start.band == "on_track",
        needs={k: round(v, 2) for k, v in sorted(needs.items(), key=lambda kv: (-kv[1], kv[0]))},
        avoid=sorted(avoid),
    )
