"""problem+json responses for every failure, and shared request helpers."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from atelier.platform.admission import DatabaseBusy
from atelier.platform.errors import DomainError, ErrorKind, PlatformCode
from atelier.platform.schemas import no_nul

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

# Pagination query parameters every list endpoint shares (SPEC §10: limit/offset/count).
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
# Ids in paths and queries: bounded and NUL-free (a NUL would otherwise reach PostgreSQL).
IdPath = Annotated[str, Path(min_length=1, max_length=64), AfterValidator(no_nul)]
IdQuery = Annotated[str | None, Query(min_length=1, max_length=64), AfterValidator(no_nul)]

KIND_STATUS: dict[ErrorKind, int] = {
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.INVALID: 422,
    ErrorKind.UNAUTHORIZED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.GONE: 410,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.UNSUPPORTED_MEDIA: 415,
    ErrorKind.BAD_GATEWAY: 502,
}

TITLES: dict[int, str] = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    410: "Gone",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def problem(
    status: int,
    detail: str,
    *,
    code: str,
    extra: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://atelier.dev/problems/{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if extra:
        body.update(extra)
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {})
    )


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        out.append({"field": ".".join(loc), "message": err.get("msg", ""), "type": err.get("type")})
    return out


def install_error_handlers(app: FastAPI) -> None:
    """Map every failure to problem+json; bad input never becomes a 500."""

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        status = KIND_STATUS[exc.kind]
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return problem(status, exc.detail, code=exc.code, extra=exc.extra, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _field_errors(exc)
        first = errors[0] if errors else {"field": "", "message": "invalid request"}
        detail = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
        return problem(422, detail, code=PlatformCode.VALIDATION_ERROR, extra={"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return problem(exc.status_code, str(exc.detail), code=code, headers=exc.headers)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # A constraint caught what a service check missed (usually a concurrent request).
        log.warning("integrity error on %s %s: %s", request.method, request.url.path, exc.orig)
        return problem(409, "the change conflicts with existing data", code=PlatformCode.CONFLICT)

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        log.warning("data error on %s %s: %s", request.method, request.url.path, exc.orig)
        return problem(
            422, "a value is not acceptable to the database", code=PlatformCode.INVALID_VALUE
        )

    @app.exception_handler(DatabaseBusy)
    async def _busy(request: Request, exc: DatabaseBusy) -> JSONResponse:
        # Expected under a burst bigger than the queue can drain in time: no traceback.
        log.warning("request not admitted on %s %s: %s", request.method, request.url.path, exc)
        return _db_busy()

    @app.exception_handler(SQLAlchemyTimeoutError)
    async def _pool_timeout(request: Request, exc: SQLAlchemyTimeoutError) -> JSONResponse:
        log.warning("connection pool exhausted on %s %s: %s", request.method, request.url.path, exc)
        return _db_busy()

    @app.exception_handler(OperationalError)
    async def _operational(request: Request, exc: OperationalError) -> JSONResponse:
        if _is_lock_timeout(exc):
            log.warning(
                "database lock timeout on %s %s: %s", request.method, request.url.path, exc.orig
            )
            return _db_busy()
        log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc.orig)
        return problem(
            503,
            "the database is unavailable; retry",
            code=PlatformCode.DB_UNAVAILABLE,
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )

    # Anything else: ``middleware.UnhandledErrors`` catches it before Starlette's
    # ServerErrorMiddleware could (which would re-raise to the server after answering: a second
    # traceback and a dropped connection), logs it once and answers with the handler registered
    # for ``Exception`` — this one, or a wrapper of it (the web UI's HTML page). Such handlers
    # must not log the exception again.
    app.add_exception_handler(Exception, unexpected_error)


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """500 problem+json with the request id (the error is logged by ``UnhandledErrors``)."""
    request_id = getattr(request.state, "request_id", None)
    return problem(
        500,
        "an unexpected error occurred",
        code=PlatformCode.INTERNAL_ERROR,
        extra={"request_id": request_id} if request_id else None,
    )


# Seconds a client is asked to wait after a 503 (busy or unavailable database).
RETRY_AFTER_SECONDS = "2"


def _db_busy() -> JSONResponse:
    return problem(
        503,
        "the database is busy; retry shortly",
        code=PlatformCode.DB_BUSY,
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


# PostgreSQL: lock_not_available, serialization_failure, deadlock_detected.
_BUSY_SQLSTATES = frozenset({"55P03", "40001", "40P01"})


def _is_lock_timeout(exc: OperationalError) -> bool:
    """Contention, not an outage: SQLite's busy timeout ran out ("database is locked"), or
    PostgreSQL gave up on a lock or chose this transaction as a deadlock victim."""
    if getattr(exc.orig, "sqlstate", None) in _BUSY_SQLSTATES:
        return True
    return "is locked" in str(exc.orig)
