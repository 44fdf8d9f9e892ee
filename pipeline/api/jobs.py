"""Pydantic models of v1 jobs (`GET /v1/consumer/jobs/{jobId}?detailed=true`): the last
event with its scan-score context, the job definition and the result. Lenient like every
API model: unknown fields kept, enum-like fields plain `str`."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import AliasChoices, Field

from pipeline.api.base import ApiModel, UtcDateTime
from pipeline.api.vocabulary import is_final_status
from pipeline.core.timefmt import timespan_seconds


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
        return is_final_status(self.type)


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
