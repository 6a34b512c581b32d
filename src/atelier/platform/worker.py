"""Background loops: the outbox dispatcher and the scheduler, in threads.

Used in-process by the app lifespan (embedded mode) and by ``atelier worker`` (any number of
processes). Both loops are safe to run on several machines at once.
"""

from __future__ import annotations

import logging
import threading

from atelier.platform import outbox, statistics
from atelier.platform.db import Database
from atelier.platform.dispatcher import OutboxDispatcher
from atelier.platform.identity import WorkerIdentity
from atelier.platform.loops import BackgroundLoop, registered_loops
from atelier.platform.outbox import SubscriberRegistry
from atelier.platform.scheduler import JobRegistry, Scheduler
from atelier.platform.scheduler import registry as job_registry
from atelier.platform.settings import Settings

log = logging.getLogger(__name__)


def worker_identity(kind: str, name: str | None = None) -> str:
    """A readable id for leases and slot claims: ``<name>:<pid>:<nonce>``, where the name is
    ``name`` or ``<kind>@<host>`` (see ``platform.identity``)."""
    return WorkerIdentity.for_process(kind, name).holder


class EmbeddedWorker:
    """A dispatcher thread (woken on commit, else polling) and a scheduler thread."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        registry: SubscriberRegistry = outbox.registry,
        jobs: JobRegistry = job_registry,
        scheduler_interval: float = 30.0,
        run_scheduler: bool = True,
        kind: str = "embedded",
        run_loops: bool = True,
        name: str | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.identity = WorkerIdentity.for_process(kind, name or settings.worker_name)
        holder = self.identity.holder
        self.dispatcher = OutboxDispatcher(
            db,
            worker_id=holder,
            registry=registry,
            poll_interval=settings.worker_poll_interval,
            max_attempts=settings.outbox_max_attempts,
        )
        self.scheduler = (
            Scheduler(db, settings, worker_id=holder, jobs=jobs, interval=scheduler_interval)
            if run_scheduler
            else None
        )
        self.loops: dict[str, BackgroundLoop] = (
            {name: factory(db, settings) for name, factory in registered_loops().items()}
            if run_loops
            else {}
        )
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._loop_wakes = {name: threading.Event() for name in self.loops}
        self._threads: list[threading.Thread] = []

    def wake(self) -> None:
        """Deliver now rather than at the next poll (called after commits that queued events)."""
        self._wake.set()
        for event in self._loop_wakes.values():
            event.set()

    def _run_loop(self, name: str, loop: BackgroundLoop) -> None:
        wake = self._loop_wakes[name]
        log.info("background loop started", extra={"loop": name})
        while not self._stop.is_set():
            try:
                handled = loop.run_once()
            except Exception:
                log.exception("background loop round failed", extra={"loop": name})
                handled = 0
                self._stop.wait(self.settings.worker_poll_interval)
            if handled:
                continue  # more may be due
            wake.wait(self.settings.worker_poll_interval)
            wake.clear()
        log.info("background loop stopped", extra={"loop": name})

    def _refresh_statistics(self) -> None:
        try:
            statistics.refresh_at_startup(self.db)
        except Exception:
            log.exception("refreshing planner statistics failed")

    def start(self) -> None:
        if self._threads:
            return
        try:
            # A restart must not wait out the leases its dead predecessor left behind.
            self.dispatcher.reclaim_stale_leases(self.identity)
        except Exception:
            log.exception("reclaiming stale leases failed", extra={"worker_id": self.identity.name})
        self._stop.clear()
        outbox.on_events_committed(self.wake)
        self._threads.append(
            threading.Thread(
                target=self.dispatcher.run_forever,
                args=(self._stop, self._wake),
                name="atelier-dispatcher",
                daemon=True,
            )
        )
        if self.scheduler is not None:
            # The hourly statistics job may be up to an hour away; a database that grew while
            # no worker ran gets its planner statistics now, off the start-up path.
            self._threads.append(
                threading.Thread(
                    target=self._refresh_statistics, name="atelier-statistics", daemon=True
                )
            )
            self._threads.append(
                threading.Thread(
                    target=self.scheduler.run_forever,
                    args=(self._stop,),
                    name="atelier-scheduler",
                    daemon=True,
                )
            )
        for name, loop in self.loops.items():
            self._threads.append(
                threading.Thread(
                    target=self._run_loop, args=(name, loop), name=f"atelier-{name}", daemon=True
                )
            )
        for thread in self._threads:
            thread.start()
        log.info("background worker started", extra={"worker_id": self.dispatcher.worker_id})

    def stop(self, timeout: float = 30.0) -> None:
        """Ask both loops to stop and wait for the current round to finish."""
        self._stop.set()
        self.wake()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        log.info("background worker stopped", extra={"worker_id": self.dispatcher.worker_id})

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)
