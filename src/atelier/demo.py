"""Demo data for ``atelier demo`` / ``atelier serve --demo``.

Idempotent: every record is found by its natural key (sku, handle, email, name) before it is
created, and stock levels are only set where none exist yet, so a second run changes nothing.
Records are made through the owning domains' service functions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn
from sqlalchemy import select
from sqlalchemy.orm import Session

from atelier.catalog import service as catalog
from atelier.catalog.models import Design, DesignStatus, Product
from atelier.catalog.schemas import (
    BomLineInput,
    BomUpsert,
    DesignCreate,
    ProductCreate,
    VariantCreate,
)
from atelier.demo_runs import demo_runs
from atelier.inventory import service as inventory
from atelier.inventory.models import InventoryItem, InventoryLevel
from atelier.partners import service as partners
from atelier.partners.models import Partner, PartnerUser
from atelier.partners.schemas import PartnerCreate, PartnerFields, PartnerUserCreate
from atelier.platform.actors import Actor
from atelier.platform.db import Database
from atelier.tasks import service as tasks
from atelier.tasks.models import TaskTemplate
from atelier.tasks.schemas import SubtaskDefinition, TemplateCreate

log = logging.getLogger(__name__)

# Documented in the README; demo only.
DEMO_PARTNER_PASSWORD = "atelier-partner"

ITEMS = [
    ("FAB-COT-IND", "Indigo hand-block cotton", "m"),
    ("FAB-LIN-ECR", "Ecru linen", "m"),
    ("FAB-SLK-RUS", "Rust silk crepe", "m"),
    ("BTN-WOOD-15", "Wood button 15 mm", "pc"),
    ("THR-IND", "Indigo cotton thread", "spool"),
    ("LBL-WOVEN", "Woven brand label", "pc"),
    ("FG-WRAP-DRESS", "Indigo wrap dress (finished)", "pc"),
]

DESIGNS: list[dict[str, Any]] = [
    {
        "name": "Indigo wrap dress",
        "description": "Hand-block printed cotton, wrap silhouette, wooden buttons.",
        "status": DesignStatus.COMMERCE_READY,
        "specifications": {"fabric": "cotton", "gsm": 120, "care": "cold wash"},
        "colors": ["indigo"],
        "sizes": ["XS", "S", "M", "L", "XL"],
        "output_sku": "FG-WRAP-DRESS",
        "bom": [("FAB-COT-IND", 2.5), ("BTN-WOOD-15", 6), ("THR-IND", 0.2), ("LBL-WOVEN", 1)],
    },
    {
        "name": "Linen field shirt",
        "description": "Relaxed shirt in washed linen.",
        "status": DesignStatus.SAMPLE_PRODUCTION,
        "specifications": {"fabric": "linen", "fit": "relaxed"},
        "colors": ["ecru"],
        "sizes": ["S", "M", "L"],
        "bom": [("FAB-LIN-ECR", 1.8), ("BTN-WOOD-15", 8), ("LBL-WOVEN", 1)],
    },
    {
        "name": "Rust silk scarf",
        "description": "Hand-rolled edges.",
        "status": DesignStatus.IN_DEVELOPMENT,
        "colors": ["rust"],
        "sizes": ["one size"],
        "bom": [("FAB-SLK-RUS", 0.9)],
    },
]

PRODUCTS: list[dict[str, Any]] = [
    {
        "title": "Indigo wrap dress",
        "design": "Indigo wrap dress",
        "variants": [(f"Indigo wrap dress / {s}", f"IWD-{s}") for s in ("XS", "S", "M", "L", "XL")],
    },
    {
        "title": "Linen field shirt",
        "design": "Linen field shirt",
        "variants": [(f"Linen field shirt / {s}", f"LFS-{s}") for s in ("S", "M", "L")],
    },
]

PARTNERS: list[dict[str, Any]] = [
    {
        "name": "Meera Stitch Works",
        "handle": "meera-stitch",
        "whatsapp_number": "+919800000001",
        "preferred_language": "hi",
        "user": ("meera@partners.atelier.local", "Meera", "Iyer", "+919800000001"),
        "designs": ["Indigo wrap dress", "Linen field shirt"],
        "stock": {"FAB-COT-IND": 40, "BTN-WOOD-15": 300, "THR-IND": 20, "LBL-WOVEN": 200},
    },
    {
        "name": "Jaipur Block Prints",
        "handle": "jaipur-block",
        "whatsapp_number": "+919800000002",
        "preferred_language": "en",
        "user": ("ravi@partners.atelier.local", "Ravi", "Sharma", "+919800000002"),
        "designs": ["Indigo wrap dress"],
        "stock": {"FAB-COT-IND": 25, "FAB-LIN-ECR": 30},
    },
    {
        "name": "Coastal Finishing Co",
        "handle": "coastal-finishing",
        "whatsapp_number": None,
        "preferred_language": "en",
        "user": ("anita@partners.atelier.local", "Anita", "D'Souza", None),
        "designs": [],
        "stock": {"LBL-WOVEN": 500},
    },
]

FINISHED_GOODS_STOCK = {"FG-WRAP-DRESS": 12}

TEMPLATES: list[dict[str, Any]] = [
    {
        "name": "Cutting",
        "category": "Cutting",
        "priority": "high",
        "estimated_duration": 120,
        "subtasks": ["Lay and mark fabric", "Cut panels", "Bundle by size"],
    },
    {
        "name": "Stitching",
        "category": "Stitching",
        "priority": "high",
        "estimated_duration": 480,
        "subtasks": ["Assemble body", "Attach sleeves", "Buttonholes and buttons"],
    },
    {
        "name": "Finishing",
        "category": "Finishing",
        "priority": "medium",
        "estimated_duration": 180,
        "subtasks": ["Press", "Attach labels", "Fold and pack"],
    },
    {
        "name": "Block printing",
        "category": "Printing",
        "priority": "medium",
        "estimated_duration": 360,
        "subtasks": ["Prepare blocks", "Print yardage", "Cure and wash"],
    },
    {
        "name": "Redo inspect",
        "category": "Quality",
        "priority": "high",
        "estimated_duration": 60,
        "subtasks": ["Inspect rejected pieces", "Record defects"],
    },
    {
        "name": "Sample review",
        "category": "Sampling",
        "priority": "low",
        "estimated_duration": 90,
        "subtasks": ["Fit check", "Photograph sample"],
    },
]


@dataclass
class DemoReport:
    created: int = 0
    existing: int = 0
    details: list[str] = field(default_factory=list)

    def note(self, created: bool, what: str) -> None:
        if created:
            self.created += 1
            self.details.append(what)
        else:
            self.existing += 1


Step = Callable[[Session, DemoReport, dict[str, str]], None]


def _items(session: Session, report: DemoReport, ids: dict[str, str]) -> None:
    for sku, title, uom in ITEMS:
        item = session.scalars(select(InventoryItem).where(InventoryItem.sku == sku)).first()
        created = item is None
        if item is None:
            item = inventory.create_item(
                session, sku=sku, title=title, unit_of_measure=uom, metadata={"demo": True}
            )
        ids[f"item:{sku}"] = item.id
        report.note(created, f"inventory item {sku}")


def _designs(session: Session, report: DemoReport, ids: dict[str, str]) -> None:
    for spec in DESIGNS:
        design = session.scalars(select(Design).where(Design.name == spec["name"])).first()
        created = design is None
        if design is None:
            output = spec.get("output_sku")
            design = catalog.create_design(
                session,
                DesignCreate(
                    name=spec["name"],
                    description=spec["description"],
                    status=spec["status"],
                    specifications=spec.get("specifications"),
                    colors=spec.get("colors"),
                    sizes=spec.get("sizes"),
                    metadata={"demo": True},
                    output_inventory_item_id=ids[f"item:{output}"] if output else None,
                ),
            )
            catalog.upsert_bom(
                session,
                design.id,
                BomUpsert(
                    items=[
                        BomLineInput(inventory_item_id=ids[f"item:{sku}"], planned_quantity=qty)
                        for sku, qty in spec["bom"]
                    ]
                ),
            )
        ids[f"design:{spec['name']}"] = design.id
        report.note(created, f"design {spec['name']}")


def _products(session: Session, report: DemoReport, ids: dict[str, str]) -> None:
    for spec in PRODUCTS:
        product = session.scalars(select(Product).where(Product.title == spec["title"])).first()
        created = product is None
        if product is None:
            design_id = ids[f"design:{spec['design']}"]
            catalog.create_product(
                session,
                ProductCreate(
                    title=spec["title"],
                    design_id=design_id,
                    metadata={"demo": True},
                    variants=[VariantCreate(title=t, sku=sku) for t, sku in spec["variants"]],
                ),
            )
        report.note(created, f"product {spec['title']}")


def _partners(session: Session, report: DemoReport, ids: dict[str, str]) -> None:
    for spec in PARTNERS:
        partner = session.scalars(select(Partner).where(Partner.handle == spec["handle"])).first()
        created = partner is None
        if partner is None:
            email, first, last, phone = spec["user"]
            existing_user = session.scalars(
                select(PartnerUser).where(PartnerUser.email == email)
            ).first()
            if existing_user is not None:
                raise RuntimeError(f"demo partner user {email} belongs to another partner")
            partner = partners.create_partner(
                session,
                PartnerCreate(
                    partner=PartnerFields(
                        name=spec["name"],
                        handle=spec["handle"],
                        whatsapp_number=spec["whatsapp_number"],
                        whatsapp_verified=spec["whatsapp_number"] is not None,
                        preferred_language=spec["preferred_language"],
                        timezone="Asia/Kolkata",
                        metadata={"demo": True},
                    ),
                    admin=PartnerUserCreate(
                        email=email,
                        first_name=first,
                        last_name=last,
                        phone=phone,
                        password=DEMO_PARTNER_PASSWORD,
                    ),
                ),
            )
        ids[f"partner:{spec['handle']}"] = partner.id
        report.note(created, f"partner {spec['handle']}")
        for design_name in spec["designs"]:
            linked = catalog.link_partner(session, ids[f"design:{design_name}"], partner.id)
            report.note(linked, f"design link {spec['handle']} ↔ {design_name}")


def _set_stock(
    session: Session, report: DemoReport, item_id: str, location_id: str, quantity: float
) -> None:
    level = session.scalars(
        select(InventoryLevel).where(
            InventoryLevel.inventory_item_id == item_id, InventoryLevel.location_id == location_id
        )
    ).first()
    if level is not None:
        # Never reset a level: stock may have moved since the demo was loaded.
        report.note(False, "")
        return
    inventory.set_level(
        session,
        item_id=item_id,
        location_id=location_id,
        stocked_quantity=quantity,
        actor=Actor.system(),
        note="demo data",
    )
    report.note(True, f"stock level {item_id}@{location_id}")


def _stock(session: Session, report: DemoReport, ids: dict[str, str]) -> None:
    for spec in PARTNERS:
        location = inventory.partner_location(session, ids[f"partner:{spec['handle']}"])
        for sku, quantity in spec["stock"].items():
            _set_stock(session, report, ids[f"item:{sku}"], location.id, quantity)
    finished = inventory.finished_goods_location(session)
    for sku, quantity in FINISHED_GOODS_STOCK.items():
        _set_stock(session, report, ids[f"item:{sku}"], finished.id, quantity)


def _templates(session: Session, report: DemoReport, ids: dict[str, str]) -> None:
    for spec in TEMPLATES:
        exists = session.scalars(
            select(TaskTemplate.id).where(TaskTemplate.name == spec["name"])
        ).first()
        if exists is None:
            tasks.create_template(
                session,
                TemplateCreate(
                    name=spec["name"],
                    category=spec["category"],
                    priority=spec["priority"],
                    estimated_duration=spec["estimated_duration"],
                    subtasks=[SubtaskDefinition(title=t) for t in spec["subtasks"]],
                ),
            )
        report.note(exists is None, f"task template {spec['name']}")


STEPS: list[tuple[str, Step]] = [
    ("inventory items", _items),
    ("designs and BOMs", _designs),
    ("products and variants", _products),
    ("partners and users", _partners),
    ("stock levels", _stock),
    ("task templates", _templates),
    ("production runs", demo_runs),
]


def load_demo(db: Database, *, console: Console | None = None) -> DemoReport:
    """Create the demo records that do not exist yet, in one transaction."""
    report = DemoReport()
    ids: dict[str, str] = {}
    with (
        db.session() as session,
        Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            console=console,
            disable=console is None,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task("demo data", total=len(STEPS))
        for label, step in STEPS:
            progress.update(task, description=f"demo data: {label}")
            step(session, report, ids)
            progress.advance(task)
    log.info(
        "demo data loaded",
        extra={"records_created": report.created, "records_existing": report.existing},
    )
    return report
