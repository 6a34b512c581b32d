"""The suite logs through the production configuration, and a broken log call fails a test.

``configure_logging("INFO", ...)`` is what ``atelier serve`` runs; the suite then swaps its stream
handler for :class:`StrictLogHandler`, which formats every record with the production text *and*
JSON formatters and throws the result away (pytest already shows the records of a failing test,
so the output stays small). Two kinds of broken log call are caught:

* ``extra={...}`` keys that collide with ``LogRecord`` attributes (``created``, ``name``, ...):
  the logging module raises ``KeyError`` while building the record, before any handler runs;
* records that cannot be formatted (``log.info("%d", "x")``, a wrong argument count), which a
  production handler would only print as "--- Logging error ---".

Both are remembered in :data:`FAILURES` and re-raised; the autouse fixture in ``conftest.py``
fails the test that emitted them, even when the code under test swallowed the exception.
"""

from __future__ import annotations

import logging
from typing import Any

from atelier.platform.logging import build_formatter, configure_logging

FAILURES: list[str] = []

_original_make_record = logging.Logger.makeRecord


class StrictLogHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.formatters = [build_formatter("text"), build_formatter("json")]

    def emit(self, record: logging.LogRecord) -> None:
        for formatter in self.formatters:
            try:
                formatter.format(record)
            except Exception as exc:
                FAILURES.append(f"cannot format {record.name} {record.msg!r}: {exc!r}")
                raise


def _checked_make_record(self: logging.Logger, *args: Any, **kwargs: Any) -> logging.LogRecord:
    try:
        return _original_make_record(self, *args, **kwargs)
    except KeyError as exc:
        msg = args[4] if len(args) > 4 else kwargs.get("msg")
        FAILURES.append(f"cannot build a record for {self.name} {msg!r}: {exc}")
        raise


HANDLER = StrictLogHandler()


def install() -> None:
    """Production logging for the whole session (idempotent)."""
    if logging.Logger.makeRecord is _checked_make_record:
        ensure_installed()
        return
    logging.raiseExceptions = True
    logging.Logger.makeRecord = _checked_make_record  # type: ignore[method-assign]
    configure_logging("INFO", "text")
    ensure_installed()


def ensure_installed() -> None:
    """Put the strict handler back after a test ran a CLI command (it reconfigures logging)."""
    root = logging.getLogger()
    # ``configure_logging`` installs a plain StreamHandler; pytest's capture handlers stay.
    root.handlers[:] = [h for h in root.handlers if type(h) is not logging.StreamHandler]
    if HANDLER not in root.handlers:
        root.addHandler(HANDLER)
    root.setLevel(logging.INFO)
