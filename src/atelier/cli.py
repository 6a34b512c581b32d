"""The ``atelier`` command: serve, worker, migrate, demo, admin, flows, whatsapp-templates."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from atelier.platform.settings import Settings, get_settings

if TYPE_CHECKING:
    from atelier.platform.db import Database

app = typer.Typer(
    help="Atelier: production runs for a garment brand and its partner workshops.",
    no_args_is_help=True,
    add_completion=False,
)
admin_app = typer.Typer(help="Manage admin users.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
flows_app = typer.Typer(help="List, run and seed flows.", no_args_is_help=True)
app.add_typer(flows_app, name="flows")

console = Console()
err = Console(stderr=True)


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        err.print(f"[red]Invalid configuration:[/red]\n{exc}")
        raise typer.Exit(2) from exc


def _configure_logging(settings: Settings) -> None:
    from atelier.platform.logging import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    if settings.log_level.upper() != "DEBUG":
        # Alembic narrates every plugin and revision at INFO; the Rich status line says enough.
        logging.getLogger("alembic").setLevel(logging.WARNING)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _migrate(settings: Settings) -> None:
    from atelier.migrations import file_head, heads, upgrade

    with console.status(f"Migrating {_safe_url(settings.database_url)} ..."):
        upgrade(settings.database_url)
    # The scripts' file names say the head without Alembic parsing every script (start-up).
    head = file_head()
    console.print(f"[green]✓[/green] schema at revision {head or ', '.join(heads())}")


def _database(settings: Settings) -> Database:
    """The process's database, pooled as ``ATELIER_DB_POOL_SIZE`` says (every command)."""
    from atelier.platform.db import Database

    return Database.from_settings(settings)


def _load_handlers() -> None:
    """Import every module that registers outbox subscribers or scheduled jobs."""
    from atelier.app import load_jobs, load_operations, load_subscribers

    load_operations()
    load_subscribers()
    load_jobs()


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema to the latest revision."""
    settings = _settings()
    _configure_logging(settings)
    _migrate(settings)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    demo: Annotated[
        bool | None,
        typer.Option(
            "--demo/--no-demo",
            help="Load demo data first (default: ATELIER_DEMO_DATA).",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="HTTP worker processes on the one port (default: ATELIER_WORKERS, else 1).",
            min=1,
            max=64,
            show_default=False,
        ),
    ] = None,
) -> None:
    """Migrate, create the bootstrap admin, optionally load demo data, then serve HTTP.

    With ATELIER_EMBEDDED_WORKER=true (the default) the event dispatcher and the scheduler run
    once: inside the one process, or with --workers N in the parent of the N HTTP processes.
    """
    from atelier.platform.runtime import pause_gc_for_startup, resume_gc

    # Until the app's lifespan has started (tune_gc_for_serving turns it back on).
    pause_gc_for_startup()
    import uvicorn

    from atelier.app import create_app
    from atelier.auth.service import ensure_bootstrap_admin

    settings = _settings()
    _configure_logging(settings)
    _migrate(settings)  # once, before any worker process starts
    db = _database(settings)
    with db.session() as session:
        created = ensure_bootstrap_admin(session, settings)
    if created is not None:
        console.print(f"[green]✓[/green] bootstrap admin {created.email} created")
    _seed_flows(db, settings)
    if settings.demo_data if demo is None else demo:
        resume_gc()  # demo data is mostly garbage once written
        _load_demo(db)
        pause_gc_for_startup()
    processes = workers or settings.workers
    mode = "embedded worker + scheduler" if settings.embedded_worker else "HTTP only"
    console.print(
        f"[bold]Atelier[/bold] on http://{host}:{port} ({mode}, {processes} "
        f"process{'es' if processes > 1 else ''}, {db.threads} threads each); docs at /docs"
    )
    log_level = settings.log_level.lower()
    if processes == 1:
        application = create_app(settings, database=db, serving=True, prepared=True)
        uvicorn.run(application, host=host, port=port, log_level=log_level)
        return
    _serve_processes(settings, db, host=host, port=port, processes=processes)


def _serve_processes(
    settings: Settings, db: Database, *, host: str, port: int, processes: int
) -> None:
    """``processes`` uvicorn workers on one port; the embedded worker runs here, once."""
    import os

    import uvicorn

    from atelier.platform.runtime import WAKE_SOCKET_ENV, WakeListener, resume_gc
    from atelier.platform.worker import EmbeddedWorker

    resume_gc()  # this parent serves no HTTP: default collector (the workers tune their own)
    background = listener = None
    if settings.embedded_worker:
        _load_handlers()
        background = EmbeddedWorker(db, settings)
        background.start()
        listener = WakeListener(background.wake)
        os.environ[WAKE_SOCKET_ENV] = listener.path
    # Read by each worker process's settings (they start afresh from the environment).
    os.environ["ATELIER_EMBEDDED_WORKER"] = "false"
    try:
        uvicorn.run(
            "atelier.app:serve_app",
            factory=True,
            host=host,
            port=port,
            workers=processes,
            log_level=settings.log_level.lower(),
        )
    finally:
        if listener is not None:
            listener.close()
        if background is not None:
            background.stop()
        db.dispose()


@app.command()
def worker(
    scheduler: Annotated[
        bool, typer.Option("--scheduler/--no-scheduler", help="Also run scheduled jobs.")
    ] = True,
    name: Annotated[
        str | None,
        typer.Option(
            help="Stable worker name, unique among running workers (default: "
            "ATELIER_WORKER_NAME, else worker@<hostname>). A restart under the same name "
            "releases the event leases its previous run left at once.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the outbox dispatcher and the scheduler without HTTP. Run as many as you like."""
    from atelier.platform.worker import EmbeddedWorker

    if name is not None and not _valid_worker_name(name):
        err.print("[red]--name: 1-80 characters of letters, digits, '.', '_', '@', '-'[/red]")
        raise typer.Exit(2)
    stop = threading.Event()
    received: list[str] = []

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        # No printing here: a handler that writes to stdout while the main thread is inside a
        # write fails with "reentrant call inside BufferedWriter". The main thread reports it.
        received.append(signal.Signals(signum).name)
        stop.set()

    # Installed first, so a signal during start-up still means a clean stop.
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    settings = _settings()
    _configure_logging(settings)
    _load_handlers()
    db = _database(settings)
    background = EmbeddedWorker(db, settings, run_scheduler=scheduler, kind="worker", name=name)
    if stop.is_set():
        raise typer.Exit(0)
    background.start()
    console.print(
        f"[bold]Atelier worker[/bold] {background.dispatcher.worker_id} "
        f"(dispatcher{' + scheduler' if scheduler else ''}, "
        f"{settings.db_pool_size} database connections); Ctrl-C to stop"
    )
    while not stop.wait(0.5):
        if not background.running:
            err.print("[red]background threads died[/red]")
            raise typer.Exit(1)
    console.print(f"{received[0] if received else 'stop'}: finishing the current round ...")
    background.stop()
    db.dispose()
    console.print("[green]✓[/green] worker stopped")


def _seed_flows(db: Database, settings: Settings) -> None:
    """Create the seeded flows that are missing (the dispatcher active, the discoverer draft)."""
    from atelier.flows.seeds import seed_flows

    _load_handlers()
    with db.session() as session:
        report = seed_flows(session, settings)
    for name in report.created:
        console.print(f"[green]✓[/green] flow {name} seeded")


def _valid_worker_name(name: str) -> bool:
    import re

    return re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,79}", name) is not None


def _load_demo(db: Database) -> None:
    from atelier.demo import load_demo

    # Per-record INFO lines would scroll the progress bar away; the summary below says enough.
    quiet = logging.getLogger("atelier").getEffectiveLevel() > logging.DEBUG
    previous = logging.getLogger("atelier").level
    if quiet:
        logging.getLogger("atelier").setLevel(logging.WARNING)
    try:
        report = load_demo(db, console=console)
    finally:
        logging.getLogger("atelier").setLevel(previous)
    console.print(
        f"[green]✓[/green] demo data: {report.created} created, {report.existing} already there"
    )


@app.command()
def demo() -> None:
    """Load demo data (designs, products, partners with users, templates, inventory).

    Idempotent: running it again changes nothing.
    """

    settings = _settings()
    _configure_logging(settings)
    _migrate(settings)
    db = _database(settings)
    try:
        _load_demo(db)
    finally:
        db.dispose()


@admin_app.command("create")
def admin_create(
    email: Annotated[str, typer.Option(help="Sign-in email.")],
    first_name: Annotated[str, typer.Option(help="First name.")],
    last_name: Annotated[str, typer.Option(help="Last name.")],
    password: Annotated[
        str | None,
        typer.Option(help="Password (at least 8 characters); prompted for when omitted."),
    ] = None,
) -> None:
    """Create an admin user."""
    from atelier.auth.service import create_admin
    from atelier.platform.errors import DomainError

    settings = _settings()
    _configure_logging(settings)
    if "@" not in email or len(email) > 254:
        err.print("[red]--email must be an email address[/red]")
        raise typer.Exit(2)
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not 8 <= len(password) <= 256:
        err.print("[red]the password must have 8 to 256 characters[/red]")
        raise typer.Exit(2)
    db = _database(settings)
    try:
        with db.session() as session:
            user = create_admin(
                session,
                email=email,
                password=password,
                first_name=first_name.strip()[:200],
                last_name=last_name.strip()[:200],
            )
            user_id, user_email = user.id, user.email
    except DomainError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
    console.print(f"[green]✓[/green] admin {user_email} created ({user_id})")


@flows_app.command("list")
def flows_list() -> None:
    """Every flow with its status, trigger and last execution."""
    from rich.table import Table

    from atelier.flows import service as flows
    from atelier.platform.db import Database

    settings = _settings()
    _configure_logging(settings)
    _load_handlers()
    db = Database(settings.database_url)
    try:
        with db.session(write=False) as session:
            rows, _count = flows.list_flows(session, limit=500)
            last = flows.last_executions(session, [f.id for f in rows])
            table = Table("name", "status", "trigger", "last execution")
            for flow in rows:
                trigger = ", ".join(f"{k}={v}" for k, v in flow.trigger_config.items())
                execution = last.get(flow.id)
                table.add_row(
                    flow.name,
                    flow.status,
                    f"{flow.trigger_type} {trigger}".strip(),
                    f"{execution.status} at {execution.started_at:%Y-%m-%d %H:%M}Z"
                    if execution
                    else "-",
                )
    finally:
        db.dispose()
    console.print(table)


@flows_app.command("seed")
def flows_seed() -> None:
    """Create the seeded flows that do not exist yet (never overwrites an operator's edits)."""
    from atelier.flows.seeds import seed_flows
    from atelier.platform.db import Database

    settings = _settings()
    _configure_logging(settings)
    _load_handlers()
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            report = seed_flows(session, settings)
    finally:
        db.dispose()
    for name in report.created:
        console.print(f"[green]✓[/green] created {name}")
    for name in report.existing:
        console.print(f"  kept {name} (already there)")
    for name in report.failed:
        err.print(f"[red]could not seed {name}[/red]")
    if report.failed:
        raise typer.Exit(1)


@flows_app.command("run")
def flows_run(
    name: Annotated[str, typer.Argument(help="The flow's name (as in `atelier flows list`).")],
) -> None:
    """Run a flow now (draft or active) and print its steps."""
    from atelier.flows import service as flows
    from atelier.platform.db import Database
    from atelier.platform.errors import DomainError

    settings = _settings()
    _configure_logging(settings)
    _load_handlers()
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            flow = flows.get_flow_by_name(session, name)
            execution = flows.execute_now(session, flow.id, settings, triggered_by="manual:cli")
            steps = flows.steps_for(session, [execution])[execution.id]
            status, error = execution.status, execution.error
            lines = [f"  {s.key} ({s.operation}): {s.status}" for s in steps]
    except DomainError as exc:
        err.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
    console.print(f"execution {execution.id}: {status}")
    for line in lines:
        console.print(line)
    if error:
        err.print(f"[red]{error}[/red]")
        raise typer.Exit(1)


@app.command("whatsapp-templates")
def whatsapp_templates(
    mode: Annotated[
        str, typer.Option("--mode", help="dry-run: show the plan; upsert: submit missing ones.")
    ] = "dry-run",
    platform: Annotated[
        list[str] | None,
        typer.Option("--platform", help="Only this WhatsApp platform id (repeatable)."),
    ] = None,
    header_handle: Annotated[
        str | None,
        typer.Option(
            help="Meta upload handle of a sample image, for templates with an image header."
        ),
    ] = None,
) -> None:
    """Per platform and language: which catalogue templates exist, are approved, are missing.

    dry-run reads the Graph API and changes nothing; upsert submits only the missing ones.
    Exit code 1 when a platform could not be read or a submission failed.
    """
    from rich.table import Table

    from atelier.notifications import catalog
    from atelier.notifications import platforms as platform_service
    from atelier.notifications import whatsapp_templates as templates
    from atelier.platform.db import Database
    from atelier.platform.errors import DomainError

    if mode not in ("dry-run", "upsert"):
        err.print("[red]--mode must be dry-run or upsert[/red]")
        raise typer.Exit(2)
    settings = _settings()
    _configure_logging(settings)
    db = Database(settings.database_url)
    try:
        with db.session(write=False) as session:
            rows = platform_service.list_platforms(session)
            known = {p.id for p in rows}
            unknown = [pid for pid in platform or [] if pid not in known]
            chosen = [
                templates.PlatformAccess.of(p, settings)
                for p in rows
                if (p.id in platform if platform else p.is_active)
            ]
    finally:
        db.dispose()
    if unknown:
        err.print(f"[red]unknown WhatsApp platform id(s): {', '.join(unknown)}[/red]")
        raise typer.Exit(2)
    if not chosen:
        console.print("No active WhatsApp platform is configured; nothing to do.")
        return
    table = Table(title=f"WhatsApp templates ({mode})")
    for column in ("platform", "template", "language", "state", "Meta status", "outcome"):
        table.add_column(column)
    failed = False
    for access in chosen:
        try:
            existing = templates.list_templates(settings, access)
        except DomainError as exc:
            failed = True
            table.add_row(access.label, "—", "—", "[red]unreadable[/red]", "", exc.detail)
            continue
        plan = templates.plan(access, existing)
        if mode == "upsert":
            plan = templates.upsert(settings, access, plan, header_handle=header_handle)
        for row in plan:
            colour = {"approved": "green", "exists": "yellow", "missing": "red"}[row.state]
            outcome = row.outcome or ""
            if not outcome and row.state == "missing":
                needs_handle = catalog.TEMPLATES[row.template].image_header and not header_handle
                outcome = "would skip: needs --header-handle" if needs_handle else "would submit"
            failed = failed or outcome.startswith("failed")
            table.add_row(
                access.label,
                row.template,
                row.language,
                f"[{colour}]{row.state}[/{colour}]",
                row.provider_status or "",
                outcome,
            )
    console.print(table)
    if failed:
        raise typer.Exit(1)


if __name__ == "__main__":  # pragma: no cover
    app()
