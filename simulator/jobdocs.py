"""v1 job documents (`GET /v1/consumer/jobs/{id}?detailed=true`) for generated workflows.

The shape follows the old `civitai` SDK's JobStatus/JobEvent/Job: `job` (the definition, with
type-specific `params` and a `priority`, fixed `{value}` or ranged `{min, max}`), `result`
(`{blobKey, available}` per output blob), `lastEvent` (with `jobPriority` and the free-form
`context`) and `serviceProviders` (queue positions per provider; `{}` while unscheduled).

`lastEvent.context` carries what `simulator.scancontext` decided at generation: the scan
scores in every form, the job's failure `reason` and `blockedReason`, worker metrics, or
nothing at all (null).
"""

from __future__ import annotations

from random import Random
from typing import Any

from simulator import vocab
from simulator.ids import TICKS_PER_SECOND, format_ticks, mix, timespan, unit
from simulator.model import FINAL_STATUSES, GeneratedWorkflow, JobInfo, pick
from simulator.scancontext import scan_context

EVENT_TYPES = {"succeeded": "Succeeded", "failed": "Failed", "expired": "Expired"}
PRIORITY_VALUES = {"high": 1, "normal": 5, "low": 10}
# Share of final jobs the v1 endpoint no longer knows (404): the lake must record them as
# not found instead of failing the window.
PURGED_SHARE = 0.01
_PARAM_LIMIT = 12


def is_purged(seed: int, job: JobInfo, g: int) -> bool:
    return (
        job.status in FINAL_STATUSES and unit(mix(seed, 0x9E6, g, job.step, job.job)) < PURGED_SHARE
    )


def job_type(step_type: str) -> str:
    """The v1 job type of a step type (PascalCase, as the v1 API names them)."""
    return vocab.JOB_TYPES.get(step_type) or step_type[:1].upper() + step_type[1:] + "Job"


def priority_value(step: dict[str, Any]) -> int:
    return PRIORITY_VALUES.get(step.get("priority", "normal"), 5)


def build_job_doc(seed: int, wf: GeneratedWorkflow, job: JobInfo) -> dict[str, Any]:
    rng = Random(mix(seed, 0x10B, wf.g, job.step, job.job))
    step = wf.doc["steps"][job.step]
    provider = pick(rng, vocab.PROVIDERS)
    worker = f"{provider.lower()}-{rng.getrandbits(32):08x}"
    group = pick(rng, vocab.WORKER_GROUPS)
    trace = f"{rng.getrandbits(64):016x}{rng.getrandbits(64):016x}"
    claim_ticks = int((0.005 + rng.random() * 0.4) * TICKS_PER_SECOND)
    running_draw = rng.random()
    deleted = rng.random() < 0.3
    classified = rng.random() < 0.9
    flags = [rng.random() < p for p in (0.15, 0.04, 0.01, 0.05)]  # sexual, young, cr, extra scan
    progress = round(0.05 + rng.random() * 0.9, 4)
    preceding = 1 + int(rng.random() * 40)
    ranged = rng.random() < 0.1
    provider_draw = rng.random()

    status = job.status
    event_type = _event_type(status, deleted, progress)
    final = status in FINAL_STATUSES
    claimed = job.start_ticks is not None
    priority = priority_value(step)

    created = wf.created_ticks + 2_000 + job.step * 10_000
    if job.end_ticks is not None:
        when = job.end_ticks
    elif job.start_ticks is not None:
        when = job.start_ticks + int(progress * 10 * TICKS_PER_SECOND)
    else:
        when = created
    event: dict[str, Any] = {
        "jobId": job.id,
        "type": event_type,
        "dateTime": format_ticks(when),
        "provider": provider if claimed else None,
        "workerId": worker if claimed else None,
    }
    if claimed:
        event["claimDuration"] = timespan(claim_ticks)
    if final and claimed and job.end_ticks is not None:
        event["jobDuration"] = timespan(job.end_ticks - job.start_ticks)  # type: ignore[operator]
    event["retryAttempt"] = job.retry_attempt
    event["context"] = _context(
        job, {"worker_group": group, "trace_id": trace}, running_draw, progress
    )
    event["jobType"] = job_type(step["$type"])
    event["jobPriority"] = priority
    event["claimHasCompleted"] = claimed
    event["jobHasCompleted"] = final

    definition = _definition(wf, job, created, priority, ranged, flags if classified else None)

    result: list[dict[str, Any]] | None
    if status == "succeeded":
        result = [{"blobKey": b.blob["id"], "available": b.blob["available"]} for b in job.blobs]
    elif status == "failed":
        result = []
    else:
        result = None
    return {
        "jobId": job.id,
        "cost": job.cost,
        "properties": {"workflowId": wf.id},
        "job": definition,
        "result": result,
        "lastEvent": event,
        "serviceProviders": _providers(job, provider, worker, created, preceding, provider_draw),
        "scheduled": status not in ("unassigned", "preparing"),
    }


def _event_type(status: str, deleted: bool, progress: float) -> str:
    if status == "canceled":
        return "Deleted" if deleted else "Canceled"
    if status in EVENT_TYPES:
        return EVENT_TYPES[status]
    if status == "processing":
        return "Updated" if progress > 0.3 else "Claimed"
    return "Initialized"


def _definition(
    wf: GeneratedWorkflow,
    job: JobInfo,
    created: int,
    priority: int,
    ranged: bool,
    classification: list[bool] | None,
) -> dict[str, Any]:
    """The `job` object (detailed=true): type, params, priority, prompt classification."""
    step = wf.doc["steps"][job.step]
    prompt, negative = wf.prompts[job.step]
    definition: dict[str, Any] = {
        "id": job.id,
        "type": job_type(step["$type"]),
        "createdAt": format_ticks(created),
        "expireAt": format_ticks(created + 20 * 60 * TICKS_PER_SECOND),
        "properties": {"workflowId": wf.id, "stepName": step["name"]},
        "params": _params(step.get("input"), prompt, negative),
        "priority": {"min": priority, "max": priority + 5} if ranged else {"value": priority},
        "cost": job.cost,
        "maxRetryAttempt": 2,
    }
    if prompt is not None and classification is not None:
        sexual, young, cr, extra_scan = classification
        definition["promptClassificationResult"] = {
            "sexual": sexual,
            "young": young,
            "cr": cr,
            "scan": sexual or young or extra_scan,
        }
    return definition


def _params(inp: Any, prompt: str | None, negative: str | None) -> dict[str, Any]:
    """The job's parameters: the prompts, then the step input's plain values (not URLs)."""
    params: dict[str, Any] = {}
    if prompt is not None:
        params["prompt"] = prompt
        if negative is not None:
            params["negativePrompt"] = negative
    if isinstance(inp, dict):
        for key, value in inp.items():
            if len(params) >= _PARAM_LIMIT:
                break
            if key in params or isinstance(value, dict | list):
                continue
            if isinstance(value, str) and "://" in value:
                continue
            params[key] = value
    return params


def _providers(
    job: JobInfo, provider: str, worker: str, created: int, preceding: int, draw: float
) -> dict[str, Any]:
    status = job.status
    if status == "unassigned":
        return {}
    if status in ("scheduled", "preparing", "processing"):
        start_in = preceding * 3 * TICKS_PER_SECOND
        queue = {
            "precedingJobs": 0 if status == "processing" else preceding,
            "precedingCost": 0.0 if status == "processing" else preceding * 4.0,
            "throughputRate": 1.5,
            "workerId": worker if status == "processing" else None,
            "estimatedStartDuration": timespan(0 if status == "processing" else start_in),
            "estimatedStartDate": format_ticks(created + start_in),
        }
        return {provider: {"support": "Available", "queuePosition": queue}}
    if status == "expired" and job.start_ticks is None:
        # Expired unclaimed: nobody could run it.
        return {provider: {"support": "Unavailable"}, "OctoML": {"support": "Unsupported"}}
    if job.start_ticks is not None and draw < 0.4:
        return {provider: {"support": "Available"}}
    return {}


def _context(job: JobInfo, metrics: dict[str, Any], draw: float, progress: float) -> Any:
    kind = job.context_kind
    if kind == "running":
        if draw < 0.3 or job.status != "processing":
            return None
        return {**metrics, "progress": progress} if draw > 0.6 else metrics
    if kind == "none":
        return None
    if kind == "canceled":
        return {"reason": job.reason}
    context: dict[str, Any] = {}
    if kind == "failed":
        context["reason"] = job.reason
    elif kind == "scan":
        context.update(scan_context(job))
    if job.blocked_reason is not None:
        context["blockedReason"] = job.blocked_reason
    context.update(metrics)
    return context
