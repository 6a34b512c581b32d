"""production runs, tasks, media, audit, notifications

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 01:12:17.437484
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import atelier.platform.db

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=True),
        sa.Column("partner_id", sa.String(length=64), nullable=True),
        sa.Column("template", sa.String(length=200), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("variables", atelier.platform.db.JSONType, nullable=False),
        sa.Column("context_type", sa.String(length=64), nullable=True),
        sa.Column("context_id", sa.String(length=200), nullable=True),
        sa.Column("dedup_key", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("provider_message_id", sa.String(length=200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.Column("sent_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("delivered_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("read_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("failed_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_messages_dedup_key")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_context", ["context_type", "context_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_messages_partner_id"), ["partner_id"], unique=False)

    op.create_table(
        "policy_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", atelier.platform.db.JSONType, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_policy_settings")),
    )
    op.create_table(
        "task_categories",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_categories")),
        sa.UniqueConstraint("name", name=op.f("uq_task_categories_name")),
    )
    op.create_table(
        "task_templates",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("category_id", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("estimated_duration", sa.Integer(), nullable=True),
        sa.Column("cost", atelier.platform.db.Money(), nullable=True),
        sa.Column("message_template", sa.Text(), nullable=True),
        sa.Column("subtasks", atelier.platform.db.JSONType, nullable=False),
        sa.Column("metadata", atelier.platform.db.JSONType, nullable=False),
        sa.Column("created_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["task_categories.id"],
            name=op.f("fk_task_templates_category_id_task_categories"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_templates")),
        sa.UniqueConstraint("name", name=op.f("uq_task_templates_name")),
    )
    with op.batch_alter_table("task_templates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_task_templates_category_id"), ["category_id"], unique=False
        )

    op.create_table(
        "production_runs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("run_type", sa.String(length=16), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=64), nullable=True),
        sa.Column("parent_run_id", sa.String(length=64), nullable=True),
        sa.Column("design_id", sa.String(length=64), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=True),
        sa.Column("previous_partner_id", sa.String(length=64), nullable=True),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("order_line_item_id", sa.String(length=64), nullable=True),
        sa.Column("product_id", sa.String(length=64), nullable=True),
        sa.Column("variant_id", sa.String(length=64), nullable=True),
        sa.Column("depends_on_run_ids", atelier.platform.db.JSONType, nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.Column("snapshot", atelier.platform.db.JSONType, nullable=False),
        sa.Column("captured_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("accepted_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("started_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("finished_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("completed_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("cancelled_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("cancelled_reason", sa.Text(), nullable=True),
        sa.Column("finish_notes", sa.Text(), nullable=True),
        sa.Column("completion_notes", sa.Text(), nullable=True),
        sa.Column("produced_quantity", sa.Integer(), nullable=True),
        sa.Column("rejected_quantity", sa.Integer(), nullable=True),
        sa.Column("rejection_reason", sa.String(length=64), nullable=True),
        sa.Column("rejection_notes", sa.Text(), nullable=True),
        sa.Column("last_progress_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("last_activity_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("dispatch_state", sa.String(length=32), nullable=False),
        sa.Column("dispatch_started_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("dispatch_completed_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("dispatch_template_names", atelier.platform.db.JSONType, nullable=False),
        sa.Column("dispatch_template_ids", atelier.platform.db.JSONType, nullable=False),
        sa.Column("dispatched_template_ids", atelier.platform.db.JSONType, nullable=False),
        sa.Column("partner_cost_estimate", atelier.platform.db.Money(), nullable=True),
        sa.Column("cost_type", sa.String(length=16), nullable=True),
        sa.Column("current_gate", sa.String(length=16), nullable=True),
        sa.Column("gate_deadline_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("overdue_gate", sa.String(length=16), nullable=True),
        sa.Column("overdue_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("last_reminder_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("reminder_counts", atelier.platform.db.JSONType, nullable=False),
        sa.Column("metadata", atelier.platform.db.JSONType, nullable=False),
        sa.Column("created_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["design_id"],
            ["designs.id"],
            name=op.f("fk_production_runs_design_id_designs"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_production_runs_order_id_orders"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["order_line_item_id"],
            ["order_line_items.id"],
            name=op.f("fk_production_runs_order_line_item_id_order_line_items"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["parent_run_id"],
            ["production_runs.id"],
            name=op.f("fk_production_runs_parent_run_id_production_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_production_runs_partner_id_partners"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_production_runs")),
        sa.UniqueConstraint(
            "order_line_item_id", name=op.f("uq_production_runs_order_line_item_id")
        ),
    )
    with op.batch_alter_table("production_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_production_runs_design_id"), ["design_id"], unique=False
        )
        batch_op.create_index(
            "ix_production_runs_gate_deadline", ["gate_deadline_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_production_runs_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            "ix_production_runs_parent_created", ["parent_run_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_production_runs_partner_status", ["partner_id", "status"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_production_runs_run_type"), ["run_type"], unique=False)
        batch_op.create_index(
            "ix_production_runs_status_created", ["status", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_production_runs_toplevel_created",
            ["created_at", "id"],
            unique=False,
            postgresql_where=sa.text("parent_run_id IS NULL"),
            sqlite_where=sa.text("parent_run_id IS NULL"),
        )

    op.create_table(
        "admin_feed_entries",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("production_run_id", sa.String(length=64), nullable=True),
        sa.Column("partner_id", sa.String(length=64), nullable=True),
        sa.Column("dedup_key", sa.String(length=200), nullable=True),
        sa.Column("data", atelier.platform.db.JSONType, nullable=False),
        sa.Column("created_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.Column("read_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["production_run_id"],
            ["production_runs.id"],
            name=op.f("fk_admin_feed_entries_production_run_id_production_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_feed_entries")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_admin_feed_entries_dedup_key")),
    )
    with op.batch_alter_table("admin_feed_entries", schema=None) as batch_op:
        batch_op.create_index("ix_admin_feed_entries_created", ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_admin_feed_entries_production_run_id"),
            ["production_run_id"],
            unique=False,
        )

    op.create_table(
        "consumption_logs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("design_id", sa.String(length=64), nullable=True),
        sa.Column("production_run_id", sa.String(length=64), nullable=True),
        sa.Column("inventory_item_id", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("quantity_basis", sa.String(length=16), nullable=False),
        sa.Column("unit_of_measure", sa.String(length=32), nullable=False),
        sa.Column("unit_cost", atelier.platform.db.Money(), nullable=True),
        sa.Column("consumption_type", sa.String(length=16), nullable=False),
        sa.Column("consumed_by", sa.String(length=16), nullable=False),
        sa.Column("consumed_by_id", sa.String(length=64), nullable=True),
        sa.Column("consumed_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("location_id", sa.String(length=64), nullable=True),
        sa.Column("is_committed", sa.Boolean(), nullable=False),
        sa.Column("committed_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("metadata", atelier.platform.db.JSONType, nullable=False),
        sa.ForeignKeyConstraint(
            ["design_id"],
            ["designs.id"],
            name=op.f("fk_consumption_logs_design_id_designs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["inventory_item_id"],
            ["inventory_items.id"],
            name=op.f("fk_consumption_logs_inventory_item_id_inventory_items"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["stock_locations.id"],
            name=op.f("fk_consumption_logs_location_id_stock_locations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["production_run_id"],
            ["production_runs.id"],
            name=op.f("fk_consumption_logs_production_run_id_production_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consumption_logs")),
    )
    with op.batch_alter_table("consumption_logs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consumption_logs_design_id"), ["design_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_consumption_logs_is_committed"), ["is_committed"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_consumption_logs_production_run_id"), ["production_run_id"], unique=False
        )

    op.create_table(
        "media_files",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("storage_key", sa.String(length=512), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("mime_type", sa.String(length=127), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("owner_type", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=True),
        sa.Column("partner_id", sa.String(length=64), nullable=True),
        sa.Column("production_run_id", sa.String(length=64), nullable=True),
        sa.Column("design_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["design_id"],
            ["designs.id"],
            name=op.f("fk_media_files_design_id_designs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_media_files_partner_id_partners"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["production_run_id"],
            ["production_runs.id"],
            name=op.f("fk_media_files_production_run_id_production_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_files")),
    )
    with op.batch_alter_table("media_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_media_files_design_id"), ["design_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_media_files_production_run_id"), ["production_run_id"], unique=False
        )

    op.create_table(
        "run_events",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=True),
        sa.Column("to_status", sa.String(length=32), nullable=True),
        sa.Column("actor_type", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("data", atelier.platform.db.JSONType, nullable=False),
        sa.Column("occurred_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["production_runs.id"],
            name=op.f("fk_run_events_run_id_production_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_events")),
    )
    with op.batch_alter_table("run_events", schema=None) as batch_op:
        batch_op.create_index("ix_run_events_run_occurred", ["run_id", "occurred_at"], unique=False)

    op.create_table(
        "tasks",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("production_run_id", sa.String(length=64), nullable=True),
        sa.Column("partner_id", sa.String(length=64), nullable=True),
        sa.Column("design_id", sa.String(length=64), nullable=True),
        sa.Column("template_id", sa.String(length=64), nullable=True),
        sa.Column("parent_task_id", sa.String(length=64), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_redo", sa.Boolean(), nullable=False),
        sa.Column("start_date", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("due_date", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("accepted_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("started_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("completed_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("cancelled_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("metadata", atelier.platform.db.JSONType, nullable=False),
        sa.Column("created_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["design_id"],
            ["designs.id"],
            name=op.f("fk_tasks_design_id_designs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["parent_task_id"],
            ["tasks.id"],
            name=op.f("fk_tasks_parent_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_tasks_partner_id_partners"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["production_run_id"],
            ["production_runs.id"],
            name=op.f("fk_tasks_production_run_id_production_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["task_templates.id"],
            name=op.f("fk_tasks_template_id_task_templates"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tasks_parent_task_id"), ["parent_task_id"], unique=False
        )
        batch_op.create_index("ix_tasks_partner_status", ["partner_id", "status"], unique=False)
        batch_op.create_index("ix_tasks_run_status", ["production_run_id", "status"], unique=False)

    op.create_table(
        "task_comments",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.String(length=64), nullable=False),
        sa.Column("author_type", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.String(length=64), nullable=True),
        sa.Column("author_name", sa.String(length=200), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_task_comments_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_comments")),
    )
    with op.batch_alter_table("task_comments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_task_comments_task_created", ["task_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("task_comments", schema=None) as batch_op:
        batch_op.drop_index("ix_task_comments_task_created")

    op.drop_table("task_comments")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_run_status")
        batch_op.drop_index("ix_tasks_partner_status")
        batch_op.drop_index(batch_op.f("ix_tasks_parent_task_id"))

    op.drop_table("tasks")
    with op.batch_alter_table("run_events", schema=None) as batch_op:
        batch_op.drop_index("ix_run_events_run_occurred")

    op.drop_table("run_events")
    with op.batch_alter_table("media_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_files_production_run_id"))
        batch_op.drop_index(batch_op.f("ix_media_files_design_id"))

    op.drop_table("media_files")
    with op.batch_alter_table("consumption_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consumption_logs_production_run_id"))
        batch_op.drop_index(batch_op.f("ix_consumption_logs_is_committed"))
        batch_op.drop_index(batch_op.f("ix_consumption_logs_design_id"))

    op.drop_table("consumption_logs")
    with op.batch_alter_table("admin_feed_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_admin_feed_entries_production_run_id"))
        batch_op.drop_index("ix_admin_feed_entries_created")

    op.drop_table("admin_feed_entries")
    with op.batch_alter_table("production_runs", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_production_runs_toplevel_created",
            postgresql_where=sa.text("parent_run_id IS NULL"),
            sqlite_where=sa.text("parent_run_id IS NULL"),
        )
        batch_op.drop_index("ix_production_runs_status_created")
        batch_op.drop_index(batch_op.f("ix_production_runs_run_type"))
        batch_op.drop_index("ix_production_runs_partner_status")
        batch_op.drop_index("ix_production_runs_parent_created")
        batch_op.drop_index(batch_op.f("ix_production_runs_order_id"))
        batch_op.drop_index("ix_production_runs_gate_deadline")
        batch_op.drop_index(batch_op.f("ix_production_runs_design_id"))

    op.drop_table("production_runs")
    with op.batch_alter_table("task_templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_templates_category_id"))

    op.drop_table("task_templates")
    op.drop_table("task_categories")
    op.drop_table("policy_settings")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_partner_id"))
        batch_op.drop_index("ix_messages_context")

    op.drop_table("messages")
