"""Outbox rows are claimed before they are sent: by whom, until when, and how many parts went already.

A process sends only the rows it claimed (the handler claims its own replies as it queues them; the
flusher claims rows nobody holds, or whose lease ran out because their process died). `parts_done`
keeps a reply's progress (the picture already shown) across processes.

`pace`: one row per kind of proactive sending (check-ins, progress offers), the time the next send
may go, so every process together keeps under Telegram's bulk limit.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(32), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("parts_done", sa.Integer(), nullable=False, server_default=sa.text("0")))
    op.create_table(
        "pace",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("next_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_pace"),
    )


def downgrade() -> None:
    op.drop_table("pace")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("parts_done")
        batch.drop_column("lease_until")
        batch.drop_column("claimed_by")
