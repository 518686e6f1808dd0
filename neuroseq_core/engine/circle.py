"""The team around the child: /invite, joining by an invite (a deep link or /join), /circle, logging
a try, the daily note, and leaving, removing or closing.

The engine sees a circle only through the World the service hands over with the event
(neuroseq_core.service.circle): labels the adults chose, never anyone's Telegram name or id, and
never free text or safety conversations, which a circle does not hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dialogs.circle import CIRCLE_STATES
from neuroseq_core.domain.circle import MAX_LABEL
from neuroseq_core.domain.effects import (
    DigestSent,
)
from neuroseq_core.domain.events import Command, Due, Event, Start
from neuroseq_core.domain.session import Session
from neuroseq_core.engine import circle_flow  # noqa: F401  (registers the circle's callbacks)
from neuroseq_core.engine.asking import prompt
from neuroseq_core.engine.circle_show import circle_of, digest_text, invitation_of, summary
from neuroseq_core.engine.matching import match_choice
from neuroseq_core.engine.onboarding import clean_nickname
from neuroseq_core.engine.turn import Turn

DIGEST = "circle_digest"  # the reminder kind of the daily note (neuroseq_core.store.circle_sql)
COMMANDS = ("circle", "invite", "join")


@dataclass(frozen=True)
class Wanted:
    """What an event needs read from the store: the user's circle, and the invite a code opens."""

    code: str | None = None


def needs(session: Session | None, event: Event) -> Wanted | None:
    """What the service should read for this event (None: nothing; most events need nothing)."""
    state = session.state if session is not None else "new"
    if isinstance(event, Start) and event.payload:
        return Wanted(event.payload)
    if isinstance(event, Command) and event.name in COMMANDS:
        code = event.args.strip()[:64] if event.name == "join" else ""
        return Wanted(code or None)
    if isinstance(event, Due) and event.what == DIGEST:
        return Wanted()
    if state in CIRCLE_STATES:
        return Wanted(session.circle_code if session is not None and state == "circle_join" else None)
    return None


# ---- commands ---------------------------------------------------------------------------------------


def circle_command(turn: Turn, args: str) -> None:
    """/circle: the circle, or what a circle is and how to start one."""
    view = circle_of(turn)
    if view is None:
        prompt(turn, "circle.none")
        return
    turn.fire("open_circle")
    summary(turn, view)
    prompt(turn)


def invite_command(turn: Turn, args: str) -> None:
    """/invite: the carer who set the child up invites another adult."""
    view = circle_of(turn)
    if view is not None and view.me.role != "owner":
        prompt(turn, "circle.invite_owner_only")
    elif view is None and (turn.s.profile is None or turn.s.group == "class"):
        prompt(turn, "circle.invite_first")  # first the questions about one child
    else:
        turn.fire("start_invite")
        prompt(turn)


def join_command(turn: Turn, args: str) -> None:
    """/join <code>: the console's (and a typed) way in by an invite."""
    if not args.strip():
        prompt(turn, "circle.join_how")
        return
    open_invitation(turn)


def on_start_link(turn: Turn, ev: Start) -> None:
    """/start with a deep link's parameter: the invite it carries."""
    if turn.state == "new" and ev.language:
        turn.s.language = turn.c.language(ev.language)
    open_invitation(turn)


def open_invitation(turn: Turn) -> None:
    """An invite opened (the deep link, or /join): who invites, what is shared, Join or Not now."""
    invitation = invitation_of(turn)
    if circle_of(turn) is not None:
        prompt(turn, "circle.already_in")
    elif invitation is None or not invitation.usable:
        # Unknown, used, expired or their own: one plain answer that tells nothing of which.
        turn.say("circle.invite_refused")
        if turn.state in ("new", "declined"):
            turn.fire("begin")
        prompt(turn)
    else:
        turn.s.circle_code = invitation.code
        if not turn.s.consent:
            turn.say("start.welcome")  # the disclaimer, before anything is kept
        turn.fire("open_invite")
        prompt(turn)


def on_due(turn: Turn) -> None:
    """The daily note: what others logged since the last one (nothing when there is nothing new)."""
    view = circle_of(turn)
    if view is None or not view.news or not view.me.digest:
        return
    turn.replies.append(digest_text(turn, view))
    turn.effects.append(DigestSent())


# ---- typed labels -----------------------------------------------------------------------------------

LABEL_WORDS = 6
MAX_LABEL_DIGITS = 4  # "Year 3 teacher", "Room 12": yes; a phone number: no
_LABEL = re.compile(r"^[^\W\d_][\w .,'’()&/-]*$")


def is_label(text: str) -> bool:
    """A short label ("Ms Lee, Year 3 teacher"), not a sentence, a phone number or a handle: at most
    MAX_LABEL characters and six words, a letter first, a few digits at most, no @ or links."""
    if len(text) > MAX_LABEL or len(text.split()) > LABEL_WORDS:
        return False
    return bool(_LABEL.match(text)) and sum(ch.isdigit() for ch in text) <= MAX_LABEL_DIGITS


def on_label(turn: Turn, raw: str, trigger: str) -> bool:
    """A label typed (how the others will see someone); False for the Skip button."""
    ask = turn.flow.asks[turn.state]
    if match_choice(turn, raw, ask) == "skip":
        return False
    label = clean_nickname(raw)  # too long is said, never cut silently
    if not label:
        prompt(turn, "reprompt.choose")
    elif not is_label(label):
        prompt(turn, "circle.label_not_a_name")  # a sentence is never kept, nor shown to anyone
    elif turn.fire(trigger, text=label, to=turn.s.returns.circle_return):
        prompt(turn)
    else:
        turn.refused = True
        prompt(turn, "reprompt.unknown")
    return True
