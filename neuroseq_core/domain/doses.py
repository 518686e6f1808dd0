"""The dose planner: short doses of the chosen activities at the day's transition points.

Regulating activities help through brief, frequent, repeated doses. The plan spreads the chosen
ideas over the points of the day (waking, after school, bedtime; or a class's start, breaks and
end), each point getting an idea whose level suits that moment, the least-used one first, so every
idea is repeated and none crowds out the rest. Pure: ids and data in, a plan out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from neuroseq_core.domain.models import Activity, DosePoint

MIN_DOSE, MAX_DOSE = 2, 10  # minutes: a dose is short enough to fit a transition


@dataclass(frozen=True)
class Dose:
    """One planned dose: at a point of the day, an activity, for a few minutes."""

    point: DosePoint
    activity: Activity
    minutes: int


def dose_minutes(activity: Activity) -> int:
    """The length of one dose: the activity's own minutes, kept within 2–10."""
    return min(max(activity.minutes, MIN_DOSE), MAX_DOSE)


def plan_doses(points: Sequence[DosePoint], activities: Sequence[Activity]) -> list[Dose]:
    """One dose per point, in the points' order; [] when there are no activities.

    For each point: among the activities whose first level suits the point (else all of them), the
    one used least so far; ties go to the earlier activity (the recommender's bottom-up order).
    """
    if not activities:
        return []
    used = dict.fromkeys((a.id for a in activities), 0)
    plan: list[Dose] = []
    for point in points:
        suited = [a for a in activities if a.levels[0] in point.levels] or list(activities)
        best = min(suited, key=lambda a: (used[a.id], activities.index(a)))
        used[best.id] += 1
        plan.append(Dose(point, best, dose_minutes(best)))
    return plan
