"""What a circle looks like to one member: who is in it, where each view says to start, what helped
where and what to avoid, the latest tries, a picture of what helped where, and the daily note.

Words and shapes only: a try is "helped", "partly", "didn't help" or "didn't get to try", never a
score, and nothing here is a judgement of the child.
"""

from __future__ import annotations

from typing import Any, Literal

from neuroseq_core.domain.circle import MAX_TRIES_SHOWN, CircleView, Invitation, Try
from neuroseq_core.domain.events import Button, Picture, Reply
from neuroseq_core.engine.turn import Turn

MAX_IDEAS = 6  # buttons to log a try with
REMOVE = "remove:"  # the option id of removing a member: "remove:<their key>"
# Who an invitee is, for their own questions: carers answer the caregiver questions, school staff
# the questions about one student; a professional answers none and sees the circle.
AS_ROLE = {"carer": ("caregiver", "parent", "home"), "school": ("educator", None, "classroom")}
Shape = Literal["steadier", "same", "more", "unknown"]
# The picture's shapes (drawn as for /progress): helped ✓, partly =, didn't help ⊕ (more support).
SHAPE: dict[str, Shape] = {"worked": "steadier", "partly": "same", "not": "more", "not_tried": "unknown"}


def circle_of(turn: Turn) -> CircleView | None:
    """The circle the service read for this event, if any."""
    world = turn.event.world
    return world.circle if world is not None else None


def invitation_of(turn: Turn) -> Invitation | None:
    """The invite the service read for this event, if any."""
    world = turn.event.world
    return world.invitation if world is not None else None


def role_name(turn: Turn, role: str) -> str:
    """A role in words ("class teacher or school staff")."""
    return turn.t(f"circle.role.{role}")


def label_of(turn: Turn, label: str, role: str) -> str:
    """How a member is named: the label they were given, or (left empty) their role's words in
    this reader's language ("Parent or carer" reads "Mamá, papá o cuidador" in Spanish)."""
    if label:
        return label
    return turn.t("circle.me.default" if role == "owner" else f"circle.role.{role}")


def _where(turn: Turn, where: str) -> str:
    return turn.t(f"circle.where.{where}")


def _title(turn: Turn, activity_id: str) -> str:
    activity = turn.c.activities.get(activity_id)
    return str(turn.brief(activity)["title"]) if activity is not None else ""


def _try(turn: Turn, t: Try) -> dict[str, Any]:
    return {
        "label": label_of(turn, t.label, t.role),
        "where": _where(turn, t.where),
        "idea": _title(turn, t.activity),
        "outcome": turn.t(f"circle.went.{t.outcome}"),
        "on": t.on.isoformat(),
        "mine": t.mine,
    }


def _latest(view: CircleView) -> dict[tuple[str, str], Try]:
    """The latest try of each idea in each setting (tries come newest first)."""
    latest: dict[tuple[str, str], Try] = {}
    for t in view.tries:
        latest.setdefault((t.where, t.activity), t)
    return latest


def context(turn: Turn, view: CircleView) -> dict[str, Any]:
    """Everything the summary says, for its template."""
    latest = _latest(view).values()
    views = [
        {
            "label": label_of(turn, m.label, m.role),
            "where": _where(turn, m.where),
            "step": turn.step_name(m.view.start_step),
            "level": turn.c.local(turn.level(m.view.start_level).name, turn.lang),
            "ideas": [t for i in m.view.ideas if (t := _title(turn, i))],
        }
        for m in view.members
        if m.view is not None
    ]
    return {
        "child_name": view.child or "",
        "members": [
            {"label": label_of(turn, m.label, m.role), "role": turn.t(f"circle.role.{m.role}"), "me": m.me}
            for m in view.members
        ],
        "views": views,
        "helped": [_try(turn, t) for t in latest if t.outcome == "worked"],
        "partly": [_try(turn, t) for t in latest if t.outcome == "partly"],
        "avoid": [_try(turn, t) for t in latest if t.outcome == "not"],
        "tries": [_try(turn, t) for t in view.tries[:MAX_TRIES_SHOWN]],
        "owner": view.me.role == "owner",
    }


def picture(turn: Turn, view: CircleView) -> Picture | None:
    """What helped where, on the sequence: beside each step the ideas tried there, and a shape for
    how the latest tries went. None before anything was tried."""
    latest = list(_latest(view).values())
    if not latest:
        return None
    steps, notes, shapes = [], [], []
    for step in turn.c.sequence.steps:
        here = [
            t
            for t in latest
            if (a := turn.c.activities.get(t.activity)) is not None
            and turn.level(a.levels[0]).step == step.id
        ]
        steps.append(turn.c.local(step.name, turn.lang))
        notes.append("; ".join(f"{_where(turn, t.where)}: {_title(turn, t.activity)}" for t in here[:2]))
        outcomes = [t.outcome for t in here]
        best = next((o for o in ("worked", "partly", "not") if o in outcomes), "not_tried")
        shapes.append(SHAPE[best] if here else "unknown")
    return Picture(
        kind="progress",
        steps=steps,
        start_index=0,
        caption=turn.t("circle.picture_caption", **context(turn, view)),
        title="",
        notes=notes,
        changes=shapes,
    )


def summary(turn: Turn, view: CircleView) -> None:
    """The circle, as /circle shows it."""
    turn.replies.append(
        Reply(
            text=turn.t("circle.summary", **context(turn, view)), picture=picture(turn, view), kind="result"
        )
    )


def digest_text(turn: Turn, view: CircleView) -> Reply:
    """The daily note: the others' tries since the last one."""
    news = [_try(turn, t) for t in view.news[:MAX_TRIES_SHOWN]]
    return Reply(text=turn.t("circle.digest", news=news, more=max(len(view.news) - len(news), 0)))


def ideas_to_log(turn: Turn, view: CircleView | None) -> list[Button]:
    """The shared plan's ideas: this member's own first, then the others', then what was tried."""
    ids: list[str] = list(turn.s.suggested)
    if view is not None:
        for m in sorted(view.members, key=lambda m: not m.me):
            ids += m.view.ideas if m.view is not None else []
        ids += [t.activity for t in view.tries]
    seen: list[str] = []
    for i in ids:
        if i in turn.c.activities and i not in seen:
            seen.append(i)
    return [Button(id=i, label=_title(turn, i)[:60]) for i in seen[:MAX_IDEAS]]
