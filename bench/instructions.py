"""Instructions per request of the hot reads, counted by callgrind: a measure that a shared,
noisy machine does not move (the same code and data give the same count, whatever else runs).

    bench/run-instructions [--small] [--requests 200] [--scenario detail,list] [--calls]

The real app (``create_app``, production settings and logging, SQLite copy of the cached
``bench/run`` dataset) runs in this process under ``valgrind --tool=callgrind`` and is called
directly as an ASGI app (no HTTP server: uvicorn's share is the same for every version of the
app, and the floor's). Per scenario: warm up, zero the counters (``callgrind_control -z``),
send ``--requests`` requests, dump (``callgrind_control -d``) and divide. One line each::

    SCENARIO: N instructions per request (M requests)

Compare two commits by running it in each (a git worktree per commit), never the absolute
count against another machine's. The read scenarios are ``bench/run``'s (``suite.READS``);
"partner milestone" is its write: accept, start, progress on runs of the writer partner's pool,
one request each (the dataset is a copy, so the writes change nothing that lasts).

``--calls`` counts Python function calls per request instead (cProfile, in-process, no
valgrind: seconds, not minutes); the endpoint's worker-thread hop runs inline so its calls are
counted.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from bench import dataset
from bench.common import ROOT

_CHILD = "ATELIER_BENCH_INSTRUCTIONS_CHILD"


def _totals(path: Path) -> int:
    text = path.read_text(errors="replace")
    found = re.search(r"^(?:totals|summary):\s+(\d+)", text, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no totals in {path}")
    return int(found.group(1))


def _tokens(url: str, ids: dict[str, Any]) -> dict[str, str]:
    from datetime import timedelta

    from sqlalchemy import create_engine, text

    from atelier.platform.security import issue_token
    from atelier.platform.settings import get_settings

    secret = get_settings().secret_key.get_secret_value()
    engine = create_engine(url)
    with engine.connect() as conn:
        admin_id = conn.execute(text("SELECT id FROM admin_users ORDER BY id LIMIT 1")).scalar()
    engine.dispose()
    hours = timedelta(hours=6)
    writer = issue_token(
        secret,
        subject=ids["writer_user_id"],
        role="partner",
        partner_id=ids["writer_partner_id"],
        ttl=hours,
    )
    partner = issue_token(
        secret,
        subject=ids["partner_user_id"],
        role="partner",
        partner_id=ids["partner_id"],
        ttl=hours,
    )
    admin = issue_token(secret, subject=str(admin_id), role="admin", ttl=hours)
    return {
        "partner": f"Bearer {partner}",
        "admin": f"Bearer {admin}",
        "writer": f"Bearer {writer}",
    }


async def _call(app: Any, path: str, authorization: str, body: bytes | None = None) -> None:
    """One request to the ASGI app: a GET, or a POST of ``body`` (JSON)."""
    raw_path, _, query = path.partition("?")
    headers = [(b"host", b"bench"), (b"authorization", authorization.encode())]
    if body is not None:
        headers += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET" if body is None else "POST",
        "scheme": "http",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body or b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    if status != [200]:
        raise RuntimeError(f"{path} answered {status}")


MILESTONE = "partner milestone"
_STEPS = (("accept", b""), ("start", b""), ("progress", b'{"produced_quantity": 5}'))


def _milestones(ids: dict[str, Any]) -> Iterator[tuple[str, bytes]]:
    """accept, start, progress of each run of the writer's pool in turn (path, body)."""
    for run_id in ids["pool_app"]:
        for step, body in _STEPS:
            yield f"/partners/production-runs/{run_id}/{step}", body


def _requests(name: str, ids: dict[str, Any], tokens: dict[str, str]) -> Iterator[Any]:
    """(path, authorization, body) of the scenario's requests, as many as asked for."""
    from bench.suite import READS

    if name == MILESTONE:
        for path, body in _milestones(ids):
            yield path, tokens["writer"], body
        return
    read = {read.name: read for read in READS}[name]
    while True:
        yield read.path(ids), tokens[read.caller], None


def child(
    url: str, ids: dict[str, Any], names: Sequence[str], requests: int, out: Path, calls: bool
) -> None:
    """Runs under callgrind (or cProfile with ``calls``): the app, each scenario counted
    between a zero and a dump."""
    os.environ["ATELIER_DATABASE_URL"] = url
    os.environ["ATELIER_EMBEDDED_WORKER"] = "false"
    from atelier.app import create_app
    from atelier.platform.logging import configure_logging
    from atelier.platform.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings, start_background=False, serving=True)
    tokens = _tokens(url, ids)
    pid = str(os.getpid())
    if calls:
        _inline_thread_hops()

    async def main() -> None:
        async with app.router.lifespan_context(app):
            for name in names:
                sent = _requests(name, ids, tokens)
                for _ in range(10):  # warm: statement caches, the principal, the pages read
                    await _call(app, *next(sent))
                batch = [next(sent) for _ in range(requests)]
                profile = cProfile.Profile() if calls else None
                if profile is not None:
                    profile.enable()
                else:
                    _callgrind("-z", pid)
                for request in batch:
                    await _call(app, *request)
                if profile is not None:
                    profile.disable()
                    total = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
                    print(f"{name}: {total / requests:,.0f} Python calls per request", flush=True)
                else:
                    _callgrind("-d", pid)
                with (out / "order").open("a") as done:
                    done.write(name + "\n")

    asyncio.run(main())


def _callgrind(flag: str, pid: str) -> None:
    """``-z`` zeroes the counters of the process ``pid``, ``-d`` dumps them."""
    subprocess.run(["callgrind_control", flag, pid], check=True, capture_output=True)


def _inline_thread_hops() -> None:
    """Run what FastAPI sends to a worker thread in the calling one (cProfile sees one thread)."""
    import anyio.to_thread

    async def inline(func: Any, *args: Any, **_: Any) -> Any:
        return func(*args)

    anyio.to_thread.run_sync = inline  # type: ignore[assignment]


def main(argv: list[str] | None = None) -> None:
    from bench.suite import READS

    parser = argparse.ArgumentParser(prog="bench/run-instructions", description=__doc__)
    parser.add_argument("--small", action="store_true", help="10k runs / 100k tasks")
    parser.add_argument("--requests", type=int, default=200, help="requests per scenario")
    parser.add_argument("--scenario", help="names containing any of these (comma-separated)")
    parser.add_argument(
        "--calls", action="store_true", help="Python calls per request (cProfile), not valgrind"
    )
    args = parser.parse_args(argv)
    valgrind = shutil.which("valgrind") and shutil.which("callgrind_control")
    if not args.calls and not valgrind:
        sys.exit("valgrind is not installed (Debian: apt-get install -y valgrind)")
    words = [w.strip() for w in (args.scenario or "").split(",") if w.strip()]
    every = [*(r.name for r in READS), MILESTONE]
    names = [name for name in every if not words or any(w in name for w in words)]
    size = dataset.SMALL if args.small else dataset.FULL
    with tempfile.TemporaryDirectory(prefix="atelier-instructions-") as tmp:
        work = Path(tmp)
        url, ids = dataset.prepare(None, size, work)
        env = {
            **os.environ,
            _CHILD: "1",
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        }
        under = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={work}/callgrind.out"]
        command = [
            *([] if args.calls else under),
            sys.executable,
            "-m",
            "bench.instructions",
            "--child",
            url,
            str(work),
            str(args.requests),
            "calls" if args.calls else "instructions",
            *names,
        ]
        (work / "ids.json").write_text(json.dumps(ids))
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode == 0 and args.calls:
            print("\n".join(line for line in done.stdout.splitlines() if "calls per" in line))
            return
        if done.returncode != 0:
            sys.exit(f"the app under callgrind failed:\n{done.stderr[-3000:]}")
        order = (work / "order").read_text().splitlines()
        dumps = sorted(work.glob("callgrind.out.*"), key=lambda p: int(p.name.rsplit(".", 1)[-1]))
        # Dump k (1-based) holds scenario k's requests: the counters were zeroed before them.
        if order != list(names) or len(dumps) < len(names):
            sys.exit(f"expected a dump per scenario, got {order} and {[d.name for d in dumps]}")
        for name, dump in zip(names, dumps, strict=False):
            per_request = _totals(dump) / args.requests
            print(
                f"{name}: {per_request / 1e6:.2f}M instructions per request "
                f"({args.requests} requests)",
                flush=True,
            )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, url_arg, work_arg, requests_arg, mode, *scenario_names = sys.argv
        work_dir = Path(work_arg)
        child(
            url_arg,
            json.loads((work_dir / "ids.json").read_text()),
            scenario_names,
            int(requests_arg),
            work_dir,
            calls=mode == "calls",
        )
    else:
        main()
