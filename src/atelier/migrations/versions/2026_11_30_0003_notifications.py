"""partner notifications: message delivery, dedup claims, WhatsApp platforms, inbound messages

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 00:00:07.816953
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import atelier.platform.db

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("platform_id", sa.String(length=64), nullable=True),
        sa.Column("provider_message_id", sa.String(length=200), nullable=False),
        sa.Column("from_number", sa.String(length=20), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=True),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("payload", sa.String(length=256), nullable=True),
        sa.Column("context_message_id", sa.String(length=200), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=True),
        sa.Column("action_result", sa.String(length=64), nullable=True),
        sa.Column("received_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_messages")),
        sa.UniqueConstraint(
            "provider_message_id", name=op.f("uq_inbound_messages_provider_message_id")
        ),
    )
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inbound_messages_from_received", ["from_number", "received_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_inbound_messages_partner_id"), ["partner_id"], unique=False
        )

    op.create_table(
        "message_dedup",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("claimed_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_message_dedup")),
    )
    op.create_table(
        "whatsapp_platforms",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("phone_number_id", sa.String(length=64), nullable=False),
        sa.Column("waba_id", sa.String(length=64), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=False),
        sa.Column("app_secret", sa.String(length=255), nullable=False),
        sa.Column("verify_token", sa.String(length=255), nullable=False),
        sa.Column("country_codes", atelier.platform.db.JSONType, nullable=False),
        sa.Column("languages", atelier.platform.db.JSONType, nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_platforms")),
        sa.UniqueConstraint("label", name=op.f("uq_whatsapp_platforms_label")),
        sa.UniqueConstraint("phone_number_id", name=op.f("uq_whatsapp_platforms_phone_number_id")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("production_run_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("platform_id", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="template")
        )
        batch_op.add_column(sa.Column("body", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("image_url", sa.String(length=2048), nullable=True))
        batch_op.add_column(
            sa.Column(
                "options",
                atelier.platform.db.JSONType,
                nullable=False,
                server_default=sa.text("'{}'"),
            )
        )
        batch_op.add_column(sa.Column("event_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("error_code", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("next_attempt_at", atelier.platform.db.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("locked_until", atelier.platform.db.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("locked_by", sa.String(length=128), nullable=True))
        batch_op.add_column(
            sa.Column("send_started_at", atelier.platform.db.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "updated_at",
                atelier.platform.db.UTCDateTime(),
                nullable=False,
                server_default=sa.func.current_timestamp(),
            )
        )
        batch_op.alter_column(
            "dedup_key",
            existing_type=sa.VARCHAR(length=300),
            type_=sa.String(length=400),
            existing_nullable=True,
        )
        batch_op.alter_column(
            "status",
            existing_type=sa.VARCHAR(length=16),
            type_=sa.String(length=24),
            existing_nullable=False,
        )
        batch_op.drop_constraint(batch_op.f("uq_messages_dedup_key"), type_="unique")
        batch_op.create_index("ix_messages_created", ["created_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_messages_dedup_key"), ["dedup_key"], unique=False)
        batch_op.create_index("ix_messages_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_messages_provider_message_id"), ["provider_message_id"], unique=False
        )
        batch_op.create_index(
            "ix_messages_run_created", ["production_run_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_run_created")
        batch_op.drop_index(batch_op.f("ix_messages_provider_message_id"))
        batch_op.drop_index("ix_messages_due")
        batch_op.drop_index(batch_op.f("ix_messages_dedup_key"))
        batch_op.drop_index("ix_messages_created")
        batch_op.create_unique_constraint(batch_op.f("uq_messages_dedup_key"), ["dedup_key"])
        batch_op.alter_column(
            "status",
            existing_type=sa.String(length=24),
            type_=sa.VARCHAR(length=16),
            existing_nullable=False,
        )
        batch_op.alter_column(
            "dedup_key",
            existing_type=sa.String(length=400),
            type_=sa.VARCHAR(length=300),
            existing_nullable=True,
        )
        batch_op.drop_column("updated_at")
        batch_op.drop_column("send_started_at")
        batch_op.drop_column("locked_by")
        batch_op.drop_column("locked_until")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("error_code")
        batch_op.drop_column("event_id")
        batch_op.drop_column("options")
        batch_op.drop_column("image_url")
        batch_op.drop_column("body")
        batch_op.drop_column("kind")
        batch_op.drop_column("platform_id")
        batch_op.drop_column("production_run_id")

    op.drop_table("whatsapp_platforms")
    op.drop_table("message_dedup")
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_messages_partner_id"))
        batch_op.drop_index("ix_inbound_messages_from_received")

    op.drop_table("inbound_messages")
