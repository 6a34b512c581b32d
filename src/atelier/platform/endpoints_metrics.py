"""``GET /metrics``: Prometheus text format (0.0.4) for this process and the database.

Access: with ``ATELIER_METRICS_TOKEN`` set, a request needs ``Authorization: Bearer <token>``
(401 otherwise, from anywhere). Without it only loopback clients (127.0.0.0/8, ::1) may scrape;
anyone else gets 403. Not in the OpenAPI document: it is not part of the JSON API.
"""

from __future__ import annotations

import hmac
import ipaddress
import threading
from collections.abc import Iterator

from fastapi import FastAPI, Request, Response
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

from atelier.platform.db import Database
from atelier.platform.errors import Forbidden, PlatformCode, Unauthorized
from atelier.platform.metrics_db import DatabaseCollector
from atelier.platform.routers import APIRouter
from atelier.platform.scheduler import registry as job_registry
from atelier.platform.settings import Settings

router = APIRouter(tags=["metrics"])
_registry_lock = threading.Lock()


class _ProcessMetrics(Collector):
    """This process's instruments (``prometheus_client``'s default registry)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def _app_registry(app: FastAPI) -> CollectorRegistry:
    """Process metrics plus the database gauges of this app's database, built once per app."""
    with _registry_lock:
        registry: CollectorRegistry | None = getattr(app.state, "metrics_registry", None)
        if registry is None:
            db: Database = app.state.db
            settings: Settings = app.state.settings
            registry = CollectorRegistry(auto_describe=False)
            registry.register(_ProcessMetrics())
            registry.register(DatabaseCollector(db, job_registry, settings))
            app.state.metrics_registry = registry
        return registry


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def authorize_scrape(request: Request, settings: Settings) -> None:
    """Raise Unauthorized/Forbidden unless this request may read the metrics."""
    if settings.metrics_token is not None:
        expected = settings.metrics_token.get_secret_value().encode()
        scheme, _, supplied = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            supplied.strip().encode(), expected
        ):
            raise Unauthorized(
                "a valid metrics token is required", code=PlatformCode.METRICS_TOKEN_REQUIRED
            )
        return
    client = request.client.host if request.client else None
    if not _is_loopback(client):
        raise Forbidden(
            "metrics are served to loopback clients only unless ATELIER_METRICS_TOKEN is set",
            code=PlatformCode.METRICS_LOOPBACK_ONLY,
        )


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus scrape target."""
    authorize_scrape(request, request.app.state.settings)
    body = generate_latest(_app_registry(request.app))
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)
