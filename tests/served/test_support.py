"""The served suite's output check finds what it must (tracebacks, ERROR lines, 5xx answers)
and nothing else."""

from __future__ import annotations

from pathlib import Path

from tests.served.support import Proc

CLEAN = """\
✓ schema at revision 0002
2026-11-29 23:56:42,621 INFO atelier.auth.service: bootstrap admin created admin_id=admin_1
INFO:     127.0.0.1:46244 - "POST /auth/admin/token HTTP/1.1" 200 OK
INFO:     127.0.0.1:46250 - "POST /admin/production-runs/r/complete HTTP/1.1" 409 Conflict
2026-11-29 23:56:45,889 WARNING atelier.x: order line skipped: ERROR in the shop's data
2026-11-29 23:56:45,889 INFO atelier.y: note text mentions 500 and Traceback-free words
"""

DIRTY = {
    "traceback": "Traceback (most recent call last):\n  File 'x.py'\nKeyError: 'created'\n",
    "our error": "2026-11-29 23:56:45,889 ERROR atelier.platform.dispatcher: round failed\n",
    "uvicorn error": "ERROR:    Exception in ASGI application\n",
    "critical": "2026-11-29 23:56:45,889 CRITICAL atelier.app: giving up\n",
    "5xx": 'INFO:     127.0.0.1:1 - "POST /webhooks/orders HTTP/1.1" 500 Internal Server Error\n',
    "503": 'INFO:     127.0.0.1:1 - "GET /health HTTP/1.1" 503 Service Unavailable\n',
}


def _proc(tmp_path: Path, text: str) -> Proc:
    log = tmp_path / "api-1.log"
    log.write_text(text)
    return Proc(name="api", args=[], env={}, log_dir=tmp_path, cwd=tmp_path, logs=[log])


def test_a_clean_log_has_no_problems(tmp_path: Path) -> None:
    assert _proc(tmp_path, CLEAN).problems() == []


def test_each_kind_of_problem_is_found(tmp_path: Path) -> None:
    for kind, line in DIRTY.items():
        found = _proc(tmp_path, CLEAN + line + CLEAN).problems()
        assert len(found) == 1, (kind, found)
        assert line.splitlines()[0] in found[0], kind


def test_tolerated_records_are_skipped_whole(tmp_path: Path) -> None:
    early = (
        "2026-11-29 23:56:42,521 ERROR atelier.platform.scheduler: scheduler tick failed\n"
        "Traceback (most recent call last):\n"
        '  File "scheduler.py", line 200, in run_forever\n'
        'psycopg.errors.UndefinedTable: relation "scheduled_slots" does not exist\n'
    )
    late = "2026-11-29 23:57:00,000 ERROR atelier.platform.dispatcher: round failed\n"
    proc = _proc(tmp_path, CLEAN + early + CLEAN + late)
    pattern = r"psycopg\.errors\.UndefinedTable"
    assert proc.problems(tolerate=pattern) == [late.strip()]
    assert len(proc.problems()) == 3
