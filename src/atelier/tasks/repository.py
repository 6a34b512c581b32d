"""SQL for templates, categories, tasks and comments. No rules here; the service decides."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, bindparam, case, func, select, update
from sqlalchemy.orm import Session, selectinload

from atelier.platform.prepared import Prepared
from atelier.platform.rows import RowShape, read_rows
from atelier.tasks.models import (
    OPEN_TASK_STATUSES,
    Task,
    TaskCategory,
    TaskComment,
    TaskStatus,
    TaskTemplate,
)
from atelier.tasks.schemas import TaskBase, TaskCommentRead

# What the task reads show of a task and of a comment (columns in the schemas' field order).
TASK_SHAPE = RowShape.of_schema(TaskBase, Task)
COMMENT_SHAPE = RowShape.of_schema(TaskCommentRead, TaskComment)

# --- categories ---------------------------------------------------------------------------------


def category_by_name(session: Session, name: str) -> TaskCategory | None:
    """Exact name first, then a case-insensitive match (first by name when several)."""
    exact = session.scalars(select(TaskCategory).where(TaskCategory.name == name)).one_or_none()
    if exact is not None:
        return exact
    return session.scalars(
        select(TaskCategory)
        .where(func.lower(TaskCategory.name) == name.lower())
        .order_by(TaskCategory.name)
        .limit(1)
    ).first()


def list_categories(
    session: Session, *, name: str | None, limit: int, offset: int
) -> tuple[list[TaskCategory], int]:
    stmt = select(TaskCategory)
    if name:
        stmt = stmt.where(func.lower(TaskCategory.name).contains(name.lower(), autoescape=True))
    count = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(TaskCategory.name).limit(limit).offset(offset))
    return list(rows), count


# --- templates ----------------------------------------------------------------------------------


def _templates() -> Select[TaskTemplate]:
    return select(TaskTemplate).options(selectinload(TaskTemplate.category))


def get_template(session: Session, template_id: str) -> TaskTemplate | None:
    return session.scalars(_templates().where(TaskTemplate.id == template_id)).one_or_none()


def templates_matching_names(session: Session, names: Iterable[str]) -> list[TaskTemplate]:
    """Every template whose name equals one of ``names`` ignoring case."""
    lowered = sorted({n.lower() for n in names})
    if not lowered:
        return []
    return list(session.scalars(_templates().where(func.lower(TaskTemplate.name).in_(lowered))))


def templates_by_ids(session: Session, ids: Iterable[str]) -> list[TaskTemplate]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    return list(session.scalars(_templates().where(TaskTemplate.id.in_(wanted))))


def templates_in_category(session: Session, category_id: str) -> list[TaskTemplate]:
    return list(
        session.scalars(
            _templates()
            .where(TaskTemplate.category_id == category_id)
            .order_by(TaskTemplate.name, TaskTemplate.id)
        )
    )


def name_taken(session: Session, name: str, *, except_id: str | None = None) -> bool:
    stmt = select(TaskTemplate.id).where(func.lower(TaskTemplate.name) == name.lower())
    if except_id is not None:
        stmt = stmt.where(TaskTemplate.id != except_id)
    return session.scalars(stmt.limit(1)).first() is not None


def list_templates(
    session: Session,
    *,
    name: str | None,
    priority: str | None,
    category_name: str | None,
    category_id: str | None,
    limit: int,
    offset: int,
) -> tuple[list[TaskTemplate], int]:
    stmt = select(TaskTemplate)
    if name:
        stmt = stmt.where(func.lower(TaskTemplate.name).contains(name.lower(), autoescape=True))
    if priority:
        stmt = stmt.where(TaskTemplate.priority == priority)
    if category_id:
        stmt = stmt.where(TaskTemplate.category_id == category_id)
    if category_name:
        stmt = stmt.join(TaskCategory, TaskCategory.id == TaskTemplate.category_id).where(
            func.lower(TaskCategory.name) == category_name.lower()
        )
    count = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.options(selectinload(TaskTemplate.category))
        .order_by(TaskTemplate.name, TaskTemplate.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows), count


# --- tasks --------------------------------------------------------------------------------------


def _with_children(stmt: Select[Task]) -> Select[Task]:
    return stmt.options(selectinload(Task.subtasks), selectinload(Task.comments))


def get_task(session: Session, task_id: str, *, for_update: bool = False) -> Task | None:
    stmt = select(Task).where(Task.id == task_id)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalars(stmt).one_or_none()


def load_task_tree(session: Session, task_id: str) -> Task | None:
    """A task with its subtasks and comments loaded (fresh from the database)."""
    return session.scalars(
        _with_children(select(Task).where(Task.id == task_id)).execution_options(
            populate_existing=True
        )
    ).one_or_none()


def top_level_tasks(session: Session, run_id: str) -> list[Task]:
    return list(
        session.scalars(
            _with_children(
                select(Task).where(Task.production_run_id == run_id, Task.parent_task_id.is_(None))
            )
            .order_by(Task.position, Task.created_at, Task.id)
            .execution_options(populate_existing=True)
        )
    )


_RUN_TASKS = Prepared(
    select(*TASK_SHAPE.columns)
    .where(Task.production_run_id == bindparam("run_id"))
    .order_by(Task.position, Task.created_at, Task.id)
)
_RUN_COMMENTS = Prepared(
    select(*COMMENT_SHAPE.columns)
    .join(Task, Task.id == TaskComment.task_id)
    .where(Task.production_run_id == bindparam("run_id"), Task.parent_task_id.is_(None))
    .order_by(TaskComment.created_at, TaskComment.id)
)


def run_task_rows(session: Session, run_id: str) -> Sequence[Row[*tuple[Any, ...]]]:
    """Every task of the run, top-level and subtasks, in one statement (``TASK_SHAPE`` columns,
    by position): subtasks are found by their run, not by a list of parent ids."""
    return read_rows(session, _RUN_TASKS, run_id=run_id).all()


def run_comment_rows(session: Session, run_id: str) -> Sequence[Row[*tuple[Any, ...]]]:
    """The comments on the run's top-level tasks, oldest first (``COMMENT_SHAPE`` columns)."""
    return read_rows(session, _RUN_COMMENTS, run_id=run_id).all()


def top_level_statuses(session: Session, run_id: str) -> list[str]:
    return list(
        session.scalars(
            select(Task.status).where(
                Task.production_run_id == run_id, Task.parent_task_id.is_(None)
            )
        )
    )


def open_redo_task_ids(session: Session, run_id: str) -> list[str]:
    return list(
        session.scalars(
            select(Task.id)
            .where(
                Task.production_run_id == run_id,
                Task.parent_task_id.is_(None),
                Task.is_redo.is_(True),
                Task.status.in_([str(s) for s in OPEN_TASK_STATUSES]),
            )
            .order_by(Task.position, Task.id)
        )
    )


def max_position(session: Session, run_id: str) -> int:
    value = session.scalar(
        select(func.max(Task.position)).where(
            Task.production_run_id == run_id, Task.parent_task_id.is_(None)
        )
    )
    return int(value) if value is not None else -1


def partner_tasks(
    session: Session,
    partner_id: str,
    *,
    status: str | None,
    run_id: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Task], int]:
    stmt = select(Task).where(Task.partner_id == partner_id, Task.parent_task_id.is_(None))
    if status:
        stmt = stmt.where(Task.status == status)
    if run_id:
        stmt = stmt.where(Task.production_run_id == run_id)
    count = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        _with_children(stmt)
        .order_by(Task.created_at.desc(), Task.position, Task.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows), count


def open_subtask_ids(session: Session, parent_id: str) -> list[str]:
    open_statuses = [TaskStatus.PENDING, TaskStatus.ACCEPTED, TaskStatus.IN_PROGRESS]
    return list(
        session.scalars(
            select(Task.id).where(Task.parent_task_id == parent_id, Task.status.in_(open_statuses))
        )
    )


_PROGRESS = Prepared(
    select(
        Task.production_run_id,
        func.sum(case((Task.status == TaskStatus.COMPLETED, 1), else_=0)),
        func.count(Task.id),
    )
    .where(
        Task.production_run_id.in_(bindparam("run_ids", expanding=True)),
        Task.parent_task_id.is_(None),
        Task.status != TaskStatus.CANCELLED,
    )
    .group_by(Task.production_run_id)
)


def progress(session: Session, run_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    """(completed, total) top-level tasks per run; cancelled tasks count in neither."""
    if not run_ids:
        return {}
    rows = read_rows(session, _PROGRESS, run_ids=sorted(set(run_ids)))
    out = {rid: (0, 0) for rid in run_ids}
    for rid, done, total in rows:
        if rid is not None:
            out[rid] = (int(done or 0), int(total or 0))
    return out


# --- comments -----------------------------------------------------------------------------------


def comments(
    session: Session, task_id: str, *, limit: int, offset: int
) -> tuple[list[TaskComment], int]:
    stmt = select(TaskComment).where(TaskComment.task_id == task_id)
    count = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(TaskComment.created_at, TaskComment.id).limit(limit).offset(offset)
    )
    return list(rows), count


# --- bulk status changes ----------------------------------------------------------------------

_OPEN = tuple(s.value for s in OPEN_TASK_STATUSES)


def close_open_tasks(
    session: Session, run_id: str, status: TaskStatus, at: datetime
) -> list[tuple[str, str | None, str | None]]:
    """Move the run's open tasks and subtasks to ``status`` (cancelled or completed), stamping
    the matching time; returns ``(id, parent_task_id, partner_id)`` of every changed row."""
    stamp = "cancelled_at" if status == TaskStatus.CANCELLED else "completed_at"
    rows = session.execute(
        update(Task)
        .where(Task.production_run_id == run_id, Task.status.in_(_OPEN))
        .values({"status": status, stamp: at, "updated_at": at})
        .returning(Task.id, Task.parent_task_id, Task.partner_id)
        .execution_options(synchronize_session=False)
    ).all()
    return [(row[0], row[1], row[2]) for row in rows]


def complete_open_subtasks(session: Session, parent_id: str, at: datetime) -> None:
    session.execute(
        update(Task)
        .where(Task.parent_task_id == parent_id, Task.status.in_(_OPEN))
        .values(status=TaskStatus.COMPLETED, completed_at=at, updated_at=at)
        .execution_options(synchronize_session=False)
    )


def reassign_open_tasks(session: Session, run_id: str, partner_id: str | None, at: datetime) -> int:
    result = session.execute(
        update(Task)
        .where(Task.production_run_id == run_id, Task.status.in_(_OPEN))
        .values(partner_id=partner_id, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
