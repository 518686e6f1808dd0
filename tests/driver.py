"""A tiny driver for the pure engine: type like a user, keep the session, read the replies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from neuroseq_core.cli.console import parse_input
from neuroseq_core.content import Content
from neuroseq_core.content.render import to_plain
from neuroseq_core.domain.effects import Effect
from neuroseq_core.domain.events import Choice, Event, Reply, Start
from neuroseq_core.domain.session import Session
from neuroseq_core.engine import new_session, step

NOW = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


class Driver:
    def __init__(self, content: Content, user: str = "u1", language: str | None = None) -> None:
        self.content = content
        self.session: Session = new_session(user, content)
        self.replies: list[Reply] = []
        self.effects: list[Effect] = []
        self.last: Reply | None = None
        self.region, self.nickname = "uk", None
        self.minutes, self.setting = "5", "classroom"
        self.history: list[Session] = []
        self.start(language)

    def send(self, event: Event) -> list[Reply]:
        self.session, self.replies, self.effects = step(self.session, event, self.content)
        self.history.append(self.session)
        for r in self.replies:
            if r.choices:
                self.last = r
        return self.replies

    def start(self, language: str | None = None) -> list[Reply]:
        return self.send(Start(now=NOW, language=language))

    def type(self, text: str) -> list[Reply]:
        return self.send(parse_input(text, self.last, NOW))

    def press(self, index: int = 0) -> list[Reply]:
        assert self.last is not None and self.last.choices, "no buttons to press"
        return self.send(Choice(now=NOW, option_id=self.last.choices[index].id, token=self.last.token))

    def press_id(self, option_id: str) -> list[Reply]:
        assert self.last is not None
        return self.send(Choice(now=NOW, option_id=option_id, token=self.last.token))

    @property
    def text(self) -> str:
        return "\n".join(to_plain(r.text) for r in self.replies)

    def labels(self) -> list[str]:
        return [b.label for b in (self.last.choices if self.last else [])]

    def onboard_caregiver(self, age: str = "6-11", region: str = "uk", nickname: str | None = "Sam") -> None:
        """Consent, "my child", the age band; the region is answered after the core questions
        (answer_all), the nickname when a closer look is asked for (deeper)."""
        self.region, self.nickname = region, nickname
        self.press_id("agree")
        self.press_id("parent")
        self.press_id(age)

    def onboard_educator(
        self, group: str = "one", age: str = "6-11", minutes: str = "5", setting: str = "classroom"
    ) -> None:
        self.region, self.minutes, self.setting, self.nickname = "us", minutes, setting, None
        self.press_id("agree")
        self.press_id("student" if group == "one" else "class")
        self.press_id(age)

    def answer_all(self, pick: int | list[int] = 0) -> None:
        """Answer the questions of this stage; then say where we are if asked (once)."""
        i = 0
        while self.session.state == "questions":
            choice = pick if isinstance(pick, int) else pick[i % len(pick)]
            n_options = len(self.last.choices) - 1  # the last button is "skip"
            self.press(min(choice, n_options - 1))
            i += 1
            assert i < 100
        if self.session.state == "region":
            self.press_id(self.region)

    def deeper(self, pick: int | list[int] = 0) -> None:
        """From the results, a closer look: time and place for a teacher, a nickname, more questions."""
        self.press_id("deeper")
        if self.session.state == "minutes":
            self.press_id(self.minutes)
            self.press_id(self.setting)
        if self.session.state == "nickname":
            if self.nickname is None:
                self.press_id("skip")
            else:
                self.type(self.nickname)
        self.answer_all(pick)

    def reach(self, state: str, region: str = "uk", age: str = "6-11") -> None:
        """Walk a caregiver to a state of the journey (the region given once asked)."""
        order = ["consent", "role", "age_band", "questions", "region", "results", "nickname"]
        if state == "paused":
            self.reach("questions", region, age)
            self.type("/cancel")
            return
        target = order.index(state)
        self.region = region
        steps: list[Callable[[], object]] = [
            lambda: self.press_id("agree"),
            lambda: self.press_id("parent"),
            lambda: self.press_id(age),
            lambda: self.answer_core(1),
            lambda: self.press_id(region),
            lambda: self.press_id("deeper"),
        ]
        for i in range(target):
            steps[i]()
        assert self.session.state == state, (self.session.state, state)

    def answer_core(self, pick: int = 0) -> None:
        """Answer the questions of this stage, and stop where the region is asked (if it is)."""
        while self.session.state == "questions":
            assert self.last is not None
            self.press(min(pick, len(self.last.choices) - 2))
