from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from atelier.catalog.models import Design
from atelier.platform.db import Database
from tests.conftest import assert_problem, bearer
from tests.factories import catalog
from tests.media.support import PNG, load_run, world


def _attach(
    c: TestClient, run_id: str, items: list[dict[str, Any]], headers: dict[str, str]
) -> Any:
    return c.post(
        f"/partners/production-runs/{run_id}/media/attach",
        json={"media_files": items},
        headers=headers,
    )


def _design_media(db: Database, design_id: str) -> tuple[list[Any], str | None]:
    with db.session(write=False) as s:
        design = s.get(Design, design_id)
        assert design is not None
        return list(design.media_files), design.thumbnail_url


class TestAttach:
    def test_appends_urls_and_sets_thumbnail(
        self, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        w = world(admin, client, db)
        response = _attach(
            client,
            w.run_id,
            [
                {"url": "https://cdn.example/a.jpg"},
                {"url": "https://cdn.example/b.jpg", "is_thumbnail": True},
            ],
            w.partner.headers,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert [e["url"] for e in body["attached"]] == [
            "https://cdn.example/a.jpg",
            "https://cdn.example/b.jpg",
        ]
        assert body["thumbnail_url"] == "https://cdn.example/b.jpg"
        assert body["design"]["thumbnail_url"] == "https://cdn.example/b.jpg"
        media, thumb = _design_media(db, w.design["id"])
        assert [m["url"] for m in media] == [
            "https://cdn.example/a.jpg",
            "https://cdn.example/b.jpg",
        ]
        assert media[0]["production_run_id"] == w.run_id
        assert thumb == "https://cdn.example/b.jpg"
        assert load_run(db, w.run_id).last_activity_at is not None

    def test_attach_by_upload_id(self, admin: TestClient, client: TestClient, db: Database) -> None:
        w = world(admin, client, db)
        uploaded = client.post(
            f"/partners/production-runs/{w.run_id}/media",
            files=[("files", ("shot.png", PNG, "image/png"))],
            headers=w.partner.headers,
        ).json()["media_files"][0]
        response = _attach(client, w.run_id, [{"id": uploaded["id"]}], w.partner.headers)
        assert response.status_code == 200, response.text
        entry = response.json()["attached"][0]
        assert entry["id"] == uploaded["id"]
        assert entry["url"] == uploaded["url"]
        assert entry["filename"] == "shot.png"

    def test_duplicates_by_url_or_id_are_skipped(
        self, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        w = world(admin, client, db)
        uploaded = client.post(
            f"/partners/production-runs/{w.run_id}/media",
            files=[("files", ("shot.png", PNG, "image/png"))],
            headers=w.partner.headers,
        ).json()["media_files"][0]
        first = _attach(
            client,
            w.run_id,
            [{"url": "https://cdn.example/a.jpg"}, {"id": uploaded["id"]}],
            w.partner.headers,
        )
        assert len(first.json()["attached"]) == 2
        again = _attach(
            client,
            w.run_id,
            [
                {"url": "https://cdn.example/a.jpg"},
                {"id": uploaded["id"], "url": "https://elsewhere.example/x.png"},
                {"url": uploaded["url"]},
                {"url": "https://cdn.example/new.jpg"},
                {"url": "https://cdn.example/new.jpg"},
            ],
            w.partner.headers,
        )
        assert again.status_code == 200
        assert [e["url"] for e in again.json()["attached"]] == ["https://cdn.example/new.jpg"]
        assert again.json()["already_attached"] == 4
        media, _ = _design_media(db, w.design["id"])
        assert len(media) == 3

    def test_existing_string_entries_count_as_attached(
        self, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        design = catalog.create_design(admin, media_files=["https://cdn.example/old.jpg"])
        w = world(admin, client, db, design=design)
        response = _attach(
            client, w.run_id, [{"url": "https://cdn.example/old.jpg"}], w.partner.headers
        )
        assert response.json()["attached"] == []
        media, _ = _design_media(db, design["id"])
        assert media == ["https://cdn.example/old.jpg"]


class TestAttachGuards:
    @pytest.mark.parametrize("status", ["completed", "cancelled"])
    def test_terminal_run_is_409(
        self, admin: TestClient, client: TestClient, db: Database, status: str
    ) -> None:
        w = world(admin, client, db, status=status)
        response = _attach(
            client, w.run_id, [{"url": "https://cdn.example/a.jpg"}], w.partner.headers
        )
        assert_problem(response, 409, "run_terminal")
        assert _design_media(db, w.design["id"])[0] == []

    @pytest.mark.parametrize(
        "items",
        [
            [],
            [{}],
            [{"url": "javascript:alert(1)"}],
            [{"url": "data:image/png;base64,AAAA"}],
            [{"url": "//evil.example/x.png"}],
            [{"url": "https://x.example/" + "a" * 3000}],
            [{"url": "https://x.example/a.png", "extra": 1}],
            [{"url": "https://x.example/a.png"}] * 51,
        ],
    )
    def test_invalid_bodies_are_422(
        self, admin: TestClient, client: TestClient, db: Database, items: list[dict[str, Any]]
    ) -> None:
        w = world(admin, client, db)
        assert_problem(_attach(client, w.run_id, items, w.partner.headers), 422)

    def test_someone_elses_upload_id_is_404(
        self, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        mine = world(admin, client, db)
        theirs = world(admin, client, db)
        uploaded = client.post(
            f"/partners/production-runs/{theirs.run_id}/media",
            files=[("files", ("shot.png", PNG, "image/png"))],
            headers=theirs.partner.headers,
        ).json()["media_files"][0]
        response = _attach(client, mine.run_id, [{"id": uploaded["id"]}], mine.partner.headers)
        assert_problem(response, 404, "media_file_not_found")

    def test_other_partner_admin_and_anonymous(
        self, admin: TestClient, client: TestClient, db: Database, admin_token: str
    ) -> None:
        w = world(admin, client, db)
        other = catalog.create_partner(admin, client)
        item = [{"url": "https://cdn.example/a.jpg"}]
        assert_problem(_attach(client, w.run_id, item, other.headers), 404)
        assert_problem(_attach(client, w.run_id, item, bearer(admin_token)), 403)
        assert_problem(_attach(client, w.run_id, item, {}), 401)
        assert _design_media(db, w.design["id"])[0] == []


class TestAttachConcurrency:
    def test_concurrent_attaches_lose_nothing(
        self, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        # Two partners' runs on one design, attaching at the same time: every url survives.
        design = catalog.create_design(admin)
        a = world(admin, client, db, design=design)
        b = world(admin, client, db, design=design)
        barrier = threading.Barrier(8)
        results: list[int] = []

        def attach(n: int) -> None:
            w = a if n % 2 else b
            barrier.wait()
            response = _attach(
                client, w.run_id, [{"url": f"https://cdn.example/{n}.jpg"}], w.partner.headers
            )
            results.append(response.status_code)

        threads = [threading.Thread(target=attach, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [200] * 8
        media, _ = _design_media(db, design["id"])
        assert sorted(m["url"] for m in media) == sorted(
            f"https://cdn.example/{n}.jpg" for n in range(8)
        )


class TestAdminMedia:
    def test_lists_with_filters(self, admin: TestClient, client: TestClient, db: Database) -> None:
        a = world(admin, client, db)
        b = world(admin, client, db)
        for w in (a, b):
            client.post(
                f"/partners/production-runs/{w.run_id}/media",
                files=[("files", ("s.png", PNG, "image/png"))],
                headers=w.partner.headers,
            )
        everything = admin.get("/admin/media").json()
        assert everything["count"] == 2
        only_a = admin.get("/admin/media", params={"production_run_id": a.run_id}).json()
        assert [m["production_run_id"] for m in only_a["media_files"]] == [a.run_id]
        by_design = admin.get("/admin/media", params={"design_id": b.design["id"]}).json()
        assert by_design["count"] == 1
        assert_problem(admin.get("/admin/media", params={"limit": 0}), 422)
        assert_problem(client.get("/admin/media", headers=a.partner.headers), 403)

    def test_admin_upload_attaches_to_design(self, admin: TestClient) -> None:
        design = catalog.create_design(admin)
        response = admin.post(
            f"/admin/designs/{design['id']}/media",
            files=[("files", ("ref.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 32, "image/jpeg"))],
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["media_files"][0]["owner_type"] == "admin"
        assert [m["url"] for m in body["design"]["media_files"]] == [body["media_files"][0]["url"]]

    def test_admin_upload_to_unknown_design_is_404(self, admin: TestClient) -> None:
        response = admin.post(
            "/admin/designs/design_nope/media", files=[("files", ("a.png", PNG, "image/png"))]
        )
        assert_problem(response, 404, "design_not_found")
