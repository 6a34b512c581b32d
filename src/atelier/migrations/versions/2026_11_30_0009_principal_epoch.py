"""principal epoch: one row the account triggers bump, read by the principal cache

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from atelier.platform.models import PRINCIPAL_COLUMNS, trigger_ddl

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "principal_epoch",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("epoch", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_principal_epoch")),
    )
    for statement in trigger_ddl(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in PRINCIPAL_COLUMNS:
        for action in ("u", "d"):
            name = f"tr_{table}_principal_epoch_{action}"
            op.execute(
                f"DROP TRIGGER IF EXISTS {name} ON {table}"
                if dialect == "postgresql"
                else f"DROP TRIGGER IF EXISTS {name}"
            )
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS atelier_bump_principal_epoch()")
    op.drop_table("principal_epoch")
