"""``atelier serve --workers 2``: two HTTP processes on one port, one embedded worker.

The parent process migrates, then starts the HTTP processes and runs the outbox dispatcher and
the scheduler itself: requests reach both processes, every event is delivered exactly once,
and every scheduled slot is claimed by that one dispatcher.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.served import invariants, scenario
from tests.served.support import Job, Launcher, admin_token, burst, client, ok, signed_order

pytestmark = [pytest.mark.served]

DELIVERY_TIMEOUT = 150.0


def _children(parent: int) -> list[int]:
    """The HTTP worker processes ``parent`` spawned (not multiprocessing's resource tracker)."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_two_worker_processes_share_a_port_and_one_embedded_worker(
    make_launcher: Callable[..., Launcher],
) -> None:
    launcher = make_launcher("workers")
    api = launcher.serve("api", ATELIER_WORKERS="2")
    api.start()
    api.wait_healthy()
    children = _children(api.pid)
    assert len(children) == 2, children
    ticks = {pid: _cpu_ticks(pid) for pid in children}

    with client(api) as anon:
        token = admin_token(anon)
    with client(api, token) as admin:
        shop = scenario.build_catalog(admin, partners=1)

    def order(n: int) -> Job:
        body = {
            "external_id": f"workers-{n}",
            "items": [
                {"product_id": shop.product_id, "variant_id": shop.variant_id, "quantity": 1}
            ],
        }
        raw, headers = signed_order(body)

        def send(_: httpx.Client) -> httpx.Response:
            # A new connection per request, so both processes accept some.
            with client(api) as fresh:
                return fresh.post("/webhooks/orders", content=raw, headers=headers)

        return f"workers-{n}", send

    with client(api, token) as admin:
        outcomes = burst(admin, [order(n) for n in range(40)], concurrency=8)
        assert {o.status for o in outcomes.values()} <= {200, 201}, outcomes
        for _ in range(60):  # reads on fresh connections too
            with client(api, token) as fresh:
                ok(fresh.get(f"/admin/designs/{shop.design_id}"))

    # Both processes served: each burnt CPU time on requests (an idle one burns next to none).
    gained = {pid: _cpu_ticks(pid) - before for pid, before in ticks.items()}
    assert all(value >= 3 for value in gained.values()), gained

    url = launcher.database_url
    invariants.wait_delivered(url, timeout=DELIVERY_TIMEOUT)
    assert invariants.scalar(url, "SELECT count(*) FROM production_runs") == 40
    assert invariants.all_violations(url) == []
    # One embedded worker (the parent's): it alone claims scheduled slots.
    output = api.output()
    assert output.count("background worker started") == 1, output[-4000:]
    claimers = {row[0] for row in invariants.rows(url, "SELECT claimed_by FROM scheduled_slots")}
    assert claimers, "the scheduler ran no job"
    assert {c.split(":")[1] for c in claimers} == {str(api.pid)}, claimers
    assert api.alive
    assert launcher.problems() == []
