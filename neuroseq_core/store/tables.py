"""The SQL schema: the tables the store uses, with stable constraint names (migrations create them)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from neuroseq_core.domain.clock import as_utc

# Stable constraint names, so migrations can refer to them on every backend.
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them without an offset)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        """Normalise to UTC before storing, so SQLite's text comparisons order correctly."""
        return None if value is None else as_utc(value)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        """Give back an aware UTC datetime."""
        return None if value is None else as_utc(value)


ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only
USER = sa.String(64)


def _user_fk(nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(
        "user_id", USER, sa.ForeignKey("users.user_id", ondelete="CASCADE"), nullable=nullable, index=True
    )


users = sa.Table(
    "users",
    metadata,
    sa.Column("user_id", USER, primary_key=True),
    sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("last_seen_at", UTCDateTime(), nullable=False, index=True),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column(
        "user_id", USER, sa.ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True, nullable=False
    ),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("data", sa.Text(), nullable=False),  # Session.to_json()
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

profiles = sa.Table(
    "profiles",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    _user_fk(),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("data", sa.Text(), nullable=False),  # Profile JSON
)

processed_updates = sa.Table(
    "processed_updates",
    metadata,
    sa.Column("update_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    # NULL once the user erased their data in that same update: the id alone still stops a redelivery.
    _user_fk(nullable=True),
    sa.Column("handled_at", UTCDateTime(), nullable=False, index=True),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    # No foreign key: the reply confirming an erasure is queued after the user's row is gone. Erasure and
    # purge delete a user's outbox rows themselves; that last reply goes when it is sent.
    sa.Column("user_id", USER, nullable=False, index=True),
    sa.Column("chat_id", sa.String(64), nullable=False),
    sa.Column("payload", sa.Text(), nullable=False),  # Reply JSON
    sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # Who is sending it and until when: a process sends only what it claimed (migration 0004).
    sa.Column("claimed_by", sa.String(32), nullable=True),
    sa.Column("lease_until", UTCDateTime(), nullable=True),
    sa.Column("parts_done", sa.Integer(), nullable=False, server_default=sa.text("0")),
    # Ids are never reused (SQLite would reuse a deleted max id): the sender remembers delivered ids.
    sqlite_autoincrement=True,
)

reminders = sa.Table(
    "reminders",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    _user_fk(),
    sa.Column("chat_id", sa.String(64), nullable=False),
    sa.Column("due_at", UTCDateTime(), nullable=False, index=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("claimed_at", UTCDateTime(), nullable=True),
    sa.Column("sent_at", UTCDateTime(), nullable=True),
)

# Anonymous totals for /stats (e.g. "safety.suicide" → 3). No user id: erasure never needs to touch it.
counters = sa.Table(
    "counters",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("value", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
)

# When the next proactive message may go, per kind of sending (seconds since the epoch, store clock):
# every process reserves its sends here, so together they keep Telegram's bulk pace. No user id.
pace = sa.Table(
    "pace",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("next_at", sa.Float(), nullable=False),
)

# The team around the child (migration 0005). A circle belongs to its owner; members, open invites
# and the log belong to the circle, and each member's rows to them too: erasing either (or purging
# them) takes exactly their rows, by these foreign keys. One circle per person.
circles = sa.Table(
    "circles",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column(
        "owner_id", USER, sa.ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False, unique=True
    ),
    sa.Column("child", sa.String(64), nullable=True),  # the nickname the owner gave, if any
    sa.Column("age_band", sa.String(32), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sqlite_autoincrement=True,
)

circle_members = sa.Table(
    "circle_members",
    metadata,
    sa.Column(
        "user_id", USER, sa.ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True, nullable=False
    ),
    sa.Column("circle_id", ID, sa.ForeignKey("circles.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("key", sa.String(16), nullable=False),  # for buttons: never the user id
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("label", sa.String(64), nullable=False),
    sa.Column("language", sa.String(8), nullable=False),  # for the notices others' actions bring them
    sa.Column("digest", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("last_digest_at", UTCDateTime(), nullable=True),
    sa.Column("view", sa.Text(), nullable=True),  # circle.View JSON: where to start, their ideas
    sa.Column("joined_at", UTCDateTime(), nullable=False),
)

# Open invites only: a code is deleted as it is used. Kept as a SHA-256 of the code, never the code.
circle_invites = sa.Table(
    "circle_invites",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("circle_id", ID, sa.ForeignKey("circles.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("label", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
)

circle_log = sa.Table(
    "circle_log",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("circle_id", ID, sa.ForeignKey("circles.id", ondelete="CASCADE"), nullable=False, index=True),
    _user_fk(),  # who logged it
    sa.Column("activity", sa.String(64), nullable=False),
    sa.Column("setting", sa.String(16), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("logged_at", UTCDateTime(), nullable=False),
    sqlite_autoincrement=True,
)

CIRCLE_TABLES = ("circles", "circle_members", "circle_invites", "circle_log")
USER_TABLES = ("users", "sessions", "profiles", "processed_updates", "outbox", "reminders")
SHARED_TABLES = ("counters", "pace")  # no user id in them: erasure never touches them
