"""The SQL store's statements of every update and delivery, built once.

Building a statement and working out its cache key costs ~150 µs each time; a prebuilt one's key is
memoised (~2 µs), and SQLAlchemy's compiled cache does the rest: about 1 ms per update on the benchmark
machine (bench/bench_e2e.py, docs/benchmarks.md). The upserts are text, the same SQL on SQLite and
PostgreSQL and (unlike the dialects' on_conflict constructs) cacheable.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from neuroseq_core.store.tables import USER, UTCDateTime, outbox, processed_updates, sessions, users


def insert_for(dialect: str, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT (for its ON CONFLICT clauses)."""
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


# A known user's activity, which on PostgreSQL also takes the row lock that serialises that user's
# updates across processes. It never creates a row: an update from someone we hold nothing about (an old
# button after an erasure, a redelivery) must not bring them back.
TOUCH_KNOWN_USER = (
    sa.update(users)
    .where(users.c.user_id == sa.bindparam("t_user_id"))
    .values(active=True, last_seen_at=sa.bindparam("t_now"))
    .returning(users.c.user_id)
)
# The same row lock without marking the user seen (a reminder is not the user coming back).
LOCK_KNOWN_USER = (
    sa.select(users.c.user_id).where(users.c.user_id == sa.bindparam("t_user_id")).with_for_update()
)
LOCK_NEW_USER = sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:user_id, 0))").bindparams(
    sa.bindparam("user_id", type_=USER)
)
ADD_USER = sa.text(
    "INSERT INTO users (user_id, active, created_at, last_seen_at) VALUES (:user_id, true, :now, :now) "
    "ON CONFLICT (user_id) DO UPDATE SET active = true, last_seen_at = excluded.last_seen_at"
).bindparams(sa.bindparam("user_id", type_=USER), sa.bindparam("now", type_=UTCDateTime()))
MARK_SEEN = sa.text(
    "INSERT INTO processed_updates (update_id, user_id, handled_at) VALUES (:update_id, :user_id, :now) "
    "ON CONFLICT (update_id) DO NOTHING"
).bindparams(
    sa.bindparam("update_id", type_=sa.BigInteger()),
    sa.bindparam("user_id", type_=USER),
    sa.bindparam("now", type_=UTCDateTime()),
)
BUMP = sa.text(
    "INSERT INTO counters (name, value) VALUES (:name, 1) "
    "ON CONFLICT (name) DO UPDATE SET value = counters.value + 1"
).bindparams(sa.bindparam("name", type_=sa.String(100)))

SEEN = sa.select(sa.literal(1)).where(processed_updates.c.update_id == sa.bindparam("update_id"))
# Whether the update was handled, and the session, in one round trip (one row, whatever exists).
# `waiting`: their replies not yet sent; `held`: how many of those a sender holds for a while yet (then
# the new replies simply follow: nothing to take over, and no query for it).
SEEN_AND_SESSION = sa.text(
    "SELECT (SELECT 1 FROM processed_updates WHERE update_id = :update_id) AS seen, s.version, s.data, "
    "(SELECT count(*) FROM outbox WHERE user_id = :user_id) AS waiting, "
    "(SELECT count(*) FROM outbox WHERE user_id = :user_id AND lease_until > :soon) AS held "
    "FROM (SELECT 1 AS one) AS x LEFT OUTER JOIN sessions s ON s.user_id = :user_id"
).bindparams(
    sa.bindparam("update_id", type_=sa.BigInteger()),
    sa.bindparam("user_id", type_=USER),
    sa.bindparam("soon", type_=UTCDateTime()),
)
LOAD_SESSION = sa.select(sessions.c.version, sessions.c.data).where(
    sessions.c.user_id == sa.bindparam("user_id")
)
SESSION_VERSION = sa.select(sessions.c.version).where(sessions.c.user_id == sa.bindparam("user_id"))
UPDATE_SESSION = (
    sa.update(sessions)
    .where(sessions.c.user_id == sa.bindparam("b_user_id"), sessions.c.version == sa.bindparam("b_version"))
    .values(version=sessions.c.version + 1, data=sa.bindparam("b_data"), updated_at=sa.bindparam("b_now"))
    .returning(sessions.c.version)
)
INSERT_SESSION = {
    dialect: insert_for(dialect, sessions)
    .values(
        user_id=sa.bindparam("b_user_id"),
        version=1,
        data=sa.bindparam("b_data"),
        updated_at=sa.bindparam("b_now"),
    )
    .on_conflict_do_nothing(index_elements=["user_id"])
    .returning(sessions.c.version)
    for dialect in ("sqlite", "postgresql")
}
ADD_OUTBOX = sa.insert(outbox).returning(outbox.c.id, sort_by_parameter_order=True)
FAIL_OUTBOX = (
    sa.update(outbox)
    # Only by its holder: a sender whose lease ran out must not free a row another process took over.
    .where(outbox.c.id == sa.bindparam("item_id"), outbox.c.claimed_by == sa.bindparam("worker"))
    .values(
        attempts=outbox.c.attempts + sa.bindparam("tried", type_=sa.Integer()),
        parts_done=sa.bindparam("b_parts_done", type_=sa.Integer()),
        claimed_by=None,
        lease_until=None,
    )
)
IS_ACTIVE = sa.select(users.c.active).where(users.c.user_id == sa.bindparam("user_id"))

_held = outbox.alias("held")
# A user's replies not yet sent (before theirs are added: a new one must not overtake them).
USERS_OUTBOX = (
    sa.select(outbox.c.id, outbox.c.lease_until)
    .where(outbox.c.user_id == sa.bindparam("user_id"))
    .order_by(outbox.c.id)
)

# Rows nobody holds (or whose lease ran out), except a user's later rows while an earlier one is held.
CLAIMABLE = (
    sa.select(outbox.c.id)
    .where(
        sa.or_(outbox.c.lease_until.is_(None), outbox.c.lease_until < sa.bindparam("now")),
        ~sa.exists().where(
            _held.c.user_id == outbox.c.user_id,
            _held.c.id < outbox.c.id,
            _held.c.lease_until >= sa.bindparam("now"),
        ),
    )
    .order_by(outbox.c.id)
    .limit(sa.bindparam("limit"))
    .with_for_update(skip_locked=True, of=outbox)
)

# Reserve the next send slot: the later of the slot after the last one and now, then move it on a gap.
RESERVE_SLOT = sa.text(
    "INSERT INTO pace (name, next_at) VALUES (:name, :now + :gap) "
    "ON CONFLICT (name) DO UPDATE SET next_at = "
    "CASE WHEN pace.next_at > :now THEN pace.next_at ELSE :now END + :gap "
    "RETURNING next_at"
).bindparams(
    sa.bindparam("name", type_=sa.String(32)),
    sa.bindparam("now", type_=sa.Float()),
    sa.bindparam("gap", type_=sa.Float()),
)
