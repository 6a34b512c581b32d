"""production_run_search: the runs' status, top_level and created_at; index rebuilt, backfilled

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import atelier.platform.db
from atelier.production import search_index

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    # A database that ran 0008 before it was trimmed has the first triggers and FTS table.
    search_index.drop(bind)
    op.add_column("production_run_search", sa.Column("status", sa.String(32), nullable=True))
    op.add_column("production_run_search", sa.Column("top_level", sa.Boolean(), nullable=True))
    op.add_column(
        "production_run_search",
        sa.Column("created_at", atelier.platform.db.UTCDateTime(), nullable=True),
    )
    bind.exec_driver_sql(f"DELETE FROM {search_index.TABLE}")  # noqa: S608 (a constant)
    search_index.create(bind)
    # Every run: the content table's own triggers fill the FTS index as rows arrive.
    bind.exec_driver_sql(search_index.BACKFILL)


def downgrade() -> None:
    search_index.drop(op.get_bind())
    with op.batch_alter_table("production_run_search") as batch_op:
        batch_op.drop_column("created_at")
        batch_op.drop_column("top_level")
        batch_op.drop_column("status")
