"""The engine: `step(session, event, content) -> (session, replies, effects)`. No I/O, no clock of its own."""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup
from transitions import EventData, MachineError

from dialogs import MAIN
from dialogs.flow import Ask, Flow
from neuroseq_core.content import Content
from neuroseq_core.effects import CancelReminders, Count, DeleteUser, Effect, SaveProfile
from neuroseq_core.events import (
    Button,
    Choice,
    Command,
    Due,
    Event,
    Picture,
    Reply,
    ReplyKind,
    Start,
    Text,
    Unsupported,
)
from neuroseq_core.followups import CHECKIN_DAYS, CHECKIN_OUTCOMES, RESUMABLE, RETURNABLE, FollowUps
from neuroseq_core.models import LEVEL_ORDER, STEP_ORDER, Question, StepId
from neuroseq_core.recommend import Filters, Pick, recommend
from neuroseq_core.referral import referrals
from neuroseq_core.render import safe, to_plain
from neuroseq_core.resources import safety_context
from neuroseq_core.safety import Verdict
from neuroseq_core.safety.reply import (
    audience_for,
    is_nickname,
    lines_category,
    recent,
    speaker_for,
    template_for,
)
from neuroseq_core.scoring import score
from neuroseq_core.session import SafetyMemory, Session

MAX_REFERRAL_PROMPTS = 2
MINUTES_CHOICES = ("2", "5", "15")
QUESTIONNAIRE_FOR = {
    ("caregiver", "one"): "caregiver",
    ("educator", "one"): "educator_student",
    ("educator", "class"): "educator_class",
}
# States that /back never returns to (answers are undone one by one; follow-ups are side trips).
NOT_IN_HISTORY = {"questions", "consent", "now", "now_after", "checkin_offer", "checkin"}
SAFETY_CONTINUE = "safety.continue"
SAFETY_STOP = "safety.stop"
SAFETY_YES = "safety.check.yes"
SAFETY_NO = "safety.check.no"
SAFETY_REGION = "safety.region."  # + a region id: that country's lines for the last danger reply
DELETE_CONFIRM = "delete.confirm"
DELETE_KEEP = "delete.keep"
# The commands a user can see in the menu (admins also have /reload and /stats, run by the service).
MENU_COMMANDS = (
    "start",
    "now",
    "help",
    "back",
    "plan",
    "progress",
    "handover",
    "restart",
    "cancel",
    "stop",
    "language",
    "privacy",
    "delete",
    "helplines",
)


def new_session(user_id: str, content: Content) -> Session:
    """A fresh session in the content's default language."""
    return Session(user_id=user_id, language=content.default_language, state=MAIN.initial)


def step(session: Session, event: Event, content: Content) -> tuple[Session, list[Reply], list[Effect]]:
    """Apply one event to a session; returns the new session, the replies in order, and the effects."""
    conv = Conversation(session.model_copy(deep=True), content, event)
    conv.handle()
    return conv.s, conv.replies, conv.effects


def fold(text: str) -> str:
    """Fold case, accents and spacing, for matching a typed label to a button."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", text).strip().casefold()


def match_button(raw: str, buttons: Sequence[Button]) -> Button | None:
    """The button a typed line means: its number (1-based) or its label; None if neither."""
    if len(raw) > 200:
        return None
    text = fold(raw).rstrip(").")
    if text.isdigit():
        i = int(text)
        return buttons[i - 1] if 1 <= i <= len(buttons) else None
    return next((b for b in buttons if fold(to_plain(b.label)) == text), None)


def clean_nickname(raw: str) -> str:
    """A nickname as we keep it: no control characters, single spaces, trimmed."""
    text = "".join(c if unicodedata.category(c)[0] != "C" else " " for c in raw)
    return re.sub(r"\s+", " ", text).strip()


class Conversation(FollowUps):
    """The model a shared Machine runs on: made from one session for one step, then dropped."""

    def __init__(self, session: Session, content: Content, event: Event) -> None:
        self.s = session
        self.c = content
        self.event = event
        self.flow: Flow = MAIN
        self.state = session.state if session.state in self.flow.states else self.flow.initial
        self.replies: list[Reply] = []
        self.effects: list[Effect] = []  # for the service, in the same transaction as the replies
        self.repaired = False  # the question on screen was removed from content (see repair)

    # ---- words -------------------------------------------------------------------------------

    @property
    def lang(self) -> str:
        """The user's language."""
        return self.s.language if self.s.language in self.c.languages.languages else self.c.default_language

    def child(self) -> Markup:
        """How we speak of the child: their nickname (escaped) or a warm default."""
        if self.s.nickname:
            return safe(self.s.nickname)
        key = (
            "child.class"
            if self.s.group == "class"
            else ("child.student" if self.s.role == "educator" else "child.default")
        )
        return self.c.text(key, self.lang)

    def base_context(self) -> dict[str, Any]:
        """Variables every message may use."""
        region = self.c.regions.get(self.s.region or "")
        number = region.emergency if region and any(ch.isdigit() for ch in region.emergency) else ""
        return {
            "child": self.child(),
            "role": self.s.role or "caregiver",
            "group": self.s.group or "one",
            "region_name": self.c.local(region.name, self.lang) if region else "",
            "emergency_number": number,
        }

    def t(self, message_id: str, **context: Any) -> str:
        """Render a message in the user's language with the base context."""
        return self.c.text(message_id, self.lang, **{**self.base_context(), **context})

    def say(self, message_id: str, kind: ReplyKind = "notice", **context: Any) -> None:
        """Queue a plain message."""
        self.replies.append(Reply(text=self.t(message_id, **context), kind=kind))

    # ---- guards and callbacks named in dialogs/ (pure, synchronous) ---------------------------

    def is_educator(self, ev: EventData) -> bool:
        """Guard: the user is an educator."""
        return self.s.role == "educator"

    def is_class(self, ev: EventData) -> bool:
        """Guard: the educator is thinking of a whole class."""
        return self.s.group == "class"

    def more_questions(self, ev: EventData) -> bool:
        """Guard: there is a question still to ask."""
        return self.s.question_id is not None

    def set_consent(self, ev: EventData) -> None:
        """Callback: the user agreed to the disclaimer."""
        self.s.consent = True

    def set_role(self, ev: EventData) -> None:
        """Callback: caregiver or educator; caregivers think of one child at home."""
        self.s.role = ev.kwargs["value"]
        if self.s.role == "caregiver":
            self.s.group, self.s.setting, self.s.minutes = "one", "home", None
        else:
            self.s.setting = None

    def set_region(self, ev: EventData) -> None:
        """Callback: the region, for helplines."""
        self.s.region = ev.kwargs["value"]

    def set_group(self, ev: EventData) -> None:
        """Callback: one student or the whole class."""
        self.s.group = ev.kwargs["value"]
        if self.s.group == "class":
            self.s.nickname = None

    def set_age_band(self, ev: EventData) -> None:
        """Callback: the child's age band (a band, never a developmental age)."""
        self.s.age_band = ev.kwargs["value"]

    def set_minutes(self, ev: EventData) -> None:
        """Callback: the time a teacher has."""
        self.s.minutes = int(ev.kwargs["value"])

    def set_setting(self, ev: EventData) -> None:
        """Callback: classroom or outdoors; also picks the questionnaire for a class."""
        self.s.setting = ev.kwargs["value"]
        self._begin_questions()

    def set_nickname(self, ev: EventData) -> None:
        """Callback: the optional nickname (or none when skipped)."""
        value = ev.kwargs.get("text")
        self.s.nickname = value or None
        self._begin_questions()

    def record_answer(self, ev: EventData) -> None:
        """Callback: keep the answer (None when skipped) and move to the next question."""
        qid = self.s.question_id
        if qid is None:
            return
        value = ev.kwargs["value"]
        self.s.answers[qid] = None if value == "skip" else value
        if f"q:{qid}" not in self.s.history:
            self.s.history.append(f"q:{qid}")
        self.s.question_id = self._next_question_id()

    def show_results(self, ev: EventData) -> None:
        """Callback after the last answer: score, pick, and say it."""
        self._results()

    # ---- the questionnaire ----------------------------------------------------------------------

    def _questionnaire_id(self) -> str | None:
        return QUESTIONNAIRE_FOR.get((self.s.role or "", self.s.group or ""))

    def questions(self) -> list[Question]:
        """The questions for this user, in order, fit for the age band."""
        qn = self.c.questionnaires.get(self.s.questionnaire or "")
        if qn is None:
            return []
        return [q for q in qn.questions if q.age_bands is None or self.s.age_band in q.age_bands]

    def _next_question_id(self) -> str | None:
        for q in self.questions():
            if q.id not in self.s.answers:
                return q.id
        return None

    def _begin_questions(self) -> None:
        qid = self._questionnaire_id()
        if self.s.questionnaire != qid:
            self.s.questionnaire = qid
            self.s.answers = {}
        self.s.question_id = self._next_question_id()
        if not self.s.counted_start:  # once per run of the questions, /back or not
            self.s.counted_start = True
            self.count("conversation.started")

    def count(self, name: str) -> None:
        """Ask the service to add one to an anonymous counter (for /stats; no user id is kept)."""
        self.effects.append(Count(name))

    # ---- choices ---------------------------------------------------------------------------------

    def choices(self, ask: Ask) -> list[Button]:
        """The buttons of a state, in order (answer options run from fine to worried)."""
        lang, c = self.lang, self.c
        source = ask.choices
        if source == "consent":
            return [
                Button(id="agree", label=self.t("consent.agree")),
                Button(id="decline", label=self.t("consent.decline")),
            ]
        if source == "roles":
            return [Button(id=r, label=self.t(f"role.{r}")) for r in ("caregiver", "educator")]
        if source == "regions":
            return [Button(id=r.id, label=c.local(r.name, lang)) for r in self._regions_in_order()]
        if source == "groups":
            return [Button(id=g, label=self.t(f"group.{g}")) for g in ("one", "class")]
        if source == "age_bands":
            bands = sorted(c.age_bands.values(), key=lambda b: b.min_age)
            return [Button(id=b.id, label=c.local(b.label, lang)) for b in bands]
        if source == "minutes":
            return [Button(id=m, label=self.t(f"minutes.{m}")) for m in MINUTES_CHOICES]
        if source == "settings":
            return [Button(id=s, label=self.t(f"setting.{s}")) for s in ("classroom", "outdoors")]
        if source == "nickname":
            return [Button(id="skip", label=self.t("nickname.skip"))]
        if source == "question":
            q = self.c.questions.get(self.s.question_id or "")
            if q is None:
                return []
            buttons = [Button(id=o.id, label=c.local(o.label, lang)) for o in q.options]
            return [*buttons, Button(id="skip", label=self.t("question.skip"))]
        if source == "results":
            return [
                Button(id=r, label=self.t(f"results.{r}"))
                for r in ("more", "plan", "checkin", "handover", "restart")
            ]
        if source == "now_looks":
            return [Button(id=look.id, label=c.local(look.label, lang)) for look in c.help_now.values()]
        if source == "now_after":
            back = self.s.returns.now_return
            last = "back" if back in RETURNABLE else "begin"
            return [Button(id=i, label=self.t(f"now.{i}")) for i in ("again", last)]
        if source == "checkin_days":
            days = [Button(id=d, label=self.t(f"checkin.days.{d}")) for d in CHECKIN_DAYS]
            return [*days, Button(id="no", label=self.t("checkin.no"))]
        if source == "checkin_outcomes":
            outcomes = [Button(id=o, label=self.t(f"checkin.{o}")) for o in CHECKIN_OUTCOMES]
            return [*outcomes, Button(id="stop", label=self.t("checkin.stop"))]
        raise KeyError(f"unknown choice source {source}")

    # ---- prompts and tokens -------------------------------------------------------------------

    def _point(self) -> str:
        return f"{self.state}:{self.s.question_id or ''}"

    def _token_for_point(self) -> str:
        point = self._point()
        if self.s.prompt_point != point:
            self.s.seq += 1
            self.s.prompt_point = point
        return f"{self.s.seq:x}{zlib.crc32(point.encode()) & 0xFFF:03x}"

    def prompt(self, note: str | None = None) -> None:
        """Ask (or ask again) what the current state asks; `note` is a message id to say first."""
        ask = self.flow.asks.get(self.state)
        if ask is None:
            if note:
                self.say(note)
            self._idle_hint()
            return
        token = self._token_for_point()
        self.s.token = token
        text = self._prompt_text(ask)
        if note:
            text = self.t(note) + "\n\n" + text
        self.replies.append(Reply(text=text, choices=self.choices(ask), token=token, kind="question"))

    def _prompt_text(self, ask: Ask) -> str:
        if ask.choices == "question":
            q = self.c.questions.get(self.s.question_id or "")
            if q is None:
                return self.t("question.missing")
            qs = self.questions()
            ids = [x.id for x in qs]
            number = ids.index(q.id) + 1 if q.id in ids else len(self.s.answers) + 1
            level = self._level(q.level)
            text = self.c.text_of(q.text, self.lang, child=self.child())
            return self.t(
                ask.message,
                number=number,
                total=len(qs),
                text=text,
                level_name=self.c.local(level.name, self.lang),
                step_name=self._step_name(level.step),
            )
        if ask.choices == "checkin_outcomes":
            return self.t(ask.message, items=[self._brief(a) for a in self._tried()])
        return self.t(ask.message)

    def _idle_hint(self) -> None:
        key = "declined.hint" if self.state == "declined" else "paused.hint"
        self.say(key)

    def _level(self, level_id: str) -> Any:
        return next(lv for lv in self.c.sequence.levels if lv.id == level_id)

    def _step_name(self, step_id: str) -> str:
        st = next(s for s in self.c.sequence.steps if s.id == step_id)
        return self.c.local(st.name, self.lang)

    # ---- firing the machine -------------------------------------------------------------------

    def fire(self, trigger: str, **kwargs: Any) -> bool:
        """Fire a trigger of the shared machine on this conversation; sync the state back."""
        try:
            ok = bool(self.flow.machine.events[trigger].trigger(self, **kwargs))
        except (MachineError, KeyError):
            return False
        self.s.state = self.state
        return ok

    def jump(self, state: str) -> None:
        """Put the conversation in a state without a transition (resume, back)."""
        self.flow.machine.set_state(state, model=self)
        self.s.state = self.state

    # ---- handling events ----------------------------------------------------------------------

    def handle(self) -> None:
        """Dispatch the event."""
        ev = self.event
        self.repair()
        if isinstance(ev, Start):
            self.on_start(ev)
        elif isinstance(ev, Command):
            self.on_command(ev)
        elif isinstance(ev, Choice):
            self.on_choice(ev.option_id, ev.token)
        elif isinstance(ev, Text):
            self.on_text(ev.text)
        elif isinstance(ev, Due):
            self.on_due(ev)
        elif isinstance(ev, Unsupported):
            # An edited message is never re-applied to an earlier question: we say so and re-ask.
            # Its new words are still screened: an edit that adds a disclosure gets help.
            if not (ev.text and self.screen(ev.text)):
                self.prompt("input.edited" if ev.what == "edited_message" else "input.unsupported")
        self.s.state = self.state

    def repair(self) -> None:
        """Fit a stored session to the live content: /reload may have removed what it points at.

        A question that is gone is passed over (its answer no longer counts); an age band that is
        gone is asked again. Nothing the user answered to questions still in content is lost.
        """
        if self.s.age_band is not None and self.s.age_band not in self.c.age_bands:
            self.s.age_band = None
            if self.state in ("questions", "results", "nickname", "minutes", "setting"):
                self.jump("age_band")
        if self.state == "questions" and self.s.question_id not in self.c.questions:
            # The question on screen is gone: its buttons (and a typed number) meant that question,
            # so they must not count as an answer to the one that takes its place.
            self.repaired = True
            self.s.token = ""
            if self.s.questionnaire not in self.c.questionnaires:
                self.s.questionnaire = None
                self._begin_questions()
            else:
                self.s.question_id = self._next_question_id()
            if self.s.question_id is None:
                self.jump("results")
                self._results()

    def on_start(self, ev: Start) -> None:
        """/start: begin, or welcome back and resume where they were."""
        if self.state == "new" and ev.language:
            self.s.language = self.c.language(ev.language)
        resume = self.s.returns.resume
        if self.state == "paused" and resume in RESUMABLE:
            self.jump(resume)
            self.s.returns.resume = None
            self.prompt("start.welcome_back")
            return
        if self.state in RESUMABLE and self.s.consent:
            self.prompt("start.welcome_back")
            return
        self.fire("begin")
        self.say("start.welcome")
        self.prompt()

    def on_command(self, ev: Command) -> None:
        """The /commands that work in every state."""
        name = ev.name.lower()
        if name == "start":
            self.on_start(Start(language=None, now=ev.now))
        elif name == "restart":
            self.restart()
        elif name == "cancel":
            self.pause()
        elif name == "stop":
            # /stop also ends every check-in: the user asked us to stop, not only to pause.
            self.effects.append(CancelReminders())
            self.s.followup.checkin_days = None
            self.pause("stop.done")
        elif name == "now":
            self.help_now()
        elif name == "plan":
            self.plan()
            self.prompt()
        elif name == "handover":
            self.handover()
            self.prompt()
        elif name == "progress":
            self.progress()
        elif name == "help":
            self.prompt("help.text")
        elif name == "privacy":
            self.prompt("privacy.text")
        elif name == "back":
            self.back()
        elif name == "delete":
            self.s.pending = "delete"
            self.side_question(self.t("delete.question"), [DELETE_KEEP, DELETE_CONFIRM])
        elif name == "helplines":
            self.helplines()
            self.prompt()
        elif name == "language":
            self.language(ev.args)
        else:
            self.prompt("command.unknown")

    def restart(self) -> None:
        """Start the questions again (keeps what the session marks as the user's: consent, language, region)."""
        self.s = self.s.fresh("user")
        self.state = "new"
        if self.s.consent:
            self.jump("role")
            self.prompt("restart.done")
        else:
            self.fire("begin")
            self.say("start.welcome")
            self.prompt()

    def pause(self, message: str = "cancel.done") -> None:
        """Stop for now; everything answered is kept for /start."""
        if self.state in RESUMABLE:
            self.s.returns.resume = self.state
        self.fire("pause")
        self.say(message)

    def back(self) -> None:
        """Go back one question, or one onboarding step (history holds both, newest last)."""
        if self.state not in RESUMABLE or not self.s.history:
            self.prompt("back.nothing")
            return
        entry = self.s.history.pop()
        if entry.startswith("q:"):
            qid = entry[2:]
            self.s.answers.pop(qid, None)
            self.s.question_id = qid
            self.jump("questions")
        else:
            self.jump(entry)
        self.prompt()

    def language(self, args: str) -> None:
        """Switch language: /language es, or show the choice."""
        wanted = args.strip().lower()
        if wanted in self.c.languages.languages:
            self.s.language = wanted
            self.prompt("language.changed")
            return
        names = ", ".join(f"/language {lang}" for lang in self.c.languages.languages)
        self.say("language.choose", options=names)
        self.prompt()

    def helplines(self) -> None:
        """The crisis lines for the user's region."""
        region = self.c.regions.get(self.s.region or "")
        ctx = safety_context("general", region, self.c.regions, self.lang, self.s.role)
        text = self.c.text("helplines.list", self.lang, **ctx)
        self.replies.append(Reply(text=text, choices=self._country_buttons(ctx), kind="safety"))

    def on_choice(self, option_id: str, token: str | None) -> None:
        """A button (or a typed number or label)."""
        if option_id in (SAFETY_CONTINUE, SAFETY_STOP):
            if option_id == SAFETY_STOP:
                self.pause()
            else:
                self.prompt()
            return
        if option_id in (SAFETY_YES, SAFETY_NO) or option_id.startswith(SAFETY_REGION):
            self.on_safety_choice(option_id)
            return
        if option_id in (DELETE_CONFIRM, DELETE_KEEP):
            if self.s.pending != "delete":
                self.prompt("reprompt.stale")
                return
            self.s.pending = None
            if option_id == DELETE_CONFIRM:
                self.effects.append(DeleteUser())
                self.say("delete.done")
            else:
                self.prompt("delete.kept")
            return
        ask = self.flow.asks.get(self.state)
        if self.repaired:
            self.prompt("question.missing")
            return
        if token is not None and token != self.s.token:
            self.prompt("reprompt.stale")
            return
        if ask is None:
            self.prompt()
            return
        ids = [b.id for b in self.choices(ask)]
        if option_id not in ids:
            self.prompt("reprompt.unknown")
            return
        self.apply(ask, option_id)

    def apply(self, ask: Ask, option_id: str) -> None:
        """Fire the state's trigger with the chosen id, then ask what comes next."""
        before = self.state
        special = {
            "results": self.after_results,
            "now_after": self.after_now,
            "checkin_days": self.after_checkin_offer,
            "checkin_outcomes": self.after_checkin,
        }.get(ask.choices)
        if special is not None:
            special(option_id)
            return
        if ask.choices == "nickname":
            ok = self.fire(ask.trigger, text=None)
        else:
            trigger = ask.trigger.format(choice=option_id)
            ok = self.fire(trigger, value=option_id)
        if not ok:
            self.prompt("reprompt.unknown")
            return
        if before not in NOT_IN_HISTORY:
            self.s.history.append(before)
        if self.state == "declined":
            self.say("consent.declined")
            return
        if self.state != "results":
            self.prompt()

    def on_text(self, raw: str) -> None:
        """Free text: screened for danger first, then matched to a choice, else a kind answer."""
        if self.screen(raw):
            return
        ask = self.flow.asks.get(self.state)
        if ask is None:
            self.prompt()
            return
        if ask.text_trigger and not raw.strip().startswith("/"):
            self.on_nickname(raw, ask)
            return
        chosen = self.match_choice(raw, ask)
        if chosen is not None:
            self.on_choice(chosen, None)
            return
        # Words we cannot act on are still heard: say so, and show where help is.
        self.prompt("reprompt.free_text")

    def match_choice(self, raw: str, ask: Ask) -> str | None:
        """A typed number or label of the current state's choices, as a choice id."""
        button = match_button(raw, self.choices(ask))
        return button.id if button else None

    def on_nickname(self, raw: str, ask: Ask) -> None:
        """The optional nickname: short, and never a real name (we ask; we cannot check)."""
        chosen = self.match_choice(raw, ask)
        if chosen == "skip":
            self.apply(ask, "skip")
            return
        name = clean_nickname(raw)
        if not name:
            self.prompt("reprompt.choose")
            return
        if not is_nickname(name):
            # A sentence is not a name: never echoed back, never kept.
            self.prompt("nickname.not_a_name")
            return
        if not self.fire(ask.text_trigger or ask.trigger, text=name):
            self.prompt("reprompt.unknown")
            return
        self.s.history.append("nickname")
        self.prompt()

    # ---- safety ----------------------------------------------------------------------------------

    def screen(self, raw: str) -> bool:
        """Screen free text; answer danger (clear: help at once; possible: one gentle question)."""
        memory = self.s.safety
        minutes = self.c.safety.config.context_minutes
        context = recent(memory.categories, memory.at, self.event.now, minutes) if memory else ()
        verdict = self.c.safety.verdict(raw, context)
        if verdict.tier is None:
            return False
        speaker = speaker_for(verdict.speaker, self.s.role)
        self.s.safety = SafetyMemory(
            categories=list(verdict.categories),
            speaker=speaker,
            poisoning=verdict.poisoning,
            at=self.event.now,
        )
        if verdict.tier == "clear":
            self.safety_reply(verdict)
        else:
            self.safety_question(verdict)
        return True

    def safety_question(self, verdict: Verdict) -> None:
        """Possible danger: ask once, gently, with two buttons; the conversation stays where it was."""
        self.count(f"safety_check.{verdict.category}")
        self.side_question(self.t("safety.check.question"), [SAFETY_YES, SAFETY_NO])

    def side_question(self, text: str, button_ids: list[str], before: Sequence[Button] = ()) -> None:
        """A question beside the flow (confirm, danger check): the state and the question on screen stay."""
        buttons = [*before, *(Button(id=b, label=self.t(b)) for b in button_ids)]
        self.replies.append(Reply(text=text, choices=buttons, token=self.s.token or None, kind="question"))

    def on_safety_choice(self, option_id: str) -> None:
        """Yes: the help for what was said. No: back where we were. A country: its lines."""
        memory = self.s.safety
        verdict = (
            Verdict("clear", tuple(memory.categories), memory.speaker, memory.poisoning)
            if memory and memory.categories
            else None
        )
        if option_id.startswith(SAFETY_REGION):
            region = self.c.regions.get(option_id.removeprefix(SAFETY_REGION))
            if region is None:
                self.prompt("reprompt.stale")
                return
            if self.s.region is None:  # asked again later in onboarding all the same
                self.s.region = region.id
            if verdict is None:
                self.helplines()
                self.prompt()
            else:
                self.safety_reply(verdict, count=False)  # the same danger, now with local lines
        elif option_id == SAFETY_YES and verdict is not None:
            self.safety_reply(verdict)
        elif option_id == SAFETY_YES:
            self.helplines()
            self.prompt()
        else:
            # They told us no one is in danger: that answer, not our guess, colours what comes next.
            self.s.safety = None
            self.prompt("safety.check.no_reply")

    def _safety_ctx(self, category: str, speaker: str, poisoning: bool, lead: bool = True) -> dict[str, Any]:
        # The lead reply may take another category's lines (a child who sees violence at home: a
        # child line); an "also" block lists its own category's lines for this reader.
        region = self.c.regions.get(self.s.region or "")
        ctx = safety_context(
            lines_category(category, speaker) if lead else category,
            region,
            self.c.regions,
            self.lang,
            self.s.role,
            audience_for(speaker),
            poisoning,
        )
        return {**ctx, "category": category}

    def safety_reply(self, verdict: Verdict, count: bool = True) -> None:
        """Danger first: help for who is speaking and for every category found, then go on or stop."""
        lead = verdict.category or "general"
        speaker = speaker_for(verdict.speaker, self.s.role)
        ctx = self._safety_ctx(lead, speaker, verdict.poisoning)
        parts = [str(self.c.text(template_for(lead, speaker), self.lang, **ctx))]
        # (an "also" block whose lines were all shown already renders empty and is left out)
        shown = {line["name"] for line in ctx["lines"]}
        for other in verdict.categories[1:]:  # several at once: each one's lines, none twice
            octx = self._safety_ctx(other, speaker, verdict.poisoning, lead=False)
            octx["lines"] = [line for line in octx["lines"] if line["name"] not in shown]
            shown |= {line["name"] for line in octx["lines"]}
            also = str(self.c.text("safety.also", self.lang, **octx)).strip()
            if also:
                parts.append(also)
        if count:
            self.count(f"safety.{lead}")
        if self.s.role == "educator" and any(c != "medical_emergency" for c in verdict.categories):
            parts.append(str(self.c.text("safety.educator", self.lang, **ctx)))
        if ctx["numbers"]:  # the country is not known yet: the numbers first, a country one tap away
            parts.insert(0, str(self.c.text("safety.numbers", self.lang, **ctx)))
        self.replies.append(Reply(text="\n\n".join(parts), kind="safety"))
        self.side_question(
            self.c.text("safety.after", self.lang, **ctx),
            [SAFETY_CONTINUE, SAFETY_STOP],
            before=self._country_buttons(ctx),
        )

    def _country_buttons(self, ctx: dict[str, Any]) -> list[Button]:
        # Before the user's country is known, each country's lines are one tap away.
        if not ctx["numbers"]:
            return []
        return [
            Button(id=SAFETY_REGION + r.id, label=self.c.local(r.name, self.lang))
            for r in self._regions_in_order()
        ]

    def _regions_in_order(self) -> list[Any]:
        lang = self.lang
        return sorted(
            self.c.regions.values(),
            key=lambda r: (r.id == "intl", lang not in r.languages, self.c.local(r.name, lang)),
        )

    # ---- results ------------------------------------------------------------------------------

    def _filters(self) -> Filters:
        setting = self.s.setting or ("home" if self.s.role != "educator" else "classroom")
        return Filters(
            age_band=self.s.age_band or "",
            setting=setting,
            group=self.s.group or "one",
            minutes=self.s.minutes,
        )

    def _steps(self) -> dict[str, StepId]:
        return {lv.id: lv.step for lv in self.c.sequence.levels}

    def _results(self) -> None:
        band = self.c.age_bands.get(self.s.age_band or "")
        if band is None:
            self.jump("age_band")
            self.prompt("reprompt.unknown")
            return
        profile = score(self.questions(), self.s.answers, band, self._steps())
        fired = referrals(
            self.c.referrals,
            profile,
            self.s.answers,
            band.id,
            self.s.role or "caregiver",
            self.s.group or "one",
        )
        profile = profile.model_copy(update={"referrals": [r.id for r in fired]})
        self.s.profile = profile
        self.s.completed_at = self.event.now
        self.s.suggested = []
        self.effects.append(SaveProfile())
        self.count("conversation.completed")
        self.count(f"start_step.{profile.start_step}")
        self._summary()
        if self.s.followup.past:
            self._progress_reply()
        self._suggest(first=True)
        # One or two gentle prompts, in content order (staff put the most specific first);
        # a wall of referrals would frighten more than help.
        for rule in fired[:MAX_REFERRAL_PROMPTS]:
            self.say(rule.message, kind="result")
        self.prompt()

    def _summary(self) -> None:
        p = self.s.profile
        assert p is not None
        steps = []
        for st in self.c.sequence.steps:
            levels = [
                {
                    "name": self.c.local(lv.name, self.lang),
                    "band": p.band(lv.id),
                    "band_word": self.t(f"band.{p.band(lv.id)}"),
                }
                for lv in sorted(self.c.sequence.levels, key=lambda x: LEVEL_ORDER.index(x.id))
                if lv.step == st.id
            ]
            steps.append(
                {
                    "id": st.id,
                    "name": self.c.local(st.name, self.lang),
                    "summary": self.c.local(st.summary, self.lang),
                    "levels": levels,
                    "is_start": st.id == p.start_step,
                }
            )
        start_level = self._level(p.start_level)
        ctx = {
            "steps": steps,
            "start_step": self._step_name(p.start_step),
            "start_level": self.c.local(start_level.name, self.lang),
            "start_on_track": p.start_on_track,
        }
        text = self.t("results.summary", **ctx)
        ordered = [s["name"] for s in steps]
        start_index = STEP_ORDER.index(p.start_step)
        picture = Picture(
            steps=ordered,
            start_index=start_index,
            caption=self.t("picture.caption", **ctx),
            title=self.t("picture.start_here", **ctx),
        )
        self.replies.append(Reply(text=text, picture=picture, kind="result"))

    def _suggest(self, first: bool) -> bool:
        p = self.s.profile
        assert p is not None
        picks = recommend(
            p, self.c.activities.values(), self._steps(), self._filters(), exclude=self.s.suggested
        )
        if not picks:
            return False
        self.s.suggested.extend(pk.activity.id for pk in picks)
        items = [self._item(pk) for pk in picks]
        key = "results.activities" if first else "results.more_activities"
        self.say(key, kind="result", items=items, start_step=self._step_name(p.start_step))
        return True

    def _item(self, pk: Pick) -> dict[str, Any]:
        a = pk.activity
        level = self._level(pk.level)
        assert self.s.profile is not None
        rs = [self.t(f"six_r.{r}") for r in a.six_rs]
        fit = self.t(
            "results.fit",
            level_name=self.c.local(level.name, self.lang),
            step_name=self._step_name(level.step),
            band=self.s.profile.band(pk.level),
            band_word=self.t(f"band.{self.s.profile.band(pk.level)}"),
            rs=rs,
            minutes=a.minutes,
            fits_time=pk.fits_time,
            available=self.s.minutes,
        )
        return {**self._brief(a, pk.level), "rs": rs, "fit": fit}

    def after_results(self, option_id: str) -> None:
        """More ideas, a dose plan, a check-in, a note to share, or start again."""
        if option_id == "restart":
            self.restart()
            return
        if self.s.profile is None:
            self.restart()
            return
        if option_id == "plan":
            self.plan()
            self.prompt()
            return
        if option_id == "handover":
            self.handover()
            self.prompt()
            return
        if option_id == "checkin":
            self.fire("offer_checkin")
            self.prompt()
            return
        if not self._suggest(first=False):
            self.prompt("results.no_more")
            return
        self.fire("after_results")
        self.prompt()
