"""Request and response shapes for the admin production-runs API (SPEC §10 envelopes)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, Field, PlainSerializer, StringConstraints, model_validator

from atelier.platform.schemas import (
    BodyDecimal,
    BodyInt,
    EntityId,
    InputSchema,
    ListEnvelope,
    LongText,
    Metadata,
    OutputSchema,
    Quantity,
    ShortText,
    no_nul,
)
from atelier.production.lifecycle import RunStatus
from atelier.production.models import RunType
from atelier.tasks.schemas import TaskRead

# Money leaves the service as a string so no client rounds it through a float.
MoneyOut = Annotated[
    Decimal | None, PlainSerializer(lambda v: None if v is None else str(v), return_type=str | None)
]
Role = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
TemplateName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]
MAX_ASSIGNMENTS = 50
MAX_TEMPLATES = 50


class CostType(StrEnum):
    PER_PIECE = "per_piece"
    TOTAL = "total"


class DeclineReason(StrEnum):
    CAPACITY = "capacity"
    MATERIALS_UNAVAILABLE = "materials_unavailable"
    SCHEDULING_CONFLICT = "scheduling_conflict"
    OTHER = "other"


# --- output -----------------------------------------------------------------------------------


class ProductionRunRead(OutputSchema):
    """Every ProductionRun field; ``metadata`` is the model's ``metadata_``."""

    id: str
    status: str
    run_type: str
    quantity: int | None = None
    role: str | None = None
    parent_run_id: str | None = None
    design_id: str
    partner_id: str | None = None
    previous_partner_id: str | None = None
    order_id: str | None = None
    order_line_item_id: str | None = None
    product_id: str | None = None
    variant_id: str | None = None
    depends_on_run_ids: list[str] = Field(default_factory=list)
    sequence: int | None = None
    snapshot: dict[str, Any] = Field(default_factory=dict)
    captured_at: datetime | None = None
    accepted_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancelled_reason: str | None = None
    finish_notes: str | None = None
    completion_notes: str | None = None
    produced_quantity: int | None = None
    rejected_quantity: int | None = None
    rejection_reason: str | None = None
    rejection_notes: str | None = None
    last_progress_at: datetime | None = None
    last_activity_at: datetime | None = None
    dispatch_state: str
    dispatch_started_at: datetime | None = None
    dispatch_completed_at: datetime | None = None
    dispatch_template_names: list[str] = Field(default_factory=list)
    dispatch_template_ids: list[str] = Field(default_factory=list)
    dispatched_template_ids: list[str] = Field(default_factory=list)
    partner_cost_estimate: MoneyOut = None
    cost_type: str | None = None
    current_gate: str | None = None
    gate_deadline_at: datetime | None = None
    overdue_gate: str | None = None
    overdue_at: datetime | None = None
    last_reminder_at: datetime | None = None
    reminder_counts: dict[str, Any] = Field(default_factory=dict)
    on_hold: bool = False
    hold_reason: str | None = None
    held_at: datetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict, validation_alias="metadata_")
    created_at: datetime
    updated_at: datetime


class ProductionRunRow(ProductionRunRead):
    """A list row: the run plus the names an admin table shows."""

    design_name: str | None = None
    partner_name: str | None = None
    partner_handle: str | None = None


class ProductionRunEnvelope(OutputSchema):
    production_run: ProductionRunRead


class ProductionRunList(ListEnvelope[ProductionRunRow]):
    items: list[ProductionRunRow] = Field(alias="production_runs")


class PartnerRef(OutputSchema):
    id: str
    name: str | None
    handle: str | None


class RunSummary(OutputSchema):
    id: str
    status: str
    run_type: str
    quantity: int | None
    role: str | None
    partner_id: str | None
    design_id: str


class AutoApprovalRead(OutputSchema):
    """Whether the run could be approved without an admin, and why not."""

    auto_approvable: bool
    reasons: list[str]
    partner_id: str | None
    template_names: list[str]


class RunReminderRead(OutputSchema):
    bucket: str
    count: int
    last_sent_at: datetime | None
    next_due_at: datetime | None
    escalated_at: datetime | None
    last_attempt_at: datetime | None
    escalations: int
    parked_at: datetime | None
    anchor_at: datetime


class ProductionRunDetail(ProductionRunRead):
    """One run for the admin: names, relations, tasks, the auto-approval evaluation and the
    verbs the lifecycle allows now."""

    design_name: str | None
    partner: PartnerRef | None
    partner_name: str | None
    previous_partner: PartnerRef | None
    parent: RunSummary | None
    children: list[ProductionRunRow]
    waiting_on: list[str]
    tasks: list[TaskRead]
    policy: AutoApprovalRead
    reminders: list[RunReminderRead]
    allowed_actions: list[str]


class ProductionRunDetailEnvelope(OutputSchema):
    production_run: ProductionRunDetail


class DispatchReport(OutputSchema):
    """What an approval's automatic dispatch did; ``skipped``/``failed`` entries carry
    ``production_run_id`` and ``reason`` (failures a ``code`` when there is one)."""

    dispatched: list[str] = Field(default_factory=list)
    skipped: list[dict[str, Any]] = Field(default_factory=list)
    failed: list[dict[str, Any]] = Field(default_factory=list)
    deferred_for_ordering: bool = False


class ApprovalResponse(OutputSchema):
    production_run: ProductionRunRead
    children: list[ProductionRunRead]
    dispatch: DispatchReport


class CancelResponse(OutputSchema):
    production_run: ProductionRunRead
    cancelled_children: list[ProductionRunRead]
    message: str


class AlreadyCancelledResponse(OutputSchema):
    """A repeated cancel: nothing changed."""

    message: str
    production_run: ProductionRunRead


class ReassignResponse(OutputSchema):
    production_run: ProductionRunRead
    previous_partner_id: str | None
    same_partner: bool


class MessageRunResponse(OutputSchema):
    production_run: ProductionRunRead
    message: str


class MessageResponse(OutputSchema):
    message: str


class RunEventRead(OutputSchema):
    id: str
    kind: str
    from_status: str | None = None
    to_status: str | None = None
    actor_type: str
    actor_id: str | None = None
    channel: str
    data: dict[str, Any] = Field(default_factory=dict)
    occurred_at: datetime


class RunEventsResponse(OutputSchema):
    events: list[RunEventRead]


class RunEventEnvelope(OutputSchema):
    event: RunEventRead


# --- input ------------------------------------------------------------------------------------


class ProductionRunCreate(InputSchema):
    design_id: EntityId
    partner_id: EntityId | None = None
    quantity: Quantity | None = None
    run_type: RunType = RunType.PRODUCTION
    product_id: EntityId | None = None
    variant_id: EntityId | None = None
    order_id: EntityId | None = None
    order_line_item_id: EntityId | None = None
    metadata: Metadata | None = None
    role: Role | None = None


class Assignment(InputSchema):
    """One child run of a split: who makes how many, in which order group, with what templates."""

    partner_id: EntityId
    role: Role | None = None
    quantity: Quantity
    order: BodyInt | None = Field(default=None, ge=0, le=1_000)
    template_names: list[TemplateName] | None = Field(default=None, max_length=MAX_TEMPLATES)
    template_ids: list[EntityId] | None = Field(default=None, max_length=MAX_TEMPLATES)

    @model_validator(mode="after")
    def _one_template_kind(self) -> Assignment:
        if self.template_names and self.template_ids:
            raise ValueError("give template_names or template_ids, not both")
        return self


class ApproveRequest(InputSchema):
    """``assignments`` split the run; without them ``template_*`` set the run's own intent."""

    assignments: list[Assignment] | None = Field(default=None, max_length=MAX_ASSIGNMENTS)
    template_names: list[TemplateName] | None = Field(default=None, max_length=MAX_TEMPLATES)
    template_ids: list[EntityId] | None = Field(default=None, max_length=MAX_TEMPLATES)

    @model_validator(mode="after")
    def _intent_without_assignments(self) -> ApproveRequest:
        if self.assignments and (self.template_names or self.template_ids):
            raise ValueError("template_names/template_ids go inside each assignment")
        if self.template_names and self.template_ids:
            raise ValueError("give template_names or template_ids, not both")
        return self


class DesignRunsCreate(InputSchema):
    quantity: Quantity | None = None
    run_type: RunType = RunType.PRODUCTION
    assignments: list[Assignment] | None = Field(default=None, max_length=MAX_ASSIGNMENTS)
    metadata: Metadata | None = None


class HoldRequest(InputSchema):
    reason: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
        AfterValidator(no_nul),
    ]


class CancelRequest(InputSchema):
    reason: ShortText | None = None


class ReassignRequest(InputSchema):
    partner_id: EntityId
    note: ShortText | None = None


class DeclineRequest(InputSchema):
    reason: DeclineReason
    notes: LongText | None = None


class NoteRequest(InputSchema):
    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]


class ProductionRunUpdate(InputSchema):
    """Admin edits. quantity/role/run_type only before the partner accepts."""

    quantity: Quantity | None = None
    role: Role | None = None
    run_type: RunType | None = None
    metadata: Metadata | None = None
    partner_cost_estimate: Annotated[
        BodyDecimal | None, Field(ge=0, le=1_000_000_000, max_digits=18, decimal_places=4)
    ] = None
    cost_type: CostType | None = None


class RunListQuery(InputSchema):
    """Validated list filters (shared by the JSON list and the CSV export)."""

    status: list[RunStatus] = Field(default_factory=list, max_length=len(RunStatus))
    partner_id: EntityId | None = None
    design_id: EntityId | None = None
    order_id: EntityId | None = None
    run_type: RunType | None = None
    parent_run_id: EntityId | None = None
    include_children: bool = False
    q: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    sort: str = "-created_at"


class MaterialCostRead(OutputSchema):
    consumption_log_id: str
    inventory_item_id: str
    consumption_type: str
    amount: Annotated[Decimal, PlainSerializer(str, return_type=str)]
    unit_of_measure: str
    unit_cost: MoneyOut = None
    cost: MoneyOut = None


class CostSummaryRead(OutputSchema):
    """``GET /admin/production-runs/:id/costs``: money as strings, two decimals."""

    production_run_id: str
    pieces: int | None
    materials: list[MaterialCostRead]
    materials_cost: Annotated[Decimal, PlainSerializer(str, return_type=str)]
    unpriced_logs: int
    partner_cost_estimate: MoneyOut = None
    cost_type: str | None = None
    partner_cost: MoneyOut = None
    total_cost: Annotated[Decimal, PlainSerializer(str, return_type=str)]
    good_pieces: int | None = None
    cost_per_good_piece: MoneyOut = None


class CostsEnvelope(OutputSchema):
    costs: CostSummaryRead


class ProductionRunDependencies(InputSchema):
    """``POST /admin/production-runs/:id/dependencies``: the runs this run waits on (re-link)."""

    depends_on_run_ids: list[EntityId] = Field(default_factory=list, max_length=MAX_ASSIGNMENTS)
