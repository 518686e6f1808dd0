"""The team around the child: circles, their members, open invites and the shared log.

A circle belongs to the carer who set it up (`owner_id`); members, invites and the log belong to the
circle, and each member's rows also to that member, so erasing or purging a user takes exactly their
rows (ON DELETE CASCADE; SQLite runs with foreign_keys=ON). Invites are kept as a SHA-256 of the code
and deleted as they are used.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def _fk(column: str, table: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}"], name=f"fk_{table}_{column}_{target.split('.')[0]}", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "circles",
        sa.Column("id", ID, nullable=False, autoincrement=True),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("child", sa.String(64), nullable=True),
        sa.Column("age_band", sa.String(32), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_circles"),
        sa.UniqueConstraint("owner_id", name="uq_circles_owner_id"),
        _fk("owner_id", "circles", "users.user_id"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "circle_members",
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("circle_id", ID, nullable=False),
        sa.Column("key", sa.String(16), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("digest", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("last_digest_at", WHEN, nullable=True),
        sa.Column("view", sa.Text(), nullable=True),
        sa.Column("joined_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_circle_members"),
        _fk("user_id", "circle_members", "users.user_id"),
        _fk("circle_id", "circle_members", "circles.id"),
    )
    op.create_index("ix_circle_members_circle_id", "circle_members", ["circle_id"])
    op.create_table(
        "circle_invites",
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("circle_id", ID, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("code_hash", name="pk_circle_invites"),
        _fk("circle_id", "circle_invites", "circles.id"),
    )
    op.create_index("ix_circle_invites_circle_id", "circle_invites", ["circle_id"])
    op.create_index("ix_circle_invites_expires_at", "circle_invites", ["expires_at"])
    op.create_table(
        "circle_log",
        sa.Column("id", ID, nullable=False, autoincrement=True),
        sa.Column("circle_id", ID, nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("activity", sa.String(64), nullable=False),
        sa.Column("setting", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("logged_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_circle_log"),
        _fk("circle_id", "circle_log", "circles.id"),
        _fk("user_id", "circle_log", "users.user_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_circle_log_circle_id", "circle_log", ["circle_id"])
    op.create_index("ix_circle_log_user_id", "circle_log", ["user_id"])


def downgrade() -> None:
    op.drop_table("circle_log")
    op.drop_table("circle_invites")
    op.drop_table("circle_members")
    op.drop_table("circles")
