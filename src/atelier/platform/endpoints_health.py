from __future__ import annotations

from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from atelier.platform.deps import DbSession
from atelier.platform.routers import APIRouter
from atelier.platform.schemas import OutputSchema

router = APIRouter(tags=["health"])


class Health(OutputSchema):
    status: str
    database: str


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "the database is unavailable"}},
)
def health(session: DbSession) -> Health | JSONResponse:
    """Liveness and database reachability."""
    try:
        session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return JSONResponse({"status": "degraded", "database": "unavailable"}, status_code=503)
    return Health(status="ok", database="ok")
