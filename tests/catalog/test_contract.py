"""The catalog and partners service functions other domains call (CONTRACT.md)."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from atelier.catalog import service
from atelier.catalog.models import DesignStatus
from atelier.partners import service as partners_service
from atelier.platform.db import Database
from atelier.platform.errors import NotFound
from tests.catalog.conftest import MakeItem
from tests.factories.catalog import create_design, create_partner, create_product, set_bom


class TestGetDesign:
    def test_returns_the_design(self, admin: TestClient, db: Database) -> None:
        design = create_design(admin, name="Kurta")
        with db.session() as session:
            assert service.get_design(session, design["id"]).name == "Kurta"

    def test_unknown_is_not_found(self, db: Database) -> None:
        with db.session() as session, pytest.raises(NotFound) as caught:
            service.get_design(session, "design_nope")
        assert caught.value.code == "design_not_found"


class TestDesignSnapshot:
    def test_captures_fields_and_bom(
        self, admin: TestClient, db: Database, make_item: MakeItem
    ) -> None:
        item_id = make_item(sku="TW", title="Twill", unit="m")
        design = create_design(
            admin,
            name="Dress",
            description="A-line",
            status="Approved",
            specifications={"gsm": 140},
            colors=["indigo"],
            sizes=["M"],
            thumbnail_url="https://x.test/t.png",
            media_files=[{"url": "https://x.test/a.png"}],
            moodboard={"m": 1},
        )
        set_bom(admin, design["id"], {item_id: 1.5})
        with db.session() as session:
            snapshot = service.design_snapshot(session, service.get_design(session, design["id"]))
        assert snapshot == {
            "name": "Dress",
            "description": "A-line",
            "status": "Approved",
            "specifications": {"gsm": 140},
            "colors": ["indigo"],
            "sizes": ["M"],
            "thumbnail_url": "https://x.test/t.png",
            "media_files": [{"url": "https://x.test/a.png"}],
            "moodboard": {"m": 1},
            "bom": [
                {
                    "inventory_item_id": item_id,
                    "sku": "TW",
                    "title": "Twill",
                    "unit_of_measure": "m",
                    "planned_quantity": 1.5,
                }
            ],
        }


class TestDesignForLine:
    def test_variant_link_wins_over_product_link(self, admin: TestClient, db: Database) -> None:
        product_design, variant_design = create_design(admin), create_design(admin)
        product = create_product(
            admin,
            design_id=product_design["id"],
            variants=[{"title": "S", "design_id": variant_design["id"]}, {"title": "M"}],
        )
        linked, plain = product["variants"]
        pid, vid, did = product["id"], variant_design["id"], product_design["id"]
        with db.session() as session:
            assert service.design_for_line(session, pid, linked["id"]) == vid
            assert service.design_for_line(session, pid, plain["id"]) == did
            assert service.design_for_line(session, pid, None) == did
            assert service.design_for_line(session, None, linked["id"]) == vid
            assert service.design_for_line(session, None, plain["id"]) == did

    def test_unknown_ids_resolve_to_none(self, admin: TestClient, db: Database) -> None:
        product = create_product(admin)
        with db.session() as session:
            assert service.design_for_line(session, None, None) is None
            assert service.design_for_line(session, "product_nope", "variant_nope") is None
            assert service.design_for_line(session, product["id"], None) is None

    def test_variant_of_another_product_is_ignored(self, admin: TestClient, db: Database) -> None:
        design = create_design(admin)
        other = create_product(admin, variants=[{"title": "S", "design_id": design["id"]}])
        product = create_product(admin, variants=[])
        with db.session() as session:
            resolved = service.design_for_line(session, product["id"], other["variants"][0]["id"])
        assert resolved is None


class TestLinkPartner:
    def test_idempotent(self, admin: TestClient, client: TestClient, db: Database) -> None:
        design = create_design(admin)
        partner = create_partner(admin, client)
        with db.session() as session:
            assert not service.partner_can_view_design(session, design["id"], partner.id)
            assert service.link_partner(session, design["id"], partner.id) is True
            assert service.link_partner(session, design["id"], partner.id) is False
            assert service.partner_can_view_design(session, design["id"], partner.id)
        with db.session() as session:
            assert service.link_partner(session, design["id"], partner.id) is False

    def test_unknown_design_or_partner_is_not_found(
        self, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        design = create_design(admin)
        partner = create_partner(admin, client)
        with db.session() as session, pytest.raises(NotFound):
            service.link_partner(session, "design_nope", partner.id)
        with db.session() as session, pytest.raises(NotFound):
            service.link_partner(session, design["id"], "partner_nope")

    def test_concurrent_links_create_exactly_one(
        self, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        design = create_design(admin)
        partner = create_partner(admin, client)
        barrier = threading.Barrier(4)
        results: list[bool] = []

        def link() -> None:
            barrier.wait()
            with db.session() as session:
                results.append(service.link_partner(session, design["id"], partner.id))

        threads = [threading.Thread(target=link) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [False, False, False, True]
        partners = admin.get(f"/admin/designs/{design['id']}").json()["design"]["partners"]
        assert [p["id"] for p in partners] == [partner.id]


class TestBomItemIds:
    def test_lists_current_items(
        self, admin: TestClient, db: Database, make_item: MakeItem
    ) -> None:
        a, b = make_item(), make_item()
        design = create_design(admin)
        with db.session() as session:
            assert service.bom_item_ids(session, design["id"]) == set()
        set_bom(admin, design["id"], {a: 1, b: 2})
        admin.delete(f"/admin/designs/{design['id']}/inventory/{b}")
        with db.session() as session:
            assert service.bom_item_ids(session, design["id"]) == {a}


class TestMoveDesignStatus:
    def test_moves_and_reports_change(self, admin: TestClient, db: Database) -> None:
        design = create_design(admin)
        with db.session() as session:
            assert service.move_design_status(session, design["id"], DesignStatus.IN_DEVELOPMENT)
            assert not service.move_design_status(
                session, design["id"], DesignStatus.IN_DEVELOPMENT
            )
        status = admin.get(f"/admin/designs/{design['id']}").json()["design"]["status"]
        assert status == "In_Development"

    @pytest.mark.parametrize("frozen", ["Rejected", "Superseded"])
    def test_never_moves_rejected_or_superseded(
        self, admin: TestClient, db: Database, frozen: str
    ) -> None:
        design = create_design(admin, status=frozen)
        with db.session() as session:
            assert not service.move_design_status(session, design["id"], DesignStatus.APPROVED)
        assert admin.get(f"/admin/designs/{design['id']}").json()["design"]["status"] == frozen

    def test_unknown_design_is_no_change(self, db: Database) -> None:
        with db.session() as session:
            assert not service.move_design_status(session, "design_nope", DesignStatus.APPROVED)

    def test_loaded_design_sees_the_new_status(self, admin: TestClient, db: Database) -> None:
        design = create_design(admin)
        with db.session() as session:
            loaded = service.get_design(session, design["id"])
            service.move_design_status(session, design["id"], DesignStatus.TECHNICAL_REVIEW)
            assert loaded.status == "Technical_Review"


class TestPartnerLookups:
    def test_get_partner(self, admin: TestClient, client: TestClient, db: Database) -> None:
        partner = create_partner(admin, client, name="Loom House")
        with db.session() as session:
            assert partners_service.get_partner(session, partner.id).name == "Loom House"
            with pytest.raises(NotFound) as caught:
                partners_service.get_partner(session, "partner_nope")
        assert caught.value.code == "partner_not_found"

    def test_partner_display(self, admin: TestClient, client: TestClient, db: Database) -> None:
        a = create_partner(admin, client, name="A Works")
        b = create_partner(admin, client, name="B Works")
        with db.session() as session:
            shown = partners_service.partner_display(session, [a.id, b.id, "partner_nope", a.id])
            assert partners_service.partner_display(session, []) == {}
        assert shown == {
            a.id: {"id": a.id, "name": "A Works", "handle": a.handle},
            b.id: {"id": b.id, "name": "B Works", "handle": b.handle},
        }
