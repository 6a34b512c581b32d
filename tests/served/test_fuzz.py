"""Schemathesis over every operation of the served OpenAPI schema, as an admin and as a partner:
no generated request may answer 5xx or leave a traceback in the server's output.

Each operation gets schema-valid and schema-violating cases; operations with path parameters
also get cases whose ids are real seeded resources (a run, its task and subtask, a design, ...)
so the bodies reach the services, not only the 404 of an unknown id. The webhook operations,
whose body the schema does not describe, get signed JSON documents shaped like orders. The run
is bounded (a few examples per operation and mode) and makes no connection but to 127.0.0.1.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.served import scenario
from tests.served.support import (
    WEBHOOK_SECRET,
    Launcher,
    Proc,
    admin_token,
    client,
    ok,
    signed_order,
)

pytestmark = pytest.mark.served

# Examples per operation, generation mode (positive, negative) and id source (random, real ids)
# for the role's own operations (/admin/* for the admin; /partners/* for the partner; the rest
# for the admin); the other role's operations get one example per mode (they answer 403).
# ATELIER_FUZZ_EXAMPLES=20 for a deeper run.
EXAMPLES = int(os.environ.get("ATELIER_FUZZ_EXAMPLES", "3"))
WEBHOOK_EXAMPLES = 4 * EXAMPLES


@dataclass
class Target:
    api: Proc
    schema: Any
    tokens: dict[str, str]
    # Real ids to put in path parameters, per role.
    ids: dict[str, dict[str, str]] = field(default_factory=dict)


def _seed(admin: httpx.Client) -> tuple[str, dict[str, dict[str, str]]]:
    """Resources whose ids the fuzzer uses; returns the fuzzing partner's token and the ids."""
    shop = scenario.build_catalog(admin, partners=2)
    mine, other = shop.partners
    template = ok(
        admin.post(
            "/admin/task-templates",
            json={"name": "Fuzz inspect", "subtasks": [{"title": "Look"}, {"title": "Measure"}]},
        ),
        201,
    )["task_template"]
    run = ok(
        admin.post(
            "/admin/production-runs",
            json={"design_id": shop.design_id, "partner_id": mine.id, "quantity": 6},
        ),
        201,
    )["production_run"]
    ok(
        admin.post(
            f"/admin/production-runs/{run['id']}/approve", json={"template_names": ["Fuzz inspect"]}
        )
    )
    ok(admin.post(f"/partners/production-runs/{run['id']}/accept", headers=mine.headers))
    tasks = ok(admin.get(f"/admin/production-runs/{run['id']}/tasks"))["tasks"]
    task = tasks[0]
    order = ok(
        admin.post(
            "/admin/orders",
            json={"items": [{"product_id": shop.product_id, "quantity": 1}]},
        ),
        201,
    )["order"]
    other_partner = ok(admin.get(f"/admin/partners/{other.id}"))["partner"]
    shared = {
        "run_id": run["id"],
        "design_id": shop.design_id,
        "task_id": task["id"],
        "subtask_id": task["subtasks"][0]["id"],
        "item_id": shop.fabric_id,
    }
    admin_ids = {
        **shared,
        "location_id": other.location_id,
        "order_id": order["id"],
        "product_id": shop.product_id,
        # Another partner than the fuzzing one, so the admin fuzz cannot lock the partner out.
        "partner_id": other.id,
        "user_id": other_partner["users"][0]["id"],
        "template_id": template["id"],
    }
    return mine.token, {"admin": admin_ids, "partner": shared}


@pytest.fixture(scope="module")
def target(module_launcher: Callable[..., Launcher]) -> Target:
    launcher = module_launcher("fuzz")
    api = launcher.serve("api").start()
    api.wait_healthy()
    with client(api) as anon:
        token = admin_token(anon)
        document = ok(anon.get("/openapi.json"))
    with client(api, token) as admin:
        partner_token, ids = _seed(admin)
    schema = schemathesis.openapi.from_dict(document)
    return Target(api, schema, {"admin": token, "partner": partner_token}, ids)


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any connection but to 127.0.0.1 fails the test (the fuzzer must work offline)."""
    original = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1"):
            raise AssertionError(f"network access to {address!r} during the fuzz run")
        return original(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    yield


def _operations(target: Target) -> list[Any]:
    return [result.ok() for result in target.schema.get_all_operations()]


def test_every_operation_of_the_served_schema_is_fuzzed(target: Target) -> None:
    document = target.schema.raw_schema
    methods = {"get", "post", "put", "patch", "delete"}
    declared = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in methods
    }
    fuzzed = {(op.method.upper(), op.path) for op in _operations(target)}
    assert fuzzed == declared
    assert len(fuzzed) > 100


_LEAF = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
)
_SHALLOW = _LEAF | st.lists(_LEAF, max_size=3)
# Any JSON value, two levels deep.
_JSON = _SHALLOW | st.dictionaries(st.text(max_size=8), _SHALLOW, max_size=3)
_LINE = st.fixed_dictionaries(
    {},
    optional={
        "id": _JSON,
        "product_id": st.text(max_size=40) | _JSON,
        "variant_id": st.text(max_size=40) | _JSON,
        "sku": st.text(max_size=20) | _JSON,
        "variant_sku": st.text(max_size=20),
        "quantity": st.integers(-5, 10**12) | _JSON,
        "title": st.text(max_size=40),
    },
)
_ID = st.text(st.characters(codec="ascii", min_codepoint=33), min_size=1, max_size=40)
# Orders that each adapter accepts (lines of unknown products are stored as unmapped).
_VALID_ORDER = {
    "/webhooks/orders": st.fixed_dictionaries(
        {
            "external_id": _ID,
            "items": st.lists(
                st.fixed_dictionaries({"product_id": _ID, "quantity": st.integers(1, 1000)}),
                min_size=1,
                max_size=3,
            ),
        }
    ),
    "/webhooks/orders/shopify": st.fixed_dictionaries(
        {
            "id": st.integers(1, 10**12),
            "line_items": st.lists(
                st.fixed_dictionaries(
                    {
                        "id": st.integers(1, 10**12),
                        "product_id": st.integers(1, 10**12),
                        "sku": _ID,
                        "quantity": st.integers(1, 1000),
                    }
                ),
                min_size=1,
                max_size=3,
            ),
        }
    ),
    "/webhooks/orders/medusa": st.fixed_dictionaries(
        {
            "id": _ID,
            "items": st.lists(
                st.fixed_dictionaries(
                    {
                        "id": _ID,
                        "product_id": _ID,
                        "variant_sku": _ID,
                        "quantity": st.integers(1, 9),
                    }
                ),
                min_size=1,
                max_size=3,
            ),
        }
    ),
}
# Documents shaped like the generic, Shopify and Medusa bodies, with arbitrary values inside.
_ORDER_LIKE = (
    st.fixed_dictionaries(
        {},
        optional={
            "external_id": st.text(max_size=60) | _JSON,
            "id": st.integers() | st.text(max_size=30),
            "email": st.emails() | _JSON,
            "items": st.lists(_LINE, max_size=3) | _JSON,
            "line_items": st.lists(_LINE, max_size=3),
            "data": _JSON,
        },
    )
    | _JSON
)


def _send_webhook(session: requests.Session, base_url: str, path: str, document: Any) -> int:
    raw, headers = signed_order(document)
    if path.endswith("/shopify"):
        digest = hmac.new(WEBHOOK_SECRET.encode(), raw, hashlib.sha256).digest()
        headers = {
            "content-type": "application/json",
            "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
        }
    response = session.post(f"{base_url}{path}", data=raw, headers=headers, timeout=60)
    return response.status_code


def _own(role: str, path: str) -> bool:
    if path.startswith("/partners/"):
        return role == "partner"
    return role == "admin"


def _fuzz(target: Target, role: str, operation: Any, session: requests.Session) -> list[str]:
    failures: list[str] = []
    auth = {"Authorization": f"Bearer {target.tokens[role]}"}
    base_url = target.api.base_url
    own = _own(role, operation.path)
    options = settings(
        max_examples=EXAMPLES if own else 1,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        phases=[Phase.explicit, Phase.generate],
    )

    names = {p.name for p in operation.path_parameters}
    real = {k: v for k, v in target.ids[role].items() if k in names}
    for mode in GenerationMode:
        strategies = [operation.as_strategy(generation_mode=mode)]
        if own and real and set(real) == names:
            strategies.append(operation.as_strategy(generation_mode=mode, path_parameters=real))
        for strategy in strategies:

            @options
            @given(case=strategy)
            def run(case: Any) -> None:
                try:
                    response = case.call(
                        base_url=base_url, session=session, headers=auth, timeout=60
                    )
                except requests.ConnectionError as exc:
                    curl = case.as_curl_command(headers=auth)[:600]
                    failures.append(f"connection dropped: {curl} ({exc})")
                    return
                if response.status_code >= 500:
                    failures.append(
                        f"{response.status_code} {case.as_curl_command(headers=auth)[:600]} "
                        f"→ {response.text[:300]}"
                    )

            try:
                run()
            except Unsatisfiable:
                # Nothing in the operation can be invalid (no parameters, no body).
                assert mode is GenerationMode.NEGATIVE, operation.path
    return failures


@pytest.mark.parametrize("role", ["partner", "admin"])
def test_no_generated_request_answers_5xx(target: Target, role: str, loopback_only: None) -> None:
    failures: list[str] = []
    with requests.Session() as session:
        for operation in _operations(target):
            failures += _fuzz(target, role, operation, session)
    assert target.api.alive
    assert failures == [], "\n".join(failures)
    assert target.api.problems() == []


def test_signed_order_webhooks_never_answer_5xx(target: Target, loopback_only: None) -> None:
    """The order webhooks with valid signatures over order-shaped JSON, valid or not."""
    failures: list[str] = []
    paths = {op.path for op in _operations(target)}
    assert set(_VALID_ORDER) <= paths
    documents = st.sampled_from(sorted(_VALID_ORDER)).flatmap(
        lambda path: st.tuples(st.just(path), _VALID_ORDER[path] | _ORDER_LIKE)
    )
    with requests.Session() as session:

        @settings(
            max_examples=WEBHOOK_EXAMPLES * len(_VALID_ORDER),
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            phases=[Phase.explicit, Phase.generate],
        )
        @given(sent=documents)
        def signed(sent: tuple[str, Any]) -> None:
            path, document = sent
            try:
                status: int | str = _send_webhook(session, target.api.base_url, path, document)
            except requests.ConnectionError as exc:
                status = f"connection dropped ({exc})"
            if not isinstance(status, int) or status >= 500:
                failures.append(f"POST {path} signed {json.dumps(document)[:300]} → {status}")

        signed()
    assert target.api.alive
    assert failures == [], "\n".join(failures)
    assert target.api.problems() == []
