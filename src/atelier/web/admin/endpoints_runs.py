"""Production runs table: filters, search, sort, pagination in the URL, counts, CSV export."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from atelier.catalog import service as catalog
from atelier.partners import service as partners
from atelier.platform.db import Database
from atelier.platform.deps import DbSession, get_database
from atelier.production import export, repository
from atelier.production.endpoints_admin import parse_filters
from atelier.production.lifecycle import RunStatus
from atelier.production.models import RunType
from atelier.web.admin.common import admin_router, page
from atelier.web.shared.render import is_htmx, render
from atelier.web.shared.session import WebAdmin

router = admin_router()

PAGE_SIZES = (25, 50, 100)
# Column → sort key of the runs repository (the same keys the JSON list accepts).
SORTABLE = {
    "created": "created_at",
    "updated": "updated_at",
    "status": "status",
    "quantity": "quantity",
}

SORT_OPTIONS = (
    ("-created_at", "Newest first"),
    ("created_at", "Oldest first"),
    ("-updated_at", "Recently changed"),
    ("status", "Status"),
    ("-quantity", "Largest quantity"),
    ("quantity", "Smallest quantity"),
)

Text = Annotated[str | None, Query(max_length=200)]


@dataclass(frozen=True, slots=True)
class RunQuery:
    """The table's query string as the page shows it (empty fields dropped)."""

    status: str | None
    partner_id: str | None
    design_id: str | None
    run_type: str | None
    q: str | None
    sort: str
    include_children: bool
    limit: int
    offset: int

    def args(self) -> dict[str, Any]:
        """Non-default values, in a stable order, for links that keep the filters."""
        values: dict[str, Any] = {
            "q": self.q,
            "status": self.status,
            "partner_id": self.partner_id,
            "design_id": self.design_id,
            "run_type": self.run_type,
            "include_children": "1" if self.include_children else None,
            "sort": None if self.sort == "-created_at" else self.sort,
            "limit": None if self.limit == PAGE_SIZES[0] else self.limit,
        }
        return {k: v for k, v in values.items() if v not in (None, "")}

    def filters(self) -> repository.RunFilters:
        # The JSON list's own parser: the same validation and the same refusals.
        return parse_filters(
            status_=[self.status] if self.status else None,
            partner_id=self.partner_id,
            design_id=self.design_id,
            run_type=RunType(self.run_type) if self.run_type else None,
            include_children=self.include_children,
            q=self.q,
            sort=self.sort,
        )


def _blank(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def run_query(
    status: Text = None,
    partner_id: Text = None,
    design_id: Text = None,
    run_type: Text = None,
    q: Text = None,
    sort: Annotated[str, Query(max_length=32, pattern=r"^-?[a-z_]+$")] = "-created_at",
    include_children: Text = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_SIZES[-1])] = PAGE_SIZES[0],
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> RunQuery:
    """Form fields arrive empty when unset; blank means "no filter"."""
    kind = _blank(run_type)
    if kind is not None and kind not in {t.value for t in RunType}:
        kind = None
    return RunQuery(
        status=_blank(status),
        partner_id=_blank(partner_id),
        design_id=_blank(design_id),
        run_type=kind,
        q=_blank(q),
        sort=sort,
        include_children=_blank(include_children) in {"1", "true", "on"},
        limit=limit if limit in PAGE_SIZES else PAGE_SIZES[0],
        offset=offset,
    )


Filters = Annotated[RunQuery, Depends(run_query)]


def _sort_links(query: RunQuery) -> dict[str, tuple[dict[str, Any], str]]:
    """For each sortable column: the query that sorts by it, and its current direction."""
    links: dict[str, tuple[dict[str, Any], str]] = {}
    current = query.sort.lstrip("-")
    descending = query.sort.startswith("-")
    for column, key in SORTABLE.items():
        if key == current:
            target = key if descending else f"-{key}"
            state = "descending" if descending else "ascending"
        else:
            target = f"-{key}" if key in ("created_at", "updated_at", "quantity") else key
            state = "none"
        args = {**query.args(), "sort": None if target == "-created_at" else target}
        links[column] = (args, state)
    return links


@router.get("/runs")
def runs_table(request: Request, session: DbSession, admin: WebAdmin, query: Filters) -> Response:
    """The runs table; an htmx request gets only the results block (filters stay in the URL)."""
    filters = query.filters()
    rows, count = repository.list_runs(session, filters, limit=query.limit, offset=query.offset)
    counts = repository.status_counts(session, filters)
    status_counts = [(s.value, counts.get(s.value, 0)) for s in RunStatus]
    partner_rows, _ = partners.list_partners(session, status=None, q=None, limit=500, offset=0)
    design_rows, _ = catalog.list_designs(
        session, status=None, q=None, sort="name", limit=500, offset=0
    )
    context = {
        "rows": rows,
        "query": query,
        "args": query.args(),
        "page_info": {"count": count, "limit": query.limit, "offset": query.offset},
        "status_counts": status_counts,
        "total": sum(counts.values()),
        "statuses": [s.value for s in RunStatus],
        "run_types": [t.value for t in RunType],
        "partners": sorted(partner_rows, key=lambda p: p.name.lower()),
        "designs": design_rows,
        "sort_links": _sort_links(query),
        "page_sizes": PAGE_SIZES,
        "sort_options": SORT_OPTIONS,
    }
    if is_htmx(request) and request.headers.get("hx-target") == "run-results":
        # The address bar shows the clean query (no empty fields), like the links on the page.
        canonical = "/app/runs" + (f"?{urlencode(query.args())}" if query.args() else "")
        return render(
            request,
            "admin/runs.html",
            context,
            block="results",
            headers={"HX-Push-Url": canonical},
        )
    return page(request, session, "admin/runs.html", context, section="runs")


@router.get("/runs/export.csv")
def runs_csv(
    admin: WebAdmin,
    query: Filters,
    database: Annotated[Database, Depends(get_database)],
) -> StreamingResponse:
    """Every run matching the table's filters (all pages) as CSV, like the API's export."""
    return StreamingResponse(
        export.csv_stream(database, query.filters()),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="production-runs.csv"',
            "Cache-Control": "no-store",
        },
    )
