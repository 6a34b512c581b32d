"""Logging: the suite runs the production configuration, and no log call can break a request."""

from __future__ import annotations

import ast
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from atelier.platform.logging import JsonFormatter, TextFormatter
from tests import log_guard
from tests.orders.test_webhooks import medusa_order, post_shopify, post_signed, shopify_order

SRC = Path(__file__).resolve().parents[2] / "src"
RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class TestSuiteLogging:
    def test_root_logger_is_the_production_configuration(self) -> None:
        root = logging.getLogger()
        assert root.level == logging.INFO
        assert log_guard.HANDLER in root.handlers
        kinds = {type(f) for f in log_guard.HANDLER.formatters}
        assert kinds == {TextFormatter, JsonFormatter}
        assert logging.getLogger("atelier.orders").isEnabledFor(logging.INFO)

    def test_a_reserved_extra_key_is_caught(self) -> None:
        seen = len(log_guard.FAILURES)
        with pytest.raises(KeyError, match="created"):
            logging.getLogger("atelier.test").info("boom", extra={"created": True})
        caught = log_guard.FAILURES[seen:]
        del log_guard.FAILURES[seen:]  # this test wanted the failure; don't fail it
        assert len(caught) == 1 and "created" in caught[0]

    def test_an_unformattable_record_is_caught(self) -> None:
        seen = len(log_guard.FAILURES)
        with pytest.raises(TypeError):
            logging.getLogger("atelier.test").info("%d items", "many")
        caught = log_guard.FAILURES[seen:]
        del log_guard.FAILURES[seen:]
        assert len(caught) == 1 and "%d items" in caught[0]

    def test_swallowed_log_failure_still_fails_the_test(self, pytester: pytest.Pytester) -> None:
        pytester.makeconftest(
            "from tests.conftest import _production_logging, _log_calls_must_not_fail\n"
        )
        pytester.makepyfile(
            """
            import logging

            def test_swallows():
                try:
                    logging.getLogger("atelier.x").warning("hi", extra={"name": "clash"})
                except KeyError:
                    pass
            """
        )
        result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
        result.assert_outcomes(passed=1, errors=1)
        result.stdout.fnmatch_lines(["*a log call failed*", "*atelier.x *hi*overwrite *name*"])

    def test_extra_fields_reach_text_and_json_output(self) -> None:
        record = logging.getLogger("atelier.test").makeRecord(
            "atelier.test", logging.INFO, __file__, 1, "order %s", ("o1",), None,
            extra={"order_id": "o1", "new_order": True, "password": "hunter2"},
        )  # fmt: skip
        text = log_guard.HANDLER.formatters[0].format(record)
        assert "order o1" in text and "order_id=o1" in text and "new_order=True" in text
        body = json.loads(log_guard.HANDLER.formatters[1].format(record))
        assert body["order_id"] == "o1" and body["password"] == "***"
        assert "hunter2" not in text


def _reserved_extra_keys(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            if keyword.arg != "extra" or not isinstance(keyword.value, ast.Dict):
                continue
            for key in keyword.value.keys:
                if isinstance(key, ast.Constant) and key.value in RESERVED:
                    found.append(f"{path.relative_to(SRC)}:{node.lineno} {key.value!r}")
    return found


def test_no_log_call_in_src_uses_a_reserved_extra_key() -> None:
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 50
    offenders = [hit for path in files for hit in _reserved_extra_keys(path)]
    assert offenders == []


class TestOrderWebhooksLogAtInfo:
    """Regression: ``extra={"created": ...}`` made every signed order webhook a 500 at INFO."""

    @pytest.mark.parametrize("adapter", ["generic", "medusa", "shopify"])
    def test_signed_webhook_is_logged_and_answered(
        self, client: TestClient, caplog: pytest.LogCaptureFixture, adapter: str
    ) -> None:
        def deliver() -> Any:
            if adapter == "shopify":
                return post_shopify(client, shopify_order())
            if adapter == "medusa":
                return post_signed(client, {"data": medusa_order()}, "/webhooks/orders/medusa")
            generic = {"external_id": "shop-1", "items": [{"product_id": "p1", "quantity": 1}]}
            return post_signed(client, generic)

        with caplog.at_level(logging.INFO, logger="atelier.orders"):
            first, second = deliver(), deliver()
        assert (first.status_code, second.status_code) == (201, 200), first.text
        received = [r for r in caplog.records if r.getMessage() == "order webhook received"]
        assert [getattr(r, "new_order", None) for r in received] == [True, False]
        assert all(getattr(r, "order_id", None) == first.json()["order"]["id"] for r in received)
