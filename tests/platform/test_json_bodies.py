"""JSON request bodies: malformed JSON is 422; body numbers and booleans are strict (issue 8)."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel, TypeAdapter

from atelier.app import ROUTER_MODULES
from atelier.orders import webhooks
from atelier.platform.db import Database
from atelier.platform.jsonbody import MAX_DEPTH, MalformedJson, decode_json_body
from atelier.platform.schemas import (
    json_boolean,
    json_input,
    json_integer,
    json_number,
    refuse_bool,
)
from tests.conftest import assert_problem
from tests.factories.catalog import create_design, create_partner, create_product
from tests.factories.inventory import create_item
from tests.orders.test_admin_orders import order_count
from tests.orders.test_webhooks import atelier_sig, post_shopify, shopify_order

JSON_HEADERS = {"content-type": "application/json"}


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


MALFORMED: list[Any] = [
    pytest.param(b'{"name": "caf\xe9"}', "not UTF-8", id="invalid-utf8"),
    pytest.param(b"\xff\xfe{}", "not UTF-8", id="utf16-bom"),
    pytest.param(b'{"name": ' + _nested(100_000) + b"}", "nested", id="deep-100000"),
    pytest.param(b'{"name": ' + _nested(995) + b"}", "nested", id="deep-995"),
    pytest.param(b'{"metadata": {"a": ' + _nested(MAX_DEPTH) + b"}}", "nested", id="deep-34"),
    pytest.param(b'{"name": ' + b"9" * 5000 + b"}", "4300 digits", id="5000-digit-int"),
    pytest.param(b'{"name": NaN}', "NaN", id="nan"),
    pytest.param(b'{"name": -Infinity}', "Infinity", id="infinity"),
    pytest.param(b'{"name": 1e400}', "out of range", id="float-overflow"),
    pytest.param(b'{"name": "\\ud800"}', "surrogate", id="lone-surrogate"),
    pytest.param(b'{"\\udfff": 1}', "surrogate", id="lone-surrogate-key"),
    pytest.param(b'{"name": ', "Expecting value", id="truncated"),
]


class TestMalformedJson:
    @pytest.mark.parametrize(("raw", "reason"), MALFORMED)
    @pytest.mark.parametrize("path", ["/admin/designs", "/auth/admin/token", "/admin/orders"])
    def test_is_422_validation_error(
        self, admin: TestClient, raw: bytes, reason: str, path: str
    ) -> None:
        body = assert_problem(
            admin.post(path, content=raw, headers=JSON_HEADERS), 422, "validation_error"
        )
        assert body["errors"][0]["field"] == "body"
        assert body["errors"][0]["type"] == "json_invalid"
        assert reason in body["detail"], body

    @pytest.mark.parametrize(("raw", "reason"), MALFORMED)
    def test_signed_webhook_is_422_and_stores_nothing(
        self, client: TestClient, db: Database, raw: bytes, reason: str
    ) -> None:
        signed = {"X-Atelier-Signature": atelier_sig(raw)}
        for headers in (signed, {**signed, **JSON_HEADERS}):
            response = client.post("/webhooks/orders", content=raw, headers=headers)
            body = assert_problem(response, 422, "validation_error")
            assert body["errors"][0]["type"] == "json_invalid" and reason in body["detail"]
        assert order_count(db) == 0

    def test_json_subtype_and_charset_parameter_are_checked(self, admin: TestClient) -> None:
        for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
            response = admin.post(
                "/admin/designs", content=b'{"name": NaN}', headers={"content-type": content_type}
            )
            assert_problem(response, 422, "validation_error")

    def test_nesting_up_to_the_limit_is_stored(self, admin: TestClient) -> None:
        # The body itself is one object deep, so metadata may nest MAX_DEPTH - 1 levels.
        inner: Any = "leaf"
        for _ in range(MAX_DEPTH - 2):
            inner = {"k": inner}
        design = create_design(admin, metadata={"a": inner})
        again = admin.get(f"/admin/designs/{design['id']}").json()["design"]
        assert again["metadata"] == {"a": inner}

    def test_unicode_and_bom_are_accepted(self, admin: TestClient) -> None:
        raw = "\ufeff" + json.dumps({"name": "Kurta 😀 café"}, ensure_ascii=False)
        response = admin.post("/admin/designs", content=raw.encode(), headers=JSON_HEADERS)
        assert response.status_code == 201, response.text
        assert response.json()["design"]["name"] == "Kurta 😀 café"

    def test_chunked_json_body_reaches_the_endpoint(self, admin: TestClient) -> None:
        raw = json.dumps({"name": "Chunked"}).encode()

        def chunks() -> Iterator[bytes]:
            yield raw[:5]
            yield raw[5:]

        response = admin.post("/admin/designs", content=chunks(), headers=JSON_HEADERS)
        assert response.status_code == 201, response.text

    def test_empty_body_is_still_the_endpoint_s_own_answer(self, admin: TestClient) -> None:
        body = assert_problem(admin.post("/admin/designs", content=b"", headers=JSON_HEADERS), 422)
        assert body["errors"][0]["type"] == "missing"

    def test_decoder_refuses_and_accepts(self) -> None:
        assert decode_json_body(b'{"a": [1, 2.5, "x", null, true]}') == {
            "a": [1, 2.5, "x", None, True]
        }
        with pytest.raises(MalformedJson):
            decode_json_body(_nested(MAX_DEPTH + 1))
        assert decode_json_body(_nested(MAX_DEPTH)) is not None


# --- strict numbers and booleans -------------------------------------------------------------


class TestStrictNumbers:
    @pytest.mark.parametrize("quantity", [True, False, "3", 3.5, 3.0, None, [3]])
    def test_order_line_quantity_must_be_a_json_integer(
        self, admin: TestClient, client: TestClient, db: Database, quantity: Any
    ) -> None:
        product = create_product(admin)
        line = {"product_id": product["id"], "quantity": quantity}
        body = assert_problem(admin.post("/admin/orders", json={"items": [line]}), 422)
        assert body["errors"][0]["field"] == "body.items.0.quantity"
        raw = json.dumps({"items": [line]}).encode()
        signed = client.post(
            "/webhooks/orders", content=raw, headers={"X-Atelier-Signature": atelier_sig(raw)}
        )
        assert_problem(signed, 422, "validation_error")
        shopify = shopify_order()
        shopify["line_items"][0]["quantity"] = quantity
        assert_problem(post_shopify(client, shopify), 422, "validation_error")
        assert order_count(db) == 0

    def test_integer_quantity_is_accepted(self, admin: TestClient) -> None:
        product = create_product(admin)
        response = admin.post(
            "/admin/orders", json={"items": [{"product_id": product["id"], "quantity": 3}]}
        )
        assert response.status_code == 201, response.text
        assert response.json()["order"]["items"][0]["quantity"] == 3

    def test_run_quantity_refuses_a_string(self, admin: TestClient) -> None:
        design = create_design(admin)
        body = {"design_id": design["id"], "quantity": "10"}
        assert_problem(admin.post("/admin/production-runs", json=body), 422, "validation_error")
        body["quantity"] = 10
        assert admin.post("/admin/production-runs", json=body).status_code == 201

    def test_float_field_takes_integers_and_refuses_strings_and_booleans(
        self, admin: TestClient
    ) -> None:
        design, item = create_design(admin), create_item(admin)
        url = f"/admin/designs/{design['id']}/inventory"
        for bad in ("2.5", True):
            line = {"inventory_item_id": item["id"], "planned_quantity": bad}
            assert_problem(admin.post(url, json={"items": [line]}), 422, "validation_error")
        line = {"inventory_item_id": item["id"], "planned_quantity": 2}
        bom = admin.post(url, json={"items": [line]}).json()["design"]["bom"]
        assert bom[0]["planned_quantity"] == 2.0

    def test_boolean_field_refuses_strings_and_numbers(
        self, admin: TestClient, client: TestClient
    ) -> None:
        partner = create_partner(admin, client)
        url = f"/admin/partners/{partner.id}"
        for bad in ("true", 1, "yes"):
            response = admin.post(url, json={"whatsapp_verified": bad})
            assert_problem(response, 422, "validation_error")
        ok = admin.post(url, json={"whatsapp_verified": True})
        assert ok.status_code == 200, ok.text
        assert ok.json()["partner"]["whatsapp_verified"] is True

    def test_money_takes_decimal_strings_and_numbers_not_booleans(self, admin: TestClient) -> None:
        for cost, stored in (("12.50", "12.50"), (7, "7")):
            response = admin.post("/admin/task-templates", json={"name": f"T{cost}", "cost": cost})
            assert response.status_code == 201, response.text
            assert response.json()["task_template"]["cost"].startswith(stored)
        bad = admin.post("/admin/task-templates", json={"name": "Tbool", "cost": True})
        assert_problem(bad, 422, "validation_error")

    def test_outside_json_input_form_text_is_coerced(self) -> None:
        # HTML forms (the web app) send text; only JSON input is strict. Booleans never count.
        from atelier.orders.schemas import OrderCreate

        line = {"product_id": "p1", "quantity": "3"}
        assert OrderCreate.model_validate({"items": [line]}).items[0].quantity == 3
        with json_input(), pytest.raises(ValueError, match="JSON number"):
            OrderCreate.model_validate({"items": [line]})
        with pytest.raises(ValueError, match="boolean"):
            OrderCreate.model_validate({"items": [{**line, "quantity": True}]})

    def test_query_parameters_keep_their_coercion(self, admin: TestClient) -> None:
        runs = admin.get(
            "/admin/production-runs", params={"include_children": "true", "limit": "5"}
        )
        assert runs.status_code == 200, runs.text
        assert runs.json()["limit"] == 5
        feed = admin.get("/admin/feed", params={"unread": "true", "limit": "2"})
        assert feed.status_code == 200, feed.text


def _body_models() -> dict[str, Any]:
    """Every request body type the API accepts: route bodies plus the webhook adapters."""
    found: dict[str, Any] = {}
    for name in ROUTER_MODULES:
        for route in importlib.import_module(name).router.routes:
            if isinstance(route, APIRoute) and route.body_field is not None:
                found[f"{sorted(route.methods)[0]} {route.path}"] = route.body_field.field_info
    for model in (webhooks.ShopifyOrder, webhooks.MedusaOrder):
        found[f"webhook {model.__name__}"] = model
    return found


GUARDS = {json_number, json_integer, json_boolean, refuse_bool}


def _lax_leaves(node: Any, path: str, out: list[str]) -> None:
    """Number and boolean schemas not wrapped by one of the body GUARDS."""
    if isinstance(node, list):
        for child in node:
            _lax_leaves(child, path, out)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind in ("int", "float", "bool", "decimal") and not node.get("strict"):
        out.append(f"{path}: {kind}")
    if kind == "function-before" and node["function"].get("function") in GUARDS:
        return  # a Body* type: the wrapped number or boolean is guarded
    for key, value in node.items():
        if key == "serialization":
            continue
        _lax_leaves(value, f"{path}.{key}" if key == "fields" else path, out)


def test_every_body_number_and_boolean_is_strict() -> None:
    bodies = _body_models()
    assert len(bodies) >= 35
    lax: list[str] = []
    for where, body in bodies.items():
        annotation = body if isinstance(body, type) else body.annotation
        assert annotation is not None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            schema = annotation.__pydantic_core_schema__
        else:
            schema = TypeAdapter(annotation).core_schema
        _lax_leaves(schema, where, lax)
    assert lax == []


def test_no_get_endpoint_reads_a_body(app: Any) -> None:
    """Why a GET's body may be ignored whatever it holds: no GET route declares one."""
    from atelier.platform.routing import leaves

    with_body = [
        route.path
        for _, route, _ in leaves(app.router.routes)
        if isinstance(route, APIRoute) and "GET" in route.methods and route.dependant.body_params
    ]
    gets = [r for _, r, _ in leaves(app.router.routes) if "GET" in getattr(r, "methods", ())]
    assert len(gets) > 50 and with_body == []


@pytest.mark.parametrize("raw", [b"{bad", b'{"name": NaN}', b"\xff\xfe{}"])
def test_a_get_ignores_its_body_whatever_it_holds(admin: TestClient, raw: bytes) -> None:
    design = create_design(admin)
    for path in (f"/admin/designs/{design['id']}", "/admin/designs", "/admin/production-runs"):
        response = admin.request("GET", path, content=raw, headers=JSON_HEADERS)
        assert response.status_code == 200, (path, response.text)
