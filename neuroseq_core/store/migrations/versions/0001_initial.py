"""Initial schema: users, sessions, profiles, processed updates, outbox, reminders.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Written out in full (not imported from the live metadata) so this revision never changes.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
USER = sa.String(64)
TIME = sa.DateTime(timezone=True)


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.user_id"], name=f"fk_{table}_user_id_users", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("user_id", USER, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("last_seen_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_users"),
    )
    op.create_index("ix_users_last_seen_at", "users", ["last_seen_at"])

    op.create_table(
        "sessions",
        sa.Column("user_id", USER, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_sessions"),
        _user_fk("sessions"),
    )

    op.create_table(
        "profiles",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("user_id", USER, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_profiles"),
        _user_fk("profiles"),
    )
    op.create_index("ix_profiles_user_id", "profiles", ["user_id"])

    op.create_table(
        "processed_updates",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", USER, nullable=True),
        sa.Column("handled_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("update_id", name="pk_processed_updates"),
        _user_fk("processed_updates"),
    )
    op.create_index("ix_processed_updates_user_id", "processed_updates", ["user_id"])
    op.create_index("ix_processed_updates_handled_at", "processed_updates", ["handled_at"])

    op.create_table(
        "outbox",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("user_id", USER, nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sqlite_autoincrement=True,  # ids are never reused: the sender remembers delivered ids
    )
    op.create_index("ix_outbox_user_id", "outbox", ["user_id"])

    op.create_table(
        "reminders",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("user_id", USER, nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("due_at", TIME, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("claimed_at", TIME, nullable=True),
        sa.Column("sent_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_reminders"),
        _user_fk("reminders"),
    )
    op.create_index("ix_reminders_user_id", "reminders", ["user_id"])
    op.create_index("ix_reminders_due_at", "reminders", ["due_at"])


def downgrade() -> None:
    for table in ("reminders", "outbox", "processed_updates", "profiles", "sessions", "users"):
        op.drop_table(table)
