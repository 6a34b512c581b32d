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
  in the middle of a request.
"""

from __future__ import annotations

import gc
import logging

import anyio.to_thread

log = logging.getLogger(__name__)

# Allocations (net of frees) between young collections, then young collections per middle one
# and middle ones per full one. CPython's defaults are (700, 10, 10): a young collection every
# few requests. A server allocates mostly short-lived, acyclic objects freed by reference
# counting; the rare cycles (exceptions with tracebacks) wait longer, at a small memory cost.
SERVER_GC_THRESHOLDS = (50_000, 50, 100)


def use_worker_threads(threads: int) -> None:
    """Size the running event loop's default thread limiter (sync endpoints and dependencies)."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = threads


def tune_gc_for_serving() -> None:
    """Collect once, freeze what survived start-up, and raise the collection thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVER_GC_THRESHOLDS)
    log.debug("gc frozen", extra={"frozen": gc.get_freeze_count()})
