"""production_run_search: the admin list's search table (index and backfill: 0011)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "production_run_search",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("design_name", sa.Text(), nullable=True),
        sa.Column("partner_name", sa.Text(), nullable=True),
        sa.Column("partner_handle", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_production_run_search")),
        sa.UniqueConstraint("run_id", name=op.f("uq_production_run_search_run_id")),
    )
    # The index, its triggers and the backfill are (re)built by 0011, with the list columns.


def downgrade() -> None:
    op.drop_table("production_run_search")
