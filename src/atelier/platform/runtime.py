"""How a serving process runs: its worker threads and its garbage collector.

* **Worker threads.** FastAPI runs sync endpoints and sync dependencies in anyio's default
  thread pool (40 threads unless told). With many threads runnable at once they pass the GIL
  around: hundreds of context switches per request where a few threads need a handful. The
  app sets the pool to ``Database.threads`` (``ATELIER_THREADS``; 2 on SQLite, the pool size
  on PostgreSQL) when it starts. Write admission (``platform.admission``) admits fewer writers
  than threads, so a writer waiting on a lock (another process's, with ``--workers``) never
  holds the last thread: readers always have one.
* **Garbage collector.** ``atelier serve`` (never the tests) keeps the cyclic collector off
  while it starts (``pause_gc_for_startup``: importing the app and building its routes and
  schemas allocates long-lived objects, and the hundreds of collections that would run meanwhile
  only walk what stays: ~4 % of start-up's instructions), then collects once, moves everything
  alive into the permanent generation (``gc.freeze``) and raises the thresholds, so the
  collector neither walks the app's long-lived objects nor runs every 700 allocations in the
  middle of a request (see ``SERVER_GC_THRESHOLDS`` for the measurements).
* **Wake-ups across processes.** With ``--workers N`` the dispatcher runs in the parent; the
  HTTP processes wake it after commits that queued events (``WakeListener``).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable

import anyio.to_thread

log = logging.getLogger(__name__)

# Allocations (net of frees) between young collections, then young collections per middle one
# and middle ones per full one; CPython's defaults are (700, 10, 10). Measured in-process on
# GET /admin/designs/:id (3,000 requests after warm-up): unfrozen, one full collection walked
# the whole heap for 236 ms; frozen, young collections of 5,000 cost 3-4 ms every ~170 requests
# (0.3 % of the time, the lowest p99 of the settings tried), while 50,000 paused 100-400 ms
# each (the pause grows faster than the threshold) and 700 pauses 0.4 ms every 16 requests.
SERVER_GC_THRESHOLDS = (5_000, 20, 100)


def use_worker_threads(threads: int) -> None:
    """Size the running event loop's default thread limiter (sync endpoints and dependencies)."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = threads


def pause_gc_for_startup() -> None:
    """No cyclic collections until :func:`tune_gc_for_serving` (or :func:`resume_gc`)."""
    gc.disable()


def resume_gc() -> None:
    """Collect what start-up left and turn the collector back on (default thresholds)."""
    gc.collect()
    gc.enable()


def tune_gc_for_serving() -> None:
    """Collect once, freeze what survived start-up, raise the collection thresholds and turn
    the collector (back) on."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVER_GC_THRESHOLDS)
    gc.enable()
    if log.isEnabledFor(logging.DEBUG):  # get_freeze_count walks the whole frozen heap
        log.debug("gc frozen", extra={"frozen": gc.get_freeze_count()})


# ``atelier serve --workers N``: the HTTP processes wake the parent's dispatcher through a Unix
# datagram socket whose path the parent passes down in this variable.
WAKE_SOCKET_ENV = "ATELIER_WAKE_SOCKET"


class WakeListener:
    """The parent's end: every datagram calls ``wake`` (the embedded worker's)."""

    def __init__(self, wake: Callable[[], None]) -> None:
        self._wake = wake
        self._dir = tempfile.mkdtemp(prefix="atelier-wake-")
        self.path = os.path.join(self._dir, "wake.sock")
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(self.path)
        self._sock.settimeout(0.5)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="atelier-wake", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._sock.recv(16)
            except TimeoutError:
                continue
            except OSError:
                return
            self._wake()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self._sock.close()
        shutil.rmtree(self._dir, ignore_errors=True)


def wake_parent_on_commit(path: str) -> None:
    """In an HTTP process: after each commit that queued events, nudge the parent's dispatcher
    (best effort: a lost datagram only means the next poll delivers)."""
    # Imported here: ``atelier serve`` imports this module to pause the collector before the
    # app (SQLAlchemy, the models) is imported.
    from atelier.platform import outbox

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setblocking(False)

    def _send() -> None:
        with contextlib.suppress(OSError):
            sock.sendto(b"w", path)

    outbox.on_events_committed(_send)
