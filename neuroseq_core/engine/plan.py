"""The dose plan and the handover note: two messages to keep or pass on, made from the ideas offered."""

from __future__ import annotations

from transitions import EventData

from neuroseq_core.domain.doses import plan_doses
from neuroseq_core.domain.models import Activity
from neuroseq_core.engine.registry import callback
from neuroseq_core.engine.turn import Turn


def offered(turn: Turn) -> list[Activity]:
    """The ideas offered so far, in the order they were offered."""
    return [turn.c.activities[i] for i in turn.s.suggested if i in turn.c.activities]


def plan(turn: Turn) -> None:
    """Short doses of the chosen ideas at the day's transition points: a message to pin."""
    chosen = offered(turn)[:5]
    if turn.s.profile is None or not chosen:
        turn.say("plan.none")
        return
    setting = "home" if turn.s.role != "educator" else "classroom"
    band = turn.s.age_band or ""
    points = [
        p
        for p in turn.c.dose_points.values()
        if setting in p.settings and (p.age_bands is None or band in p.age_bands)
    ]
    turn.count("plan.made")
    turn.say(
        "plan.text",
        kind="result",
        doses=[
            {
                "point": turn.c.local(d.point.label, turn.lang),
                "title": turn.brief(d.activity)["title"],
                "minutes": d.minutes,
            }
            for d in plan_doses(points, chosen)
        ],
    )


def handover(turn: Turn) -> None:
    """A plain, non-diagnostic note to forward: what helps, what to avoid, what has been tried."""
    p = turn.s.profile
    if p is None:
        turn.say("handover.none")
        return
    titles = {a.id: turn.brief(a)["title"] for a in offered(turn)}
    checkins = turn.s.followup.checkins
    latest: dict[str, str] = {}  # each idea's latest outcome: a later check-in overrules an earlier one
    for c in checkins:
        latest.update(dict.fromkeys(c.ids, c.outcome))
    # "What helps" says only what a check-in said helped; the rest is "what we are trying".
    helps = [titles[i] for i, outcome in latest.items() if outcome == "worked" and i in titles]
    trying = [title for i, title in titles.items() if i not in latest][:3]
    tried = [
        {
            "on": c.on.isoformat(),
            "titles": [titles[i] for i in c.ids if i in titles],
            "outcome": turn.t(f"checkin.{c.outcome}"),
        }
        for c in checkins
    ]
    band = turn.c.age_bands.get(turn.s.age_band or "")
    turn.count("handover.made")
    turn.say(
        "handover.note",
        kind="result",
        age_band=turn.c.local(band.label, turn.lang) if band else "",
        start_step=turn.step_name(p.start_step),
        helps=helps,
        trying=trying,
        who=turn.t("handover.who", nickname=turn.s.nickname or ""),
        avoid=turn.t(
            f"handover.avoid.{p.start_step}", child=turn.t("handover.child", nickname=turn.s.nickname or "")
        ),
        tried=tried,
    )


@callback
def show_plan(turn: Turn, ev: EventData) -> None:
    """Callback: the dose plan, from the results."""
    plan(turn)


@callback
def show_handover(turn: Turn, ev: EventData) -> None:
    """Callback: the handover note, from the results."""
    handover(turn)
