"""WhatsApp platforms (write-only secrets) and the template API forwarding to the Graph API."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from atelier.notifications import catalog
from tests.conftest import assert_problem
from tests.factories import catalog as factories
from tests.notifications.fakes import FakeGraph, graph_error
from tests.notifications.support import AU_SECRETS, IN_SECRETS, create_platforms

SECRET_VALUES = [*IN_SECRETS.values(), *AU_SECRETS.values()]


def _body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "label": "UK",
        "phone_number_id": "1100000099",
        "waba_id": "2200000099",
        "country_codes": ["+44"],
        "access_token": "uk-token-secret-0001",
        "app_secret": "uk-app-secret-0001",
        "verify_token": "uk-verify-0001",
    }
    body.update(overrides)
    return body


class TestPlatforms:
    def test_create_list_get_never_return_secrets(
        self, admin: TestClient, graph: FakeGraph
    ) -> None:
        platforms = create_platforms(admin, graph)
        india = platforms["IN"]
        assert india["country_codes"] == ["+91"]
        assert india["effective_languages"] == ["en", "hi"]
        assert platforms["AU"]["country_codes"] == ["+61"]
        assert platforms["AU"]["effective_languages"] == ["en"]
        assert india["has_access_token"] and india["has_app_secret"] and india["has_verify_token"]
        listing = admin.get("/admin/whatsapp/platforms")
        detail = admin.get(f"/admin/whatsapp/platforms/{india['id']}")
        assert listing.status_code == 200 and detail.status_code == 200
        assert listing.json()["count"] == 2
        for text in (listing.text, detail.text, str(platforms)):
            for secret in SECRET_VALUES:
                assert secret not in text
            assert '"access_token"' not in text and '"app_secret"' not in text

    def test_update_replaces_only_the_secrets_sent(
        self, admin: TestClient, client: TestClient, graph: FakeGraph
    ) -> None:
        platforms = create_platforms(admin, graph)
        url = f"/admin/whatsapp/platforms/{platforms['IN']['id']}"
        response = admin.patch(url, json={"verify_token": "rotated-verify", "languages": ["en"]})
        assert response.status_code == 200, response.text
        assert response.json()["whatsapp_platform"]["effective_languages"] == ["en"]
        check = {"hub.mode": "subscribe", "hub.challenge": "42"}
        assert (
            client.get(
                "/webhooks/whatsapp", params={**check, "hub.verify_token": "rotated-verify"}
            ).text
            == "42"
        )
        old = {**check, "hub.verify_token": IN_SECRETS["verify_token"]}
        assert client.get("/webhooks/whatsapp", params=old).status_code == 403
        # The app secret was not sent, so it still verifies signatures.
        from tests.notifications.support import post_webhook, webhook_body

        body = webhook_body("1100000001", statuses=[])
        assert post_webhook(client, body, IN_SECRETS["app_secret"]).status_code == 200
        reset = admin.patch(url, json={"languages": None})
        assert reset.json()["whatsapp_platform"]["effective_languages"] == ["en", "hi"]

    def test_conflicts_validation_and_404(self, admin: TestClient, graph: FakeGraph) -> None:
        platforms = create_platforms(admin, graph)
        assert_problem(
            admin.post("/admin/whatsapp/platforms", json=_body(label="in")), 409, "label_taken"
        )
        assert_problem(
            admin.post("/admin/whatsapp/platforms", json=_body(phone_number_id="1100000001")),
            409,
            "phone_number_id_taken",
        )
        assert_problem(
            admin.patch(f"/admin/whatsapp/platforms/{platforms['AU']['id']}", json={"label": "IN"}),
            409,
            "label_taken",
        )
        for bad in (
            _body(country_codes=[]),
            _body(country_codes=["India"]),
            _body(phone_number_id="abc"),
            _body(languages=["fr"]),
            _body(access_token=""),
            _body(label="x\x00y"),
            _body(extra="field"),
            {k: v for k, v in _body().items() if k != "app_secret"},
        ):
            assert_problem(admin.post("/admin/whatsapp/platforms", json=bad), 422)
        assert_problem(
            admin.get("/admin/whatsapp/platforms/waplat_nope"), 404, "whatsapp_platform_not_found"
        )
        assert_problem(admin.patch("/admin/whatsapp/platforms/waplat_nope", json={}), 404)
        assert_problem(admin.delete("/admin/whatsapp/platforms/waplat_nope"), 404)
        created = admin.post("/admin/whatsapp/platforms", json=_body())
        assert created.status_code == 201
        assert (
            admin.delete(
                f"/admin/whatsapp/platforms/{created.json()['whatsapp_platform']['id']}"
            ).status_code
            == 204
        )
        assert admin.get("/admin/whatsapp/platforms").json()["count"] == 2

    def test_only_admins(self, admin: TestClient, client: TestClient, graph: FakeGraph) -> None:
        platforms = create_platforms(admin, graph)
        partner = factories.create_partner(admin, client)
        one = f"/admin/whatsapp/platforms/{platforms['IN']['id']}"
        for method, url, body in (
            ("GET", "/admin/whatsapp/platforms", None),
            ("POST", "/admin/whatsapp/platforms", _body()),
            ("GET", one, None),
            ("PATCH", one, {"label": "X"}),
            ("DELETE", one, None),
            ("GET", "/admin/whatsapp/templates?platform_id=" + platforms["IN"]["id"], None),
        ):
            assert_problem(client.request(method, url, json=body), 401)
            assert_problem(client.request(method, url, json=body, headers=partner.headers), 403)


class TestTemplatesApi:
    def test_list_reads_the_graph_api(self, admin: TestClient, graph: FakeGraph) -> None:
        platforms = create_platforms(admin, graph)
        graph.templates["2200000001"] = [
            {
                "id": "1",
                "name": catalog.RUN_CANCELLED.name,
                "language": "hi",
                "status": "APPROVED",
                "category": "UTILITY",
            },
            {
                "id": "2",
                "name": "hello_world",
                "language": "en_US",
                "status": "APPROVED",
                "category": "UTILITY",
            },
            {
                "id": "3",
                "name": catalog.RUN_COMPLETED.name,
                "language": "en",
                "status": "PENDING",
                "category": "UTILITY",
            },
        ]
        response = admin.get(
            "/admin/whatsapp/templates", params={"platform_id": platforms["IN"]["id"]}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["count"] == 3
        assert [t["in_catalogue"] for t in body["templates"]] == [True, False, True]
        approved = admin.get(
            "/admin/whatsapp/templates",
            params={"platform_id": platforms["IN"]["id"], "status": "approved"},
        ).json()
        assert [t["name"] for t in approved["templates"]] == [
            catalog.RUN_CANCELLED.name,
            "hello_world",
        ]
        [request] = [
            r for r in graph.requests if r.method == "GET" and "status=APPROVED" in r.query
        ]
        assert request.headers["authorization"] == f"Bearer {IN_SECRETS['access_token']}"
        assert IN_SECRETS["access_token"] not in request.query

    def test_create_forwards_and_errors_are_502(self, admin: TestClient, graph: FakeGraph) -> None:
        platforms = create_platforms(admin, graph)
        request = catalog.creation_request(
            catalog.REMINDER_PENDING, "hi", "https://atelier.example"
        )
        url = "/admin/whatsapp/templates?platform_id=" + platforms["IN"]["id"]
        created = admin.post(url, json=request)
        assert created.status_code == 201, created.text
        assert created.json()["template"]["status"] == "PENDING"
        [forwarded] = [
            r for r in graph.requests if r.method == "POST" and r.path.endswith("message_templates")
        ]
        assert forwarded.path == "/v21.0/2200000001/message_templates"
        assert forwarded.body["components"] == request["components"]
        assert forwarded.body["name"] == request["name"] and forwarded.body["language"] == "hi"

        graph.template_responses.append(
            (400, graph_error(100, "Invalid parameter", "Message template already exists in hi"))
        )
        refused = assert_problem(admin.post(url, json=request), 502, "whatsapp_api_error")
        assert "already exists" in refused["detail"]
        assert refused["provider_code"] == "100"

        graph.tokens.clear()  # Meta no longer accepts the token
        assert_problem(admin.get(url), 502, "whatsapp_api_error")

    def test_bad_requests(self, admin: TestClient, graph: FakeGraph) -> None:
        platforms = create_platforms(admin, graph)
        url = "/admin/whatsapp/templates?platform_id=" + platforms["IN"]["id"]
        good = {
            "name": "x_y",
            "category": "UTILITY",
            "language": "en",
            "components": [{"type": "BODY", "text": "hi"}],
        }
        assert_problem(admin.post(url, json={**good, "name": "Bad Name"}), 422)
        assert_problem(admin.post(url, json={**good, "category": "SPAM"}), 422)
        assert_problem(admin.post(url, json={**good, "components": []}), 422)
        assert_problem(
            admin.post("/admin/whatsapp/templates?platform_id=waplat_nope", json=good), 404
        )
        assert_problem(admin.get("/admin/whatsapp/templates"), 422)
        assert_problem(
            admin.get("/admin/whatsapp/templates", params={"platform_id": "waplat_nope"}), 404
        )

    def test_unreachable_graph_api_is_502(
        self, admin: TestClient, graph: FakeGraph, settings: Any
    ) -> None:
        platforms = create_platforms(admin, graph)
        admin.app.state.settings = settings.model_copy(  # type: ignore[attr-defined]
            update={"whatsapp_graph_url": "http://127.0.0.1:9/v21.0"}
        )
        response = admin.get(
            "/admin/whatsapp/templates", params={"platform_id": platforms["IN"]["id"]}
        )
        assert_problem(response, 502, "whatsapp_api_error")
