from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from atelier.platform.clock import FrozenClock
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, assert_problem, bearer


class TestHealth:
    def test_reports_database(self, client: TestClient) -> None:
        response = client.get("/health")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": "ok"}

    def test_openapi_and_docs_are_served(self, client: TestClient) -> None:
        assert client.get("/openapi.json").status_code == 200
        assert client.get("/docs").status_code == 200


class TestAdminToken:
    def test_bootstrap_admin_logs_in(self, client: TestClient) -> None:
        response = client.post(
            "/auth/admin/token", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert response.status_code == 200
        assert response.json()["token"]

    def test_email_is_case_insensitive(self, client: TestClient) -> None:
        response = client.post(
            "/auth/admin/token", json={"email": ADMIN_EMAIL.upper(), "password": ADMIN_PASSWORD}
        )
        assert response.status_code == 200

    def test_wrong_password_is_401(self, client: TestClient) -> None:
        response = client.post("/auth/admin/token", json={"email": ADMIN_EMAIL, "password": "nope"})
        assert_problem(response, 401, "invalid_credentials")

    def test_unknown_email_is_401(self, client: TestClient) -> None:
        response = client.post("/auth/admin/token", json={"email": "x@y.z", "password": "whatever"})
        assert_problem(response, 401, "invalid_credentials")

    def test_missing_fields_are_422(self, client: TestClient) -> None:
        body = assert_problem(client.post("/auth/admin/token", json={}), 422, "validation_error")
        assert {e["field"] for e in body["errors"]} == {"body.email", "body.password"}

    def test_malformed_json_is_422(self, client: TestClient) -> None:
        response = client.post(
            "/auth/admin/token", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert_problem(response, 422)

    def test_unknown_field_is_422(self, client: TestClient) -> None:
        response = client.post(
            "/auth/admin/token", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "x": 1}
        )
        assert_problem(response, 422)

    def test_token_expires(self, client: TestClient, admin_token: str, clock: FrozenClock) -> None:
        clock.advance(timedelta(hours=13))
        assert_problem(
            client.get("/admin/designs", headers=bearer(admin_token)), 401, "token_expired"
        )

    def test_garbage_token_is_401(self, client: TestClient) -> None:
        assert_problem(
            client.get("/admin/designs", headers=bearer("abc.def.ghi")), 401, "invalid_token"
        )

    def test_anonymous_is_401(self, client: TestClient) -> None:
        assert_problem(client.get("/admin/designs"), 401, "not_authenticated")


class TestUnknownRoutes:
    def test_unknown_path_is_problem_404(self, client: TestClient) -> None:
        assert_problem(client.get("/nope"), 404)

    def test_removed_partner_task_routes_do_not_exist(self, client: TestClient) -> None:
        assert_problem(client.post("/partners/tasks/task_1/accept"), 404)
        assert_problem(client.post("/partners/tasks/task_1/finish"), 404)


class TestBodySizeLimit:
    def test_oversized_json_body_is_413(self, client: TestClient) -> None:
        big = "x" * (1024 * 1024 + 10)
        response = client.post("/auth/admin/token", json={"email": big, "password": "p"})
        assert_problem(response, 413, "payload_too_large")

    def test_oversized_chunked_body_is_413(self, client: TestClient) -> None:
        def chunks():  # type: ignore[no-untyped-def]
            for _ in range(20):
                yield b"a" * (64 * 1024)

        response = client.post(
            "/auth/admin/token", content=chunks(), headers={"content-type": "application/json"}
        )
        assert_problem(response, 413, "payload_too_large")
