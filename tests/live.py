"""The real app behind a real uvicorn server in a thread of the test process.

One event loop and one worker-thread pool serve every caller, as in ``atelier serve``, so
bursts from many client threads meet the same limits they meet in production (the in-process
test client runs a fresh event loop per calling thread instead). The app, its database and the
frozen clock are the test's own.

    with LiveServer(app) as server:
        results = together(100, lambda i: server.client().post(...).status_code)
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

import httpx
import uvicorn
from fastapi import FastAPI

T = TypeVar("T")

# Each call in a burst gives up after this long, so a stalled server fails the test instead of
# hanging it. Not a speed assertion: a healthy burst of 100 finishes in a few seconds.
CALL_TIMEOUT = 120.0


class LiveServer:
    def __init__(self, app: FastAPI) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        port = self._sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            app,
            log_config=None,  # keep the test process's logging as it is
            access_log=False,
            lifespan="off",  # the test client fixture already ran it
            timeout_keep_alive=30,
            backlog=512,
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, args=([self._sock],), daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        started = threading.Event()
        for _ in range(600):
            if self.server.started:
                started.set()
                break
            started.wait(0.05)
        if not started.is_set():
            raise RuntimeError("the live server did not start")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.should_exit = True
        self._thread.join(30)
        self._sock.close()

    def client(self, headers: dict[str, str] | None = None) -> httpx.Client:
        """A keep-alive client of its own (one connection per calling thread)."""
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=CALL_TIMEOUT)


def together(n: int, call: Callable[[int], T]) -> list[T | BaseException]:
    """Run ``call(i)`` for i in 0..n-1 in ``n`` threads released at once; results in order
    (an exception a call raised is returned in its place)."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = call(i)
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(CALL_TIMEOUT + 30)
    if any(thread.is_alive() for thread in threads):
        raise AssertionError("a caller is still running after the call timeout")
    return results
