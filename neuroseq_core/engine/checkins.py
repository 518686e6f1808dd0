"""Check-ins: offered after the ideas; asked when the reminder comes due; the reply adapts to the answer.

Reminders are asked for as effects (Remind, CancelReminders) that the service carries out in the
update's transaction.
"""

from __future__ import annotations

import datetime as dt

from transitions import EventData

from neuroseq_core.domain.effects import CancelReminders, LogTry, Remind
from neuroseq_core.domain.events import Due
from neuroseq_core.domain.models import Activity, LevelId
from neuroseq_core.domain.recommend import gentler
from neuroseq_core.domain.session import CheckinRecord
from neuroseq_core.engine.asking import prompt
from neuroseq_core.engine.registry import callback, prompt_text
from neuroseq_core.engine.turn import Turn

PROGRESS_AFTER = dt.timedelta(days=21)  # offer to repeat the questions a few weeks after the ideas
MAX_CHECKINS = 10  # check-in outcomes kept for the handover note


def tried(turn: Turn) -> list[Activity]:
    """The idea a check-in asks about: one at a time, the first of the last ones offered."""
    ids = turn.s.followup.checkin_ids or turn.s.suggested[:1]
    return [turn.c.activities[i] for i in ids if i in turn.c.activities][:1]


def on_due(turn: Turn, ev: Due) -> None:
    """A reminder came due: a check-in, or the offer to see progress. Nothing without ideas."""
    if not turn.s.consent or turn.s.profile is None or turn.state in ("new", "consent", "declined"):
        return
    if ev.what == "progress":
        turn.say("progress.offer")
    elif ev.what == "checkin":
        turn.fire("check_in")
        turn.count("checkin.sent")
        prompt(turn)


@callback
def remember_checkin_return(turn: Turn, ev: EventData) -> None:
    """Callback: where to go back to after the check-in."""
    if turn.state not in ("checkin", "checkin_offer"):
        turn.s.returns.checkin_return = turn.state


@callback
def clear_checkin_return(turn: Turn, ev: EventData) -> None:
    """Callback: back from the check-in."""
    turn.s.returns.checkin_return = None


@callback
def set_checkin(turn: Turn, ev: EventData) -> None:
    """Callback: a check-in in 1, 3 or 7 days (replacing any not yet sent), or none."""
    choice = ev.kwargs["value"]
    if choice == "no":
        turn.say("checkin.declined")
        return
    days, now = int(choice), turn.event.now
    turn.effects.append(CancelReminders())  # one pending check-in at a time
    turn.effects.append(Remind("checkin", dt.timedelta(days=days)))
    turn.s.followup.checkin_days = days
    turn.s.followup.checkin_ids = [a.id for a in tried(turn)]
    done = turn.s.completed_at
    if done is not None and done + PROGRESS_AFTER > now:
        seconds = int((done + PROGRESS_AFTER - now).total_seconds())
        turn.effects.append(Remind("progress", dt.timedelta(seconds=seconds)))
    turn.count("checkin.opted_in")
    turn.say("checkin.set", days=days)


@callback
def stop_checkins(turn: Turn, ev: EventData) -> None:
    """Callback: no more check-ins (the pending one is cancelled)."""
    turn.effects.append(CancelReminders())
    turn.s.followup.checkin_days = None
    turn.note = "checkin.stopped"


@prompt_text("checkin.question")
def checkin_question(turn: Turn, message: str) -> str:
    """The check-in question names the ideas it asks about."""
    return turn.t(message, items=[turn.brief(a) for a in tried(turn)])


def _ideas(turn: Turn, outcome: str, done: list[Activity]) -> list[Activity]:
    """More of what worked; else easier, more regulating, or the tiniest doses."""
    f = turn.filters()
    pool = turn.c.activities.values()
    exclude = [*turn.s.suggested, *(a.id for a in done)]
    if outcome == "worked":
        return done
    if outcome == "partly":
        # Easier: as short as the shortest tried, from the lower step of the sequence first.
        shortest = min((a.minutes for a in done), default=5)
        levels: tuple[LevelId, ...] = ("sensory", "self_regulation", "relational")
        return gentler(pool, f, levels=levels, max_minutes=max(shortest, 3), exclude=exclude)
    if outcome == "not":  # more regulating: the bottom of the sequence, brief
        return gentler(pool, f, levels=("sensory", "self_regulation"), max_minutes=5, exclude=exclude)
    tiniest = gentler(pool, f, levels=("sensory", "self_regulation"), max_minutes=3, exclude=exclude, count=1)
    return sorted(done, key=lambda a: a.minutes)[:1] + tiniest  # not tried: the tiniest doses


@callback
def rate_checkin(turn: Turn, ev: EventData) -> None:
    """Callback: keep how it went, and reply with ideas that fit the answer."""
    outcome = ev.kwargs["value"]
    done = tried(turn)
    record = CheckinRecord(on=turn.event.now.date(), outcome=outcome, ids=[a.id for a in done])
    turn.s.followup.checkins = [*turn.s.followup.checkins, record][-MAX_CHECKINS:]
    turn.count(f"checkin.{outcome}")
    # The same answer feeds this adult's circle, if they are in one (the store does nothing if not).
    turn.effects.extend(LogTry(activity=a.id, outcome=outcome) for a in done)
    ideas = _ideas(turn, outcome, done)
    for a in ideas:
        if a.id not in turn.s.suggested:
            turn.s.suggested.append(a.id)
    turn.s.followup.checkin_ids = [a.id for a in ideas] or [a.id for a in done]
    at_bottom = turn.s.profile is not None and turn.s.profile.start_step == "regulate"
    turn.say(
        f"checkin.reply.{outcome}", kind="result", items=[turn.brief(a) for a in ideas], at_bottom=at_bottom
    )
