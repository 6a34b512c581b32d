"""tasks: a partial index of top-level tasks by run, for the runs lists' task progress

The lists count each run's top-level, not-cancelled tasks with ``production_run_id IN (...)
AND parent_task_id IS NULL``. Without planner statistics (a bulk-loaded PostgreSQL database
before its first ANALYZE) PostgreSQL guessed that 50 run ids match a fifth of the tasks through
ix_tasks_run_status and scanned all of them instead (1M tasks: 200 ms a page). This index holds
only top-level tasks: its predicate is part of the estimate, so the look-up by run stays the
cheaper plan with statistics or without.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOP_LEVEL = sa.text("parent_task_id IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_tasks_run_top_level",
        "tasks",
        ["production_run_id", "status"],
        unique=False,
        sqlite_where=TOP_LEVEL,
        postgresql_where=TOP_LEVEL,
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_run_top_level", table_name="tasks")
