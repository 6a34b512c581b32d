"""Write admission: a burst of requests queues on the event loop instead of failing.

A request's transaction spans several worker-thread calls (dependencies, the endpoint, the
commit). If more writers enter than the database can serve at once, the extra ones park worker
threads on the database lock (SQLite) or on row locks and pool checkouts (PostgreSQL) while the
transaction that holds the lock waits for a free thread to finish: the server stalls until a
timeout fires. So a request is *admitted* before its session exists, by two gates awaited on
the event loop, where waiting costs neither a thread nor a connection:

* ``writers`` — one at a time on SQLite (it has one write lock), the pool size on PostgreSQL
  (capped below the worker-thread count, ``ATELIER_THREADS``, so a lock holder always finds a
  thread and readers are never left without one);
* ``sessions`` — every request session, sized below the connection pool (minus a reserve for
  the embedded worker), so a checkout never waits on the pool.

Readers take only a ``sessions`` slot: on SQLite WAL they never queue behind writers. A request
that waits longer than the queue timeout gets :class:`DatabaseBusy` (503 with ``Retry-After``).

The gates are thread-safe and work from any event loop (the test client runs one per thread).
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass

# Worker threads for sync endpoints on SQLite when ``ATELIER_THREADS`` is unset: one for its
# single writer, one for the readers (a writer waiting on another process's lock holds one).
SQLITE_THREADS = 2


def default_threads(url: str, pool_size: int) -> int:
    """Two on SQLite; the connection pool size on PostgreSQL (at least two)."""
    return SQLITE_THREADS if url.startswith("sqlite") else max(SQLITE_THREADS, pool_size)


class DatabaseBusy(Exception):
    """No admission within the queue timeout: answered 503 with ``Retry-After``."""

    def __init__(self, gate: str, timeout: float) -> None:
        super().__init__(f"no {gate} slot within {timeout:g}s")
        self.gate = gate
        self.timeout = timeout


class _Waiter:
    __slots__ = ("future", "granted", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self.granted = False

    def wake(self) -> None:
        if not self.future.done():
            self.future.set_result(None)


class Gate:
    """A FIFO counting semaphore awaited from any event loop; released from any thread."""

    def __init__(self, name: str, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("a gate needs at least one slot")
        self.name = name
        self.capacity = capacity
        self._lock = threading.Lock()
        self._free = capacity
        self._waiters: deque[_Waiter] = deque()

    @property
    def in_use(self) -> int:
        return self.capacity - self._free

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self, timeout: float) -> bool:
        """Take a slot; ``False`` when none came free within ``timeout`` seconds."""
        with self._lock:
            if self._free and not self._waiters:
                self._free -= 1
                return True
            waiter = _Waiter(asyncio.get_running_loop())
            self._waiters.append(waiter)
        try:
            async with asyncio.timeout(max(timeout, 0.0)):
                await waiter.future
            return True
        except TimeoutError:
            with self._lock:
                if waiter.granted:  # handed over just as the timer fired: keep it
                    return True
                self._waiters.remove(waiter)
            return False
        except BaseException:
            with self._lock:
                granted = waiter.granted
                if not granted:
                    self._waiters.remove(waiter)
            if granted:
                self.release()
            raise

    def release(self) -> None:
        """Hand the slot to the longest waiter, or free it."""
        with self._lock:
            while self._waiters:
                waiter = self._waiters.popleft()
                waiter.granted = True
                try:
                    waiter.loop.call_soon_threadsafe(waiter.wake)
                except RuntimeError:  # its event loop is gone; try the next one
                    waiter.granted = False
                    continue
                return
            self._free += 1


@dataclass
class Ticket:
    """What one admitted request holds; :meth:`release` is idempotent and thread-safe."""

    admission: Admission
    write: bool
    _released: bool = False

    def release(self) -> None:
        with self.admission._ticket_lock:
            if self._released:
                return
            self._released = True
        self.admission.sessions.release()
        if self.write:
            self.admission.writers.release()


class Admission:
    """The two gates of one :class:`~atelier.platform.db.Database`."""

    def __init__(self, *, writers: int, sessions: int, timeout: float) -> None:
        self.writers = Gate("writer", writers)
        self.sessions = Gate("session", max(sessions, writers))
        self.timeout = timeout
        self._ticket_lock = threading.Lock()

    async def admit(self, *, write: bool) -> Ticket:
        """Wait (on the event loop) for a session slot, and first a writer slot if ``write``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        if write and not await self.writers.acquire(self.timeout):
            raise DatabaseBusy("writer", self.timeout)
        try:
            if not await self.sessions.acquire(deadline - loop.time()):
                raise DatabaseBusy("session", self.timeout)
        except BaseException:
            if write:
                self.writers.release()
            raise
        return Ticket(self, write)
