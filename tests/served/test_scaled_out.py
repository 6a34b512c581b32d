"""Scaled out on PostgreSQL: two API processes and two ``atelier worker`` processes started at
the same moment on an EMPTY database (no schema, no admin). All of them must come up — the
migrations run once, one bootstrap admin is created — and then a burst of orders from both
ports, signed webhooks on one and the admin API on the other (some external ids sent to both at
once), is stored once each and every event is delivered to each of its subscribers exactly
once."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.served import invariants, scenario
from tests.served.support import (
    Job,
    Launcher,
    admin_token,
    burst,
    client,
    ok,
    signed_order,
)

pytestmark = [pytest.mark.served, pytest.mark.postgres_only]

DELIVERY_TIMEOUT = 150.0
# What a worker may log while the API processes are still creating the schema it polls.
SCHEMA_NOT_THERE_YET = r"psycopg\.errors\.Undefined(Table|Column)"


def test_two_apis_and_two_workers_start_together_on_an_empty_database(
    make_launcher: Callable[..., Launcher],
) -> None:
    launcher = make_launcher("scaled")
    apis = [launcher.serve(f"api{n}", embedded_worker=False) for n in (1, 2)]
    workers = [launcher.worker(f"worker{n}") for n in (1, 2)]
    for proc in (*apis, *workers):
        proc.start()
    for api in apis:
        api.wait_healthy()
    for worker in workers:
        worker.wait_output("Ctrl-C to stop")
    url = launcher.database_url
    assert invariants.scalar(url, "SELECT count(*) FROM admin_users") == 1
    assert invariants.rows(url, "SELECT version_num FROM alembic_version") != []

    with client(apis[0]) as anon:
        token = admin_token(anon)
    first, second = client(apis[0], token), client(apis[1], token)
    with first, second:
        shop = scenario.build_catalog(first, partners=1)

        def order(external_id: str, port: int) -> Job:
            body = {
                "external_id": external_id,
                "items": [
                    {"product_id": shop.product_id, "variant_id": shop.variant_id, "quantity": 1},
                    {"product_id": shop.product_id, "quantity": 2},
                ],
            }
            http = (first, second)[port]
            if port == 1:
                # The second port gets the shop's signed webhook, the first the admin API.
                raw, headers = signed_order(body)
                return f"{external_id}@{port}", lambda _: http.post(
                    "/webhooks/orders", content=raw, headers=headers
                )
            return f"{external_id}@{port}", lambda _: http.post("/admin/orders", json=body)

        jobs = [order(f"scaled-{n}", n % 2) for n in range(60)]
        # The same order sent to both ports at once (webhook and admin API): one order, one 201.
        jobs += [order(f"raced-{n}", port) for n in range(15) for port in (0, 1)]
        outcomes = burst(first, jobs, concurrency=10)
        statuses = {key: o.status for key, o in outcomes.items()}
        assert {s for s in statuses.values()} <= {200, 201}, statuses
        for n in range(15):
            pair = sorted(statuses[f"raced-{n}@{port}"] or 0 for port in (0, 1))
            assert pair == [200, 201], (n, pair)
        orders = ok(first.get("/admin/orders", params={"limit": 500}))
        assert orders["count"] == 75
        assert len({o["external_id"] for o in orders["orders"]}) == 75

    invariants.wait_delivered(url, timeout=DELIVERY_TIMEOUT)
    assert invariants.scalar(url, "SELECT count(*) FROM production_runs") == 150
    assert invariants.all_violations(url) == []
    for proc in (*apis, *workers):
        assert proc.alive, proc.name
    assert launcher.problems(apis) == []
    for worker in workers:
        assert worker.problems(tolerate=SCHEMA_NOT_THERE_YET) == [], worker.name
