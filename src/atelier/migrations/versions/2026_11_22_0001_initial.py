"""initial: platform, catalog, partners, inventory, orders

Revision ID: 0001
Revises:
Create Date: 2026-11-22 01:12:17.437484
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import atelier.platform.db

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "admin_users",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("first_name", sa.String(length=200), nullable=False),
        sa.Column("last_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("last_login_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_users")),
        sa.UniqueConstraint("email", name=op.f("uq_admin_users_email")),
    )
    op.create_table(
        "inventory_items",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("unit_of_measure", sa.String(length=32), nullable=False),
        sa.Column("metadata", atelier.platform.db.JSONType, nullable=False),
        sa.Column("created_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_items")),
        sa.UniqueConstraint("sku", name=op.f("uq_inventory_items_sku")),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("metadata", atelier.platform.db.JSONType, nullable=False),
        sa.Column("created_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("external_id", name=op.f("uq_orders_external_id")),
    )
    op.create_table(
        "outbox_events",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("payload", atelier.platform.db.JSONType, nullable=False),
        sa.Column("created_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.Column("available_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("locked_by", sa.String(length=120), nullable=True),
        sa.Column("delivered_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_events")),
    )
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_events_due", ["delivered_at", "available_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbox_events_name"), ["name"], unique=False)

    op.create_table(
        "partners",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("handle", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("whatsapp_number", sa.String(length=20), nullable=True),
        sa.Column("whatsapp_verified", sa.Boolean(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("preferred_language", sa.String(length=8), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("metadata", atelier.platform.db.JSONType, nullable=False),
        sa.Column("created_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
        sa.UniqueConstraint("handle", name=op.f("uq_partners_handle")),
    )
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_partners_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_partners_status"), ["status"], unique=False)

    op.create_table(
        "scheduled_slots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job", sa.String(length=200), nullable=False),
        sa.Column("slot_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(length=120), nullable=False),
        sa.Column("claimed_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.Column("finished_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_slots")),
        sa.UniqueConstraint("job", "slot_at", name=op.f("uq_scheduled_slots_job_slot_at")),
    )
    op.create_table(
        "designs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("thumbnail_url", sa.String(length=2048), nullable=True),
        sa.Column("media_files", atelier.platform.db.JSONType, nullable=False),
        sa.Column("specifications", atelier.platform.db.JSONType, nullable=False),
        sa.Column("colors", atelier.platform.db.JSONType, nullable=False),
        sa.Column("sizes", atelier.platform.db.JSONType, nullable=False),
        sa.Column("moodboard", atelier.platform.db.JSONType, nullable=False),
        sa.Column("output_inventory_item_id", sa.String(length=64), nullable=True),
        sa.Column("metadata", atelier.platform.db.JSONType, nullable=False),
        sa.Column("created_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["output_inventory_item_id"],
            ["inventory_items.id"],
            name=op.f("fk_designs_output_inventory_item_id_inventory_items"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_designs")),
    )
    with op.batch_alter_table("designs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_designs_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_designs_status"), ["status"], unique=False)

    op.create_table(
        "order_line_items",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=True),
        sa.Column("variant_id", sa.String(length=64), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=True),
        sa.Column("created_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_line_items_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_line_items")),
    )
    with op.batch_alter_table("order_line_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_order_line_items_order_id"), ["order_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_order_line_items_product_id"), ["product_id"], unique=False
        )

    op.create_table(
        "outbox_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("subscriber", sa.String(length=200), nullable=False),
        sa.Column("delivered_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["outbox_events.id"],
            name=op.f("fk_outbox_deliveries_event_id_outbox_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_deliveries")),
        sa.UniqueConstraint(
            "event_id", "subscriber", name=op.f("uq_outbox_deliveries_event_id_subscriber")
        ),
    )
    op.create_table(
        "partner_users",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("first_name", sa.String(length=200), nullable=False),
        sa.Column("last_name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("last_login_at", atelier.platform.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_partner_users_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_users")),
        sa.UniqueConstraint("email", name=op.f("uq_partner_users_email")),
    )
    with op.batch_alter_table("partner_users", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_partner_users_partner_id"), ["partner_id"], unique=False
        )

    op.create_table(
        "stock_locations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("partner_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_stock_locations_partner_id_partners"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_locations")),
        sa.UniqueConstraint("code", name=op.f("uq_stock_locations_code")),
    )
    with op.batch_alter_table("stock_locations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stock_locations_kind"), ["kind"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_stock_locations_partner_id"), ["partner_id"], unique=False
        )

    op.create_table(
        "design_inventory_items",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("design_id", sa.String(length=64), nullable=False),
        sa.Column("inventory_item_id", sa.String(length=64), nullable=False),
        sa.Column("planned_quantity", sa.Float(), nullable=False),
        sa.Column("created_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["design_id"],
            ["designs.id"],
            name=op.f("fk_design_inventory_items_design_id_designs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["inventory_item_id"],
            ["inventory_items.id"],
            name=op.f("fk_design_inventory_items_inventory_item_id_inventory_items"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_design_inventory_items")),
        sa.UniqueConstraint(
            "design_id",
            "inventory_item_id",
            name=op.f("uq_design_inventory_items_design_id_inventory_item_id"),
        ),
    )
    with op.batch_alter_table("design_inventory_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_design_inventory_items_design_id"), ["design_id"], unique=False
        )

    op.create_table(
        "design_partners",
        sa.Column("design_id", sa.String(length=64), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["design_id"],
            ["designs.id"],
            name=op.f("fk_design_partners_design_id_designs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_design_partners_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("design_id", "partner_id", name=op.f("pk_design_partners")),
    )
    with op.batch_alter_table("design_partners", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_design_partners_partner_id"), ["partner_id"], unique=False
        )

    op.create_table(
        "inventory_levels",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("inventory_item_id", sa.String(length=64), nullable=False),
        sa.Column("location_id", sa.String(length=64), nullable=False),
        sa.Column("stocked_quantity", sa.Float(), nullable=False),
        sa.Column("created_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["inventory_item_id"],
            ["inventory_items.id"],
            name=op.f("fk_inventory_levels_inventory_item_id_inventory_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["stock_locations.id"],
            name=op.f("fk_inventory_levels_location_id_stock_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_levels")),
        sa.UniqueConstraint(
            "inventory_item_id",
            "location_id",
            name=op.f("uq_inventory_levels_inventory_item_id_location_id"),
        ),
    )
    with op.batch_alter_table("inventory_levels", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inventory_levels_inventory_item_id"), ["inventory_item_id"], unique=False
        )

    op.create_table(
        "inventory_movements",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("inventory_item_id", sa.String(length=64), nullable=False),
        sa.Column("location_id", sa.String(length=64), nullable=False),
        sa.Column("quantity_delta", sa.Float(), nullable=False),
        sa.Column("balance_after", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("production_run_id", sa.String(length=64), nullable=True),
        sa.Column("consumption_log_id", sa.String(length=64), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("actor_type", sa.String(length=16), nullable=True),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["inventory_item_id"],
            ["inventory_items.id"],
            name=op.f("fk_inventory_movements_inventory_item_id_inventory_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["stock_locations.id"],
            name=op.f("fk_inventory_movements_location_id_stock_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_movements")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_inventory_movements_idempotency_key")),
    )
    with op.batch_alter_table("inventory_movements", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inventory_movements_item_created", ["inventory_item_id", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_inventory_movements_production_run_id"),
            ["production_run_id"],
            unique=False,
        )

    op.create_table(
        "products",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("design_id", sa.String(length=64), nullable=True),
        sa.Column("metadata", atelier.platform.db.JSONType, nullable=False),
        sa.Column("created_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["design_id"],
            ["designs.id"],
            name=op.f("fk_products_design_id_designs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
    )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_products_design_id"), ["design_id"], unique=False)

    op.create_table(
        "product_variants",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("sku", sa.String(length=120), nullable=True),
        sa.Column("design_id", sa.String(length=64), nullable=True),
        sa.Column("inventory_item_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", atelier.platform.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["design_id"],
            ["designs.id"],
            name=op.f("fk_product_variants_design_id_designs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["inventory_item_id"],
            ["inventory_items.id"],
            name=op.f("fk_product_variants_inventory_item_id_inventory_items"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_product_variants_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_variants")),
        sa.UniqueConstraint("sku", name=op.f("uq_product_variants_sku")),
    )
    with op.batch_alter_table("product_variants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_product_variants_design_id"), ["design_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_product_variants_product_id"), ["product_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("product_variants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_product_variants_product_id"))
        batch_op.drop_index(batch_op.f("ix_product_variants_design_id"))

    op.drop_table("product_variants")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_products_design_id"))

    op.drop_table("products")
    with op.batch_alter_table("inventory_movements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inventory_movements_production_run_id"))
        batch_op.drop_index("ix_inventory_movements_item_created")

    op.drop_table("inventory_movements")
    with op.batch_alter_table("inventory_levels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inventory_levels_inventory_item_id"))

    op.drop_table("inventory_levels")
    with op.batch_alter_table("design_partners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_design_partners_partner_id"))

    op.drop_table("design_partners")
    with op.batch_alter_table("design_inventory_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_design_inventory_items_design_id"))

    op.drop_table("design_inventory_items")
    with op.batch_alter_table("stock_locations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_locations_partner_id"))
        batch_op.drop_index(batch_op.f("ix_stock_locations_kind"))

    op.drop_table("stock_locations")
    with op.batch_alter_table("partner_users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partner_users_partner_id"))

    op.drop_table("partner_users")
    op.drop_table("outbox_deliveries")
    with op.batch_alter_table("order_line_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_line_items_product_id"))
        batch_op.drop_index(batch_op.f("ix_order_line_items_order_id"))

    op.drop_table("order_line_items")
    with op.batch_alter_table("designs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_designs_status"))
        batch_op.drop_index(batch_op.f("ix_designs_name"))

    op.drop_table("designs")
    op.drop_table("scheduled_slots")
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partners_status"))
        batch_op.drop_index(batch_op.f("ix_partners_name"))

    op.drop_table("partners")
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_events_name"))
        batch_op.drop_index("ix_outbox_events_due")

    op.drop_table("outbox_events")
    op.drop_table("orders")
    op.drop_table("inventory_items")
    op.drop_table("admin_users")
