"""How a serving process runs: its worker threads and its garbage collector.

* **Worker threads.** FastAPI runs sync endpoints and sync dependencies in anyio's default
  thread pool (40 threads unless told). With many threads runnable at once they pass the GIL
  around: hundreds of context switches per request where a few threads need a handful. The
  app sets the pool to ``Database.threads`` (``ATELIER_THREADS``; 2 on SQLite, the pool size
  on PostgreSQL) when it starts. Write admission (``platform.admission``) admits fewer writers
  than threads, so a writer waiting on a lock (another process's, with ``--workers``) never
  holds the last thread: readers always have one.
* **Garbage collector.** ``atelier serve`` (never the tests) moves everything alive after
  start-up into the permanent generation (``gc.freeze``) and raises the thresholds, so the
  cyclic collector neither walks the app's long-lived objects nor runs every 700 allocations
  in the middle of a request (see ``SERVER_GC_THRESHOLDS`` for the measurements).
"""

from __future__ import annotations

import gc
import logging

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


def tune_gc_for_serving() -> None:
    """Collect once, freeze what survived start-up, and raise the collection thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVER_GC_THRESHOLDS)
    log.debug("gc frozen", extra={"frozen": gc.get_freeze_count()})
