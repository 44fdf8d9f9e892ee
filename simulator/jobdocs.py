"""v1 job documents (`GET /v1/consumer/jobs/{id}?detailed=true`) for generated workflows.

The shape follows the old `civitai` SDK's JobStatus/JobEvent; the moderation scan scores live
in `lastEvent.context`, whose value types are only inferred. So the simulator serves the
inferred main form (`"0.00 %, 12.50 %"`, one item per output blob) and, rarely, every other
form a consumer has to survive: a bare number, a JSON list, an unparseable "n/a", no context,
a context without scan keys and keys nobody knows yet.
"""

from __future__ import annotations

from random import Random
from typing import Any

from simulator import vocab
from simulator.generate import NSFW_LABELS, NSFW_ORDER, GeneratedWorkflow, JobInfo
from simulator.ids import TICKS_PER_SECOND, format_ticks, mix, timespan, unit

EVENT_TYPES = {"succeeded": "Succeeded", "failed": "Failed", "expired": "Expired"}
# Share of final jobs the v1 endpoint no longer knows (404): the lake must record them as
# not found instead of failing the window.
PURGED_SHARE = 0.01


def is_purged(seed: int, job: JobInfo, g: int) -> bool:
    final = job.status in ("succeeded", "failed", "expired", "canceled")
    return final and unit(mix(seed, 0x9E6, g, job.step, job.job)) < PURGED_SHARE


def build_job_doc(seed: int, wf: GeneratedWorkflow, job: JobInfo) -> dict[str, Any]:
    rng = Random(mix(seed, 0x10B, wf.g, job.step, job.job))
    step = wf.doc["steps"][job.step]
    step_type = step["$type"]
    prompt, negative = wf.prompts[job.step]
    provider = vocab.PROVIDERS[int(rng.random() * len(vocab.PROVIDERS))]
    worker = f"{provider.lower()}-{rng.getrandbits(32):08x}"
    group = vocab.WORKER_GROUPS[int(rng.random() * len(vocab.WORKER_GROUPS))]
    trace = f"{rng.getrandbits(64):016x}{rng.getrandbits(64):016x}"
    claim_ticks = int((0.005 + rng.random() * 0.4) * TICKS_PER_SECOND)
    context_draw = rng.random()
    form_draw = rng.random()
    future_key = rng.random() < 0.03
    future_value = rng.random() * 5
    deleted = rng.random() < 0.3
    classified = rng.random() < 0.9
    sexual = rng.random() < 0.15
    young = rng.random() < 0.04
    cr = rng.random() < 0.01
    extra_scan = rng.random() < 0.05
    progress = round(0.05 + rng.random() * 0.9, 4)
    preceding = 1 + int(rng.random() * 40)

    status = job.status
    if status == "canceled":
        event_type = "Deleted" if deleted else "Canceled"
    elif status in EVENT_TYPES:
        event_type = EVENT_TYPES[status]
    elif status == "processing":
        event_type = "Updated" if progress > 0.3 else "Claimed"
    else:
        event_type = "Initialized"
    final = status in ("succeeded", "failed", "expired", "canceled")
    claimed = job.start_ticks is not None

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
        job, status, context_draw, form_draw, future_key, future_value, group, trace, progress
    )
    event["claimHasCompleted"] = claimed
    event["jobHasCompleted"] = final

    params: dict[str, Any] = {}
    if prompt is not None:
        params["prompt"] = prompt
        if negative is not None:
            params["negativePrompt"] = negative
    definition: dict[str, Any] = {
        "id": job.id,
        "type": vocab.JOB_TYPES.get(step_type, "UnknownJob"),
        "createdAt": format_ticks(created),
        "expireAt": format_ticks(created + 20 * 60 * TICKS_PER_SECOND),
        "properties": {"workflowId": wf.id, "stepName": step["name"]},
        "params": params,
        "cost": job.cost,
        "maxRetryAttempt": 2,
    }
    if prompt is not None and classified:
        definition["promptClassificationResult"] = {
            "sexual": sexual,
            "young": young,
            "cr": cr,
            "scan": sexual or young or extra_scan,
        }

    result: list[dict[str, Any]] | None
    if status == "succeeded":
        result = [{"blobKey": b.blob["id"], "available": b.blob["available"]} for b in job.blobs]
    elif status == "failed":
        result = []
    else:
        result = None

    providers: dict[str, Any] = {}
    if status == "scheduled":
        start_in = preceding * 3 * TICKS_PER_SECOND
        providers[provider] = {
            "support": "Available",
            "queuePosition": {
                "precedingJobs": preceding,
                "precedingCost": preceding * 4.0,
                "throughputRate": 1.5,
                "workerId": None,
                "estimatedStartDuration": timespan(start_in),
                "estimatedStartDate": format_ticks(created + start_in),
            },
        }
    return {
        "jobId": job.id,
        "cost": job.cost,
        "properties": {"workflowId": wf.id},
        "job": definition,
        "result": result,
        "lastEvent": event,
        "serviceProviders": providers,
        "scheduled": True,
    }


def _context(
    job: JobInfo,
    status: str,
    draw: float,
    form: float,
    future_key: bool,
    future_value: float,
    group: str,
    trace: str,
    progress: float,
) -> Any:
    metrics = {"worker_group": group, "trace_id": trace}
    if status in ("processing", "scheduled"):
        if draw < 0.3 or status == "scheduled":
            return None
        return {**metrics, "progress": progress} if draw > 0.6 else metrics
    if status == "expired":
        return None
    if status == "canceled":
        return None if draw < 0.7 else {"reason": "UserCanceled"}
    if status == "failed":
        return None if draw < 0.2 else {**metrics, "error": "GenerationFailed"}
    if draw < 0.07:
        return None
    if draw < 0.17 or not job.blobs:
        return metrics
    scores = [b.csam_percent for b in job.blobs]
    value: Any
    if form < 0.01:
        value = max(scores)
    elif form < 0.02:
        value = [f"{s:.2f} %" for s in scores] if form < 0.015 else scores
    elif form < 0.025:
        value = "n/a"
    else:
        value = ", ".join(f"{s:.2f} %" for s in scores)
    levels = [b.blob.get("nsfwLevel") for b in job.blobs]
    ranked = [lvl for lvl in levels if lvl in NSFW_ORDER]
    rating = NSFW_LABELS[max(ranked, key=NSFW_ORDER.__getitem__)] if ranked else "PG"
    child = "Child" if max(scores) >= 50 else "No_Child"
    context: dict[str, Any] = {"hive_csam_score": value, "hive_vlm_summary": f"{rating}, {child}"}
    context.update(metrics)
    if future_key:
        context[vocab.FUTURE_CONTEXT_KEY] = f"{future_value:.2f} %"
    return context
