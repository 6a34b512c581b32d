"""Application factory: routers, error handlers, lifespan (embedded worker and scheduler)."""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp

from atelier import __version__
from atelier.partners.service import partner_account
from atelier.platform.accounts import use_partner_accounts
from atelier.platform.db import Database
from atelier.platform.hotlane import hot_lane
from atelier.platform.http import install_error_handlers
from atelier.platform.logging import install_access_log_redaction
from atelier.platform.metrics import HttpMetrics
from atelier.platform.middleware import BodySizeLimit, JsonBodyCheck, UnhandledErrors
from atelier.platform.routing import install_route_index
from atelier.platform.runtime import (
    WAKE_SOCKET_ENV,
    pause_gc_for_startup,
    tune_gc_for_serving,
    use_worker_threads,
    wake_parent_on_commit,
)
from atelier.platform.settings import Settings, get_settings, use_settings

log = logging.getLogger(__name__)

# Every router the service mounts, in order. Each module exposes ``router``.
ROUTER_MODULES: list[str] = [
    "atelier.platform.endpoints_health",
    "atelier.platform.endpoints_docs",
    "atelier.platform.endpoints_metrics",
    "atelier.platform.endpoints_outbox",
    "atelier.auth.endpoints",
    "atelier.inventory.endpoints",
    "atelier.orders.endpoints",
    "atelier.orders.endpoints_webhooks",
    "atelier.catalog.endpoints",
    "atelier.partners.endpoints",
    "atelier.production.endpoints_admin",
    "atelier.production.endpoints_policy",
    "atelier.production.endpoints_admin_lifecycle",
    "atelier.production.endpoints_costs",
    "atelier.production.endpoints_holds",
    "atelier.production.endpoints_partner",
    "atelier.notifications.endpoints_admin",
    "atelier.notifications.endpoints_messages",
    "atelier.notifications.endpoints_whatsapp",
    "atelier.notifications.endpoints_webhooks",
    "atelier.auth.endpoints_deeplink",
    "atelier.media.endpoints_partner",
    "atelier.media.endpoints_admin",
    "atelier.media.endpoints_files",
    "atelier.catalog.endpoints_partner",
    "atelier.catalog.endpoints_legacy",
    "atelier.production.endpoints_dispatch",
    "atelier.tasks.endpoints_admin",
    "atelier.tasks.endpoints_partner",
    "atelier.flows.endpoints",
    "atelier.production.endpoints_task_work",
]

# Modules that register outbox subscribers when imported.
SUBSCRIBER_MODULES: list[str] = [
    "atelier.production.subscribers",
    "atelier.notifications.subscribers",
    "atelier.flows.subscribers",
    "atelier.notifications.feed_subscribers",
]

# Modules that register scheduled jobs (``@scheduled_job``) when imported.
JOB_MODULES: list[str] = [
    "atelier.platform.housekeeping",
    "atelier.platform.statistics",
    "atelier.production.jobs",
    "atelier.notifications.jobs",
    "atelier.flows.jobs",
]

# Modules that register flow operations (``@operation``) when imported.
OPERATION_MODULES: list[str] = [
    "atelier.flows.operations",
    "atelier.flows.operations_notify",
    "atelier.reminders.operations",
]


def load_subscribers() -> None:
    for name in SUBSCRIBER_MODULES:
        importlib.import_module(name)


def load_jobs() -> None:
    for name in JOB_MODULES:
        importlib.import_module(name)


def load_operations() -> None:
    for name in OPERATION_MODULES:
        importlib.import_module(name)


class AtelierApp(FastAPI):
    """FastAPI with the hot lane (``platform.hotlane``) in front of its middleware stack."""

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        lane = hot_lane(stack, getattr(self.state, "route_index", None))
        self.state.hot_lane = lane
        return stack if lane is None else lane


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    start_background: bool | None = None,
    serving: bool = False,
    prepared: bool = False,
) -> FastAPI:
    """Build the ASGI app. Tests pass their own settings/database and no background threads.

    ``serving``: ``atelier serve`` (not tests): the garbage collector is tuned for a server once
    start-up is done (``platform.runtime``). ``prepared``: the caller (``atelier serve``) has
    already created the bootstrap admin and seeded the flows on this database, so the lifespan
    does not do it a second time.
    """
    settings = settings or get_settings()
    use_settings(settings)
    if settings.env == "test":
        from atelier.platform.security import use_fast_hashing

        use_fast_hashing()
    db = database or Database.from_settings(settings)
    run_background = settings.embedded_worker if start_background is None else start_background

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from atelier.auth.service import ensure_bootstrap_admin

        use_worker_threads(db.threads)
        if not prepared:
            with db.session() as session:
                ensure_bootstrap_admin(session, settings)
        if settings.seed_flows and not prepared:
            from atelier.flows.seeds import seed_flows

            with db.session() as session:
                seed_flows(session, settings)
        background = None
        if run_background:
            from atelier.platform.worker import EmbeddedWorker

            background = EmbeddedWorker(db, settings)
            background.start()
        if serving:
            tune_gc_for_serving()
        try:
            yield
        finally:
            if background is not None:
                background.stop()

    app = AtelierApp(
        title="Atelier",
        version=__version__,
        description="Production runs for a garment brand and its partner workshops.",
        lifespan=lifespan,
        # /docs is served by platform.endpoints_docs from a local copy of Swagger UI.
        docs_url=None,
        redoc_url=None,
        telemetry=None
        if settings.opentelemetry
        else {"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.db = db
    # Deep-link tokens travel in query strings; uvicorn's access log prints the full URL.
    install_access_log_redaction()
    use_partner_accounts(partner_account)
    install_error_handlers(app)
    # Added first, so it runs inside BodySizeLimit (which bounds what it buffers).
    app.add_middleware(JsonBodyCheck)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.request_max_bytes,
        multipart_max_bytes=settings.media_max_bytes * settings.media_max_files + 64 * 1024,
    )
    # Added last, so it is outermost: it also times and counts what BodySizeLimit refuses.
    app.add_middleware(HttpMetrics)
    # Operations first: flow schemas validate steps against the registry.
    load_operations()
    for name in ROUTER_MODULES:
        app.include_router(importlib.import_module(name).router)
    # The web UI (/app, /portal, /static) after the API: its error handlers wrap the API's.
    from atelier.web.shared.install import install_web

    install_web(app)
    # Every route is in: match each request only against the routes its path could reach.
    app.state.route_index = install_route_index(app.router)
    # Added last, so it is the outermost: it sees every exception the handlers left.
    app.add_middleware(UnhandledErrors)
    load_subscribers()
    load_jobs()
    return app


def serve_app() -> FastAPI:
    """uvicorn factory for each process of ``atelier serve --workers N``.

    The parent process has migrated the database, created the bootstrap admin and seeded the
    flows, and runs the embedded worker itself (``ATELIER_EMBEDDED_WORKER`` is false here):
    commits that queued events wake it through its socket.
    """
    from atelier.platform.logging import configure_logging

    pause_gc_for_startup()  # until the lifespan has started (tune_gc_for_serving)
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    wake_socket = os.environ.get(WAKE_SOCKET_ENV)
    if wake_socket:
        wake_parent_on_commit(wake_socket)
    return create_app(settings, serving=True, prepared=True)
