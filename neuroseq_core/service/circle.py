"""The team around the child, for the service: what the engine is given to see, and what its
circle effects do in the store, in the update's own transaction.

The engine has no I/O: for the events that need it (engine.circle.needs) the service reads this
user's circle, the invite a code opens, and a fresh random code, and hands them over with the event.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from neuroseq_core.content.render import to_plain
from neuroseq_core.domain.circle import View, World
from neuroseq_core.domain.effects import (
    CloseCircle,
    DigestSent,
    Effect,
    Invite,
    Join,
    LeaveCircle,
    LogTry,
    RemoveMember,
    SaveProfile,
    SetDigest,
    StartCircle,
)
from neuroseq_core.domain.events import Event, Reply
from neuroseq_core.domain.session import Session
from neuroseq_core.engine.circle import needs
from neuroseq_core.store.base import StaleSessionError, Transaction

Notice = Callable[..., Reply]  # Content.notice: (message id, language, /, **context)
CODE_BYTES = 24  # 32 characters of A-Z a-z 0-9 _ - (a Telegram start parameter holds 64)


def new_code() -> str:
    """A random invite code: 192 bits, so guessing one is hopeless."""
    return secrets.token_urlsafe(CODE_BYTES)


async def with_world(tx: Transaction, session: Session | None, event: Event) -> Event:
    """The event with what this user may see of their circle, when the event needs it."""
    wanted = needs(session, event)
    if wanted is None:
        return event
    circle = await tx.circle.view()
    invitation = await tx.circle.invitation(wanted.code) if wanted.code else None
    world = World(circle=circle, invitation=invitation, fresh_code=new_code())
    return event.model_copy(update={"world": world})


def _named(notice: Notice, label: str, role: str, language: str) -> str:
    """A member's label, or their role's words in the reader's language (a label left empty)."""
    if label:
        return label
    return to_plain(notice("circle.me.default" if role == "owner" else f"circle.role.{role}", language).text)


async def close_for_erasure(tx: Transaction, notice: Notice) -> None:
    """Before a user's data is erased: an owner's circle closes, and its members are told; a
    member leaves the circle they are in, and its owner is told."""
    for user_id, language in await tx.circle.close():
        await tx.circle.tell(user_id, [notice("circle.closed_notice", language)])
    await _leave(tx, notice)


async def _leave(tx: Transaction, notice: Notice) -> None:
    gone = await tx.circle.leave()
    if gone is not None:
        label = _named(notice, gone.label, gone.role, gone.owner_language)
        await tx.circle.tell(gone.owner_id, [notice("circle.left_notice", gone.owner_language, label=label)])


def _view(session: Session) -> View | None:
    profile = session.profile
    if profile is None:
        return None
    return View(start_step=profile.start_step, start_level=profile.start_level, ideas=session.suggested[:3])


async def apply_effects(tx: Transaction, new: Session, effects: list[Effect], notice: Notice) -> None:
    """Carry out the circle effects of a step (after its session is saved: rows refer to the user)."""
    circle = tx.circle
    for effect in effects:
        if isinstance(effect, StartCircle):
            await circle.start(effect.label, new.nickname, new.age_band, new.language)
            view = _view(new)
            if view is not None:
                await circle.share_view(view)  # the owner's own answers, from before the circle
        elif isinstance(effect, Invite):
            await circle.invite(effect.code, effect.role, effect.label)
        elif isinstance(effect, Join):
            owner = await circle.join(effect.code, new.language)
            if owner is None:
                # Used (or expired) since the step read it: run the step again, which now refuses it.
                raise StaleSessionError(tx.user_id)
            label = _named(notice, effect.label, effect.role, owner[1])
            await circle.tell(owner[0], [notice("circle.joined_notice", owner[1], label=label)])
        elif isinstance(effect, LogTry):
            await circle.log(effect.activity, effect.outcome)
        elif isinstance(effect, SetDigest):
            await circle.set_digest(effect.on)
        elif isinstance(effect, DigestSent):
            await circle.digest_sent()
        elif isinstance(effect, LeaveCircle):
            await _leave(tx, notice)
        elif isinstance(effect, RemoveMember):
            removed = await circle.remove(effect.key)
            if removed is not None:
                await circle.tell(removed[0], [notice("circle.removed_notice", removed[1])])
        elif isinstance(effect, CloseCircle):
            await close_for_erasure(tx, notice)
        elif isinstance(effect, SaveProfile):
            view = _view(new)
            if view is not None:
                await circle.share_view(view)  # nothing when they are in no circle
