"""Request/response shapes of the partner lifecycle: milestones, progress, completion, reads."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from atelier.inventory.consumption_schemas import ConsumptionCreate
from atelier.platform.schemas import (
    BodyBool,
    InputSchema,
    ListEnvelope,
    LongText,
    NonNegativeQuantity,
    OutputSchema,
)
from atelier.production.completion import RejectionReason
from atelier.production.lifecycle import RunStatus
from atelier.production.models import RunType
from atelier.production.schemas import ProductionRunRead
from atelier.tasks.schemas import TaskRead

MAX_CONSUMPTIONS = 100


class FinishRequest(InputSchema):
    notes: LongText | None = None
    complete_tasks: BodyBool = False


class ProgressRequest(InputSchema):
    produced_quantity: NonNegativeQuantity


class CompleteRequest(InputSchema):
    """``produced_quantity`` is optional here so its absence gets the service's clear 422."""

    produced_quantity: NonNegativeQuantity | None = None
    rejected_quantity: NonNegativeQuantity = 0
    rejection_reason: RejectionReason | None = None
    rejection_notes: LongText | None = None
    notes: LongText | None = None
    allow_shortfall: BodyBool = False
    consumptions: list[ConsumptionCreate] = Field(default_factory=list, max_length=MAX_CONSUMPTIONS)


class CorrectionRequest(InputSchema):
    produced_quantity: NonNegativeQuantity | None = None
    rejected_quantity: NonNegativeQuantity | None = None
    rejection_reason: RejectionReason | None = None
    reason: LongText = Field(min_length=1)

    @model_validator(mode="after")
    def _something_to_correct(self) -> CorrectionRequest:
        if not self.reason.strip():
            raise ValueError("reason must not be blank")
        if self.produced_quantity is None and self.rejected_quantity is None:
            raise ValueError("give produced_quantity and/or rejected_quantity to correct")
        return self


class RunListFilters(InputSchema):
    status: RunStatus | None = None
    run_type: RunType | None = None
    role: str | None = Field(default=None, max_length=64)
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=10_000_000)


# --- partner reads ------------------------------------------------------------------------------


class TaskProgress(OutputSchema):
    completed: int
    total: int
    percent: int


class DesignBrief(OutputSchema):
    id: str
    name: str | None
    thumbnail_url: str | None


class PartnerRunRow(ProductionRunRead):
    """A run in the partner's list: its design and how many of its tasks are completed."""

    design: DesignBrief
    progress: TaskProgress


class PartnerRunList(ListEnvelope[PartnerRunRow]):
    items: list[PartnerRunRow] = Field(alias="production_runs")


class DesignView(OutputSchema):
    id: str
    name: str
    description: str | None
    status: str
    thumbnail_url: str | None
    specifications: dict[str, Any]
    colors: list[Any]
    sizes: list[Any]
    media_files: list[Any]


class RelatedRun(OutputSchema):
    id: str
    status: str
    role: str | None
    run_type: str
    quantity: int | None
    sequence: int | None
    depends_on_run_ids: list[str]


class RunStatusRef(OutputSchema):
    id: str
    status: str | None


class RelatedRuns(OutputSchema):
    parent: RunStatusRef | None
    siblings: list[RelatedRun]
    dependents: list[RelatedRun]
    waiting_on: list[RunStatusRef]


class PartnerRunDetail(ProductionRunRead):
    """The partner's view of one run, with the verbs it may use now (``allowed_actions``)."""

    design: DesignView | None
    tasks: list[TaskRead]
    progress: TaskProgress
    related: RelatedRuns
    allowed_actions: list[str]


class PartnerRunEnvelope(OutputSchema):
    production_run: PartnerRunDetail


# --- milestone and completion responses ---------------------------------------------------------


class CompleteResponse(OutputSchema):
    production_run: ProductionRunRead
    consumptions_logged: int
    consumptions_committed: int = 0
    message: str


class CorrectionResponse(OutputSchema):
    production_run: ProductionRunRead
    correction: dict[str, Any] | None
    message: str
