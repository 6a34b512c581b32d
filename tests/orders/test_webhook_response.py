"""The webhook's answer is encoded once: the bytes FastAPI would write for the validated
``OrderEnvelope`` (201 when new, 200 for a known external id)."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from atelier.orders import repository
from atelier.orders.schemas import OrderEnvelope, OrderOut
from atelier.platform.db import Database
from tests.factories.catalog import create_product
from tests.orders.test_webhooks import post_signed
from tests.production.read_support import statement_shapes, statements


def _as_fastapi_writes(db: Database, external_id: str) -> bytes:
    with db.session(write=False) as session:
        order = repository.order_by_external_id(session, external_id)
        assert order is not None
        envelope = OrderEnvelope(order=OrderOut.model_validate(order))
        return bytes(JSONResponse(envelope.model_dump(mode="json", by_alias=True)).body)


def test_new_and_known_orders_answer_the_same_bytes(
    client: TestClient, admin: TestClient, db: Database
) -> None:
    product = create_product(admin)
    payload = {
        "external_id": "wh-bytes",
        "email": "ü@b.co",
        "items": [{"product_id": product["id"], "quantity": 2, "title": "Kurta – festive"}],
    }
    first = post_signed(client, payload)
    assert first.status_code == 201, first.text
    assert first.headers["content-type"] == "application/json"
    assert first.content == _as_fastapi_writes(db, "wh-bytes")
    again = post_signed(client, payload)
    assert again.status_code == 200, again.text
    assert again.content == first.content


def test_an_order_webhook_is_a_fixed_set_of_statements(
    client: TestClient, admin: TestClient, db: Database
) -> None:
    """The ingest must not grow: the external id looked up, the products read, the order and
    its lines inserted under a savepoint (the duplicate-delivery guard), the event inserted;
    a replayed delivery reads the order and its lines and writes nothing."""
    products = [create_product(admin)["id"] for _ in range(2)]
    payload = {
        "external_id": "wh-count",
        "items": [{"product_id": p, "quantity": 1} for p in products],
    }
    with statements(db) as seen:
        first = post_signed(client, payload)
    assert first.status_code == 201, first.text
    assert statement_shapes(seen) == [
        "SELECT orders",
        "SELECT products",
        "SAVEPOINT",
        "INSERT orders",
        "INSERT order_line_items",
        "RELEASE",
        "INSERT outbox_events",
    ], seen
    with statements(db) as seen:
        again = post_signed(client, payload)
    assert again.status_code == 200, again.text
    assert statement_shapes(seen) == ["SELECT orders", "SELECT order_line_items"], seen
