"""Profile + catalogue -> a few activities, bottom-up, deterministic, no repeats in a session.

The bottom-up rule decides the step and its levels; within them, the ideas that answer what the
carer said (the profile's needs) come first, and ideas that ask what the child finds hard (the
profile's `avoid`, e.g. touch for a child who flinches) are never offered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from neuroseq_core.domain.models import (
    LEVEL_ORDER,
    STEP_ORDER,
    Activity,
    Group,
    LevelId,
    NeedId,
    Setting,
    StepId,
    UseId,
)
from neuroseq_core.domain.session import Profile


@dataclass(frozen=True)
class Pick:
    """One suggested activity and the level it was chosen for."""

    activity: Activity
    level: LevelId
    fits_time: bool
    answers: tuple[NeedId, ...] = ()  # the needs from the answers this idea speaks to, strongest first


@dataclass(frozen=True)
class Filters:
    """Who and where the ideas are for."""

    age_band: str
    setting: Setting
    group: Group
    minutes: int | None = None  # time available (educators), None for no limit
    needs: Mapping[NeedId, float] = field(default_factory=dict)  # from the answers, strongest first
    avoid: frozenset[UseId] = frozenset()  # never offer an idea that asks this of the child


def lowest_step(activity: Activity, steps: Mapping[str, StepId]) -> int:
    """Index in STEP_ORDER of the lowest step an activity serves."""
    return min(STEP_ORDER.index(steps[level]) for level in activity.levels)


def matched_needs(activity: Activity, f: Filters) -> tuple[NeedId, ...]:
    """The needs from the answers this idea answers, strongest first."""
    return tuple(n for n in f.needs if n in activity.needs)


def _need_score(activity: Activity, f: Filters) -> float:
    # An idea's first need is what it answers most directly.
    return sum(f.needs[n] * (1.0 if i == 0 else 0.7) for i, n in enumerate(activity.needs) if n in f.needs)


def _eligible(activity: Activity, f: Filters) -> bool:
    if f.age_band not in activity.age_bands or f.group not in activity.groups:
        return False
    clash = f.avoid.intersection(activity.uses)
    if "food" in clash and "eating" in activity.needs:
        clash = clash - {"food"}  # a calm-mealtime idea is for the child whose mealtimes are hard
    if clash:
        return False
    if f.setting == "outdoors":
        return "outdoors" in activity.settings or "classroom" in activity.settings
    return f.setting in activity.settings


def _ranked(
    catalogue: Iterable[Activity], level: LevelId, steps: Mapping[str, StepId], f: Filters
) -> list[Activity]:
    """Activities for one level, best first: time fits, primary level, exact setting, age-specific, shorter."""
    step_index = STEP_ORDER.index(steps[level])
    found = [
        a for a in catalogue if level in a.levels and _eligible(a, f) and lowest_step(a, steps) == step_index
    ]

    def key(a: Activity) -> tuple[int, float, int, int, int, str]:
        fits = f.minutes is None or a.minutes <= f.minutes
        exact_setting = f.setting in a.settings
        return (
            0 if fits else 1,
            -_need_score(a, f),
            0 if a.levels[0] == level else 1,
            0 if exact_setting else 1,
            a.minutes,
            a.id,
        )

    return sorted(found, key=key)


def recommend(
    profile: Profile,
    catalogue: Iterable[Activity],
    steps: Mapping[str, StepId],
    f: Filters,
    exclude: Iterable[str] = (),
    count: int = 3,
) -> list[Pick]:
    """Up to `count` activities from the starting step (its level first), plus one from the next
    step up when the starting step is on track; never one already suggested in this session.

    The sequence is kept: nothing from a higher step is offered while a lower step needs support.
    """
    catalogue = list(catalogue)
    seen = set(exclude)
    picks: list[Pick] = []

    start_step = profile.start_step
    # Levels of the starting step, starting with the starting level, then the others bottom-up.
    step_levels = [lv for lv in LEVEL_ORDER if steps[lv] == start_step]
    order = [profile.start_level] + [lv for lv in step_levels if lv != profile.start_level]
    # Within the starting step, the levels that need support come first, then those we know
    # nothing about, then the steady ones.
    rank = {"more_support": 0, "some_support": 0, "unknown": 1, "on_track": 2}
    order.sort(key=lambda lv: (lv != profile.start_level, rank[profile.band(lv)]))

    def take(level: LevelId, n: int) -> None:
        for a in _ranked(catalogue, level, steps, f):
            if len(picks) >= n:
                return
            if a.id in seen:
                continue
            seen.add(a.id)
            picks.append(Pick(a, level, f.minutes is None or a.minutes <= f.minutes, matched_needs(a, f)))

    for level in order:
        take(level, count)
    if profile.start_on_track:
        idx = STEP_ORDER.index(start_step)
        if idx + 1 < len(STEP_ORDER):
            next_step = STEP_ORDER[idx + 1]
            target = len(picks) + 1
            for level in (lv for lv in LEVEL_ORDER if steps[lv] == next_step):
                take(level, target)
                if len(picks) >= target:
                    break
    return picks


def gentler(
    catalogue: Iterable[Activity],
    f: Filters,
    *,
    levels: Sequence[LevelId],
    max_minutes: int,
    exclude: Iterable[str] = (),
    count: int = 2,
) -> list[Activity]:
    """Easier or more regulating ideas after a check-in: starting at one of `levels`, short, new.

    Ordered by the level's place in `levels` (bottom-up first), then shorter, then id.
    """
    seen = set(exclude)
    found = [
        a
        for a in catalogue
        if a.id not in seen and _eligible(a, f) and a.levels[0] in levels and a.minutes <= max_minutes
    ]
    found.sort(key=lambda a: (levels.index(a.levels[0]), a.minutes, a.id))
    return found[:count]


def fits(activity: Activity, f: Filters) -> bool:
    """The activity suits this age band, group and setting."""
    return _eligible(activity, f)
