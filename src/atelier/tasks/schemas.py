"""Request and response shapes for task templates, categories, tasks and comments."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints, field_serializer, model_validator

from atelier.platform.schemas import (
    BodyDecimal,
    BodyInt,
    EntityId,
    InputSchema,
    ListEnvelope,
    LongText,
    Metadata,
    Name,
    OutputSchema,
    ShortText,
    no_nul,
)
from atelier.tasks.models import TaskPriority

MAX_SUBTASKS = 50
MAX_TEMPLATES_PER_DISPATCH = 50
MAX_COMMENT_LENGTH = 5_000


CommentBody = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_COMMENT_LENGTH),
    AfterValidator(no_nul),
]
TemplateNames = Annotated[list[Name], Field(min_length=1, max_length=MAX_TEMPLATES_PER_DISPATCH)]
TemplateIds = Annotated[list[EntityId], Field(min_length=1, max_length=MAX_TEMPLATES_PER_DISPATCH)]


# --- categories and templates -------------------------------------------------------------------


class CategoryCreate(InputSchema):
    name: Name
    description: LongText | None = None


class CategoryRead(OutputSchema):
    id: str
    name: str
    description: str | None = None
    created_at: datetime


class SubtaskDefinition(InputSchema):
    title: Name
    description: LongText | None = None


class TemplateFields(InputSchema):
    description: LongText | None = None
    category: Name | None = None
    category_id: EntityId | None = None
    priority: TaskPriority | None = None
    estimated_duration: BodyInt | None = Field(default=None, ge=0, le=1_000_000_000)
    cost: BodyDecimal | None = Field(
        default=None, ge=0, le=1_000_000_000, max_digits=18, decimal_places=4
    )
    message_template: LongText | None = None
    subtasks: list[SubtaskDefinition] | None = Field(default=None, max_length=MAX_SUBTASKS)
    metadata: Metadata | None = None

    @model_validator(mode="after")
    def _one_category_reference(self) -> TemplateFields:
        if self.category is not None and self.category_id is not None:
            raise ValueError("give either category (a name) or category_id, not both")
        return self


class TemplateCreate(TemplateFields):
    name: Name


class TemplateUpdate(TemplateFields):
    name: Name | None = None


class SubtaskDefinitionRead(OutputSchema):
    title: str
    description: str | None = None


class TemplateRead(OutputSchema):
    id: str
    name: str
    description: str | None = None
    category_id: str | None = None
    category: CategoryRead | None = None
    priority: str
    estimated_duration: int | None = None
    cost: Decimal | None = None
    message_template: str | None = None
    subtasks: list[SubtaskDefinitionRead] = []
    metadata: dict[str, Any] = Field(default_factory=dict, validation_alias="metadata_")
    created_at: datetime
    updated_at: datetime

    @field_serializer("cost")
    def _cost(self, value: Decimal | None) -> str | None:
        return None if value is None else str(value)


# --- tasks --------------------------------------------------------------------------------------


class TaskCommentRead(OutputSchema):
    id: str
    task_id: str
    author_type: str
    author_id: str | None = None
    author_name: str | None = None
    body: str
    # Alias kept for clients of the old system, which called the body "comment".
    comment: str = ""
    created_at: datetime

    @model_validator(mode="after")
    def _comment_alias(self) -> TaskCommentRead:
        self.comment = self.body
        return self


class TaskBase(OutputSchema):
    id: str
    title: str
    description: str | None = None
    status: str
    priority: str
    production_run_id: str | None = None
    partner_id: str | None = None
    design_id: str | None = None
    template_id: str | None = None
    parent_task_id: str | None = None
    position: int
    is_redo: bool
    start_date: datetime | None = None
    due_date: datetime | None = None
    accepted_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict, validation_alias="metadata_")
    created_at: datetime
    updated_at: datetime


class SubtaskRead(TaskBase):
    pass


class TaskRead(TaskBase):
    """A top-level task with its subtasks and comments (build from ``service.TaskView``)."""

    subtasks: list[SubtaskRead] = []
    comments: list[TaskCommentRead] = []


# --- response envelopes -----------------------------------------------------------------------


class CategoryEnvelope(OutputSchema):
    category: CategoryRead


class CategoryList(ListEnvelope[CategoryRead]):
    items: list[CategoryRead] = Field(alias="categories")


class TemplateEnvelope(OutputSchema):
    task_template: TemplateRead


class TemplateList(ListEnvelope[TemplateRead]):
    items: list[TemplateRead] = Field(alias="task_templates")


class TaskEnvelope(OutputSchema):
    task: TaskRead


class TaskList(ListEnvelope[TaskRead]):
    items: list[TaskRead] = Field(alias="tasks")


class TaskActionResult(OutputSchema):
    task: TaskRead
    message: str


class SubtaskCompleted(OutputSchema):
    task: TaskRead
    subtask: TaskRead
    parent_completed: bool


class CommentEnvelope(OutputSchema):
    comment: TaskCommentRead


class CommentList(ListEnvelope[TaskCommentRead]):
    items: list[TaskCommentRead] = Field(alias="comments")


class RunTaskProgress(OutputSchema):
    completed: int
    total: int


class RunTasks(OutputSchema):
    """A run's top-level tasks (with subtasks and comments) and how many are completed."""

    tasks: list[TaskRead]
    count: int
    progress: RunTaskProgress


class CreatedTasks(OutputSchema):
    tasks: list[TaskRead]


# --- inputs -------------------------------------------------------------------------------------


class TemplateSelection(InputSchema):
    """Exactly one of template_names, template_ids or category (a name or id)."""

    template_names: TemplateNames | None = None
    template_ids: TemplateIds | None = None
    category: Name | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> TemplateSelection:
        given = [
            f
            for f in ("template_names", "template_ids", "category")
            if getattr(self, f) is not None
        ]
        if len(given) > 1:
            raise ValueError("give only one of template_names, template_ids or category")
        return self

    @property
    def is_empty(self) -> bool:
        return self.template_names is None and self.template_ids is None and self.category is None


class RedoTasksCreate(InputSchema):
    template_names: TemplateNames | None = None
    template_ids: TemplateIds | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> RedoTasksCreate:
        if (self.template_names is None) == (self.template_ids is None):
            raise ValueError("give exactly one of template_names or template_ids")
        return self


class CommentCreate(InputSchema):
    comment: CommentBody | None = None
    body: CommentBody | None = None

    @model_validator(mode="after")
    def _one_body(self) -> CommentCreate:
        if (self.comment is None) == (self.body is None):
            raise ValueError("give the comment text as 'comment' (or 'body')")
        return self

    @property
    def text(self) -> str:
        return self.comment if self.comment is not None else (self.body or "")


class TaskNote(InputSchema):
    """Optional body of task accept/finish."""

    notes: ShortText | None = None
