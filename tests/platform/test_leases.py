"""A restarted worker releases the outbox leases its dead predecessor held, at once; leases of
live processes and of other workers wait out their lease as before."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from atelier.platform import outbox
from atelier.platform.clock import FrozenClock
from atelier.platform.db import Database
from atelier.platform.dispatcher import OutboxDispatcher
from atelier.platform.identity import WorkerIdentity, parse_holder, pid_alive
from atelier.platform.models import OutboxEvent
from atelier.platform.outbox import Event, SubscriberRegistry, emit
from atelier.platform.scheduler import JobRegistry
from atelier.platform.settings import Settings
from atelier.platform.worker import EmbeddedWorker

WAIT = 120.0  # upper bound for a subprocess to start; never an assertion on speed
SRC = str(Path(__file__).resolve().parents[2] / "src")


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not pid_alive(child.pid)
    return child.pid


def emit_many(db: Database, n: int, name: str = "x.happened") -> list[str]:
    with db.session() as session:
        rows = [emit(session, name, {"i": i}) for i in range(n)]
        session.flush()
        return [r.id for r in rows]


def holders(db: Database) -> dict[str, str | None]:
    with db.session(write=False) as session:
        return {r.id: r.locked_by for r in session.scalars(select(OutboxEvent))}


def lease_with(db: Database, registry: SubscriberRegistry, identity: WorkerIdentity) -> int:
    return len(OutboxDispatcher(db, worker_id=identity.holder, registry=registry).claim())


@pytest.fixture
def registry() -> SubscriberRegistry:
    return SubscriberRegistry()


class TestIdentity:
    def test_default_name_is_kind_at_host_and_the_holder_parses_back(self) -> None:
        me = WorkerIdentity.for_process("worker")
        assert me.name.startswith("worker@")
        assert not me.explicit
        assert parse_holder(me.holder) == (me.name, os.getpid(), me.nonce)
        assert WorkerIdentity.for_process("worker").nonce != me.nonce

    def test_explicit_name(self) -> None:
        me = WorkerIdentity.for_process("worker", "dispatch-1")
        assert (me.name, me.explicit) == ("dispatch-1", True)

    @pytest.mark.parametrize("holder", ["", "test", "w1:abc:x", "w1:12"])
    def test_foreign_or_legacy_holders_are_never_stale(self, holder: str) -> None:
        assert not WorkerIdentity("w1", os.getpid(), "n", explicit=True).is_stale(holder)

    def test_staleness_rules(self) -> None:
        me = WorkerIdentity("worker@h", os.getpid(), "new")
        gone = dead_pid()
        assert me.is_stale(f"worker@h:{gone}:old")  # its process is gone
        assert me.is_stale(f"worker@h:{os.getpid()}:old")  # same pid, earlier nonce
        assert not me.is_stale(me.holder)  # ourselves
        assert not me.is_stale(f"worker@h:{os.getppid()}:x")  # a live process
        assert not me.is_stale(f"worker@other:{gone}:old")  # another host's worker
        named = WorkerIdentity("dispatch-1", os.getpid(), "new", explicit=True)
        # An explicit name is unique among live processes: any other holder of it is stale.
        assert named.is_stale(f"dispatch-1:{os.getppid()}:x")
        assert not named.is_stale(f"dispatch-2:{gone}:x")


class TestReclaim:
    def test_leases_of_a_dead_predecessor_are_released_and_delivered_at_once(
        self, db: Database, registry: SubscriberRegistry
    ) -> None:
        delivered: list[str] = []
        registry.register("x.happened", name="s")(lambda s, e: delivered.append(e.id))
        ids = emit_many(db, 3)
        before = WorkerIdentity("worker@h", dead_pid(), "old")
        assert lease_with(db, registry, before) == 3

        after = WorkerIdentity("worker@h", os.getpid(), "new")
        dispatcher = OutboxDispatcher(db, worker_id=after.holder, registry=registry)
        assert dispatcher.drain() == 0  # still leased: the clock has not moved at all
        assert dispatcher.reclaim_stale_leases(after) == 3
        assert dispatcher.drain() == 3
        assert sorted(delivered) == sorted(ids)
        assert dispatcher.reclaim_stale_leases(after) == 0

    def test_live_and_foreign_leases_are_left_alone(
        self, db: Database, registry: SubscriberRegistry
    ) -> None:
        emit_many(db, 1)
        live = WorkerIdentity("worker@h", os.getppid(), "live")
        lease_with(db, registry, live)
        emit_many(db, 1)
        foreign = WorkerIdentity("worker@elsewhere", dead_pid(), "old")
        lease_with(db, registry, foreign)
        emit_many(db, 1)
        legacy = "embedded@h:not-a-pid"
        OutboxDispatcher(db, worker_id=legacy, registry=registry).claim()

        me = WorkerIdentity("worker@h", os.getpid(), "new")
        assert OutboxDispatcher(db, worker_id=me.holder).reclaim_stale_leases(me) == 0
        assert sorted(h or "" for h in holders(db).values()) == sorted(
            [live.holder, foreign.holder, legacy]
        )

    def test_expired_or_delivered_rows_are_not_touched(
        self, db: Database, clock: FrozenClock, registry: SubscriberRegistry
    ) -> None:
        emit_many(db, 1)
        before = WorkerIdentity("worker@h", dead_pid(), "old")
        lease_with(db, registry, before)
        clock.advance(OutboxDispatcher(db, worker_id="x").lease)
        me = WorkerIdentity("worker@h", os.getpid(), "new")
        # Expired already: claimable by anyone, nothing to release.
        assert OutboxDispatcher(db, worker_id=me.holder).reclaim_stale_leases(me) == 0


class TestRestartedWorker:
    def test_embedded_worker_start_reclaims_before_its_first_round(
        self, db: Database, settings: Settings
    ) -> None:
        registry = SubscriberRegistry()
        done = threading.Event()
        seen: list[str] = []

        def handler(session: Session, event: Event) -> None:
            seen.append(event.id)
            if len(seen) == 2:
                done.set()

        registry.register("x.happened", name="s")(handler)
        emit_many(db, 2)
        lease_with(db, registry, WorkerIdentity("api-1", os.getppid(), "before-restart"))

        # A poll interval far beyond the wait and a frozen clock: only the reclaim delivers.
        slow = settings.model_copy(update={"worker_poll_interval": 60.0, "worker_name": "api-1"})
        outbox.clear_wakeups()
        worker = EmbeddedWorker(db, slow, registry=registry, jobs=JobRegistry())
        assert worker.identity.holder.startswith("api-1:")
        worker.start()
        try:
            assert done.wait(WAIT)
        finally:
            worker.stop()
            outbox.clear_wakeups()
        assert len(set(seen)) == 2


@pytest.fixture
def subprocess_env(database_url: str) -> Iterator[dict[str, str]]:
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": SRC + os.pathsep + env.get("PYTHONPATH", ""),
            "ATELIER_DATABASE_URL": database_url,
            "ATELIER_ENV": "development",
            "ATELIER_LOG_LEVEL": "INFO",
        }
    )
    yield env


HOLDER_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from datetime import timedelta
    from atelier.platform.db import Database
    from atelier.platform.dispatcher import OutboxDispatcher
    from atelier.platform.identity import WorkerIdentity
    from atelier.platform.outbox import SubscriberRegistry

    db = Database(sys.argv[1])
    me = WorkerIdentity.for_process("worker", sys.argv[2] or None)
    # An hour-long lease: only a reclaim can free these events within the test.
    dispatcher = OutboxDispatcher(
        db, worker_id=me.holder, registry=SubscriberRegistry(), lease=timedelta(hours=1)
    )
    print(len(dispatcher.claim()), flush=True)
    time.sleep(600)
    """
)


def kill_holder(env: dict[str, str], database_url: str, name: str) -> int:
    """Start a process that leases every due event, then kill -9 it; returns how many it held."""
    holder = subprocess.Popen(  # noqa: S603  (our own interpreter and script)
        [sys.executable, "-c", HOLDER_SCRIPT, database_url, name],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        claimed = int(holder.stdout.readline().strip() or 0)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(WAIT)
    return claimed


def undelivered(db: Database) -> int:
    with db.session(write=False) as session:
        return len(
            session.scalars(select(OutboxEvent.id).where(OutboxEvent.delivered_at.is_(None))).all()
        )


class TestKilledProcess:
    def test_default_name_reclaims_leases_of_a_killed_process(
        self, db: Database, database_url: str, subprocess_env: dict[str, str]
    ) -> None:
        # Emitted at the frozen T0, leased for an hour on the subprocess's real clock (later):
        # at T0 the leases are far from over.
        ids = emit_many(db, 4, "nobody.listens")
        assert kill_holder(subprocess_env, database_url, "") == 4
        for event_id, holder in holders(db).items():
            assert holder is not None and holder.startswith("worker@"), (event_id, holder)

        me = WorkerIdentity.for_process("worker")
        dispatcher = OutboxDispatcher(db, worker_id=me.holder, registry=SubscriberRegistry())
        assert dispatcher.drain() == 0
        assert dispatcher.reclaim_stale_leases(me) == 4
        assert dispatcher.drain() == 4
        assert undelivered(db) == 0
        assert len(ids) == 4

    def test_atelier_worker_restarted_under_its_name_delivers_without_waiting(
        self,
        db: Database,
        database_url: str,
        subprocess_env: dict[str, str],
        tmp_path: Path,
    ) -> None:
        emit_many(db, 3, "nobody.listens")
        assert kill_holder(subprocess_env, database_url, "dispatch-7") == 3
        assert undelivered(db) == 3

        log_path = tmp_path / "worker.log"
        with log_path.open("w") as log_file:
            worker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "atelier.cli",
                    "worker",
                    "--no-scheduler",
                    "--name",
                    "dispatch-7",
                ],
                env={**subprocess_env, "ATELIER_EMBEDDED_WORKER": "false"},
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
            try:
                deadline = time.monotonic() + WAIT
                while undelivered(db) and time.monotonic() < deadline and worker.poll() is None:
                    time.sleep(0.2)
            finally:
                worker.send_signal(signal.SIGTERM)
                worker.wait(WAIT)
        output = log_path.read_text()
        assert undelivered(db) == 0, output
        assert "stale leases reclaimed" in output
        assert "Traceback" not in output, output[-3000:]
