"""tasks: the subtask index covers only subtasks (partial, parent_task_id IS NOT NULL)

Most tasks are top-level (NULL parent): a plain index on parent_task_id told the planner's
statistics that one key matches a third of the table, so a look-up of subtasks scanned it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOT_NULL = sa.text("parent_task_id IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_tasks_parent_task_id", table_name="tasks", if_exists=True)
    op.create_index(
        "ix_tasks_parent_task_id_not_null",
        "tasks",
        ["parent_task_id"],
        unique=False,
        sqlite_where=NOT_NULL,
        postgresql_where=NOT_NULL,
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_parent_task_id_not_null", table_name="tasks")
    op.create_index("ix_tasks_parent_task_id", "tasks", ["parent_task_id"], unique=False)
