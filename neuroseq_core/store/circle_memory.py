"""The team around the child in memory: the same rules as neuroseq_core.store.circle_sql.

Reads see what is committed; writes are journalled on the transaction and applied at its commit.
Joining checks again at commit that the invite is still there, so a code works once here too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from neuroseq_core.domain.circle import (
    INVITE_DAYS,
    CircleView,
    Departure,
    Invitation,
    Member,
    Try,
    View,
    setting_of,
)
from neuroseq_core.domain.events import Reply
from neuroseq_core.store.base import StaleSessionError
from neuroseq_core.store.circle_sql import (
    DIGEST,
    DIGEST_DELAY,
    DIGEST_EVERY,
    TRIES_READ,
    code_hash,
    new_key,
)
from neuroseq_core.store.memory_rows import (
    CircleRow,
    Circles,
    InviteRow,
    LogRow,
    MemberRow,
    OutboxRow,
    ReminderRow,
    State,
)


class Journal(Protocol):
    """What a circle operation needs of the memory transaction it runs in."""

    user_id: str

    def committed(self) -> State:
        """The store's committed tables."""
        ...

    def now(self) -> dt.datetime:
        """The store's clock."""
        ...

    def next_id(self) -> int:
        """A new row id."""
        ...

    def apply(self, op: Callable[[State], object]) -> None:
        """Journal a write, applied at commit."""
        ...

    def check(self, op: Callable[[State], None]) -> None:
        """Journal a check, run at commit before any write (raises to abort)."""
        ...


def _drop_digest(state: State, user_id: str) -> None:
    for key in [
        k
        for k, r in state.reminders.items()
        if r.user_id == user_id and r.kind == DIGEST and r.sent_at is None
    ]:
        del state.reminders[key]


class MemoryCircle:
    """This user's circle operations, journalled on their transaction."""

    def __init__(self, tx: Journal) -> None:
        self._tx = tx
        self.user_id = tx.user_id

    @property
    def _c(self) -> Circles:
        return self._tx.committed().circles

    def _now(self) -> dt.datetime:
        return self._tx.now()

    async def view(self) -> CircleView | None:
        """The circle this user is in, as they may see it; None when they are in none."""
        c, me = self._c, self.user_id
        mine = c.members.get(me)
        if mine is None or mine.circle_id not in c.circles:
            return None
        circle = c.circles[mine.circle_id]
        rows = sorted(
            ((u, m) for u, m in c.members.items() if m.circle_id == mine.circle_id),
            key=lambda um: (um[1].joined_at, um[1].key),
        )
        members = [
            Member(
                key=m.key,
                label=m.label,
                role=m.role,
                me=u == me,
                view=View.model_validate_json(m.view) if m.view else None,
                digest=m.digest,
            )
            for u, m in rows
        ]
        logged = sorted(
            (
                (k, r)
                for k, r in c.log.items()
                if r.circle_id == mine.circle_id
                and r.user_id in c.members
                and c.members[r.user_id].circle_id == r.circle_id
            ),
            key=lambda kr: (kr[1].logged_at, kr[0]),
            reverse=True,
        )[:TRIES_READ]
        since = mine.last_digest_at or mine.joined_at
        tries = [
            Try(
                label=c.members[r.user_id].label,
                role=c.members[r.user_id].role,
                where=r.setting,
                activity=r.activity,
                outcome=r.outcome,
                on=r.logged_at.date(),
                mine=r.user_id == me,
            )
            for _, r in logged
        ]
        news = [t for t, (_, r) in zip(tries, logged, strict=True) if not t.mine and r.logged_at > since]
        return CircleView(
            child=circle.child, age_band=circle.age_band, members=members, tries=tries, news=news
        )

    async def invitation(self, code: str) -> Invitation:
        """What this code opens, if it can still be used; else only that it cannot (never why)."""
        c = self._c
        invite = c.invites.get(code_hash(code))
        circle = c.circles.get(invite.circle_id) if invite else None
        if (
            invite is None
            or circle is None
            or invite.expires_at <= self._now()
            or circle.owner_id == self.user_id
        ):
            return Invitation(code=code, usable=False)
        owner = c.members.get(circle.owner_id)
        return Invitation(
            code=code,
            usable=True,
            inviter=owner.label if owner else "",
            role=invite.role,
            label=invite.label,
            child=circle.child,
            age_band=circle.age_band,
        )

    async def start(self, label: str, child: str | None, age_band: str | None, language: str) -> None:
        """Set up a circle with this user as its owner (nothing if they are in one already)."""
        me, now = self.user_id, self._now()
        if me in self._c.members:
            return
        circle_id, key = self._tx.next_id(), new_key()

        def start(s: State) -> None:
            s.circles.circles[circle_id] = CircleRow(me, child, age_band, now)
            s.circles.members[me] = MemberRow(circle_id, key, "owner", label, language, now)

        self._tx.apply(start)

    async def invite(self, code: str, role: str, label: str) -> bool:
        """Keep an invite to the circle this user owns; False when they own none."""
        circle_id = self._c.owned(self.user_id)
        if circle_id is None:
            return False
        row = InviteRow(circle_id, role, label, self._now() + dt.timedelta(days=INVITE_DAYS))  # type: ignore[arg-type]
        digest = code_hash(code)
        self._tx.apply(lambda s: s.circles.invites.__setitem__(digest, row))
        return True

    async def join(self, code: str, language: str) -> tuple[str, str] | None:
        """Use the invite up and join its circle; the owner (user id, language) to tell, or None."""
        me, digest, now = self.user_id, code_hash(code), self._now()
        invite = self._c.invites.get(digest)
        circle = self._c.circles.get(invite.circle_id) if invite else None
        if me in self._c.members or invite is None or circle is None or invite.expires_at <= now:
            return None
        owner = self._c.members[circle.owner_id]

        def still_open(s: State) -> None:
            if digest not in s.circles.invites or me in s.circles.members:
                raise StaleSessionError(me)  # used meanwhile: the whole step runs again, and is refused

        def join(s: State) -> None:
            used = s.circles.invites.pop(digest, None)
            if used is None:  # checked by still_open above; never half-applied
                return
            s.circles.members[me] = MemberRow(used.circle_id, new_key(), used.role, used.label, language, now)

        self._tx.check(still_open)
        self._tx.apply(join)
        return circle.owner_id, owner.language

    async def log(self, activity: str, outcome: str) -> None:
        """Add a try to this member's circle log, and set up the others' daily notes."""
        me, now = self.user_id, self._now()
        mine = self._c.members.get(me)
        if mine is None:
            return
        row = LogRow(mine.circle_id, me, activity, setting_of(mine.role), outcome, now)
        log_id = self._tx.next_id()
        others = {
            user_id: self._tx.next_id()
            for user_id, other in self._c.members.items()
            if other.circle_id == mine.circle_id and user_id != me and other.digest
        }

        def add(s: State) -> None:
            member = s.circles.members.get(me)
            if member is None or member.circle_id != row.circle_id:
                return  # removed meanwhile: nothing is logged in a circle they are no longer in
            s.circles.log[log_id] = row
            for user_id, reminder_id in others.items():
                other = s.circles.members.get(user_id)
                waiting = any(
                    r.user_id == user_id and r.kind == DIGEST and r.sent_at is None
                    for r in s.reminders.values()
                )
                user = s.users.get(user_id)
                if other is None or not other.digest or waiting or user is None or not user.active:
                    continue
                due = now + DIGEST_DELAY
                if other.last_digest_at is not None:
                    due = max(due, other.last_digest_at + DIGEST_EVERY)
                s.reminders[reminder_id] = ReminderRow(user_id, user_id, due, DIGEST)

        self._tx.apply(add)

    def _update_me(self, **values: object) -> None:
        me = self.user_id

        def update(s: State) -> None:
            row = s.circles.members.get(me)
            if row is not None:
                s.circles.members[me] = replace(row, **values)  # type: ignore[arg-type]

        self._tx.apply(update)

    async def set_digest(self, on: bool) -> None:
        """The daily note on or off (off also drops one that is waiting)."""
        self._update_me(digest=on)
        if not on:
            me = self.user_id
            self._tx.apply(lambda s: _drop_digest(s, me))

    async def digest_sent(self) -> None:
        """The next daily note counts from now."""
        self._update_me(last_digest_at=self._now())

    async def share_view(self, view: View) -> None:
        """What this member's own answers say, for the others to see."""
        self._update_me(view=view.model_dump_json())

    async def leave(self) -> Departure | None:
        """This member leaves; their tries go with them. Who to tell (see circle_sql)."""
        me = self.user_id
        mine = self._c.members.get(me)
        circle = self._c.circles.get(mine.circle_id) if mine is not None else None
        if mine is None or circle is None or mine.role == "owner":
            return None
        owner = self._c.members[circle.owner_id]

        def leave(s: State) -> None:
            s.circles.drop_member(me)
            _drop_digest(s, me)

        self._tx.apply(leave)
        return Departure(circle.owner_id, owner.language, mine.label, mine.role)

    async def remove(self, key: str) -> tuple[str, str] | None:
        """The owner removes a member by key; returns (their user id, language), or None."""
        mine = self._c.members.get(self.user_id)
        if mine is None or mine.role != "owner":
            return None
        found = next(
            (
                (u, m)
                for u, m in self._c.members.items()
                if m.circle_id == mine.circle_id and m.key == key and u != self.user_id
            ),
            None,
        )
        if found is None:
            return None
        user_id, member = found

        def remove(s: State) -> None:
            s.circles.drop_member(user_id)
            _drop_digest(s, user_id)

        self._tx.apply(remove)
        return user_id, member.language

    async def close(self) -> list[tuple[str, str]]:
        """The owner closes their circle; returns the other members (user id, language)."""
        circle_id = self._c.owned(self.user_id)
        if circle_id is None:
            return []
        others = [
            (u, m.language)
            for u, m in self._c.members.items()
            if m.circle_id == circle_id and u != self.user_id
        ]
        everyone = [self.user_id, *(u for u, _ in others)]

        def close(s: State) -> None:
            for user_id in everyone:
                _drop_digest(s, user_id)
            s.circles.close(circle_id)

        self._tx.apply(close)
        return others

    async def tell(self, user_id: str, replies: list[Reply]) -> None:
        """Queue replies to another member, for the flusher to send."""
        now = self._now()
        rows = {self._tx.next_id(): OutboxRow(user_id, user_id, r.model_dump_json(), 0, now) for r in replies}
        self._tx.apply(lambda s: s.outbox.update(rows))
