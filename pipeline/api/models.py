"""Pydantic models of the Orchestration API's workflows, steps, jobs and blobs.

Every model is lenient on purpose: the API grows new fields, step `$type`s, blob types and
status values often (the published schema already lags the service), so unknown fields are
kept (`extra="allow"`, dumped back under their original names) and enum-like fields are plain
`str`. The `StrEnum`s below name the values known today, for comparisons only.

Field names are snake_case; the wire names (camelCase, `$type`) are aliases, so
`model_dump(by_alias=True, exclude_unset=True, mode="json")` gives back the API's shape.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, NamedTuple

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    SerializeAsAny,
    ValidationError,
)
from pydantic.alias_generators import to_camel

from pipeline.api.blobs import find_blobs

# Re-exported: callers parse API timestamps and TimeSpans through the models module.
from pipeline.core.timefmt import format_datetime, parse_datetime, timespan_seconds

UtcDateTime = Annotated[
    datetime,
    BeforeValidator(parse_datetime),
    PlainSerializer(format_datetime, return_type=str, when_used="json"),
]

# ---------------------------------------------------------------------------------------------
# Known enum values (fields stay `str`; new values must not break parsing)
# ---------------------------------------------------------------------------------------------


class WorkflowStatus(StrEnum):
    """v2 status shared by workflows, steps and embedded jobs (lowercase on the wire)."""

    UNASSIGNED = "unassigned"
    PREPARING = "preparing"
    SCHEDULED = "scheduled"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELED = "canceled"


TERMINAL_WORKFLOW_STATUSES = frozenset({"succeeded", "failed", "expired", "canceled", "deleted"})


class JobEventType(StrEnum):
    """v1 job event types (PascalCase on the wire, unlike the v2 statuses)."""

    INITIALIZED = "Initialized"
    CLAIMED = "Claimed"
    REJECTED = "Rejected"
    LATE_REJECTED = "LateRejected"
    CLAIM_EXPIRED = "ClaimExpired"
    UPDATED = "Updated"
    FAILED = "Failed"
    SUCCEEDED = "Succeeded"
    EXPIRED = "Expired"
    DELETED = "Deleted"
    CANCELED = "Canceled"


# A job whose last event is one of these will not change any more, so it need not be re-fetched.
FINAL_JOB_EVENT_TYPES = frozenset({"Succeeded", "Failed", "Expired", "Deleted", "Canceled"})

# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------


class ApiModel(BaseModel):
    """Base: camelCase aliases, unknown fields kept."""

    model_config = ConfigDict(
        extra="allow",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
    )


class Blob(ApiModel):
    """An output file (image, video, audio or 3D model); subtype fields are all optional.

    Real image blobs come without `type`, `nsfwLevel` and `jobId` although the schema requires
    `type`. `url`/`previewUrl` are signed and expire: never a key, never stored.
    """

    id: str
    type: str | None = None
    available: bool | None = None
    url: str | None = None
    url_expires_at: UtcDateTime | None = None
    preview_url: str | None = None
    preview_url_expires_at: UtcDateTime | None = None
    job_id: str | None = None
    nsfw_level: str | None = None
    blocked_reason: str | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    format: str | None = None
    tier: str | None = None


def iter_output_blobs(
    output: Mapping[str, Any] | None,
) -> Iterator[tuple[str, int, Mapping[str, Any]]]:
    """Yield `(output_key, item_index, blob)` for every blob in a step's raw `output`, at any
    depth (`pipeline.api.blobs`): the output member it sits under ("output" for the output
    itself) and its position in the innermost list (0 outside lists)."""
    for found in find_blobs(output if isinstance(output, Mapping) else None):
        yield found.output_key or "output", found.item_index, found.blob


class OutputBlob(NamedTuple):
    output_key: str
    item_index: int
    blob: Blob


class QueuePosition(ApiModel):
    support: str | None = None
    preceding_jobs: int | None = None
    start_at: UtcDateTime | None = None
    complete_at: UtcDateTime | None = None


class WorkflowStepJob(ApiModel):
    """A job as embedded in a step: no event, provider or scan context (see JobStatus)."""

    id: str
    status: str | None = None
    started_at: UtcDateTime | None = None
    completed_at: UtcDateTime | None = None
    queue_position: QueuePosition | None = None
    # A relative complexity score, not Buzz.
    cost: float | None = None
    estimated_progress_rate: float | None = None


class WorkflowStep(ApiModel):
    """One step. The base class also represents every `$type` without a typed subclass."""

    type: str | None = Field(default=None, alias="$type")
    name: str
    priority: str | None = None
    status: str | None = None
    timeout: str | None = None
    retries: int | None = None
    started_at: UtcDateTime | None = None
    completed_at: UtcDateTime | None = None
    estimated_progress_rate: float | None = None
    metadata: dict[str, Any] | None = None
    preparation: dict[str, Any] | None = None
    jobs: list[WorkflowStepJob] | None = None
    input: dict[str, Any] | None = None
    output: dict[str, Any] | None = None

    @property
    def timeout_seconds(self) -> float | None:
        return timespan_seconds(self.timeout)

    def input_data(self) -> dict[str, Any]:
        """The input as wire-named JSON values, whatever the step type."""
        return _as_wire_dict(self.input)

    def output_data(self) -> dict[str, Any]:
        """The output as wire-named JSON values, whatever the step type."""
        return _as_wire_dict(self.output)

    def blobs(self) -> list[OutputBlob]:
        """Every blob of the output, with its output key and list index."""
        return [
            OutputBlob(key, index, Blob.model_validate(raw))
            for key, index, raw in iter_output_blobs(self.output_data())
        ]


def _as_wire_dict(value: BaseModel | Mapping[str, Any] | None) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True, exclude_unset=True, mode="json")
    return dict(value)


class TextToImageInput(ApiModel):
    prompt: str | None = None
    negative_prompt: str | None = None
    model: str | None = None
    engine: str | None = None
    width: int | None = None
    height: int | None = None
    seed: int | None = None
    quantity: int | None = None
    batch_size: int | None = None
    steps: int | None = None
    cfg_scale: float | None = None
    clip_skip: int | None = None
    scheduler: str | None = None
    output_format: str | None = None


class ImageOutput(ApiModel):
    images: list[Blob] = Field(default_factory=list)
    errors: list[str] | None = None


class VideoOutput(ApiModel):
    video: Blob | None = None
    additional_videos: list[Blob] | None = None
    draft_cache: Blob | None = None


class BlobsOutput(ApiModel):
    blobs: list[Blob] = Field(default_factory=list)


class TextToImageStep(WorkflowStep):
    input: TextToImageInput | None = None  # type: ignore[assignment]
    output: ImageOutput | None = None  # type: ignore[assignment]


class ImageGenStep(WorkflowStep):
    # imageGen input is polymorphic on `engine`; it stays a dict.
    output: ImageOutput | None = None  # type: ignore[assignment]


class VideoStep(WorkflowStep):
    output: VideoOutput | None = None  # type: ignore[assignment]


class ComfyStep(WorkflowStep):
    output: BlobsOutput | None = None  # type: ignore[assignment]


STEP_TYPES: dict[str, type[WorkflowStep]] = {
    "textToImage": TextToImageStep,
    "imageGen": ImageGenStep,
    "model3DPreview": ImageGenStep,
    "videoGen": VideoStep,
    "videoEnhancement": VideoStep,
    "videoUpscaler": VideoStep,
    "videoInterpolation": VideoStep,
    "videoBackgroundRemoval": VideoStep,
    "comfy": ComfyStep,
}


def parse_step(value: Any) -> WorkflowStep:
    """Validate a step into its `$type`'s class, or the base class for an unknown `$type`.

    A known type whose body no longer matches its typed subclass falls back to the base
    class rather than failing the whole workflow.
    """
    if isinstance(value, WorkflowStep):
        return value
    cls = STEP_TYPES.get(str(value.get("$type"))) if isinstance(value, Mapping) else None
    if cls is not None:
        try:
            return cls.model_validate(value)
        except ValidationError:
            pass
    return WorkflowStep.model_validate(value)


AnyWorkflowStep = Annotated[SerializeAsAny[WorkflowStep], PlainValidator(parse_step)]


class TransactionInfo(ApiModel):
    type: str | None = None  # debit | credit
    amount: int | None = None
    id: str | None = None
    account_type: str | None = None  # yellow | blue | green | fakeRed


class TransactionSummary(ApiModel):
    # `list` on the wire; renamed so the class body does not shadow the builtin.
    items: list[TransactionInfo] = Field(default_factory=list, alias="list")
    insufficient_buzz: bool | None = None


class TipAmounts(ApiModel):
    civitai: int | None = None
    creators: int | None = None


class WorkflowCost(ApiModel):
    base: int | None = None
    factors: dict[str, Any] | None = None
    fixed: dict[str, Any] | None = None
    tips: TipAmounts | None = None
    fees: dict[str, Any] | None = None
    total: int | None = None


class WorkflowTips(ApiModel):
    """Tip rates (0..2); the tipped amounts are in `WorkflowCost.tips`."""

    civitai: float | None = None
    creators: float | None = None


class WorkflowCallback(ApiModel):
    url: str | None = None
    type: list[str] | str | None = None
    detailed: bool | None = None


class Workflow(ApiModel):
    id: str
    created_at: UtcDateTime
    status: str | None = None
    started_at: UtcDateTime | None = None
    completed_at: UtcDateTime | None = None
    deleted_at: UtcDateTime | None = None
    transactions: TransactionSummary | None = None
    metadata: dict[str, Any] | None = None
    tags: list[str] = Field(default_factory=list)
    arguments: dict[str, Any] | None = None
    steps: list[AnyWorkflowStep] = Field(default_factory=list)
    callbacks: list[WorkflowCallback] = Field(default_factory=list)
    tips: WorkflowTips | None = None
    cost: WorkflowCost | None = None
    nsfw_level: str | None = None
    experimental: bool | None = None
    allow_mature_content: bool | None = None
    upgrade_mode: str | None = None
    currencies: list[str] = Field(default_factory=list)
    force_refunded: bool | None = None
    ephemeral: bool | None = None
    external_id: str | None = None
    lost_blobs_refund: int | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_WORKFLOW_STATUSES


class WorkflowPage(ApiModel):
    """One page of `GET /v2/consumer/workflows`. `next` is absent, null or "" on the last page."""

    next: str | None = None
    items: list[Workflow] = Field(default_factory=list)


class JobEvent(ApiModel):
    """The last event of a v1 job; `context` carries the moderation scan scores."""

    job_id: str | None = None
    type: str | None = None
    date_time: UtcDateTime | None = None
    provider: str | None = None
    worker_id: str | None = None
    context: dict[str, Any] | None = None
    # TimeSpan text, but older SDKs typed these as objects: kept as given.
    claim_duration: Any = None
    job_duration: Any = None
    retry_attempt: int | None = None
    cost: float | None = None
    job_properties: dict[str, Any] | None = None
    job_type: str | None = None
    job_priority: float | None = None
    claim_has_completed: bool | None = None
    job_has_completed: bool | None = None

    @property
    def job_duration_seconds(self) -> float | None:
        return timespan_seconds(self.job_duration)

    @property
    def claim_duration_seconds(self) -> float | None:
        return timespan_seconds(self.claim_duration)

    @property
    def is_final(self) -> bool:
        return self.type in FINAL_JOB_EVENT_TYPES


class JobDefinition(ApiModel):
    """The `job` object of a detailed v1 job."""

    id: str | None = None
    # Some producers write `Type`; it is read from either and written back as `type`.
    type: str | None = Field(
        default=None, validation_alias=AliasChoices("type", "Type"), serialization_alias="type"
    )
    created_at: UtcDateTime | None = None
    expire_at: UtcDateTime | None = None
    properties: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    prompt_classification_result: dict[str, Any] | None = None


class JobStatus(ApiModel):
    """`GET /v1/consumer/jobs/{jobId}?detailed=true`."""

    job_id: str | None = None
    cost: float | None = None
    properties: dict[str, Any] | None = None
    result: Any = None
    last_event: JobEvent | None = None
    service_providers: dict[str, Any] | None = None
    scheduled: bool | None = None
    job: JobDefinition | None = None

    @property
    def is_final(self) -> bool:
        return self.last_event is not None and self.last_event.is_final

    @property
    def workflow_id(self) -> str | None:
        for props in (self.properties, self.job.properties if self.job else None):
            if props and isinstance(props.get("workflowId"), str):
                return str(props["workflowId"])
        return None
