"""Pydantic models of the Orchestration API's workflows and steps (jobs: jobs.py, blobs:
blobs.py, both re-exported here).

Every model is lenient on purpose: the API grows new fields, step `$type`s, blob types and
status values often (the published schema already lags the service), so unknown fields are
kept (`extra="allow"`, dumped back under their original names) and enum-like fields are plain
`str`. The `StrEnum`s below name the values known today, for comparisons only.

Field names are snake_case; the wire names (camelCase, `$type`) are aliases, so
`model_dump(by_alias=True, exclude_unset=True, mode="json")` gives back the API's shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    PlainValidator,
    SerializeAsAny,
    ValidationError,
)

from pipeline.api.base import ApiModel, UtcDateTime
from pipeline.api.blobs import BLOB_TYPES, Blob, OutputBlob, is_blob, iter_output_blobs
from pipeline.api.jobs import (
    JobDefinition,
    JobEvent,
    JobEventType,
    JobStatus,
)

# Re-exported: callers reach the base, blob helpers, timestamps and durations through here.
from pipeline.api.vocabulary import is_final_status
from pipeline.core.timefmt import (
    Duration,
    format_datetime,
    parse_datetime,
    parse_duration,
    timespan_seconds,
)

__all__ = [
    "BLOB_TYPES",
    "ApiModel",
    "Blob",
    "JobDefinition",
    "JobEvent",
    "JobEventType",
    "JobStatus",
    "OutputBlob",
    "UtcDateTime",
    "format_datetime",
    "is_blob",
    "iter_output_blobs",
    "parse_datetime",
    "parse_duration",
    "timespan_seconds",
]


def _null_as_empty(value: Any) -> Any:
    # Lists the schema gives as arrays may still come as null from an older service.
    return [] if value is None else value


_EMPTY_IF_NULL = BeforeValidator(_null_as_empty)

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


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------


class QueuePosition(ApiModel):
    support: str | None = None
    preceding_jobs: int | None = None
    start_at: UtcDateTime | None = None
    complete_at: UtcDateTime | None = None


class WorkflowStepJob(ApiModel):
    """A job as embedded in a step: no event, provider or scan context (see JobStatus)."""

    id: str | None = None
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
    # A .NET TimeSpan ("00:20:00") or an ISO-8601 duration ("PT20M"), kept as written.
    timeout: str | float | None = None
    retries: int | None = None
    started_at: UtcDateTime | None = None
    completed_at: UtcDateTime | None = None
    estimated_progress_rate: float | None = None
    metadata: dict[str, Any] | None = None
    preparation: dict[str, Any] | None = None
    jobs: list[WorkflowStepJob] | None = None
    # Any JSON value: an object for most types, a string for `imageUpload`.
    input: Any = None
    output: Any = None

    @property
    def timeout_seconds(self) -> float | None:
        return timespan_seconds(self.timeout)

    @property
    def timeout_duration(self) -> Duration | None:
        """The timeout in seconds with its text as the API wrote it (None if unreadable)."""
        return parse_duration(self.timeout)

    def input_data(self) -> dict[str, Any]:
        """The input as wire-named JSON values when it is an object ({} otherwise: see
        `input_text`)."""
        return _as_wire_dict(self.input)

    def input_text(self) -> str | None:
        """The input when it is not an object (an `imageUpload` step's text input)."""
        return (
            None
            if self.input is None or isinstance(self.input, BaseModel | Mapping)
            else (self.input if isinstance(self.input, str) else repr(self.input))
        )

    def output_data(self) -> dict[str, Any]:
        """The output as wire-named JSON values when it is an object, else {}."""
        return _as_wire_dict(self.output)

    def blobs(self) -> list[OutputBlob]:
        """Every blob of the output, with its output key and list index."""
        return [
            OutputBlob(key, index, Blob.model_validate(raw))
            for key, index, raw in iter_output_blobs(self.output_data())
        ]


def _as_wire_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True, exclude_unset=True, mode="json")
    return dict(value) if isinstance(value, Mapping) else {}


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
    input: TextToImageInput | None = None
    output: ImageOutput | None = None


class ImageGenStep(WorkflowStep):
    # imageGen input is polymorphic on `engine`; it stays a dict.
    output: ImageOutput | None = None


class VideoStep(WorkflowStep):
    output: VideoOutput | None = None


class ComfyStep(WorkflowStep):
    output: BlobsOutput | None = None


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
    tags: Annotated[list[str], _EMPTY_IF_NULL] = Field(default_factory=list)
    arguments: dict[str, Any] | None = None
    steps: Annotated[list[AnyWorkflowStep], _EMPTY_IF_NULL] = Field(default_factory=list)
    callbacks: Annotated[list[WorkflowCallback], _EMPTY_IF_NULL] = Field(default_factory=list)
    tips: WorkflowTips | None = None
    cost: WorkflowCost | None = None
    nsfw_level: str | None = None
    experimental: bool | None = None
    allow_mature_content: bool | None = None
    upgrade_mode: str | None = None
    currencies: Annotated[list[str], _EMPTY_IF_NULL] = Field(default_factory=list)
    force_refunded: bool | None = None
    ephemeral: bool | None = None
    external_id: str | None = None
    lost_blobs_refund: int | None = None

    @property
    def is_terminal(self) -> bool:
        return is_final_status(self.status)


class WorkflowPage(ApiModel):
    """One page of `GET /v2/consumer/workflows`. `next` is absent, null or "" on the last page."""

    next: str | None = None
    items: list[Workflow] = Field(default_factory=list)
