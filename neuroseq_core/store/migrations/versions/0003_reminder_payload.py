"""Reminders carry no payload: a kind and a time say everything (the column was never read).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("reminders") as batch:  # SQLite rebuilds the table; PostgreSQL drops a column
        batch.drop_column("payload")


def downgrade() -> None:
    with op.batch_alter_table("reminders") as batch:
        batch.add_column(sa.Column("payload", sa.Text(), nullable=False, server_default="{}"))
