"""The team around the child in SQL: one user's circle work inside their transaction.

Every statement is scoped by this user: a member changes only their own membership and log rows, and
only the owner's circle (`circles.owner_id`) can be invited to, pruned or closed. Invite codes are
kept as a SHA-256 and deleted as they are used, so a code works once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from neuroseq_core.domain.circle import (
    INVITE_DAYS,
    CircleView,
    Departure,
    Invitation,
    Member,
    Role,
    Try,
    View,
    setting_of,
)
from neuroseq_core.domain.clock import Clock
from neuroseq_core.domain.events import Reply
from neuroseq_core.store.tables import (
    circle_invites,
    circle_log,
    circle_members,
    circles,
    outbox,
    reminders,
    users,
)

DIGEST = "circle_digest"  # the reminder kind of the daily note
DIGEST_EVERY = dt.timedelta(days=1)
DIGEST_DELAY = dt.timedelta(hours=1)  # a note waits a little, so one note carries a day's tries
TRIES_READ = 50


def code_hash(code: str) -> str:
    """How an invite code is kept: its SHA-256, so the table alone opens nothing."""
    return hashlib.sha256(code.encode()).hexdigest()


def new_key() -> str:
    """A member's key for buttons: random, never their user id."""
    return secrets.token_hex(4)


def _try(row: Any, me: str) -> Try:
    return Try(
        label=row.label,
        role=row.role,
        where=row.setting,
        activity=row.activity,
        outcome=row.outcome,
        on=row.logged_at.date(),
        mine=row.user_id == me,
    )


class SqlCircle:
    """This user's circle operations, on the transaction's connection."""

    def __init__(self, conn: AsyncConnection, user_id: str, clock: Clock) -> None:
        self._conn = conn
        self.user_id = user_id
        self._clock = clock

    async def _mine(self) -> Any:
        query = (
            sa.select(circle_members, circles.c.owner_id, circles.c.child, circles.c.age_band)
            .join(circles, circles.c.id == circle_members.c.circle_id)
            .where(circle_members.c.user_id == self.user_id)
        )
        return (await self._conn.execute(query)).first()

    async def view(self) -> CircleView | None:
        """The circle this user is in, as they may see it; None when they are in none."""
        mine = await self._mine()
        if mine is None:
            return None
        rows = (
            await self._conn.execute(
                sa.select(circle_members)
                .where(circle_members.c.circle_id == mine.circle_id)
                .order_by(circle_members.c.joined_at, circle_members.c.key)
            )
        ).all()
        members = [
            Member(
                key=r.key,
                label=r.label,
                role=r.role,
                me=r.user_id == self.user_id,
                view=View.model_validate_json(r.view) if r.view else None,
                digest=r.digest,
            )
            for r in rows
        ]
        logged = (
            await self._conn.execute(
                sa.select(circle_log, circle_members.c.label, circle_members.c.role)
                .join(
                    circle_members,
                    (circle_members.c.user_id == circle_log.c.user_id)
                    & (circle_members.c.circle_id == circle_log.c.circle_id),
                )
                .where(circle_log.c.circle_id == mine.circle_id)
                .order_by(circle_log.c.logged_at.desc(), circle_log.c.id.desc())
                .limit(TRIES_READ)
            )
        ).all()
        since = mine.last_digest_at or mine.joined_at
        tries = [_try(r, self.user_id) for r in logged]
        news = [t for t, r in zip(tries, logged, strict=True) if not t.mine and r.logged_at > since]
        return CircleView(child=mine.child, age_band=mine.age_band, members=members, tries=tries, news=news)

    async def invitation(self, code: str) -> Invitation:
        """What this code opens, if it can still be used; else only that it cannot (never why)."""
        query = (
            sa.select(circle_invites, circles.c.child, circles.c.age_band, circles.c.owner_id)
            .join(circles, circles.c.id == circle_invites.c.circle_id)
            .where(circle_invites.c.code_hash == code_hash(code))
            .where(circle_invites.c.expires_at > self._clock())
        )
        row = (await self._conn.execute(query)).first()
        if row is None or row.owner_id == self.user_id:
            return Invitation(code=code, usable=False)
        owner = (
            await self._conn.execute(
                sa.select(circle_members.c.label).where(circle_members.c.user_id == row.owner_id)
            )
        ).scalar()
        return Invitation(
            code=code,
            usable=True,
            inviter=owner or "",
            role=row.role,
            label=row.label,
            child=row.child,
            age_band=row.age_band,
        )

    async def start(self, label: str, child: str | None, age_band: str | None, language: str) -> None:
        """Set up a circle with this user as its owner (nothing if they are in one already)."""
        if await self._mine() is not None:
            return
        now = self._clock()
        circle_id = (
            await self._conn.execute(
                sa.insert(circles)
                .values(owner_id=self.user_id, child=child, age_band=age_band, created_at=now)
                .returning(circles.c.id)
            )
        ).scalar_one()
        await self._add_member(circle_id, "owner", label, language)

    async def _add_member(self, circle_id: int, role: Role, label: str, language: str) -> None:
        await self._conn.execute(
            sa.insert(circle_members).values(
                user_id=self.user_id,
                circle_id=circle_id,
                key=new_key(),
                role=role,
                label=label,
                language=language,
                joined_at=self._clock(),
            )
        )

    async def invite(self, code: str, role: str, label: str) -> bool:
        """Keep an invite to the circle this user owns; False when they own none."""
        circle_id = (
            await self._conn.execute(sa.select(circles.c.id).where(circles.c.owner_id == self.user_id))
        ).scalar()
        if circle_id is None:
            return False
        now = self._clock()
        await self._conn.execute(
            sa.insert(circle_invites).values(
                code_hash=code_hash(code),
                circle_id=circle_id,
                role=role,
                label=label,
                created_at=now,
                expires_at=now + dt.timedelta(days=INVITE_DAYS),
            )
        )
        return True

    async def join(self, code: str, language: str) -> tuple[str, str] | None:
        """Use the invite up and join its circle; returns the owner (user id, language) to tell, or
        None when it cannot be used (any more)."""
        if await self._mine() is not None:
            return None
        used = (
            await self._conn.execute(
                sa.delete(circle_invites)
                .where(circle_invites.c.code_hash == code_hash(code))
                .where(circle_invites.c.expires_at > self._clock())
                .returning(circle_invites.c.circle_id, circle_invites.c.role, circle_invites.c.label)
            )
        ).first()
        if used is None:
            return None
        await self._add_member(used.circle_id, used.role, used.label, language)
        owner = (
            await self._conn.execute(
                sa.select(circle_members.c.user_id, circle_members.c.language)
                .where(circle_members.c.circle_id == used.circle_id)
                .where(circle_members.c.role == "owner")
            )
        ).one()
        return owner.user_id, owner.language

    async def log(self, activity: str, outcome: str) -> None:
        """Add a try to this member's circle log (nothing when they are in no circle), and set up
        the daily note for the other members who asked for one."""
        mine = await self._mine()
        if mine is None:
            return
        now = self._clock()
        await self._conn.execute(
            sa.insert(circle_log).values(
                circle_id=mine.circle_id,
                user_id=self.user_id,
                activity=activity,
                setting=setting_of(mine.role),
                outcome=outcome,
                logged_at=now,
            )
        )
        others = (
            await self._conn.execute(
                sa.select(circle_members.c.user_id, circle_members.c.last_digest_at)
                .join(users, users.c.user_id == circle_members.c.user_id)
                .where(circle_members.c.circle_id == mine.circle_id)
                .where(circle_members.c.user_id != self.user_id)
                .where(circle_members.c.digest.is_(True))
                .where(users.c.active.is_(True))  # nothing for someone who blocked the bot
            )
        ).all()
        for other in others:
            pending = (
                await self._conn.execute(
                    sa.select(reminders.c.id)
                    .where(reminders.c.user_id == other.user_id)
                    .where(reminders.c.kind == DIGEST)
                    .where(reminders.c.sent_at.is_(None))
                )
            ).first()
            if pending is None:
                due = now + DIGEST_DELAY
                if other.last_digest_at is not None:
                    due = max(due, other.last_digest_at + DIGEST_EVERY)
                await self._conn.execute(
                    sa.insert(reminders).values(
                        user_id=other.user_id, chat_id=other.user_id, due_at=due, kind=DIGEST
                    )
                )

    async def set_digest(self, on: bool) -> None:
        """The daily note on or off (off also drops one that is waiting)."""
        await self._update_me(digest=on)
        if not on:
            await self._drop_digest(self.user_id)

    async def digest_sent(self) -> None:
        """The next daily note counts from now."""
        await self._update_me(last_digest_at=self._clock())

    async def share_view(self, view: View) -> None:
        """What this member's own answers say, for the others to see."""
        await self._update_me(view=view.model_dump_json())

    async def _update_me(self, **values: Any) -> None:
        await self._conn.execute(
            sa.update(circle_members).where(circle_members.c.user_id == self.user_id).values(**values)
        )

    async def leave(self) -> Departure | None:
        """This member leaves; their tries go with them. Returns who to tell (the owner) and how to
        name the one who left; None for the owner (who closes instead) or someone in no circle."""
        mine = await self._mine()
        if mine is None or mine.role == "owner":
            return None
        await self._drop(self.user_id, mine.circle_id)
        owner = (
            await self._conn.execute(
                sa.select(circle_members.c.user_id, circle_members.c.language).where(
                    circle_members.c.user_id == mine.owner_id
                )
            )
        ).one()
        return Departure(owner.user_id, owner.language, mine.label, mine.role)

    async def _drop(self, user_id: str, circle_id: int) -> None:
        await self._conn.execute(
            sa.delete(circle_log)
            .where(circle_log.c.user_id == user_id)
            .where(circle_log.c.circle_id == circle_id)
        )
        await self._conn.execute(sa.delete(circle_members).where(circle_members.c.user_id == user_id))
        await self._drop_digest(user_id)

    async def _drop_digest(self, user_id: str) -> None:
        await self._conn.execute(
            sa.delete(reminders)
            .where(reminders.c.user_id == user_id)
            .where(reminders.c.kind == DIGEST)
            .where(reminders.c.sent_at.is_(None))
        )

    async def remove(self, key: str) -> tuple[str, str] | None:
        """The owner removes a member by key; returns (their user id, language) to tell them, or None."""
        mine = await self._mine()
        if mine is None or mine.role != "owner":
            return None
        row = (
            await self._conn.execute(
                sa.select(circle_members.c.user_id, circle_members.c.language)
                .where(circle_members.c.circle_id == mine.circle_id)
                .where(circle_members.c.key == key)
                .where(circle_members.c.user_id != self.user_id)
            )
        ).first()
        if row is None:
            return None
        await self._drop(row.user_id, mine.circle_id)
        return row.user_id, row.language

    async def close(self) -> list[tuple[str, str]]:
        """The owner closes their circle: every member, invite and try goes. Returns the other
        members (user id, language), to tell them."""
        circle_id = (
            await self._conn.execute(sa.select(circles.c.id).where(circles.c.owner_id == self.user_id))
        ).scalar()
        if circle_id is None:
            return []
        others = (
            await self._conn.execute(
                sa.select(circle_members.c.user_id, circle_members.c.language)
                .where(circle_members.c.circle_id == circle_id)
                .where(circle_members.c.user_id != self.user_id)
            )
        ).all()
        for other in others:
            await self._drop_digest(other.user_id)
        await self._drop_digest(self.user_id)
        # Children first: no database has to be trusted with the cascade for what must go.
        for table in (circle_log, circle_invites, circle_members):
            await self._conn.execute(sa.delete(table).where(table.c.circle_id == circle_id))
        await self._conn.execute(sa.delete(circles).where(circles.c.id == circle_id))
        return [(o.user_id, o.language) for o in others]

    async def tell(self, user_id: str, replies: list[Reply]) -> None:
        """Queue replies to another member (their private chat's id is their user id), for the
        flusher to send; nobody holds them, so any process may."""
        now = self._clock()
        for reply in replies:
            await self._conn.execute(
                sa.insert(outbox).values(
                    user_id=user_id, chat_id=user_id, payload=reply.model_dump_json(), created_at=now
                )
            )
