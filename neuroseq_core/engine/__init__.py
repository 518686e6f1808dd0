"""The engine: `step(session, event, content) -> (session, replies, effects)`. No I/O, no clock of its own.

A step makes a Turn (neuroseq_core.engine.turn) from a copy of the session, dispatches the event
(dispatch), and every change of state is a transition of the flow in dialogs/, fired in Turn.fire.
Each segment of the conversation is a module of functions over the Turn: onboarding, questions,
results, now (help right now), checkins, plan (dose plan and handover note), progress, safety, account.
"""

from __future__ import annotations

from dialogs import MAIN
from neuroseq_core.content import Content
from neuroseq_core.domain.effects import Effect
from neuroseq_core.domain.events import Event, Reply
from neuroseq_core.domain.session import Session
from neuroseq_core.engine import results  # noqa: F401  (registers its callbacks)
from neuroseq_core.engine.account import DELETE_CONFIRM, DELETE_KEEP
from neuroseq_core.engine.dispatch import COMMANDS, handle
from neuroseq_core.engine.matching import fold, match_button
from neuroseq_core.engine.registry import check_flow
from neuroseq_core.engine.safety import SAFETY_CONTINUE, SAFETY_NO, SAFETY_REGION, SAFETY_STOP, SAFETY_YES
from neuroseq_core.engine.turn import Turn

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
    "circle",
    "invite",
    "join",
)
assert set(MENU_COMMANDS) == set(COMMANDS), "every command in the menu has a handler, and no other"


def new_session(user_id: str, content: Content) -> Session:
    """A fresh session in the content's default language."""
    return Session(user_id=user_id, language=content.default_language, state=MAIN.initial)


def holds_nothing(session: Session) -> bool:
    """True for a session still at the very start: nothing in it is worth keeping (no consent yet,
    no answer), so a user we hold nothing about is not stored because of it. A danger reply just
    given is worth keeping (for a short while): the next message is read in its light."""
    return session.state == MAIN.initial and session.safety is None


def step(session: Session, event: Event, content: Content) -> tuple[Session, list[Reply], list[Effect]]:
    """Apply one event to a session; returns the new session, the replies in order, and the effects."""
    turn = Turn(session.model_copy(deep=True), content, event)
    handle(turn)
    if turn.refused and turn.replies:
        turn.replies[0] = turn.replies[0].model_copy(update={"press_refused": True})
    return turn.s, turn.replies, turn.effects


__all__ = [
    "DELETE_CONFIRM",
    "DELETE_KEEP",
    "MENU_COMMANDS",
    "SAFETY_CONTINUE",
    "SAFETY_NO",
    "SAFETY_REGION",
    "SAFETY_STOP",
    "SAFETY_YES",
    "check_flow",
    "fold",
    "holds_nothing",
    "match_button",
    "new_session",
    "step",
]
