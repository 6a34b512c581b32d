"""outbox: dead state, per-subscriber failures, admin retries

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import atelier.platform.db

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dead_at", atelier.platform.db.UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("manual_retries", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.drop_index("ix_outbox_events_due")
        batch_op.create_index(
            "ix_outbox_events_due", ["delivered_at", "dead_at", "available_at"], unique=False
        )

    op.create_table(
        "outbox_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("subscriber", sa.String(length=200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("first_failed_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.Column("last_failed_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.Column("dead_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["outbox_events.id"],
            name=op.f("fk_outbox_failures_event_id_outbox_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_failures")),
        sa.UniqueConstraint(
            "event_id", "subscriber", name=op.f("uq_outbox_failures_event_id_subscriber")
        ),
    )


def downgrade() -> None:
    op.drop_table("outbox_failures")
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_events_due")
        batch_op.create_index(
            "ix_outbox_events_due", ["delivered_at", "available_at"], unique=False
        )
        batch_op.drop_column("manual_retries")
        batch_op.drop_column("dead_at")
