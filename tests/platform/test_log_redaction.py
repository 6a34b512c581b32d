"""Secrets in query strings never reach a log line (issue 8, defect 5)."""

from __future__ import annotations

import logging
import logging.config
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient
from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter

from atelier.platform.db import Database
from atelier.platform.logging import (
    REDACTED,
    RedactQuerySecrets,
    build_formatter,
    is_secret_query_name,
    redact_query_secrets,
)
from atelier.platform.settings import Settings
from tests.auth.test_deeplinks import _token
from tests.media.support import world

SECRET = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.c2lnbmF0dXJl"


class TestRedactQuerySecrets:
    @pytest.mark.parametrize(
        "name",
        [
            "wa_token",
            "wa%5Ftoken",
            "wa%5ftoken",
            "WA_TOKEN",
            "Wa%5FToken",
            "wa%255Ftoken",
            "%77%61%5F%74%6F%6B%65%6E",
            "wa-token",
            "access_token",
            "password",
            "client_secret",
            "signature",
            "sig",
            "api_key",
            "api%5Fkey",
        ],
    )
    def test_secret_names_are_redacted(self, name: str) -> None:
        assert is_secret_query_name(name)
        line = f"GET /partners/wa-auth?x=1&{name}={SECRET}&y=2 HTTP/1.1"
        assert redact_query_secrets(line) == (
            f"GET /partners/wa-auth?x=1&{name}={REDACTED}&y=2 HTTP/1.1"
        )

    @pytest.mark.parametrize(
        "text",
        [
            "/admin/orders?limit=50&offset=0",
            "/admin/production-runs?status=open&q=tokenless+shirt",
            "no query here = at all",
            "/partners/wa-auth?wa_token=",
        ],
    )
    def test_other_text_is_unchanged(self, text: str) -> None:
        assert redact_query_secrets(text) == text

    def test_first_parameter_and_semicolon_separator(self) -> None:
        assert redact_query_secrets(f"/x?wa%5Ftoken={SECRET};token={SECRET}") == (
            f"/x?wa%5Ftoken={REDACTED};token={REDACTED}"
        )

    def test_app_records_are_redacted_by_the_formatters(self) -> None:
        record = logging.makeLogRecord(
            {
                "name": "atelier.test",
                "levelno": logging.INFO,
                "levelname": "INFO",
                "msg": "redirect to %s",
                "args": (f"/partners/wa-auth?wa%5Ftoken={SECRET}",),
                "url": f"http://h/p?Wa%5FToken={SECRET}",
            }
        )
        for fmt in ("text", "json"):
            line = build_formatter(fmt).format(record)
            assert SECRET not in line and REDACTED in line, line


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(AccessFormatter(LOGGING_CONFIG["formatters"]["access"]["fmt"]))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def uvicorn_logging() -> Iterator[logging.Logger]:
    """uvicorn's loggers configured the way ``uvicorn.run`` (``atelier serve``) configures them
    (its ``dictConfig``), restored afterwards; the access logger is returned."""
    names = ("uvicorn", "uvicorn.error", "uvicorn.access")
    saved = {
        n: (logging.getLogger(n).handlers[:], logging.getLogger(n).level,
            logging.getLogger(n).propagate, logging.getLogger(n).disabled)
        for n in names
    }  # fmt: skip
    logging.config.dictConfig(LOGGING_CONFIG)
    access = logging.getLogger("uvicorn.access")
    access.handlers[:] = []  # keep the suite's output quiet; the test adds its own handler
    try:
        yield access
    finally:
        for name, (handlers, level, propagate, disabled) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate, logger.disabled = propagate, disabled


def test_uvicorn_access_log_never_prints_the_deep_link_token(
    admin: TestClient,
    client: TestClient,
    db: Database,
    settings: Settings,
    uvicorn_logging: logging.Logger,
    uvicorn_url: str,
) -> None:
    w = world(admin, client, db)
    token = _token(settings, w)
    access = uvicorn_logging
    # create_app attached the filter; uvicorn's dictConfig replaced handlers but kept it.
    assert any(isinstance(f, RedactQuerySecrets) for f in access.filters)
    assert access.isEnabledFor(logging.INFO)
    capture = _Lines()
    access.addHandler(capture)
    try:
        with httpx.Client(base_url=uvicorn_url, follow_redirects=False) as http:
            for name in ("wa_token", "wa%5Ftoken", "wa%5ftoken", "%77a_token"):
                response = http.get(
                    f"/partners/wa-auth?{name}={quote(token)}&x=1",
                    headers={"accept": "application/json"},
                )
                # Every spelling is the same parameter to the app: the link is redeemed.
                assert response.status_code == 200, (name, response.text)
            browser = http.get(f"/partners/wa-auth?wa%5Ftoken={token}")
            assert browser.status_code == 303
    finally:
        access.removeHandler(capture)
    assert len(capture.lines) == 5, capture.lines
    for line in capture.lines:
        assert token not in line and token.split(".")[1] not in line, line
        assert f"={REDACTED}&x=1" in line or f'={REDACTED} HTTP/1.1" 303' in line, line
        assert '"GET /partners/wa-auth?' in line
