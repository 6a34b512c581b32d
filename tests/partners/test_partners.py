from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from atelier.platform.deps import PartnerPrincipal
from tests.conftest import assert_problem
from tests.factories.catalog import DEFAULT_PARTNER_PASSWORD, create_partner


def _body(handle: str = "loom-house", user_email: str = "owner@loom.test", **partner: Any) -> Any:
    return {
        "partner": {"name": "Loom House", "handle": handle, **partner},
        "admin": {
            "email": user_email,
            "first_name": "Asha",
            "last_name": "Rao",
            "password": "s3cret-password",
        },
    }


class TestCreatePartner:
    def test_creates_partner_and_first_user(self, admin: TestClient) -> None:
        body = _body(
            whatsapp_number="+919812345678",
            email="hello@loom.test",
            preferred_language="hi",
            timezone="Asia/Kolkata",
        )
        response = admin.post("/admin/partners", json=body)
        assert response.status_code == 201, response.text
        partner = response.json()["partner"]
        assert partner["id"].startswith("partner_")
        assert (partner["name"], partner["handle"], partner["status"]) == (
            "Loom House",
            "loom-house",
            "active",
        )
        assert partner["whatsapp_number"] == "+919812345678"
        assert partner["whatsapp_verified"] is False
        assert (partner["preferred_language"], partner["timezone"]) == ("hi", "Asia/Kolkata")
        [user] = partner["users"]
        assert user["id"].startswith("puser_")
        assert (user["email"], user["first_name"], user["last_name"]) == (
            "owner@loom.test",
            "Asha",
            "Rao",
        )
        assert user["has_password"] is True and user["role"] == "owner"

    def test_never_returns_password_or_hash(self, admin: TestClient) -> None:
        response = admin.post("/admin/partners", json=_body())
        text = response.text
        assert "password_hash" not in text and "s3cret-password" not in text
        assert "argon2" not in text

    def test_user_can_sign_in(self, admin: TestClient, client: TestClient) -> None:
        partner = admin.post("/admin/partners", json=_body()).json()["partner"]
        response = client.post(
            "/auth/partner/token", json={"email": "OWNER@loom.test", "password": "s3cret-password"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["partner_id"] == partner["id"]

    def test_without_password_user_cannot_sign_in_with_one(
        self, admin: TestClient, client: TestClient
    ) -> None:
        body = _body()
        del body["admin"]["password"]
        user = admin.post("/admin/partners", json=body).json()["partner"]["users"][0]
        assert user["has_password"] is False
        for password in ("s3cret-password", "", "None"):
            response = client.post(
                "/auth/partner/token", json={"email": "owner@loom.test", "password": password}
            )
            assert response.status_code in {401, 422}

    def test_handle_is_normalised_to_lower_case(self, admin: TestClient) -> None:
        partner = admin.post("/admin/partners", json=_body(handle=" Loom-House ")).json()
        assert partner["partner"]["handle"] == "loom-house"

    def test_pending_status_can_be_set(self, admin: TestClient) -> None:
        partner = admin.post("/admin/partners", json=_body(status="pending")).json()["partner"]
        assert partner["status"] == "pending"


class TestCreatePartnerConflicts:
    def test_handle_taken_is_409(self, admin: TestClient) -> None:
        admin.post("/admin/partners", json=_body())
        response = admin.post(
            "/admin/partners", json=_body(handle="LOOM-HOUSE", user_email="b@x.test")
        )
        assert_problem(response, 409, "handle_taken")
        assert admin.get("/admin/partners").json()["count"] == 1

    def test_user_email_taken_is_409_and_nothing_created(self, admin: TestClient) -> None:
        admin.post("/admin/partners", json=_body())
        response = admin.post(
            "/admin/partners", json=_body(handle="other", user_email="Owner@Loom.test")
        )
        assert_problem(response, 409, "email_taken")
        assert admin.get("/admin/partners").json()["count"] == 1

    def test_concurrent_creates_with_one_handle(self, admin: TestClient) -> None:
        barrier = threading.Barrier(2)
        statuses: list[int] = []
        codes: list[str] = []

        def create(n: int) -> None:
            barrier.wait()
            response = admin.post("/admin/partners", json=_body(user_email=f"u{n}@race.test"))
            statuses.append(response.status_code)
            if response.status_code == 409:
                codes.append(response.json()["code"])

        threads = [threading.Thread(target=create, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(statuses) == [201, 409]
        assert codes == ["handle_taken"]
        assert admin.get("/admin/partners").json()["count"] == 1

    def test_concurrent_creates_with_one_email(self, admin: TestClient) -> None:
        barrier = threading.Barrier(2)
        statuses: list[int] = []

        def create(n: int) -> None:
            barrier.wait()
            response = admin.post("/admin/partners", json=_body(handle=f"race-{n}"))
            statuses.append(response.status_code)

        threads = [threading.Thread(target=create, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(statuses) == [201, 409]
        assert admin.get("/admin/partners").json()["count"] == 1


def _with(partner: dict[str, Any] | None = None, user: dict[str, Any] | None = None) -> Any:
    body = _body()
    body["partner"].update(partner or {})
    body["admin"].update(user or {})
    return body


class TestCreatePartnerBadInput:
    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"partner": {"name": "x", "handle": "xx"}},
            {"admin": {"email": "a@b.test", "first_name": "a", "last_name": "b"}},
            _with({"name": ""}),
            _with({"name": "n" * 10_000}),
            _with({"name": "a\x00b"}),
            _with({"name": 12}),
            _with({"handle": "x"}),
            _with({"handle": "has space"}),
            _with({"handle": "-leading"}),
            _with({"handle": "h" * 65}),
            _with({"handle": "a\x00b"}),
            _with({"status": "deleted"}),
            _with({"preferred_language": "fr"}),
            _with({"timezone": "Mars/Olympus"}),
            _with({"timezone": "../../etc/passwd"}),
            _with({"timezone": "t" * 100}),
            _with({"whatsapp_number": "98123"}),
            _with({"whatsapp_number": "+91 98123 45678"}),
            _with({"email": "not-an-email"}),
            _with({"metadata": [1]}),
            _with({"unknown": True}),
            _with(user={"email": "nope"}),
            _with(user={"email": "a\x00b@x.test"}),
            _with({"email": "a\x00b@x.test"}),
            _with(user={"email": "e" * 300 + "@x.test"}),
            _with(user={"first_name": "f" * 10_000}),
            _with(user={"last_name": "a\x00"}),
            _with(user={"password": "short"}),
            _with(user={"password": "p" * 300}),
            _with(user={"role": "superuser"}),
            _with(user={"is_admin": True}),
        ],
    )
    def test_is_422(self, admin: TestClient, body: dict[str, Any]) -> None:
        assert_problem(admin.post("/admin/partners", json=body), 422, "validation_error")
        assert admin.get("/admin/partners").json()["count"] == 0

    def test_missing_user_names_are_422(self, admin: TestClient) -> None:
        body = _body()
        del body["admin"]["first_name"]
        problem = assert_problem(admin.post("/admin/partners", json=body), 422)
        assert any(e["field"].endswith("first_name") for e in problem["errors"])


class TestReadPartners:
    def test_get_includes_users(self, admin: TestClient, client: TestClient) -> None:
        partner = create_partner(admin, client)
        response = admin.get(f"/admin/partners/{partner.id}")
        assert response.status_code == 200
        body = response.json()["partner"]
        assert [u["email"] for u in body["users"]] == [partner.email]
        assert body["users"][0]["last_login_at"] is not None

    def test_unknown_is_404(self, admin: TestClient) -> None:
        assert_problem(admin.get("/admin/partners/partner_nope"), 404, "partner_not_found")

    def test_oversized_id_is_422(self, admin: TestClient) -> None:
        assert_problem(admin.get(f"/admin/partners/{'p' * 65}"), 422)

    def test_list_filters_search_and_paginates(self, admin: TestClient, client: TestClient) -> None:
        a = create_partner(admin, client, name="Indigo Dyers", handle="indigo")
        b = create_partner(admin, client, name="Tailor Co", handle="tailors-blue", status="pending")
        c = create_partner(admin, client, name="Weavers", handle="weave")
        body = admin.get("/admin/partners").json()
        assert (body["count"], body["limit"], body["offset"]) == (3, 50, 0)
        assert [p["id"] for p in body["partners"]] == [c.id, b.id, a.id]
        assert "users" not in body["partners"][0]
        pending = admin.get("/admin/partners", params={"status": "pending"}).json()
        assert [p["id"] for p in pending["partners"]] == [b.id]
        by_name = admin.get("/admin/partners", params={"q": "INDIGO"}).json()
        assert [p["id"] for p in by_name["partners"]] == [a.id]
        by_handle = admin.get("/admin/partners", params={"q": "blue"}).json()
        assert [p["id"] for p in by_handle["partners"]] == [b.id]
        page = admin.get("/admin/partners", params={"limit": 1, "offset": 1}).json()
        assert page["count"] == 3 and [p["id"] for p in page["partners"]] == [b.id]

    @pytest.mark.parametrize(
        "params",
        [{"limit": 0}, {"limit": 501}, {"offset": -1}, {"status": "gone"}, {"q": "q" * 201}],
    )
    def test_bad_query_is_422(self, admin: TestClient, params: dict[str, Any]) -> None:
        assert_problem(admin.get("/admin/partners", params=params), 422, "validation_error")


class TestUpdatePartner:
    def test_updates_fields_sent(self, admin: TestClient, client: TestClient) -> None:
        partner = create_partner(admin, client, name="Old", preferred_language="en")
        response = admin.post(
            f"/admin/partners/{partner.id}",
            json={
                "name": "New",
                "whatsapp_number": "+919900000000",
                "preferred_language": "hi",
                "timezone": "Europe/London",
            },
        )
        assert response.status_code == 200, response.text
        updated = response.json()["partner"]
        assert updated["name"] == "New" and updated["handle"] == partner.handle
        assert updated["whatsapp_number"] == "+919900000000"
        assert updated["whatsapp_verified"] is False
        assert (updated["preferred_language"], updated["timezone"]) == ("hi", "Europe/London")
        assert len(updated["users"]) == 1

    def test_new_number_resets_verification(self, admin: TestClient, client: TestClient) -> None:
        partner = create_partner(
            admin, client, whatsapp_number="+919800000001", whatsapp_verified=True
        )
        path = f"/admin/partners/{partner.id}"
        same = admin.post(path, json={"whatsapp_number": "+919800000001"}).json()["partner"]
        assert same["whatsapp_verified"] is True
        changed = admin.post(path, json={"whatsapp_number": "+919800000002"}).json()["partner"]
        assert changed["whatsapp_verified"] is False
        verified = admin.post(path, json={"whatsapp_verified": True}).json()["partner"]
        assert verified["whatsapp_verified"] is True

    def test_null_clears_optional_fields(self, admin: TestClient, client: TestClient) -> None:
        partner = create_partner(admin, client, timezone="Asia/Kolkata", email="w@x.test")
        updated = admin.post(
            f"/admin/partners/{partner.id}", json={"timezone": None, "email": None}
        ).json()["partner"]
        assert updated["timezone"] is None and updated["email"] is None

    @pytest.mark.parametrize(
        "body",
        [
            {"status": "deleted"},
            {"status": None},
            {"name": None},
            {"name": "n" * 10_000},
            {"handle": "new-handle"},
            {"timezone": "Nowhere/City"},
            {"preferred_language": "de"},
            {"whatsapp_verified": "maybe"},
            {"whatsapp_number": "12"},
        ],
    )
    def test_bad_input_is_422(
        self, admin: TestClient, client: TestClient, body: dict[str, Any]
    ) -> None:
        partner = create_partner(admin, client, name="Unchanged")
        assert_problem(admin.post(f"/admin/partners/{partner.id}", json=body), 422)
        current = admin.get(f"/admin/partners/{partner.id}").json()["partner"]
        assert current["name"] == "Unchanged" and current["status"] == "active"

    def test_unknown_is_404(self, admin: TestClient) -> None:
        response = admin.post("/admin/partners/partner_nope", json={"name": "x"})
        assert_problem(response, 404, "partner_not_found")


class TestInactivePartner:
    @pytest.fixture
    def whoami(self, app: FastAPI) -> str:
        """A partner-only route mounted for the test, to exercise ``require_partner``."""

        @app.get("/partners/_test/whoami")
        def _whoami(principal: PartnerPrincipal) -> dict[str, str | None]:
            return {"partner_id": principal.partner_id}

        return "/partners/_test/whoami"

    def test_existing_token_stops_working(
        self, admin: TestClient, client: TestClient, whoami: str
    ) -> None:
        partner = create_partner(admin, client)
        assert client.get(whoami, headers=partner.headers).json() == {"partner_id": partner.id}
        admin.post(f"/admin/partners/{partner.id}", json={"status": "inactive"})
        assert_problem(client.get(whoami, headers=partner.headers), 403, "partner_inactive")

    def test_cannot_sign_in(self, admin: TestClient, client: TestClient) -> None:
        partner = create_partner(admin, client)
        admin.post(f"/admin/partners/{partner.id}", json={"status": "inactive"})
        response = client.post(
            "/auth/partner/token",
            json={"email": partner.email, "password": DEFAULT_PARTNER_PASSWORD},
        )
        assert_problem(response, 403, "partner_inactive")

    def test_reactivated_partner_signs_in_again(
        self, admin: TestClient, client: TestClient, whoami: str
    ) -> None:
        partner = create_partner(admin, client)
        admin.post(f"/admin/partners/{partner.id}", json={"status": "inactive"})
        admin.post(f"/admin/partners/{partner.id}", json={"status": "active"})
        assert client.get(whoami, headers=partner.headers).status_code == 200


class TestAddPartnerUser:
    def test_adds_a_user_who_can_sign_in(self, admin: TestClient, client: TestClient) -> None:
        partner = create_partner(admin, client)
        response = admin.post(
            f"/admin/partners/{partner.id}/users",
            json={
                "email": "Second@Shop.test",
                "first_name": "Ravi",
                "last_name": "K",
                "password": "another-password",
                "phone": "+919811111111",
                "role": "member",
            },
        )
        assert response.status_code == 201, response.text
        body = response.json()
        user = body["partner_user"]
        assert user["email"] == "second@shop.test" and user["role"] == "member"
        assert user["partner_id"] == partner.id and user["phone"] == "+919811111111"
        assert "password_hash" not in response.text
        assert [u["email"] for u in body["partner"]["users"]] == [partner.email, user["email"]]
        login = client.post(
            "/auth/partner/token",
            json={"email": "second@shop.test", "password": "another-password"},
        )
        assert login.json()["partner_id"] == partner.id

    def test_default_role_is_member_without_password(
        self, admin: TestClient, client: TestClient
    ) -> None:
        partner = create_partner(admin, client)
        response = admin.post(
            f"/admin/partners/{partner.id}/users",
            json={"email": "wa@shop.test", "first_name": "Wa", "last_name": ""},
        )
        user = response.json()["partner_user"]
        assert (user["role"], user["has_password"]) == ("member", False)

    def test_email_taken_across_partners_is_409(
        self, admin: TestClient, client: TestClient
    ) -> None:
        first = create_partner(admin, client)
        second = create_partner(admin, client)
        response = admin.post(
            f"/admin/partners/{second.id}/users",
            json={"email": first.email.upper(), "first_name": "a", "last_name": "b"},
        )
        assert_problem(response, 409, "email_taken")

    def test_unknown_partner_is_404(self, admin: TestClient) -> None:
        response = admin.post(
            "/admin/partners/partner_nope/users",
            json={"email": "a@b.test", "first_name": "a", "last_name": "b"},
        )
        assert_problem(response, 404, "partner_not_found")

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"email": "a@b.test"},
            {"email": "a@b.test", "first_name": "", "last_name": "b"},
            {"email": "bad", "first_name": "a", "last_name": "b"},
            {"email": "a@b.test", "first_name": "a" * 10_000, "last_name": "b"},
            {"email": "a@b.test", "first_name": "a", "last_name": "b", "password": "1"},
            {"email": "a@b.test", "first_name": "a", "last_name": "b", "partner_id": "x"},
        ],
    )
    def test_bad_input_is_422(
        self, admin: TestClient, client: TestClient, body: dict[str, Any]
    ) -> None:
        partner = create_partner(admin, client)
        assert_problem(admin.post(f"/admin/partners/{partner.id}/users", json=body), 422)


PARTNER_ADMIN_ROUTES = [
    ("GET", "/admin/partners", None),
    ("POST", "/admin/partners", _body()),
    ("GET", "/admin/partners/partner_x", None),
    ("POST", "/admin/partners/partner_x", {"name": "x"}),
    (
        "POST",
        "/admin/partners/partner_x/users",
        {"email": "a@b.test", "first_name": "a", "last_name": "b"},
    ),
    ("POST", "/admin/partners/partner_x/users/puser_x", {"role": "member"}),
]


class TestPartnerAdminAuth:
    @pytest.mark.parametrize(("method", "path", "body"), PARTNER_ADMIN_ROUTES)
    def test_anonymous_is_401(
        self, client: TestClient, method: str, path: str, body: dict[str, Any] | None
    ) -> None:
        assert_problem(client.request(method, path, json=body), 401, "not_authenticated")

    @pytest.mark.parametrize(("method", "path", "body"), PARTNER_ADMIN_ROUTES)
    def test_partner_token_is_403(
        self,
        admin: TestClient,
        client: TestClient,
        method: str,
        path: str,
        body: dict[str, Any] | None,
    ) -> None:
        partner = create_partner(admin, client)
        response = client.request(method, path, json=body, headers=partner.headers)
        assert_problem(response, 403, "admin_only")


class TestUpdatePartnerUser:
    def _user_path(self, partner_id: str, user_id: str) -> str:
        return f"/admin/partners/{partner_id}/users/{user_id}"

    def test_sets_a_password_for_a_whatsapp_only_user(
        self, admin: TestClient, client: TestClient
    ) -> None:
        partner = create_partner(admin, client, user={"password": None})
        assert partner.token is None
        response = admin.post(
            self._user_path(partner.id, partner.user_id),
            json={"password": "now-with-password", "first_name": "Meera"},
        )
        assert response.status_code == 200, response.text
        user = response.json()["partner_user"]
        assert user["has_password"] is True and user["first_name"] == "Meera"
        assert "now-with-password" not in response.text
        login = client.post(
            "/auth/partner/token", json={"email": partner.email, "password": "now-with-password"}
        )
        assert login.status_code == 200

    def test_password_null_removes_password_sign_in(
        self, admin: TestClient, client: TestClient
    ) -> None:
        partner = create_partner(admin, client)
        admin.post(self._user_path(partner.id, partner.user_id), json={"password": None})
        login = client.post(
            "/auth/partner/token",
            json={"email": partner.email, "password": DEFAULT_PARTNER_PASSWORD},
        )
        assert_problem(login, 401, "invalid_credentials")

    def test_deactivated_user_is_locked_out(
        self, admin: TestClient, client: TestClient, app: FastAPI
    ) -> None:
        @app.get("/partners/_test/me")
        def _me(principal: PartnerPrincipal) -> dict[str, str]:
            return {"user_id": principal.user_id}

        partner = create_partner(admin, client)
        admin.post(self._user_path(partner.id, partner.user_id), json={"is_active": False})
        assert_problem(client.get("/partners/_test/me", headers=partner.headers), 401)
        login = client.post(
            "/auth/partner/token",
            json={"email": partner.email, "password": DEFAULT_PARTNER_PASSWORD},
        )
        assert_problem(login, 401, "invalid_credentials")

    def test_user_of_another_partner_is_404(self, admin: TestClient, client: TestClient) -> None:
        first = create_partner(admin, client)
        second = create_partner(admin, client)
        response = admin.post(self._user_path(second.id, first.user_id), json={"role": "member"})
        assert_problem(response, 404, "partner_user_not_found")
        response = admin.post(self._user_path("partner_nope", first.user_id), json={})
        assert_problem(response, 404, "partner_not_found")

    @pytest.mark.parametrize(
        "body",
        [
            {"is_active": None},
            {"role": "admin"},
            {"first_name": ""},
            {"password": "short"},
            {"email": "new@x.test"},
            {"partner_id": "partner_x"},
        ],
    )
    def test_bad_input_is_422(
        self, admin: TestClient, client: TestClient, body: dict[str, Any]
    ) -> None:
        partner = create_partner(admin, client)
        assert_problem(admin.post(self._user_path(partner.id, partner.user_id), json=body), 422)
