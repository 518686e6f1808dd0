"""The circle's guards, callbacks, choice sources and worded questions, named by dialogs/circle.py
(registered as this module is imported, by neuroseq_core.engine.circle)."""

from __future__ import annotations

from transitions import EventData

from dialogs.circle import CIRCLE_STATES
from neuroseq_core.content.render import to_plain
from neuroseq_core.domain.circle import CircleView, Invitation, Member
from neuroseq_core.domain.effects import (
    CloseCircle,
    Invite,
    Join,
    LeaveCircle,
    LogTry,
    RemoveMember,
    SetDigest,
    StartCircle,
)
from neuroseq_core.domain.events import Button, Reply
from neuroseq_core.engine.circle_show import (
    AS_ROLE,
    REMOVE,
    circle_of,
    ideas_to_log,
    invitation_of,
    label_of,
    role_name,
)
from neuroseq_core.engine.registry import callback, prompt_text, source
from neuroseq_core.engine.turn import Turn

# ---- guards and callbacks ---------------------------------------------------------------------------


@callback
def in_circle(turn: Turn, ev: EventData) -> bool:
    """Guard: this user is in a circle."""
    return circle_of(turn) is not None


@callback
def answers_for_circle(turn: Turn, ev: EventData) -> bool:
    """Guard: this invitee answers questions of their own (carers and school staff)."""
    invitation = invitation_of(turn)
    return invitation is not None and invitation.role in AS_ROLE and invitation.age_band is not None


@callback
def invite_usable(turn: Turn, ev: EventData) -> bool:
    """Guard: the invite opened can still be used (it may have been used or expired since)."""
    invitation = invitation_of(turn)
    return invitation is not None and invitation.usable and circle_of(turn) is None


@callback
def invite_gone(turn: Turn, ev: EventData) -> None:
    """Callback: Join pressed on an invite that can no longer be used (same words as ever)."""
    turn.s.circle_code = None
    turn.say("circle.invite_refused")


@callback
def removing(turn: Turn, ev: EventData) -> bool:
    """Guard: the confirm asked is the removal of a member (the circle stays open)."""
    return (turn.s.pending or "").startswith(REMOVE)


@callback
def remember_circle_return(turn: Turn, ev: EventData) -> None:
    """Callback: where to go back to after the circle."""
    if turn.state not in CIRCLE_STATES:
        turn.s.returns.circle_return = turn.state


@callback
def clear_circle_return(turn: Turn, ev: EventData) -> None:
    """Callback: back from the circle."""
    turn.s.returns.circle_return = None
    turn.s.pending = None


@callback
def set_my_label(turn: Turn, ev: EventData) -> None:
    """Callback: the owner's label (or a plain one from their role); the circle is set up."""
    # Skipped: no label, shown as "Parent or carer" in each reader's own language.
    turn.effects.append(StartCircle(label=ev.kwargs.get("text") or ""))


@callback
def set_invite_role(turn: Turn, ev: EventData) -> None:
    """Callback: who the invite is for."""
    turn.s.circle_role = ev.kwargs["value"]


@callback
def make_invite(turn: Turn, ev: EventData) -> None:
    """Callback: the invite, with the label the others will see; shown as a link (or a code)."""
    world = turn.event.world
    role = turn.s.circle_role or "carer"
    if world is None or world.fresh_code is None:
        turn.say("circle.invite_failed")
        return
    label = ev.kwargs.get("text") or ""  # skipped: the role's words, in each reader's language
    turn.effects.append(Invite(code=world.fresh_code, role=role, label=label))
    reply = turn.t("circle.invite_made", label=label_of(turn, label, role), role=role_name(turn, role))
    turn.replies.append(Reply(text=reply, invite=world.fresh_code))
    turn.s.circle_role = None


@callback
def set_member(turn: Turn, ev: EventData) -> None:
    """Callback: joining. The disclaimer was shown; their own questions are about the circle's child."""
    invitation = invitation_of(turn)
    if invitation is None or not invitation.usable:  # never: the guard invite_usable comes first
        return
    turn.s = turn.s.fresh("user")
    turn.s.consent, turn.s.circle_code = True, None
    if invitation.role in AS_ROLE:
        role, carer, setting = AS_ROLE[invitation.role]
        turn.s.role, turn.s.group, turn.s.setting = role, "one", setting  # type: ignore[assignment]
        turn.s.carer = carer  # type: ignore[assignment]
    turn.s.age_band, turn.s.nickname, turn.s.nickname_asked = invitation.age_band, invitation.child, True
    turn.effects.append(Join(code=invitation.code, label=invitation.label, role=invitation.role))
    turn.count("circle.joined")
    answers = invitation.role in AS_ROLE
    turn.say("circle.joined", inviter=label_of(turn, invitation.inviter, "owner"), answers=answers)


@callback
def forget_invite(turn: Turn, ev: EventData) -> None:
    """Callback: the invitee said not now; nothing of the invite is kept."""
    turn.s.circle_code = None
    turn.say("circle.not_now")  # said first: where they go back to may ask nothing (a newcomer)


@callback
def pick_try_idea(turn: Turn, ev: EventData) -> None:
    """Callback: the idea being logged."""
    turn.s.circle_try = ev.kwargs["value"]


@callback
def log_the_try(turn: Turn, ev: EventData) -> None:
    """Callback: the try goes in the circle's log, with the member's setting and today's date."""
    activity = turn.s.circle_try
    turn.s.circle_try = None
    if activity is None or activity not in turn.c.activities:
        return
    turn.effects.append(LogTry(activity=activity, outcome=ev.kwargs["value"]))
    turn.count("circle.logged")
    turn.note = "circle.logged"


@callback
def toggle_digest(turn: Turn, ev: EventData) -> None:
    """Callback: the daily note on or off."""
    on = ev.kwargs["value"] == "digest_on"
    turn.effects.append(SetDigest(on=on))
    turn.note = "circle.digest_on" if on else "circle.digest_off"


@callback
def ask_confirm(turn: Turn, ev: EventData) -> None:
    """Callback: what the confirm asks about (leave, close, or remove a member)."""
    value = ev.kwargs["value"]
    turn.s.pending = value if value.startswith(REMOVE) else f"circle.{value}"


@callback
def do_confirmed(turn: Turn, ev: EventData) -> None:
    """Callback: leave, close, or remove, as confirmed."""
    pending, turn.s.pending = turn.s.pending or "", None
    if pending.startswith(REMOVE):
        turn.effects.append(RemoveMember(key=pending.removeprefix(REMOVE)))
        turn.note = "circle.removed"
    elif pending == "circle.leave":
        turn.effects.append(LeaveCircle())
        turn.note = "circle.left"
    elif pending == "circle.close":
        turn.effects.append(CloseCircle())
        turn.note = "circle.closed"


# ---- buttons and wording ----------------------------------------------------------------------------


@source("circle_menu")
def circle_menu(turn: Turn, fixed: list[Button]) -> list[Button]:
    """What a member can do here: log a try, the daily note, invite (the owner), people, leave."""
    view = circle_of(turn)
    if view is None:
        # Joined in this very turn (a professional, straight to the circle): a member's menu.
        joining = any(isinstance(e, Join) for e in turn.effects)
        wanted = {"log", "digest_on", "leave", "back"} if joining else {"back"}
        return [b for b in fixed if b.id in wanted]
    me, owner = view.me, view.me.role == "owner"
    # What this turn changed is not in the view read before it: the note just switched, a member
    # just removed.
    digest = next((e.on for e in reversed(turn.effects) if isinstance(e, SetDigest)), me.digest)
    wanted = {"log", "back", "digest_off" if digest else "digest_on"}
    wanted |= {"invite", "close"} if owner else {"leave"}
    if owner and _others(turn, view):
        wanted.add("people")
    return [b for b in fixed if b.id in wanted]


@source("circle_ideas")
def circle_ideas(turn: Turn, fixed: list[Button]) -> list[Button]:
    """The ideas of the shared plan, to log one (then Back)."""
    return [*ideas_to_log(turn, circle_of(turn)), *fixed]


@source("circle_people")
def circle_people(turn: Turn, fixed: list[Button]) -> list[Button]:
    """The owner's list: one button per member to remove (by label), then Back."""
    view = circle_of(turn)
    members = _others(turn, view) if view is not None else []
    buttons = [
        Button(
            id=f"{REMOVE}{m.key}",
            label=to_plain(turn.t("circle.people.remove", label=label_of(turn, m.label, m.role)))[:64],
        )
        for m in members
    ]
    return [*buttons, *fixed]


def _others(turn: Turn, view: CircleView) -> list[Member]:
    """The other members, less any removed in this turn."""
    removed = {e.key for e in turn.effects if isinstance(e, RemoveMember)}
    return [m for m in view.members if not m.me and m.key not in removed]


@prompt_text("circle.join.question")
def join_question(turn: Turn, message: str) -> str:
    """The invite: who invites (their label), the child, what is shared and what never is."""
    invitation = invitation_of(turn) or Invitation(code="", usable=False)
    return turn.t(
        message,
        inviter=label_of(turn, invitation.inviter, "owner"),
        label=label_of(turn, invitation.label, invitation.role),
        role=role_name(turn, invitation.role),
        child_name=invitation.child or "",
        answers=invitation.role in AS_ROLE,
    )


@prompt_text("circle.confirm.question")
def confirm_question(turn: Turn, message: str) -> str:
    """The confirm names what it is about."""
    pending = turn.s.pending or ""
    view = circle_of(turn)
    label = ""
    if pending.startswith(REMOVE) and view is not None:
        key = pending.removeprefix(REMOVE)
        label = next((label_of(turn, m.label, m.role) for m in view.members if m.key == key), "")
    what = "remove" if pending.startswith(REMOVE) else pending.removeprefix("circle.")
    return turn.t(message, what=what, label=label)


@prompt_text("circle.outcome.question")
def outcome_question(turn: Turn, message: str) -> str:
    """How it went, naming the idea."""
    activity = turn.c.activities.get(turn.s.circle_try or "")
    return turn.t(message, idea=turn.brief(activity)["title"] if activity else "")
