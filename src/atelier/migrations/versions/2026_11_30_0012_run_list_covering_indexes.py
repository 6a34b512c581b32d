"""production_runs: covering design and partner indexes for the admin list's word search

The design index (design_id) and the partner index (partner_id, status) grow into
ix_production_runs_design_list (design_id, status, parent_run_id, created_at, id) and
ix_production_runs_partner_list (partner_id, status, parent_run_id, design_id, created_at,
id): same leading columns, so every read that used the old ones can use the new ones, and a
search by word counts and sorts its runs from the indexes alone.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 07:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "production_runs"


def upgrade() -> None:
    op.create_index(
        "ix_production_runs_design_list",
        TABLE,
        ["design_id", "status", "parent_run_id", "created_at", "id"],
    )
    op.create_index(
        "ix_production_runs_partner_list",
        TABLE,
        ["partner_id", "status", "parent_run_id", "design_id", "created_at", "id"],
    )
    op.drop_index("ix_production_runs_design_id", table_name=TABLE)
    op.drop_index("ix_production_runs_partner_status", table_name=TABLE)


def downgrade() -> None:
    op.create_index("ix_production_runs_partner_status", TABLE, ["partner_id", "status"])
    op.create_index("ix_production_runs_design_id", TABLE, ["design_id"])
    op.drop_index("ix_production_runs_partner_list", table_name=TABLE)
    op.drop_index("ix_production_runs_design_list", table_name=TABLE)
