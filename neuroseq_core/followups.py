"""The follow-ups of a conversation: help right now, check-ins, the dose plan, progress, the handover note.

A mixin of the engine's Conversation (neuroseq_core.engine): the same pure, synchronous model the
shared machine runs on, with no I/O. Reminders are asked for as effects (Remind, CancelReminders)
that the service carries out in the update's transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from transitions import EventData

from dialogs import MAIN
from neuroseq_core.doses import plan_doses
from neuroseq_core.effects import CancelReminders, Effect, Remind
from neuroseq_core.events import Due, Event, Picture, Reply, ReplyKind
from neuroseq_core.models import BAND_ORDER, STEP_ORDER, Activity, Band
from neuroseq_core.recommend import Filters, fits, gentler
from neuroseq_core.session import CheckinRecord, PastRun, Session

if TYPE_CHECKING:
    from markupsafe import Markup

    from neuroseq_core.content import Content

# States where the user is in the middle of something that /start should resume, not restart:
# every state of the main flow but the beginning, the refusal and the pause itself.
RESUMABLE = set(MAIN.states) - {"new", "consent", "declined", "paused"}
# States the help-right-now flow can return to afterwards.
RETURNABLE = (RESUMABLE | {"paused", "declined", "consent"}) - {"now", "now_after"}
CHECKIN_DAYS = ("1", "3", "7")
CHECKIN_OUTCOMES = ("worked", "partly", "not", "not_tried")
PROGRESS_AFTER = dt.timedelta(days=21)  # offer to repeat the questions a few weeks after the ideas
MAX_PAST = 6  # earlier results kept for progress (bands and a date only)
MAX_CHECKINS = 10  # check-in outcomes kept for the handover note


class FollowUps:
    """Help right now, check-ins, dose plan, progress and handover, for the engine's Conversation."""

    s: Session
    c: Content
    event: Event
    state: str
    replies: list[Reply]
    effects: list[Effect]

    if TYPE_CHECKING:  # provided by Conversation

        def t(self, message_id: str, **context: Any) -> str: ...
        def say(self, message_id: str, kind: ReplyKind = "notice", **context: Any) -> None: ...
        def prompt(self, note: str | None = None) -> None: ...
        def fire(self, trigger: str, **kwargs: Any) -> bool: ...
        def jump(self, state: str) -> None: ...
        def count(self, name: str) -> None: ...
        def child(self) -> Markup: ...
        def _filters(self) -> Filters: ...
        def _level(self, level_id: str) -> Any: ...
        def _step_name(self, step_id: str) -> str: ...
        def _begin_questions(self) -> None: ...

        @property
        def lang(self) -> str: ...

    # ---- follow-ups: help right now ------------------------------------------------------------

    def help_now(self) -> None:
        """/now: two taps to two or three steps from the bottom of the sequence, from any state."""
        if self.state not in ("now", "now_after"):
            self.s.returns.now_return = self.state
        self.fire("help_now")
        self.count("now.opened")
        self.prompt()

    def show_now_steps(self, ev: EventData) -> None:
        """Callback after a look is picked: the adult's steps now, and regulating ideas for later."""
        look = self.c.help_now.get(ev.kwargs.get("value", ""))
        if look is None:
            return
        self.count(f"now.{look.id}")
        f = self._filters()
        known = bool(self.s.age_band)
        later = [
            self.c.activities[aid]
            for aid in look.then
            if aid in self.c.activities and (not known or fits(self.c.activities[aid], f))
        ]
        region = self.c.regions.get(self.s.region or "")
        self.say(
            "now.steps",
            kind="result",
            look=self.c.local(look.label, self.lang),
            steps=[self.c.text_of(st, self.lang, child=self.child()) for st in look.steps],
            then=[self._brief(a) for a in later[:2]],
            emergency=region.emergency if region else "",
        )

    def after_now(self, option_id: str) -> None:
        """After the steps: another moment, or back to where the user was."""
        if option_id == "again":
            self.fire("now_again")
            self.prompt()
            return
        back, self.s.returns.now_return = self.s.returns.now_return, None
        if back in RETURNABLE:
            self.jump(back)
            self.prompt()
            return
        if self.s.consent:
            self.jump("role")
            self.prompt()
            return
        self.fire("begin")
        self.say("start.welcome")
        self.prompt()

    # ---- follow-ups: check-ins -----------------------------------------------------------------

    def _tried(self) -> list[Activity]:
        """The ideas a check-in asks about: the last ones offered (up to three)."""
        ids = self.s.followup.checkin_ids or self.s.suggested[:3]
        return [self.c.activities[i] for i in ids if i in self.c.activities]

    def _brief(self, a: Activity, level_id: str | None = None) -> dict[str, Any]:
        """An activity for a template, in the user's language; its step is that of `level_id`
        (the level it was picked for), else of its first level."""
        text = a.text.get(self.lang) or a.text[self.c.default_language]
        level = self._level(level_id or a.levels[0])
        return {
            "id": a.id,
            "title": text.title,
            "why": text.why,
            "steps": text.steps,
            "materials": text.materials,
            "minutes": a.minutes,
            "step_name": self._step_name(level.step),
        }

    def after_checkin_offer(self, option_id: str) -> None:
        """A check-in in 1, 3 or 7 days (replacing any not yet sent), or none."""
        if option_id in CHECKIN_DAYS:
            days = int(option_id)
            now = self.event.now
            self.effects.append(CancelReminders())  # one pending check-in at a time
            self.effects.append(Remind("checkin", dt.timedelta(days=days)))
            self.s.followup.checkin_days = days
            self.s.followup.checkin_ids = [a.id for a in self._tried()]
            done = self.s.completed_at
            if done is not None and done + PROGRESS_AFTER > now:
                seconds = int((done + PROGRESS_AFTER - now).total_seconds())
                self.effects.append(Remind("progress", dt.timedelta(seconds=seconds)))
            self.count("checkin.opted_in")
        back, self.s.returns.checkin_return = self.s.returns.checkin_return, None
        self.fire("pick_checkin")
        if option_id in CHECKIN_DAYS:
            self.say("checkin.set", days=int(option_id))
        else:
            self.say("checkin.declined")
        if back in RESUMABLE - {"results", "checkin", "checkin_offer"}:
            self.jump(back)
        self.prompt()

    def on_due(self, ev: Due) -> None:
        """A reminder came due: a check-in, or the offer to see progress. Nothing without ideas."""
        if not self.s.consent or self.s.profile is None or self.state in ("new", "consent", "declined"):
            return
        if ev.what == "progress":
            self.say("progress.offer")
            return
        if ev.what != "checkin":
            return
        if self.state not in ("checkin", "checkin_offer"):
            self.s.returns.checkin_return = self.state
        self.fire("check_in")
        self.count("checkin.sent")
        self.prompt()

    def after_checkin(self, option_id: str) -> None:
        """How it went: more of what worked, else easier or more regulating ideas; then offer another."""
        if option_id == "stop":
            self.effects.append(CancelReminders())
            self.s.followup.checkin_days = None
            back, self.s.returns.checkin_return = self.s.returns.checkin_return, None
            self.jump(back if back in RESUMABLE - {"checkin", "checkin_offer"} else "results")
            self.prompt("checkin.stopped")
            return
        tried = self._tried()
        now = self.event.now
        log = [
            *self.s.followup.checkins,
            CheckinRecord(on=now.date(), outcome=option_id, ids=[a.id for a in tried]),
        ]
        self.s.followup.checkins = log[-MAX_CHECKINS:]
        self.count(f"checkin.{option_id}")
        f = self._filters()
        exclude = [*self.s.suggested, *(a.id for a in tried)]
        if option_id == "worked":
            ideas = tried
        elif option_id == "partly":
            # Easier: as short as the shortest tried, from the lower step of the sequence first.
            shortest = min((a.minutes for a in tried), default=5)
            ideas = gentler(
                self.c.activities.values(),
                f,
                levels=("sensory", "self_regulation", "relational"),
                max_minutes=max(shortest, 3),
                exclude=exclude,
            )
        elif option_id == "not":
            # More regulating: the bottom of the sequence, brief.
            ideas = gentler(
                self.c.activities.values(),
                f,
                levels=("sensory", "self_regulation"),
                max_minutes=5,
                exclude=exclude,
            )
        else:  # not tried: the tiniest doses
            ideas = sorted(tried, key=lambda a: a.minutes)[:1] + gentler(
                self.c.activities.values(),
                f,
                levels=("sensory", "self_regulation"),
                max_minutes=3,
                exclude=exclude,
                count=1,
            )
        for a in ideas:
            if a.id not in self.s.suggested:
                self.s.suggested.append(a.id)
        self.s.followup.checkin_ids = [a.id for a in ideas] or [a.id for a in tried]
        self.say(f"checkin.reply.{option_id}", kind="result", items=[self._brief(a) for a in ideas])
        self.fire("rate_checkin")
        self.prompt()

    # ---- follow-ups: dose plan, progress, handover ---------------------------------------------

    def _offered(self) -> list[Activity]:
        """The ideas offered so far, in the order they were offered."""
        return [self.c.activities[i] for i in self.s.suggested if i in self.c.activities]

    def plan(self) -> None:
        """Short doses of the chosen ideas at the day's transition points: a message to pin."""
        if self.s.profile is None or not self._offered():
            self.say("plan.none")
            return
        setting = "home" if self.s.role != "educator" else "classroom"
        points = [p for p in self.c.dose_points.values() if setting in p.settings]
        chosen = self._offered()[:5]
        doses = plan_doses(points, chosen)
        self.count("plan.made")
        self.say(
            "plan.text",
            kind="result",
            doses=[
                {
                    "point": self.c.local(d.point.label, self.lang),
                    "title": self._brief(d.activity)["title"],
                    "minutes": d.minutes,
                }
                for d in doses
            ],
        )

    def progress(self) -> None:
        """/progress: answer the questions again (same child, same setting) to see the change."""
        p = self.s.profile
        if p is None or self.s.completed_at is None:
            self.prompt("progress.none")
            return
        past = [
            *self.s.followup.past,
            PastRun(on=self.s.completed_at.date(), bands={r.level: r.band for r in p.levels}),
        ]
        # The same child and setting, answered again: the session keeps what it marks as the child's.
        self.s = self.s.fresh("child")
        self.s.followup.past = past[-MAX_PAST:]
        self.jump("questions")
        self._begin_questions()
        self.count("progress.started")
        self.prompt("progress.again")

    def _step_band(self, bands: Mapping[str, Band], step_id: str) -> int:
        """The step's band as an index (0 steady … 2 more support): its levels' highest band."""
        levels = [lv.id for lv in self.c.sequence.levels if lv.step == step_id]
        return max((BAND_ORDER.index(bands.get(lv, "on_track")) for lv in levels), default=0)

    def _progress_reply(self) -> None:
        """The change per step since the last time, as a picture and a sentence; never a score."""
        p = self.s.profile
        past = self.s.followup.past
        if p is None or not past:
            return
        before = past[-1]
        now_bands: dict[str, Band] = {r.level: r.band for r in p.levels}
        changes = []
        for st in self.c.sequence.steps:
            then_i = self._step_band(before.bands, st.id)
            now_i = self._step_band(now_bands, st.id)
            word = "steadier" if now_i < then_i else ("same" if now_i == then_i else "more")
            changes.append(
                {"step": self.c.local(st.name, self.lang), "change": word, "word": self.t(f"progress.{word}")}
            )
        ctx = {
            "since": before.on.isoformat(),
            "changes": changes,
            "harder": any(c["change"] == "more" for c in changes),
        }
        picture = Picture(
            kind="progress",
            steps=[c["step"] for c in changes],
            start_index=STEP_ORDER.index(p.start_step),
            caption=self.t("progress.caption", **ctx),
            title="",
            notes=[c["word"] for c in changes],
        )
        self.replies.append(Reply(text=self.t("progress.summary", **ctx), picture=picture, kind="result"))

    def handover(self) -> None:
        """A plain, non-diagnostic note to forward: what helps, what to avoid, what has been tried."""
        p = self.s.profile
        if p is None:
            self.say("handover.none")
            return
        titles = {a.id: self._brief(a)["title"] for a in self._offered()}
        checkins = self.s.followup.checkins
        worked = [i for c in checkins if c.outcome in ("worked", "partly") for i in c.ids]
        helps = [titles[i] for i in dict.fromkeys(worked) if i in titles] or list(titles.values())[:3]
        tried = [
            {
                "on": c.on.isoformat(),
                "titles": [titles[i] for i in c.ids if i in titles],
                "outcome": self.t(f"checkin.{c.outcome}"),
            }
            for c in checkins
        ]
        band = self.c.age_bands.get(self.s.age_band or "")
        self.count("handover.made")
        self.say(
            "handover.note",
            kind="result",
            age_band=self.c.local(band.label, self.lang) if band else "",
            start_step=self._step_name(p.start_step),
            helps=helps,
            avoid=self.t(f"handover.avoid.{p.start_step}"),
            tried=tried,
        )
