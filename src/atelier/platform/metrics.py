"""Prometheus instruments of this process and the pure-ASGI middleware that times requests.

Everything here is per process (``prometheus_client``'s default registry, which also carries the
``process_*`` and ``python_*`` collectors): scrape every API process. The gauges derived from
the database (outbox backlog, scheduler last success, pool) are computed at scrape time by
``platform.metrics_db``.
"""

from __future__ import annotations

import re
import threading
import time
from bisect import bisect_left
from collections.abc import Iterator
from itertools import accumulate
from typing import Any

from prometheus_client import REGISTRY, Counter, disable_created_metrics
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# ``*_created`` series would double the series count and say nothing a restart counter does not.
disable_created_metrics()  # type: ignore[no-untyped-call]

UNMATCHED = "<unmatched>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds; the service answers most requests in milliseconds, a few exports take seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

_HTTP_LABELS = ["method", "route", "status"]
# The histogram's ``le`` labels, as ``prometheus_client`` writes them (``1.0``, ``+Inf``).
_BUCKET_LABELS = [floatToGoString(b) for b in LATENCY_BUCKETS] + ["+Inf"]  # type: ignore[no-untyped-call]


class HttpStats(Collector):
    """The HTTP series of this process, kept as plain numbers under one lock and exposed at
    scrape time as ``prometheus_client``'s instruments would expose them:

    * ``atelier_http_requests_total`` (counter) — requests answered, by method, route template
      and status code;
    * ``atelier_http_request_duration_seconds`` (histogram, :data:`LATENCY_BUCKETS`) — time
      from receiving a request to the end of its response, by the same labels;
    * ``atelier_http_requests_in_progress`` (gauge) — requests being handled.

    A request updates all three; as instruments that is five locked value updates and a dozen
    calls (~4 µs on a 100 µs read), here one lock and a few list updates.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (method, route, status) -> [count, sum, per-bucket counts (not cumulative)..., +Inf]
        self._series: dict[tuple[str, str, str], list[float]] = {}
        self._in_progress = 0

    def started(self) -> None:
        with self._lock:
            self._in_progress += 1

    def finished(self, key: tuple[str, str, str], seconds: float) -> None:
        """One request answered (``key``: method, route, status) in ``seconds``."""
        slot = 2 + bisect_left(LATENCY_BUCKETS, seconds)  # the first bucket with le >= seconds
        with self._lock:
            self._in_progress -= 1
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = [0.0] * (len(LATENCY_BUCKETS) + 3)
            series[0] += 1
            series[1] += seconds
            series[slot] += 1

    def describe(self) -> Iterator[Metric]:
        return self._families({}, 0)

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            series = {key: list(values) for key, values in self._series.items()}
            in_progress = self._in_progress
        return self._families(series, in_progress)

    def _families(
        self, series: dict[tuple[str, str, str], list[float]], in_progress: int
    ) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "atelier_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            labels=_HTTP_LABELS,
        )
        latency = HistogramMetricFamily(
            "atelier_http_request_duration_seconds",
            "Time from receiving a request to the end of its response, by route template and "
            "status.",
            labels=_HTTP_LABELS,
        )
        bounds = _BUCKET_LABELS
        for key, values in series.items():
            requests.add_metric(list(key), values[0])
            cumulative = list(accumulate(values[2:]))
            latency.add_metric(list(key), list(zip(bounds, cumulative, strict=True)), values[1])
        yield requests
        yield latency
        yield GaugeMetricFamily(
            "atelier_http_requests_in_progress",
            "HTTP requests being handled by this process.",
            value=in_progress,
        )


HTTP_STATS = HttpStats()
REGISTRY.register(HTTP_STATS)

# Outbox dispatcher and scheduler of this process (embedded worker or ``atelier worker``).
OUTBOX_SUBSCRIBER_RUNS = Counter(
    "atelier_outbox_subscriber_runs",
    "Subscriber runs by this process's dispatcher, by subscriber and outcome.",
    ["subscriber", "outcome"],
)
OUTBOX_EVENTS_FINISHED = Counter(
    "atelier_outbox_events_finished",
    "Events this process's dispatcher finished a round on: delivered, retry scheduled, dead.",
    ["outcome"],
)
SCHEDULER_JOB_RUNS = Counter(
    "atelier_scheduler_job_runs",
    "Scheduled job slots run by this process, by job and outcome.",
    ["job", "outcome"],
)


def _documented_templates(app: Any) -> list[tuple[re.Pattern[str], str]]:
    """Every documented path template of the app (the paths of its OpenAPI document), compiled
    as the router compiles it. Read from the route tree, not from ``app.openapi()``: building the
    document (every schema) took seconds, and the first unmatched request (a 404, a
    ``/favicon.ico``) paid for it."""
    from fastapi.routing import APIRoute

    from atelier.platform.routing import leaves

    router = getattr(app, "router", None)
    templates: dict[str, re.Pattern[str]] = {}
    for path, route, _ in leaves(getattr(router, "routes", ())):
        if path is None or not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        pattern, template, _ = compile_path(path)
        templates.setdefault(template, pattern)
    return [(pattern, template) for template, pattern in templates.items()]


class HttpMetrics:
    """Counts and times every HTTP request by method, route template and status.

    Pure ASGI (no ``BaseHTTPMiddleware``): the cost is two clock reads and two updates of
    :data:`HTTP_STATS` per request. The status is the one sent; a request whose handler raised
    before sending counts as 500.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._templates: list[tuple[re.Pattern[str], str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        HTTP_STATS.started()
        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            self.observe(scope, status, time.perf_counter() - started)

    def route_template(self, scope: Scope) -> str:
        """The matched route's path template (``/admin/outbox/events/{event_id}``), never the
        raw path, so ids cannot grow the series count.

        A request answered before routing (a 413 from the body-size limit) is matched against
        the documented templates; paths no route knows share one label.
        """
        route = scope.get("route")
        template = getattr(route, "path_format", None) or getattr(route, "path", None)
        if template:
            return str(template)
        if self._templates is None:
            self._templates = _documented_templates(scope.get("app"))
        path = scope.get("path", "")
        for pattern, documented in self._templates:
            if pattern.match(path):
                return documented
        return UNMATCHED

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        """One answered request (after ``HTTP_STATS.started()``) and its duration (also used
        by ``platform.hotlane``)."""
        method = scope.get("method", "GET")
        key = (method if method in _METHODS else "other", self.route_template(scope), str(status))
        HTTP_STATS.finished(key, seconds)
