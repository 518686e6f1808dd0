"""Help right now: from any state, two taps to two or three steps from the bottom of the sequence."""

from __future__ import annotations

from transitions import EventData

from dialogs.main import RETURNABLE
from neuroseq_core.domain.events import Button
from neuroseq_core.domain.recommend import fits
from neuroseq_core.engine.asking import prompt
from neuroseq_core.engine.registry import callback, source
from neuroseq_core.engine.turn import Turn


def help_now(turn: Turn) -> None:
    """/now: how does the child look right now?"""
    turn.fire("help_now")
    turn.count("now.opened")
    prompt(turn)


@callback
def remember_now_return(turn: Turn, ev: EventData) -> None:
    """Callback: where to go back to afterwards (not the help itself, when asked again)."""
    if turn.state not in ("now", "now_after"):
        turn.s.returns.now_return = turn.state


@callback
def clear_now_return(turn: Turn, ev: EventData) -> None:
    """Callback: back from the side trip."""
    turn.s.returns.now_return = None


@source("now_looks")
def looks(turn: Turn, fixed: list[Button]) -> list[Button]:
    """How the child may look right now, from content."""
    return [
        Button(id=look.id, label=turn.c.local(look.label, turn.lang)) for look in turn.c.help_now.values()
    ]


@source("now_after")
def after_options(turn: Turn, fixed: list[Button]) -> list[Button]:
    """Another moment, and back to where they were (or the beginning, if there is nowhere to go back)."""
    last = "back" if turn.s.returns.now_return in RETURNABLE else "begin"
    return [b for b in fixed if b.id in ("again", last)]


@callback
def show_now_steps(turn: Turn, ev: EventData) -> None:
    """Callback after a look is picked: the adult's steps now, and regulating ideas for later."""
    look = turn.c.help_now.get(ev.kwargs.get("value", ""))
    if look is None:
        return
    turn.count(f"now.{look.id}")
    f = turn.filters()
    known = bool(turn.s.age_band)
    later = [
        turn.c.activities[aid]
        for aid in look.then
        if aid in turn.c.activities and (not known or fits(turn.c.activities[aid], f))
    ]
    region = turn.region()
    turn.say(
        "now.steps",
        kind="result",
        look=turn.c.local(look.label, turn.lang),
        steps=[turn.c.text_of(st, turn.lang, child=turn.child()) for st in look.steps],
        then=[turn.brief(a) for a in later[:2]],
        emergency=region.emergency if region else "",
    )
