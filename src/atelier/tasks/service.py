"""Task rules: templates and categories, creating tasks from templates, the partner task
actions (accept, finish, subtasks, comments) and the helpers other domains call.

Services never commit. Task state changes lock the task row (``FOR UPDATE``; on SQLite the write
session already holds the database lock) so concurrent actions on one task serialise, and each
change emits ``tasks.task.updated`` in the same transaction.

Tasks sit below production: what a task action needs from its run (lock it, check the work is
with the partner, accept it, record activity) comes in as a :class:`RunWork` that
``production.task_work`` supplies.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from atelier.platform import clock, outbox
from atelier.platform.actors import Actor
from atelier.platform.errors import Conflict, Invalid, not_found
from atelier.tasks import repository as repo
from atelier.tasks.errors import TaskCode
from atelier.tasks.models import (
    Task,
    TaskCategory,
    TaskComment,
    TaskPriority,
    TaskStatus,
    TaskTemplate,
)
from atelier.tasks.schemas import TaskCommentRead, TaskRead, TemplateCreate, TemplateUpdate

log = logging.getLogger(__name__)

TASK_UPDATED = "tasks.task.updated"


class RunWork(Protocol):
    """What a partner's task action needs from the task's production run."""

    def lock_for_task_change(self, session: Session, run_id: str) -> None:
        """Lock the run for the rest of the transaction; 409 unless its work is with the
        partner."""

    def accept_for_task(self, session: Session, run_id: str, actor: Actor) -> None:
        """The partner took up the run's work: accept a run still waiting to be accepted."""

    def record_activity(self, session: Session, run_id: str) -> None:
        """Note real partner activity on the run (idle reminders are measured from it)."""


# --- categories ---------------------------------------------------------------------------------


def get_category(session: Session, category_id: str) -> TaskCategory:
    """The category; 404 when unknown."""
    category = session.get(TaskCategory, category_id)
    if category is None:
        raise not_found("task_category", category_id)
    return category


def create_category(session: Session, name: str, description: str | None = None) -> TaskCategory:
    """A new category; 409 ``category_name_taken`` when the name exists (ignoring case)."""
    if repo.category_by_name(session, name) is not None:
        raise Conflict(
            f"a task category named {name!r} already exists", code=TaskCode.CATEGORY_NAME_TAKEN
        )
    category = TaskCategory(name=name, description=description)
    try:
        with session.begin_nested():
            session.add(category)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"a task category named {name!r} already exists", code=TaskCode.CATEGORY_NAME_TAKEN
        ) from exc
    return category


def category_named(session: Session, name: str) -> TaskCategory:
    """The category called ``name``, created on the fly when missing (race-safe)."""
    existing = repo.category_by_name(session, name)
    if existing is not None:
        return existing
    category = TaskCategory(name=name)
    try:
        with session.begin_nested():
            session.add(category)
            session.flush()
    except IntegrityError:
        # Someone created it between our read and our insert: use theirs.
        existing = repo.category_by_name(session, name)
        if existing is None:
            raise
        return existing
    return category


def list_categories(
    session: Session, *, name: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[TaskCategory], int]:
    """Categories by name, optionally filtered by a name fragment."""
    return repo.list_categories(session, name=name, limit=limit, offset=offset)


# --- templates ----------------------------------------------------------------------------------


def get_template(session: Session, template_id: str) -> TaskTemplate:
    """The template with its category; 404 when unknown."""
    template = repo.get_template(session, template_id)
    if template is None:
        raise not_found("task_template", template_id)
    return template


def _name_conflict(name: str) -> Conflict:
    return Conflict(
        f"a task template named {name!r} already exists (names are unique, ignoring case)",
        code=TaskCode.TEMPLATE_NAME_TAKEN,
    )


def _apply_category(
    session: Session, template: TaskTemplate, data: TemplateCreate | TemplateUpdate
) -> None:
    fields = data.model_fields_set
    if "category_id" in fields:
        template.category_id = (
            get_category(session, data.category_id).id if data.category_id is not None else None
        )
    elif "category" in fields:
        template.category_id = (
            category_named(session, data.category).id if data.category is not None else None
        )


def _subtask_defs(data: TemplateCreate | TemplateUpdate) -> list[dict[str, Any]]:
    return [{"title": s.title, "description": s.description} for s in (data.subtasks or [])]


def create_template(session: Session, data: TemplateCreate) -> TaskTemplate:
    """A new template; 409 ``template_name_taken`` for a duplicate name; 404 unknown category."""
    if repo.name_taken(session, data.name):
        raise _name_conflict(data.name)
    template = TaskTemplate(
        name=data.name,
        description=data.description,
        priority=(data.priority or TaskPriority.MEDIUM).value,
        estimated_duration=data.estimated_duration,
        cost=data.cost,
        message_template=data.message_template,
        subtasks=_subtask_defs(data),
        metadata_=dict(data.metadata or {}),
    )
    _apply_category(session, template, data)
    try:
        with session.begin_nested():
            session.add(template)
            session.flush()
    except IntegrityError as exc:
        raise _name_conflict(data.name) from exc
    return get_template(session, template.id)


def update_template(session: Session, template_id: str, data: TemplateUpdate) -> TaskTemplate:
    """Change the given fields; tasks created earlier keep what they were created with."""
    template = get_template(session, template_id)
    fields = data.model_fields_set
    if data.name is not None and data.name != template.name:
        if repo.name_taken(session, data.name, except_id=template.id):
            raise _name_conflict(data.name)
        template.name = data.name
    for attr in ("description", "estimated_duration", "cost", "message_template"):
        if attr in fields:
            setattr(template, attr, getattr(data, attr))
    if "priority" in fields and data.priority is not None:
        template.priority = data.priority.value
    if "subtasks" in fields:
        template.subtasks = _subtask_defs(data)
    if "metadata" in fields:
        template.metadata_ = dict(data.metadata or {})
    _apply_category(session, template, data)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise _name_conflict(data.name or template.name) from exc
    session.expire(template)
    return get_template(session, template.id)


def delete_template(session: Session, template_id: str) -> None:
    """Delete the template; tasks created from it stay (their template_id becomes NULL)."""
    template = get_template(session, template_id)
    session.delete(template)
    session.flush()


def list_templates(
    session: Session,
    *,
    name: str | None = None,
    priority: str | None = None,
    category_name: str | None = None,
    category_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[TaskTemplate], int]:
    """Templates filtered by name fragment, priority and category."""
    return repo.list_templates(
        session,
        name=name,
        priority=priority,
        category_name=category_name,
        category_id=category_id,
        limit=limit,
        offset=offset,
    )


def resolve_templates(
    session: Session,
    *,
    template_names: Sequence[str] | None = None,
    template_ids: Sequence[str] | None = None,
    category: str | None = None,
) -> list[TaskTemplate]:
    """The templates a dispatch names, in the order given; nothing is written.

    422 ``templates_required`` when nothing is named, ``unknown_templates`` for names/ids that
    match nothing, ``ambiguous_templates`` for names matching several templates (ignoring case
    when there is no exact match), ``empty_category`` for a category without templates.
    """
    if template_names:
        return _resolve_names(session, template_names)
    if template_ids:
        return _resolve_ids(session, template_ids)
    if category:
        cat = session.get(TaskCategory, category) or repo.category_by_name(session, category)
        if cat is None:
            raise Invalid(
                f"unknown task category: {category}",
                code=TaskCode.UNKNOWN_CATEGORY,
                extra={"unknown": [category]},
            )
        templates = repo.templates_in_category(session, cat.id)
        if not templates:
            raise Invalid(
                f"the category {cat.name!r} has no templates", code=TaskCode.EMPTY_CATEGORY
            )
        return templates
    raise Invalid(
        "name the templates to dispatch: template_names, template_ids or category",
        code=TaskCode.TEMPLATES_REQUIRED,
    )


def _dedupe(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _resolve_names(session: Session, names: Sequence[str]) -> list[TaskTemplate]:
    wanted = _dedupe(names)
    candidates = repo.templates_matching_names(session, wanted)
    resolved, unknown, ambiguous = _match_names(wanted, candidates)
    _raise_unresolved(unknown, ambiguous)
    return list({t.id: t for t in resolved}.values())


def _match_names(
    wanted: Sequence[str], candidates: Sequence[TaskTemplate]
) -> tuple[list[TaskTemplate], list[str], dict[str, list[str]]]:
    """Each name's template (exact, else ignoring case): resolved, unknown and ambiguous."""
    unknown: list[str] = []
    ambiguous: dict[str, list[str]] = {}
    resolved: list[TaskTemplate] = []
    for name in wanted:
        exact = [t for t in candidates if t.name == name]
        matches = exact or [t for t in candidates if t.name.lower() == name.lower()]
        if not matches:
            unknown.append(name)
        elif len(matches) > 1:
            ambiguous[name] = sorted(t.name for t in matches)
        else:
            resolved.append(matches[0])
    return resolved, unknown, ambiguous


def unresolved_template_names(
    session: Session, name_lists: Sequence[Sequence[str]]
) -> list[tuple[str, ...]]:
    """For each list of names, those ``resolve_templates`` would refuse (unknown ones, then
    ambiguous ones), in one statement for all the lists."""
    wanted = [_dedupe(names) for names in name_lists]
    if not any(wanted):
        return [() for _ in wanted]
    candidates = repo.templates_matching_names(session, [n for names in wanted for n in names])
    unresolved = []
    for names in wanted:
        lowered = {n.lower() for n in names}
        mine = [t for t in candidates if t.name.lower() in lowered]
        _, unknown, ambiguous = _match_names(names, mine)
        unresolved.append(tuple(unknown + list(ambiguous)))
    return unresolved


def _resolve_ids(session: Session, ids: Sequence[str]) -> list[TaskTemplate]:
    wanted = _dedupe(ids)
    found = {t.id: t for t in repo.templates_by_ids(session, wanted)}
    _raise_unresolved([i for i in wanted if i not in found], {})
    return [found[i] for i in wanted]


def _raise_unresolved(unknown: list[str], ambiguous: dict[str, list[str]]) -> None:
    if not unknown and not ambiguous:
        return
    parts = []
    if unknown:
        parts.append("unknown templates: " + ", ".join(unknown))
    if ambiguous:
        parts.append(
            "ambiguous templates: "
            + "; ".join(f"{n} matches {', '.join(m)}" for n, m in ambiguous.items())
        )
    raise Invalid(
        "; ".join(parts) + " (nothing was created)",
        code=TaskCode.UNKNOWN_TEMPLATES if unknown else TaskCode.AMBIGUOUS_TEMPLATES,
        extra={"unknown": unknown, "ambiguous": ambiguous},
    )


# --- creating tasks -----------------------------------------------------------------------------


def create_tasks(
    session: Session,
    *,
    run_id: str,
    partner_id: str | None,
    design_id: str | None,
    templates: Sequence[TaskTemplate],
    is_redo: bool = False,
) -> list[Task]:
    """One task per template (plus its subtask definitions), after the run's existing tasks."""
    position = repo.max_position(session, run_id) + 1
    now = clock.now()
    created: list[Task] = []
    for template in templates:
        task = Task(
            title=template.name,
            description=template.description,
            priority=template.priority,
            production_run_id=run_id,
            partner_id=partner_id,
            design_id=design_id,
            template_id=template.id,
            position=position,
            is_redo=is_redo,
            start_date=now,
            metadata_={"template_name": template.name, "is_redo": is_redo},
        )
        session.add(task)
        session.flush()
        subtasks = []
        for index, definition in enumerate(template.subtasks or []):
            subtask = Task(
                title=str(definition.get("title") or f"{template.name} step {index + 1}")[:200],
                description=definition.get("description"),
                priority=template.priority,
                production_run_id=run_id,
                partner_id=partner_id,
                design_id=design_id,
                template_id=template.id,
                parent_task_id=task.id,
                position=index,
                is_redo=is_redo,
                start_date=now,
                metadata_={},
            )
            session.add(subtask)
            subtasks.append(subtask)
        session.flush()
        set_committed_value(task, "subtasks", subtasks)
        set_committed_value(task, "comments", [])
        for subtask in subtasks:
            set_committed_value(subtask, "subtasks", [])
            set_committed_value(subtask, "comments", [])
        created.append(task)
        position += 1
    return created


# --- helpers other domains call -----------------------------------------------------------------


def _close_open_tasks(
    session: Session, run_id: str, actor: Actor, status: TaskStatus, **extra: Any
) -> int:
    """Move every open task (and subtask) of the run to ``status``; returns how many changed."""
    rows = repo.close_open_tasks(session, run_id, status, clock.now())
    for task_id, parent_id, partner_id in rows:
        if parent_id is None:
            _emit(session, task_id, run_id, partner_id, status, actor, **extra)
    _expire_run_tasks(session, run_id)
    return len(rows)


def cancel_open_tasks(session: Session, run_id: str, actor: Actor, *, reason: str) -> int:
    """Cancel every open task (and subtask) of the run; returns how many changed."""
    return _close_open_tasks(session, run_id, actor, TaskStatus.CANCELLED, reason=reason)


def complete_open_tasks(session: Session, run_id: str, actor: Actor) -> int:
    """Complete every open task (and subtask) of the run (finish with ``complete_tasks``)."""
    return _close_open_tasks(session, run_id, actor, TaskStatus.COMPLETED)


def reassign_open_tasks(session: Session, run_id: str, partner_id: str | None) -> int:
    """Point the run's open tasks at another partner (reassignment)."""
    changed = repo.reassign_open_tasks(session, run_id, partner_id, clock.now())
    _expire_run_tasks(session, run_id)
    return changed


def _expire_run_tasks(session: Session, run_id: str) -> None:
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Task) and obj.production_run_id == run_id:
            session.expire(obj)


def run_task_progress(session: Session, run_ids: Iterable[str]) -> dict[str, tuple[int, int]]:
    """(completed, total) top-level tasks per run id; cancelled tasks are left out."""
    return repo.progress(session, list(run_ids))


def tasks_for_run(session: Session, run_id: str) -> list[Task]:
    """The run's top-level tasks in order, with ``subtasks`` and ``comments`` loaded."""
    return repo.top_level_tasks(session, run_id)


def task_tree(session: Session, run_id: str) -> list[dict[str, Any]]:
    """The run's top-level tasks as ``TaskRead`` dicts (subtasks and comments inside), from two
    statements whatever the number of tasks, subtasks and comments; values are Python
    (datetimes), ready for ``platform.rows.json_response``."""
    top: list[dict[str, Any]] = []
    by_id: dict[str, dict[str, Any]] = {}
    subtasks: list[dict[str, Any]] = []
    for row in repo.run_task_rows(session, run_id):
        task = repo.TASK_SHAPE.of(row)
        if task["parent_task_id"] is None:
            task["subtasks"] = []
            task["comments"] = []
            top.append(task)
            by_id[task["id"]] = task
        else:
            subtasks.append(task)
    for subtask in subtasks:
        parent = by_id.get(subtask["parent_task_id"])
        if parent is not None:
            parent["subtasks"].append(subtask)
    if top:
        for row in repo.run_comment_rows(session, run_id):
            comment = repo.COMMENT_SHAPE.of(row)
            comment["comment"] = comment["body"]
            by_id[comment["task_id"]]["comments"].append(comment)
    return top


def serialize_task(task: Task) -> dict[str, Any]:
    """A task (loaded with subtasks and comments) as the API shows it."""
    return TaskRead.model_validate(task).model_dump(mode="json")


def serialize_tasks(tasks: Iterable[Task]) -> list[dict[str, Any]]:
    return [serialize_task(t) for t in tasks]


def all_tasks_completed(session: Session, run_id: str) -> bool:
    """True when the run has top-level tasks and all non-cancelled ones are completed."""
    statuses = [s for s in repo.top_level_statuses(session, run_id) if s != TaskStatus.CANCELLED]
    return bool(statuses) and all(s == TaskStatus.COMPLETED for s in statuses)


def open_redo_tasks(session: Session, run_id: str) -> list[str]:
    """Ids of the run's redo tasks that are not completed or cancelled yet."""
    return repo.open_redo_task_ids(session, run_id)


# --- task actions (partner API and admin) -------------------------------------------------------


def _emit(
    session: Session,
    task_id: str,
    run_id: str | None,
    partner_id: str | None,
    status: str,
    actor: Actor,
    **extra: Any,
) -> None:
    payload: dict[str, Any] = {
        "task_id": task_id,
        "production_run_id": run_id,
        "partner_id": partner_id,
        "status": str(status),
        "actor_type": actor.type.value,
        "actor_id": actor.id,
    }
    payload.update(extra)
    outbox.emit(session, TASK_UPDATED, payload)


def emit_task_updated(session: Session, task: Task, actor: Actor, **extra: Any) -> None:
    """Queue ``tasks.task.updated`` for ``task`` in the caller's transaction."""
    _emit(
        session,
        task.id,
        task.production_run_id,
        task.partner_id,
        task.status,
        actor,
        parent_task_id=task.parent_task_id,
        **extra,
    )


def visible_task(session: Session, task_id: str, partner_id: str | None) -> Task:
    """The task (with children) when ``partner_id`` may see it (``None`` = admin); else 404."""
    task = repo.load_task_tree(session, task_id)
    if task is None or (partner_id is not None and task.partner_id != partner_id):
        raise not_found("task", task_id)
    return task


def _locked_task(session: Session, task_id: str, partner_id: str | None, runs: RunWork) -> Task:
    """The task locked for a change, after its run: every writer locks run → task in that
    order (cancel and reassign lock the run before touching its tasks), so no deadlock, and
    all changes to one run's tasks serialise — the completion check sees them all."""
    task = repo.get_task(session, task_id)
    if task is None or (partner_id is not None and task.partner_id != partner_id):
        raise not_found("task", task_id)
    if task.production_run_id is not None:
        runs.lock_for_task_change(session, task.production_run_id)
    locked = repo.get_task(session, task_id, for_update=True)
    if locked is None:  # pragma: no cover - deleted under us (run deleted); same as unknown
        raise not_found("task", task_id)
    return locked


def _refuse_closed(task: Task, action: str) -> None:
    if task.status == TaskStatus.COMPLETED:
        raise Conflict(
            f"the task is already completed; cannot {action} it", code=TaskCode.TASK_COMPLETED
        )
    if task.status == TaskStatus.CANCELLED:
        raise Conflict(f"the task was cancelled; cannot {action} it", code=TaskCode.TASK_CANCELLED)


def list_partner_tasks(
    session: Session,
    partner_id: str,
    *,
    status: str | None = None,
    run_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Task], int]:
    """The partner's top-level tasks (with subtasks and comments), newest first."""
    return repo.partner_tasks(
        session, partner_id, status=status, run_id=run_id, limit=limit, offset=offset
    )


def accept_task(
    session: Session, task_id: str, actor: Actor, *, partner_id: str | None, runs: RunWork
) -> Task:
    """pending → accepted. Accepting work on a run still ``sent_to_partner`` accepts the run."""
    task = _locked_task(session, task_id, partner_id, runs)
    _refuse_closed(task, "accept")
    if task.status != TaskStatus.PENDING:
        raise Conflict("the task was already accepted", code=TaskCode.TASK_ALREADY_ACCEPTED)
    _ensure_run_accepted(session, task, actor, runs)
    task.status = TaskStatus.ACCEPTED
    task.accepted_at = clock.now()
    _after_change(session, task, actor, runs)
    return visible_task(session, task.id, None)


def finish_task(
    session: Session, task_id: str, actor: Actor, *, partner_id: str | None, runs: RunWork
) -> Task:
    """→ completed (from pending, accepted or in progress); its open subtasks complete too."""
    task = _locked_task(session, task_id, partner_id, runs)
    _refuse_closed(task, "finish")
    _ensure_run_accepted(session, task, actor, runs)
    now = clock.now()
    task.accepted_at = task.accepted_at or now
    task.status = TaskStatus.COMPLETED
    task.completed_at = now
    repo.complete_open_subtasks(session, task.id, now)
    _after_change(session, task, actor, runs)
    return visible_task(session, task.id, None)


def complete_subtask(
    session: Session,
    task_id: str,
    subtask_id: str,
    actor: Actor,
    *,
    partner_id: str | None,
    runs: RunWork,
) -> tuple[Task, Task]:
    """Complete one subtask; the parent must be accepted or in progress. Completing the last
    open subtask completes the parent. Returns (parent, subtask), freshly loaded."""
    # Lock the parent first: concurrent completions of its last two subtasks serialise here, so
    # exactly one of them sees "no open subtasks left" and completes the parent.
    parent = _locked_task(session, task_id, partner_id, runs)
    subtask = repo.get_task(session, subtask_id, for_update=True)
    if subtask is None or subtask.parent_task_id != parent.id:
        raise not_found("subtask", subtask_id)
    if parent.status not in (TaskStatus.ACCEPTED, TaskStatus.IN_PROGRESS):
        _refuse_closed(parent, "complete subtasks of")
        raise Conflict(
            "accept the task before completing its subtasks", code=TaskCode.TASK_NOT_ACCEPTED
        )
    if subtask.status == TaskStatus.COMPLETED:
        raise Conflict("the subtask is already completed", code=TaskCode.SUBTASK_COMPLETED)
    if subtask.status == TaskStatus.CANCELLED:
        raise Conflict("the subtask was cancelled", code=TaskCode.SUBTASK_CANCELLED)
    now = clock.now()
    subtask.status = TaskStatus.COMPLETED
    subtask.completed_at = now
    subtask.accepted_at = subtask.accepted_at or now
    session.flush()
    emit_task_updated(session, subtask, actor)
    if not repo.open_subtask_ids(session, parent.id):
        parent.status = TaskStatus.COMPLETED
        parent.completed_at = now
    elif parent.status == TaskStatus.ACCEPTED:
        parent.status = TaskStatus.IN_PROGRESS
        parent.started_at = parent.started_at or now
    _after_change(session, parent, actor, runs)
    # Parent first: loading it refreshes its subtasks, which would drop the subtask's own
    # loaded children if the subtask were loaded before.
    fresh_parent = visible_task(session, parent.id, None)
    return fresh_parent, visible_task(session, subtask.id, None)


def _after_change(session: Session, task: Task, actor: Actor, runs: RunWork) -> None:
    session.flush()
    emit_task_updated(session, task, actor)
    if task.production_run_id is not None:
        runs.record_activity(session, task.production_run_id)


def _ensure_run_accepted(session: Session, task: Task, actor: Actor, runs: RunWork) -> None:
    """A partner working on a task of a run still ``sent_to_partner`` has clearly taken the run:
    accept the run too, through the same path as the run's own accept."""
    if task.production_run_id is not None:
        runs.accept_for_task(session, task.production_run_id, actor)


# --- comments -----------------------------------------------------------------------------------


def list_comments(
    session: Session, task_id: str, *, partner_id: str | None, limit: int = 100, offset: int = 0
) -> tuple[list[TaskComment], int]:
    """Comments on the task, oldest first (404 for a task the caller may not see)."""
    task = repo.get_task(session, task_id)
    if task is None or (partner_id is not None and task.partner_id != partner_id):
        raise not_found("task", task_id)
    return repo.comments(session, task_id, limit=limit, offset=offset)


def add_comment(
    session: Session,
    task_id: str,
    text: str,
    actor: Actor,
    *,
    partner_id: str | None,
    runs: RunWork | None = None,
) -> TaskComment:
    """Add a comment; the author comes from the caller. Blank text is refused (422).

    With ``runs`` (a partner commenting) the comment counts as activity on the task's run.
    """
    task = repo.get_task(session, task_id)
    if task is None or (partner_id is not None and task.partner_id != partner_id):
        raise not_found("task", task_id)
    body = text.strip()
    if not body:
        raise Invalid("the comment is empty", code=TaskCode.BLANK_COMMENT)
    comment = TaskComment(
        task_id=task.id,
        author_type=actor.type.value,
        author_id=actor.id,
        author_name=actor.name,
        body=body,
    )
    session.add(comment)
    session.flush()
    if runs is not None and task.production_run_id is not None:
        runs.record_activity(session, task.production_run_id)
    return comment


def serialize_comment(comment: TaskComment) -> dict[str, Any]:
    return TaskCommentRead.model_validate(comment).model_dump(mode="json")
