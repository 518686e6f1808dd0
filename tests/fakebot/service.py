"""The real neuroseq_core.service.Service with a scripted step in place of the engine.

The transaction (dedupe by update id, replies committed to the outbox in the same transaction, the
outbox items returned) is the real one, so the adapter is tested against the real store and
service, while the conversation itself is a short fixed script.
"""

from __future__ import annotations

import html

from neuroseq_core.domain.effects import Effect
from neuroseq_core.domain.events import (
    Button,
    Choice,
    Command,
    Event,
    Picture,
    Reply,
    Start,
    Text,
    Unsupported,
)
from neuroseq_core.domain.session import Session
from neuroseq_core.service import Service
from neuroseq_core.store.base import Store

QUESTIONS = [
    ("How are mornings?", [("calm", "Mostly calm"), ("mixed", "Mixed"), ("hard", "Often hard")]),
    ("Sleep?", [("ok", "OK"), ("some", "Some"), ("poor", "Poor"), ("very", "Very poor"), ("na", "N/A")]),
]


class HandleFailure(RuntimeError):
    """Raised on purpose by FakeService.fail_next."""


class FakeService(Service):
    """Start → two questions → a result with a picture. Events are recorded."""

    def __init__(self, store: Store) -> None:
        super().__init__(store, content=None)  # the scripted step needs no content
        self.events: list[tuple[str, Event]] = []
        self.fail_next = 0  # raise in the next N steps, inside the transaction, before committing
        self.notices: list[tuple[str, str | None]] = []

    def _question(self, session: Session, index: int) -> Reply:
        session.seq += 1
        session.token = f"t{session.seq}"
        session.question_id = str(index)
        text, options = QUESTIONS[index]
        return Reply(
            text=f"<b>{index + 1}.</b> {html.escape(text)}",
            choices=[Button(id=i, label=label) for i, label in options],
            token=session.token,
            kind="question",
        )

    def _step(self, session: Session, event: Event) -> list[Reply]:
        if isinstance(event, Start):
            session.language = event.language or "en"
            session.answers = {}
            return [Reply(text="Welcome"), self._question(session, 0)]
        if isinstance(event, Choice):
            if event.token is not None and event.token != session.token:
                return [Reply(text="That question has passed.")]
            index = int(session.question_id or 0)
            session.answers[str(index)] = event.option_id
            if index + 1 < len(QUESTIONS):
                return [self._question(session, index + 1)]
            session.token = ""
            picture = Picture(
                steps=["Regulate", "Relate", "Reason"],
                start_index=0,
                caption="Start with Regulate",
                title="Start here",
            )
            return [Reply(text="Thank you. <i>Here is where to start.</i>", picture=picture, kind="result")]
        if isinstance(event, Text):
            return [Reply(text=f"You said: {html.escape(event.text)}")]
        if isinstance(event, Command):
            if event.name == "long":
                return [Reply(text="\n".join(f"<b>line {i}</b> " + "x" * 60 for i in range(150)))]
            return [Reply(text=f"command {html.escape(event.name)}")]
        if isinstance(event, Unsupported):
            return [Reply(text=f"unsupported {event.what}")]
        return []

    def step(
        self, session: Session | None, user_id: str, event: Event
    ) -> tuple[Session, list[Reply], list[Effect]]:
        """The scripted conversation in place of the engine."""
        if self.fail_next > 0:
            self.fail_next -= 1
            raise HandleFailure("injected")
        self.events.append((user_id, event))
        # A scripted conversation is under way from its first update, so it is stored (the engine's
        # sessions are not kept while still at the very start: see Service._handle_once).
        session = session or Session(user_id=user_id, state="scripted")
        return session, self._step(session, event), []

    def notice(self, message_id: str, language: str | None = None) -> Reply:
        """Fixed notices: the id itself as text (commands.* too)."""
        self.notices.append((message_id, language))
        return Reply(text=f"notice {message_id}")
