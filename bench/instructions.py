"""Instructions per request of the hot reads, counted by callgrind: a measure that a shared,
noisy machine does not move (the same code and data give the same count, whatever else runs).

    bench/run-instructions [--small] [--requests 200] [--scenario detail,list]

The real app (``create_app``, production settings and logging, SQLite copy of the cached
``bench/run`` dataset) runs in this process under ``valgrind --tool=callgrind`` and is called
directly as an ASGI app (no HTTP server: uvicorn's share is the same for every version of the
app, and the floor's). Per scenario: warm up, zero the counters (``callgrind_control -z``),
send ``--requests`` requests, dump (``callgrind_control -d``) and divide. One line each::

    SCENARIO: N instructions per request (M requests)

Compare two commits by running it in each (a git worktree per commit), never the absolute
count against another machine's. The read scenarios are ``bench/run``'s (``suite.READS``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
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
    partner = issue_token(
        secret,
        subject=ids["partner_user_id"],
        role="partner",
        partner_id=ids["partner_id"],
        ttl=hours,
    )
    admin = issue_token(secret, subject=str(admin_id), role="admin", ttl=hours)
    return {"partner": f"Bearer {partner}", "admin": f"Bearer {admin}"}


async def _call(app: Any, path: str, authorization: str) -> None:
    raw_path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"authorization", authorization.encode())],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    if status != [200]:
        raise RuntimeError(f"{path} answered {status}")


def child(url: str, ids: dict[str, Any], names: Sequence[str], requests: int, out: Path) -> None:
    """Runs under callgrind: the app, each scenario counted between a zero and a dump."""
    os.environ["ATELIER_DATABASE_URL"] = url
    os.environ["ATELIER_EMBEDDED_WORKER"] = "false"
    from atelier.app import create_app
    from atelier.platform.logging import configure_logging
    from atelier.platform.settings import get_settings
    from bench.suite import READS

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings, start_background=False, serving=True)
    tokens = _tokens(url, ids)
    reads = {read.name: read for read in READS}
    pid = str(os.getpid())

    async def main() -> None:
        async with app.router.lifespan_context(app):
            for name in names:
                read = reads[name]
                path, authorization = read.path(ids), tokens[read.caller]
                for _ in range(10):  # warm: statement caches, the principal, the pages read
                    await _call(app, path, authorization)
                subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
                for _ in range(requests):
                    await _call(app, path, authorization)
                subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
                with (out / "order").open("a") as done:
                    done.write(name + "\n")

    asyncio.run(main())


def main(argv: list[str] | None = None) -> None:
    from bench.suite import READS

    parser = argparse.ArgumentParser(prog="bench/run-instructions", description=__doc__)
    parser.add_argument("--small", action="store_true", help="10k runs / 100k tasks")
    parser.add_argument("--requests", type=int, default=200, help="requests per scenario")
    parser.add_argument("--scenario", help="names containing any of these (comma-separated)")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install -y valgrind)")
    words = [w.strip() for w in (args.scenario or "").split(",") if w.strip()]
    names = [r.name for r in READS if not words or any(w in r.name for w in words)]
    size = dataset.SMALL if args.small else dataset.FULL
    with tempfile.TemporaryDirectory(prefix="atelier-instructions-") as tmp:
        work = Path(tmp)
        url, ids = dataset.prepare(None, size, work)
        env = {
            **os.environ,
            _CHILD: "1",
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        }
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={work}/callgrind.out",
            sys.executable,
            "-m",
            "bench.instructions",
            "--child",
            url,
            str(work),
            str(args.requests),
            *names,
        ]
        (work / "ids.json").write_text(json.dumps(ids))
        done = subprocess.run(command, env=env, capture_output=True, text=True)
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
        _, _, url_arg, work_arg, requests_arg, *scenario_names = sys.argv
        work_dir = Path(work_arg)
        child(
            url_arg,
            json.loads((work_dir / "ids.json").read_text()),
            scenario_names,
            int(requests_arg),
            work_dir,
        )
    else:
        main()
