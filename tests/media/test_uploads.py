from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from atelier.media.models import MediaFile
from atelier.platform.db import Database
from atelier.platform.settings import Settings
from tests.conftest import assert_problem, bearer
from tests.factories import catalog
from tests.media.support import EXE, JPEG, PDF, PNG, load_run, world


def _upload(
    c: TestClient,
    run_id: str,
    files: list[tuple[str, bytes, str]],
    headers: dict[str, str] | None = None,
) -> Response:
    return c.post(
        f"/partners/production-runs/{run_id}/media",
        files=[("files", f) for f in files],
        headers=headers,
    )


class TestUploadHappyPath:
    def test_uploads_several_files(
        self, admin: TestClient, client: TestClient, db: Database, settings: Settings
    ) -> None:
        w = world(admin, client, db)
        response = _upload(
            client,
            w.run_id,
            [("front.png", PNG, "image/png"), ("back.jpg", JPEG, "image/jpeg")],
            headers=w.partner.headers,
        )
        assert response.status_code == 201, response.text
        files = response.json()["media_files"]
        assert [f["filename"] for f in files] == ["front.png", "back.jpg"]
        assert [f["mime_type"] for f in files] == ["image/png", "image/jpeg"]
        for f in files:
            assert f["id"].startswith("media_")
            assert f["production_run_id"] == w.run_id
            assert f["design_id"] == w.design["id"]
            assert f["partner_id"] == w.partner.id
            assert f["owner_type"] == "partner"
            assert f["url"].startswith("http://testserver/media/files/")
            assert f["filename"] not in f["url"]
        served = client.get(files[0]["url"].removeprefix("http://testserver"))
        assert served.status_code == 200
        assert served.content == PNG
        assert served.headers["content-type"] == "image/png"
        assert served.headers["x-content-type-options"] == "nosniff"
        # Nothing is left behind in the spool directory.
        spool = Path(settings.storage_dir) / ".incoming"
        assert not list(spool.iterdir())

    def test_upload_bumps_activity_and_is_audited(
        self, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        w = world(admin, client, db)
        assert load_run(db, w.run_id).last_activity_at is None
        _upload(client, w.run_id, [("a.pdf", PDF, "application/pdf")], headers=w.partner.headers)
        assert load_run(db, w.run_id).last_activity_at is not None
        events = admin.get(f"/admin/production-runs/{w.run_id}/events")
        if events.status_code == 200:
            kinds = [e["kind"] for e in events.json()["events"]]
            assert "media_uploaded" in kinds

    def test_generic_declared_type_is_sniffed(
        self, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        w = world(admin, client, db)
        response = _upload(
            client,
            w.run_id,
            [("photo", JPEG, "application/octet-stream")],
            headers=w.partner.headers,
        )
        assert response.status_code == 201, response.text
        assert response.json()["media_files"][0]["mime_type"] == "image/jpeg"

    def test_path_in_filename_is_dropped(
        self, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        w = world(admin, client, db)
        response = _upload(
            client, w.run_id, [("../../etc/x.png", PNG, "image/png")], headers=w.partner.headers
        )
        assert response.status_code == 201, response.text
        body = response.json()["media_files"][0]
        assert body["filename"] == "x.png"
        assert ".." not in body["url"]

    def test_in_progress_run_takes_uploads(
        self, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        w = world(admin, client, db, status="in_progress")
        response = _upload(
            client, w.run_id, [("a.png", PNG, "image/png")], headers=w.partner.headers
        )
        assert response.status_code == 201


class TestUploadGuards:
    def test_renamed_executable_is_refused(
        self, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        w = world(admin, client, db)
        response = _upload(
            client, w.run_id, [("cat.png", EXE, "image/png")], headers=w.partner.headers
        )
        assert_problem(response, 415, "content_type_mismatch")
        with db.session(write=False) as s:
            assert s.query(MediaFile).count() == 0

    def test_disallowed_declared_type_is_415(
        self, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        w = world(admin, client, db)
        response = _upload(
            client, w.run_id, [("x.svg", b"<svg/>", "image/svg+xml")], headers=w.partner.headers
        )
        assert_problem(response, 415, "unsupported_media_type")

    def test_one_bad_file_refuses_the_whole_upload(
        self, admin: TestClient, client: TestClient, db: Database, settings: Settings
    ) -> None:
        w = world(admin, client, db)
        response = _upload(
            client,
            w.run_id,
            [("ok.png", PNG, "image/png"), ("bad.png", EXE, "image/png")],
            headers=w.partner.headers,
        )
        assert_problem(response, 415)
        with db.session(write=False) as s:
            assert s.query(MediaFile).count() == 0
        stored = [p for p in Path(settings.storage_dir).rglob("*") if p.is_file()]
        assert stored == []

    def test_file_over_the_limit_is_413(
        self, admin: TestClient, client: TestClient, db: Database, settings: Settings
    ) -> None:
        settings.media_max_bytes = 1024
        w = world(admin, client, db)
        big = PNG + b"\x00" * 2048
        response = _upload(
            client, w.run_id, [("big.png", big, "image/png")], headers=w.partner.headers
        )
        body = assert_problem(response, 413, "file_too_large")
        assert body["max_bytes"] == 1024
        stored = [p for p in Path(settings.storage_dir).rglob("*") if p.is_file()]
        assert stored == []

    def test_no_files_is_422(self, admin: TestClient, client: TestClient, db: Database) -> None:
        w = world(admin, client, db)
        body = b'--xyz\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--xyz--\r\n'
        response = client.post(
            f"/partners/production-runs/{w.run_id}/media",
            content=body,
            headers={**w.partner.headers, "content-type": "multipart/form-data; boundary=xyz"},
        )
        assert_problem(response, 422, "no_files")

    def test_empty_file_is_422(self, admin: TestClient, client: TestClient, db: Database) -> None:
        w = world(admin, client, db)
        response = _upload(
            client, w.run_id, [("e.png", b"", "image/png")], headers=w.partner.headers
        )
        assert_problem(response, 422, "empty_file")

    def test_json_body_is_415(self, admin: TestClient, client: TestClient, db: Database) -> None:
        w = world(admin, client, db)
        response = client.post(
            f"/partners/production-runs/{w.run_id}/media",
            json={"files": []},
            headers=w.partner.headers,
        )
        assert_problem(response, 415, "multipart_required")

    def test_too_many_files_is_422(
        self, admin: TestClient, client: TestClient, db: Database, settings: Settings
    ) -> None:
        settings.media_max_files = 2
        w = world(admin, client, db)
        response = _upload(
            client,
            w.run_id,
            [(f"{i}.png", PNG, "image/png") for i in range(3)],
            headers=w.partner.headers,
        )
        assert_problem(response, 422, "too_many_files")

    def test_wrong_field_name_is_422(
        self, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        w = world(admin, client, db)
        response = client.post(
            f"/partners/production-runs/{w.run_id}/media",
            files=[("photo", ("a.png", PNG, "image/png"))],
            headers=w.partner.headers,
        )
        assert_problem(response, 422, "unexpected_file_field")

    @pytest.mark.parametrize("status", ["completed", "cancelled"])
    def test_terminal_run_is_409(
        self, admin: TestClient, client: TestClient, db: Database, status: str
    ) -> None:
        w = world(admin, client, db, status=status)
        response = _upload(
            client, w.run_id, [("a.png", PNG, "image/png")], headers=w.partner.headers
        )
        assert_problem(response, 409, "run_terminal")


class TestUploadOwnership:
    def test_other_partner_gets_404(
        self, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        w = world(admin, client, db)
        other = catalog.create_partner(admin, client)
        response = _upload(client, w.run_id, [("a.png", PNG, "image/png")], headers=other.headers)
        assert_problem(response, 404, "production_run_not_found")

    def test_run_without_partner_is_404(
        self, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        w = world(admin, client, db, partner_id=None, status="awaiting_reassignment")
        response = _upload(
            client, w.run_id, [("a.png", PNG, "image/png")], headers=w.partner.headers
        )
        assert_problem(response, 404, "production_run_not_found")

    def test_unknown_run_is_404(self, admin: TestClient, client: TestClient, db: Database) -> None:
        w = world(admin, client, db)
        response = _upload(
            client, "prod_run_nope", [("a.png", PNG, "image/png")], headers=w.partner.headers
        )
        assert_problem(response, 404)

    def test_admin_token_is_403(
        self, admin: TestClient, client: TestClient, db: Database, admin_token: str
    ) -> None:
        w = world(admin, client, db)
        response = _upload(
            client, w.run_id, [("a.png", PNG, "image/png")], headers=bearer(admin_token)
        )
        assert_problem(response, 403, "partner_only")

    def test_anonymous_is_401(self, admin: TestClient, client: TestClient, db: Database) -> None:
        w = world(admin, client, db)
        response = _upload(client, w.run_id, [("a.png", PNG, "image/png")])
        assert_problem(response, 401, "not_authenticated")


class TestServing:
    @pytest.mark.parametrize(
        "key",
        ["..%2F..%2Fetc%2Fpasswd", "2026/../../secret", ".incoming/x", "a//b", "%2Fetc%2Fpasswd"],
    )
    def test_traversal_is_404(self, client: TestClient, key: str) -> None:
        assert_problem(client.get(f"/media/files/{key}"), 404)

    def test_unknown_key_is_404(self, client: TestClient) -> None:
        assert_problem(
            client.get("/media/files/2026/11/media_NOPE.png"), 404, "media_file_not_found"
        )


class TestUploadConcurrency:
    def test_parallel_uploads_all_land(
        self, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        import threading

        w = world(admin, client, db)
        barrier = threading.Barrier(6)
        statuses: list[int] = []

        def upload(n: int) -> None:
            barrier.wait()
            response = _upload(
                client, w.run_id, [(f"{n}.png", PNG, "image/png")], headers=w.partner.headers
            )
            statuses.append(response.status_code)

        threads = [threading.Thread(target=upload, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert statuses == [201] * 6
        with db.session(write=False) as s:
            names = sorted(m.filename for m in s.query(MediaFile).all())
        assert names == sorted(f"{n}.png" for n in range(6))
