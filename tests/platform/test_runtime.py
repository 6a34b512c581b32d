"""``platform.runtime``: the worker-thread limit and the parent's wake-up socket."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import anyio
import anyio.to_thread
import pytest

from atelier.platform import outbox
from atelier.platform.db import Database
from atelier.platform.runtime import WakeListener, use_worker_threads, wake_parent_on_commit


@pytest.fixture
def clean_wakeups() -> Iterator[None]:
    outbox.clear_wakeups()
    yield
    outbox.clear_wakeups()


def test_the_worker_thread_limit_is_what_the_database_says() -> None:
    async def limit() -> float:
        use_worker_threads(3)
        return anyio.to_thread.current_default_thread_limiter().total_tokens

    assert anyio.run(limit) == 3


def test_the_default_threads_leave_readers_a_thread(db: Database) -> None:
    assert db.admission.writers.capacity < db.threads


@pytest.mark.usefixtures("clean_wakeups")
def test_a_commit_that_queued_events_wakes_the_parent(db: Database) -> None:
    woken = threading.Event()
    listener = WakeListener(woken.set)
    try:
        wake_parent_on_commit(listener.path)
        with db.session() as session:
            outbox.emit(session, "runtime.test", {"n": 1})
        assert woken.wait(30), "no wake-up arrived"
    finally:
        listener.close()
