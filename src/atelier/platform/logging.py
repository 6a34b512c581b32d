"""Structured logging: ``extra={...}`` fields appear in text and JSON output alike.

Secrets stay out of every line: fields named like a secret print as ``***``, and the value of a
secret-bearing query parameter (``wa_token=...``, however its name is percent-encoded) prints as
``[redacted]`` in the app's own records and in uvicorn's access log.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
# Keys that must never reach a log line, whatever a caller passes in ``extra``.
_SECRET_KEYS = {"password", "token", "secret", "signature", "wa_token", "authorization"}


# Query parameter names whose value is a credential: any name containing one of these parts,
# or exactly one of the short names.
_SECRET_QUERY_PARTS = ("token", "password", "passwd", "secret", "signature", "credential")
_SECRET_QUERY_NAMES = {"sig", "auth", "authorization", "api_key", "apikey", "key"}
# ``?name=value`` / ``&name=value`` inside a URL, a path or any text around them.
_QUERY_PAIR = re.compile(r"(?P<sep>[?&;])(?P<name>[^=&;#?\s\"']+)=(?P<value>[^&;#\s\"']*)")
REDACTED = "[redacted]"


def _decoded_name(name: str) -> str:
    # Decode until stable (bounded): ``wa%5Ftoken`` and ``wa%255Ftoken`` are both ``wa_token``.
    for _ in range(3):
        decoded = unquote_plus(name)
        if decoded == name:
            break
        name = decoded
    return name.strip().lower().replace("-", "_")


def is_secret_query_name(name: str) -> bool:
    """Whether a (possibly percent-encoded) query parameter name carries a credential."""
    decoded = _decoded_name(name)
    return decoded in _SECRET_QUERY_NAMES or any(p in decoded for p in _SECRET_QUERY_PARTS)


def redact_query_secrets(text: str) -> str:
    """``text`` with the value of every secret-bearing query parameter replaced."""
    if "=" not in text:
        return text

    def _sub(match: re.Match[str]) -> str:
        if not match["value"] or not is_secret_query_name(match["name"]):
            return match[0]
        return f"{match['sep']}{match['name']}={REDACTED}"

    return _QUERY_PAIR.sub(_sub, text)


class RedactQuerySecrets(logging.Filter):
    """Redacts secret query values in a record's message and string arguments, in place.

    Attached to uvicorn's loggers, whose access lines carry the full request URL as an argument.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_query_secrets(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_query_secrets(a) if isinstance(a, str) else a for a in record.args
            )
        return True


def install_access_log_redaction() -> None:
    """Attach :class:`RedactQuerySecrets` to uvicorn's loggers (idempotent).

    Logger filters survive uvicorn's own ``dictConfig`` (it replaces handlers, not filters).
    """
    for name in ("uvicorn.access", "uvicorn.error"):
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactQuerySecrets) for f in target.filters):
            target.addFilter(RedactQuerySecrets())


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in vars(record).items():
        if key in _RESERVED or key.startswith("_"):
            continue
        if any(s in key.lower() for s in _SECRET_KEYS):
            out[key] = "***"
        else:
            out[key] = redact_query_secrets(value) if isinstance(value, str) else value
    return out


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": redact_query_secrets(record.getMessage()),
        }
        body.update(_fields(record))
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


class TextFormatter(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:
        return redact_query_secrets(super().formatMessage(record))

    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        fields = _fields(record)
        if fields:
            base += " " + " ".join(f"{k}={v}" for k, v in sorted(fields.items()))
        return base


def build_formatter(fmt: str = "text") -> logging.Formatter:
    """The formatter ``configure_logging`` installs for ``fmt`` ("text" or "json")."""
    if fmt == "json":
        return JsonFormatter()
    return TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(build_formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
