"""One turn of the conversation: the session being changed, the content, the event, and what it says.

A Turn is made for one event and dropped after it. It words messages and keeps the replies and
effects; the state changes only in `fire`, by a transition of the flow in dialogs/.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup
from transitions import MachineError

from dialogs import MAIN
from dialogs.flow import Flow
from neuroseq_core.content import Content
from neuroseq_core.content.render import safe
from neuroseq_core.domain.effects import Count, Effect
from neuroseq_core.domain.events import Event, Reply, ReplyKind
from neuroseq_core.domain.models import Activity, Level, Region, Setting
from neuroseq_core.domain.recommend import Filters
from neuroseq_core.domain.session import Session
from neuroseq_core.engine.registry import FlowModel

# States of earlier flows, and where a session saved in one carries on ("one student or the
# class" is part of the role question now).
LEGACY_STATES = {"group": "role"}
# Steps the flow now asks only after the first results (the old flow asked them before).
AFTER_THE_RESULTS = ("region", "minutes", "setting", "nickname")


class Turn:
    """The small typed context every handler works on."""

    def __init__(self, session: Session, content: Content, event: Event, flow: Flow = MAIN) -> None:
        self.s = session
        self.c = content
        self.event = event
        self.flow = flow
        # A state the flow no longer has (saved before a change) continues at its nearest successor.
        state = LEGACY_STATES.get(session.state, session.state)
        if state in AFTER_THE_RESULTS and session.profile is None:  # saved by the old flow, mid-onboarding
            state = "age_band" if session.role else "role"
        start = state if state in flow.states else flow.initial
        self.model = FlowModel(self, start)
        self.replies: list[Reply] = []
        self.effects: list[Effect] = []  # for the service, in the same transaction as the replies
        self.note: str | None = None  # a message id said just before the next question
        self.repaired = False  # the question on screen was removed from content (see questions.repair)
        self.refused = False  # a button press was not taken (stale, unknown): see Reply.press_refused

    @property
    def state(self) -> str:
        """The state of the conversation (changed only by `fire`)."""
        return str(self.model.state)

    def fire(self, trigger: str, **kwargs: Any) -> bool:
        """Fire a trigger of the shared machine; the one place a conversation changes state."""
        try:
            ok = bool(self.flow.machine.events[trigger].trigger(self.model, **kwargs))
        except (MachineError, KeyError):
            ok = False
        self.s.state = self.state
        return ok

    # ---- words -------------------------------------------------------------------------------

    @property
    def lang(self) -> str:
        """The user's language."""
        return self.s.language if self.s.language in self.c.languages.languages else self.c.default_language

    @property
    def words(self) -> str:
        """The language the user's messages are worded in: a regional variant where content has one."""
        return self.c.variant(self.lang, self.s.region)

    def child(self) -> Markup:
        """How we speak of the child: their nickname (escaped) or a warm default."""
        if self.s.nickname:
            return safe(self.s.nickname)
        key = (
            "child.class"
            if self.s.group == "class"
            else ("child.student" if self.s.role == "educator" else "child.default")
        )
        return self.c.text(key, self.words)

    def base_context(self) -> dict[str, Any]:
        """Variables every message may use."""
        region = self.region()
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
        return self.c.text(message_id, self.words, **{**self.base_context(), **context})

    def say(self, message_id: str, kind: ReplyKind = "notice", **context: Any) -> None:
        """Queue a plain message."""
        self.replies.append(Reply(text=self.t(message_id, **context), kind=kind))

    def count(self, name: str) -> None:
        """Ask the service to add one to an anonymous counter (for /stats; no user id is kept)."""
        self.effects.append(Count(name))

    # ---- content lookups ----------------------------------------------------------------------

    def region(self) -> Region | None:
        """The user's region, if known."""
        return self.c.regions.get(self.s.region or "")

    def regions_in_order(self) -> list[Region]:
        """Regions for a choice: those speaking the user's language first, international last."""
        lang = self.lang
        return sorted(
            self.c.regions.values(),
            key=lambda r: (r.id == "intl", lang not in r.languages, self.c.local(r.name, lang)),
        )

    def level(self, level_id: str) -> Level:
        """A level of the sequence."""
        return next(lv for lv in self.c.sequence.levels if lv.id == level_id)

    def step_name(self, step_id: str) -> str:
        """A step's name in the user's language."""
        st = next(s for s in self.c.sequence.steps if s.id == step_id)
        return self.c.local(st.name, self.lang)

    def filters(self) -> Filters:
        """What the ideas must fit: age band, setting, one child or a class, the time a teacher has."""
        p = self.s.profile
        return Filters(
            age_band=self.s.age_band or "",
            setting=self.setting(),
            group=self.s.group or "one",
            minutes=self.s.minutes,
            needs=p.needs if p else {},
            avoid=frozenset(p.avoid) if p else frozenset(),
        )

    def setting(self) -> Setting:
        """Where the ideas are for: home for carers, the classroom unless a teacher said outdoors."""
        return self.s.setting or ("home" if self.s.role != "educator" else "classroom")

    def brief(self, a: Activity, level_id: str | None = None) -> dict[str, Any]:
        """An activity for a template, in the user's language; its step is that of `level_id`
        (the level it was picked for), else of its first level."""
        setting = "classroom" if self.setting() == "outdoors" else self.setting()
        text = a.text_for(self.lang, self.c.default_language, setting, self.s.age_band or "")
        level = self.level(level_id or a.levels[0])
        return {
            "id": a.id,
            "title": text.title,
            "why": text.why,
            "steps": text.steps,
            "materials": text.materials,
            "minutes": a.minutes,
            "step_name": self.step_name(level.step),
        }
