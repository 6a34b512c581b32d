"""Schema-driven fuzzing of every inventory and order endpoint: no input may produce a 5xx."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.core import NOT_SET

PREFIXES = (
    "/admin/inventory",
    "/admin/stock-locations",
    "/admin/orders",
    "/webhooks/orders",
)


def _operations(app: FastAPI) -> list[Any]:
    schema = schemathesis.openapi.from_dict(app.openapi())
    ops = [result.ok() for result in schema.get_all_operations()]
    return [op for op in ops if op.path.startswith(PREFIXES)]


def test_covers_every_endpoint(app: FastAPI) -> None:
    assert len(_operations(app)) == 16


@pytest.mark.parametrize("index", range(16))
def test_generated_requests_never_fail_with_5xx(
    app: FastAPI, admin: TestClient, index: int
) -> None:
    operation = _operations(app)[index]
    failures: list[tuple[str, str, Any, Any, int]] = []

    @settings(
        max_examples=20,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        body = None if case.body is NOT_SET else case.body
        response = admin.request(
            case.method, case.formatted_path, params=case.query, json=body, headers=headers
        )
        if response.status_code >= 500:
            failures.append(
                (case.method, case.formatted_path, case.query, body, response.status_code)
            )

    run()
    assert failures == []
