"""One v1 job document (`GET /v1/consumer/jobs/{id}?detailed=true`) -> lake rows.

Produces the `job_details` row and the `scan_scores` rows of a job, with the Arrow schemas of
both tables and their column descriptions (see `pipeline.flatten.schemas` for the format).
Pure functions: no I/O, so the live lookup and the rebuild from the raw archive build identical
rows from identical documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from pipeline.api.models import parse_datetime as parse_api_datetime
from pipeline.api.models import timespan_seconds
from pipeline.api.vocabulary import is_final_status
from pipeline.enrich.scan_scores import CSAM_SCORE_KEY, json_text, parse_context

_TS = pa.timestamp("us", tz="UTC")

JOB_DETAILS_SCHEMA = pa.schema(
    [
        ("job_id", pa.string()),
        ("workflow_id", pa.string()),
        ("window_date", pa.date32()),
        ("fetched_at", _TS),
        ("found", pa.bool_()),
        ("job_type", pa.string()),
        ("provider", pa.string()),
        ("worker_id", pa.string()),
        ("last_event_type", pa.string()),
        ("last_event_at", _TS),
        ("is_final", pa.bool_()),
        ("retry_attempt", pa.int32()),
        ("job_duration_seconds", pa.float64()),
        ("claim_duration_seconds", pa.float64()),
        ("cost", pa.float64()),
        # `lastEvent.jobPriority`, else the definition's `priority.value` (the definition
        # may give a range instead: `priority_json` keeps it as sent).
        ("priority", pa.float64()),
        ("priority_json", pa.string()),
        # Names of the providers in `serviceProviders` (empty while unscheduled).
        ("service_providers", pa.list_(pa.string())),
        # The context's `reason` / `blockedReason` (a failed or blocked job says why there).
        ("reason", pa.string()),
        ("blocked_reason", pa.string()),
        ("prompt_sexual", pa.bool_()),
        ("prompt_young", pa.bool_()),
        ("prompt_cr", pa.bool_()),
        ("prompt_scan", pa.bool_()),
        ("prompt_classification_json", pa.string()),
        ("params_json", pa.string()),
        ("result_json", pa.string()),
        ("context_json", pa.string()),
        ("csam_score_max_pct", pa.float64()),
    ]
)

_NOT_FOUND = "NULL also in the row of a job the API no longer knows (found = false)."

JOB_DETAILS_COLUMNS = {
    "job_id": "The job looked up.",
    "workflow_id": "The job's workflow (from the workflow pages, else the job's own "
    "`properties.workflowId`). NULL: neither gives one.",
    "window_date": "The UTC day of the job's workflow's createdAt: the sync window (and Delta "
    "partition) the row belongs to.",
    "fetched_at": "When the job was looked up (UTC); the row is that lookup's answer.",
    "found": "false when the v1 endpoint answered 404: the job is gone and never asked for "
    "again (every other column is then NULL).",
    "job_type": "The v1 job's `type` (e.g. TextToImageV2, ComfyJob), else the event's "
    f"`jobType`. NULL: neither sent. {_NOT_FOUND}",
    "provider": f"The provider that ran the job (the last event's `provider`). NULL: no "
    f"provider yet (never claimed). {_NOT_FOUND}",
    "worker_id": f"The worker that ran the job (the last event's `workerId`). NULL: no worker "
    f"yet. {_NOT_FOUND}",
    "last_event_type": "The type of the job's last event (Initialized, Claimed, Rejected, "
    f"Updated, Succeeded, Failed, Expired, ...). NULL: the job has no event. {_NOT_FOUND}",
    "last_event_at": f"When the last event happened (UTC). NULL: no event. {_NOT_FOUND}",
    "is_final": "Whether the last event is final (succeeded, failed, expired, deleted, "
    "canceled) or the job is gone: such a job is never looked up again.",
    "retry_attempt": f"The last event's `retryAttempt` (0 = first try). NULL: not sent. "
    f"{_NOT_FOUND}",
    "job_duration_seconds": "The last event's `jobDuration`. NULL: not sent or unreadable. "
    f"{_NOT_FOUND} [seconds]",
    "claim_duration_seconds": "The last event's `claimDuration`. NULL: not sent or "
    f"unreadable. {_NOT_FOUND} [seconds]",
    "cost": f"The v1 job's `cost`, else the event's (no documented unit; not Buzz). NULL: "
    f"neither sent. {_NOT_FOUND}",
    "priority": "The last event's `jobPriority`, else the definition's priority value (a "
    f"number; higher runs first). NULL: neither is a number. {_NOT_FOUND}",
    "priority_json": "The job definition's `priority` as JSON text, as sent (it may be a "
    f"range). NULL: not sent. {_NOT_FOUND}",
    "service_providers": "Names of the providers in `serviceProviders` (empty: unscheduled). "
    f"NULL: not sent. {_NOT_FOUND}",
    "reason": "Why the job failed, from the last event's context. NULL: the context gives no "
    f"reason. {_NOT_FOUND}",
    "blocked_reason": "Why the job was blocked, from the last event's context. NULL: the "
    f"context gives none. {_NOT_FOUND}",
    "prompt_sexual": "The prompt classification's `sexual` member (false when the "
    "classification lacks it). NULL: the job carried no prompt classification "
    "(prompt_classification_json is NULL).",
    "prompt_young": "The prompt classification's `young` member (false when the classification "
    "lacks it). NULL: no prompt classification (prompt_classification_json is NULL).",
    "prompt_cr": "The prompt classification's `cr` member (false when the classification "
    "lacks it). NULL: no prompt classification (prompt_classification_json is NULL).",
    "prompt_scan": "The prompt classification's `scan` member (false when the classification "
    "lacks it). NULL: no prompt classification (prompt_classification_json is NULL).",
    "prompt_classification_json": "The job's `promptClassificationResult` as JSON text. NULL: "
    f"the API sent none (the prompt was not classified). {_NOT_FOUND}",
    "params_json": f"The job's `params` as JSON text, URLs left out. NULL: not sent. {_NOT_FOUND}",
    "result_json": f"The job's `result` as JSON text, URLs left out. NULL: not sent. {_NOT_FOUND}",
    "context_json": f"The last event's `context` as JSON text. NULL: no context. {_NOT_FOUND}",
    "csam_score_max_pct": "The highest hive_csam_score over the job's output items. NULL: the "
    f"context carried no readable hive_csam_score (the job was not scanned). {_NOT_FOUND} "
    "[percent 0-100]",
}

SCAN_SCORES_SCHEMA = pa.schema(
    [
        ("job_id", pa.string()),
        ("score_name", pa.string()),
        ("item_index", pa.int32()),
        ("workflow_id", pa.string()),
        ("window_date", pa.date32()),
        ("blob_id", pa.string()),
        ("value_text", pa.string()),
        ("score", pa.float64()),
        ("label", pa.string()),
        ("raw_value_text", pa.string()),
    ]
)

SCAN_SCORES_COLUMNS = {
    "job_id": "The job whose last event's context held the value.",
    "score_name": "The context key, e.g. hive_csam_score, hive_vlm_summary (every key is kept, "
    "known or not; `_context` for a context that is not an object).",
    "item_index": "The output item the value is about, from 0 (item i is output i).",
    "workflow_id": "The job's workflow. NULL: not known.",
    "window_date": "The UTC day of the job's workflow's createdAt: the sync window (and Delta "
    "partition) the row belongs to.",
    "blob_id": "The output blob of the item (`result[i].blobKey`). NULL: the job's result "
    "names none.",
    "value_text": "The item as the API gave it, e.g. `12.50 %`, `No_Child`. NULL: the item "
    "was null.",
    "score": "The item as a percent on one 0-100 scale: `%` items as written, the bare numbers "
    "of a `*_score` key scaled by 100 when all lie in [0, 1]. NULL: no percent (a label, n/a, "
    "a bare number of another key, which is a metric in unknown units: see value_text, or "
    "unreadable). [percent 0-100]",
    "label": "The item when it is text rather than a number (e.g. a hive_vlm_summary label). "
    "NULL: the item is a number, JSON, or empty.",
    "raw_value_text": "The whole context value the item was split from, as sent. NULL: the "
    "value was null.",
}


PROMPT_FLAGS = ("sexual", "young", "cr", "scan")

# Blob URLs are signed and short-lived; they are fetched on demand, never stored.
_URL_KEYS = frozenset({"url", "previewUrl"})


def parse_datetime(value: Any) -> datetime | None:
    """API timestamp -> aware UTC datetime; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_api_datetime(value)
    except ValueError:
        return None


def _get(obj: Any, *names: str) -> Any:
    """First present member among `names` (the v1 API's casing is not stable: `type`/`Type`)."""
    if not isinstance(obj, Mapping):
        return None
    for name in names:
        if obj.get(name) is not None:
            return obj[name]
    return None


def _str(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json_text(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return int(value) if -(2**31) <= value < 2**31 else None
    except (OverflowError, ValueError):
        return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


def _first_float(*values: Any) -> float | None:
    for value in values:
        number = _float(value)
        if number is not None:
            return number
    return None


def _flag(classification: Any, name: str) -> bool | None:
    """A prompt-classification member as a boolean; None when the job was not classified."""
    if not isinstance(classification, Mapping):
        return None
    for key, value in classification.items():
        if isinstance(key, str) and key.lower() == name:
            if isinstance(value, str):
                return value.strip().lower() in {"true", "1", "yes"}
            return bool(value)
    return False


def _drop_urls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _drop_urls(v) for k, v in value.items() if k not in _URL_KEYS}
    if isinstance(value, list):
        return [_drop_urls(v) for v in value]
    return value


def _priority(job: Any, event: Any) -> tuple[float | None, str | None]:
    """(priority, the definition's priority as JSON text): the event's number first, then the
    definition's `{value}` or bare number."""
    definition = _get(job, "priority", "Priority")
    number = _float(_get(event, "jobPriority", "JobPriority"))
    if number is None:
        number = _float(
            _get(definition, "value", "Value") if isinstance(definition, Mapping) else definition
        )
    return number, None if definition is None else json_text(definition)


def _provider_names(doc: Mapping[str, Any]) -> list[str] | None:
    providers = _get(doc, "serviceProviders", "ServiceProviders")
    return [str(name) for name in providers] if isinstance(providers, Mapping) else None


@dataclass
class JobRows:
    details: dict[str, Any]
    scan_scores: list[dict[str, Any]]
    parse_failures: int


def job_rows(
    document: Any,
    *,
    job_id: str,
    workflow_id: str | None,
    window_date: date,
    fetched_at: datetime,
) -> JobRows:
    """Rows of one found job. Missing or oddly typed members become nulls, never errors."""
    doc: Mapping[str, Any] = document if isinstance(document, Mapping) else {}
    job = doc.get("job") if isinstance(doc.get("job"), Mapping) else {}
    event = doc.get("lastEvent") if isinstance(doc.get("lastEvent"), Mapping) else {}
    if workflow_id is None:
        workflow_id = _str(_get(_get(job, "properties", "Properties"), "workflowId", "WorkflowId"))
    context = _get(event, "context", "Context")
    result = _get(doc, "result", "Result")
    parsed = parse_context(
        context, job_id=job_id, workflow_id=workflow_id, window_date=window_date, result=result
    )
    classification = _get(job, "promptClassificationResult", "PromptClassificationResult")
    event_type = _str(_get(event, "type", "Type"))
    priority, priority_json = _priority(job, event)
    params = _get(job, "params", "Params")
    details = {
        "job_id": job_id,
        "workflow_id": workflow_id,
        "window_date": window_date,
        "fetched_at": fetched_at,
        "found": True,
        "job_type": _str(_get(job, "type", "Type") or _get(event, "jobType", "JobType")),
        "provider": _str(_get(event, "provider", "Provider")),
        "worker_id": _str(_get(event, "workerId", "WorkerId")),
        "last_event_type": event_type,
        "last_event_at": parse_datetime(_get(event, "dateTime", "DateTime")),
        "is_final": is_final_status(event_type),
        "retry_attempt": _int(_get(event, "retryAttempt", "RetryAttempt")),
        # Unreadable durations are None, never an error: they must not cost the job its row.
        "job_duration_seconds": timespan_seconds(_get(event, "jobDuration", "JobDuration")),
        "claim_duration_seconds": timespan_seconds(_get(event, "claimDuration", "ClaimDuration")),
        "cost": _first_float(_get(doc, "cost", "Cost"), _get(event, "cost", "Cost")),
        "priority": priority,
        "priority_json": priority_json,
        "service_providers": _provider_names(doc),
        "reason": _str(_get(context, "reason", "Reason")),
        "blocked_reason": _str(_get(context, "blockedReason", "blocked_reason", "BlockedReason")),
        **{f"prompt_{name}": _flag(classification, name) for name in PROMPT_FLAGS},
        "prompt_classification_json": None if classification is None else json_text(classification),
        "params_json": None if params is None else json_text(_drop_urls(params)),
        "result_json": None if result is None else json_text(_drop_urls(result)),
        "context_json": None if context is None else json_text(context),
        "csam_score_max_pct": parsed.max_score(CSAM_SCORE_KEY),
    }
    return JobRows(
        details=details,
        scan_scores=[row.as_dict() for row in parsed.rows],
        parse_failures=parsed.parse_failures,
    )


def not_found_row(
    *, job_id: str, workflow_id: str | None, window_date: date, fetched_at: datetime
) -> dict[str, Any]:
    """The API no longer knows the job (404): final, so it is never asked for again."""
    row: dict[str, Any] = dict.fromkeys(JOB_DETAILS_SCHEMA.names)
    row.update(
        job_id=job_id,
        workflow_id=workflow_id,
        window_date=window_date,
        fetched_at=fetched_at,
        found=False,
        is_final=True,
    )
    return row
