"""Ground truth rows for tests, read from the generator's own records (`simulator.model`).

They come from what the generator decided (each blob's JSON path is the one its builder
declared when it placed the blob; each score is the value the generator drew), never from
re-parsing the served JSON, so they can catch a pipeline that parses it wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from simulator.jobdocs import is_purged, priority_value
from simulator.model import GeneratedWorkflow
from simulator.scancontext import CSAM_KEY


@dataclass(frozen=True, slots=True)
class BlobTruth:
    """One blob object at any depth of a step output.

    blob_type / job_id: what the blob is and which job made it, even where the served
    object leaves them out (`legacy` blobs shaped like the real sample have no `type`,
    `jobId`, `nsfwLevel`; a transcode output has no `type`); `served_type` is the `type`
    as served. For an output-cache hit, job_id is the source workflow's job (the served
    `jobId` says the same) and `cached_from` names the source workflow.
    nsfw_level, blocked_reason, available, width, height: as served (None where absent).
    """

    workflow_id: str
    step_name: str
    blob_id: str
    job_id: str
    blob_type: str
    served_type: str | None
    nsfw_level: str | None
    blocked_reason: str | None
    available: bool
    width: int | None
    height: int | None
    json_path: str
    legacy: bool
    cached_from: str | None


@dataclass(frozen=True, slots=True)
class VerdictTruth:
    """One verdict of a moderation step (semantics per step type in
    `simulator.steptypes.moderation`). `score` is on the step's own 0-1 scale."""

    workflow_id: str
    step_name: str
    step_type: str
    verdict_index: int
    is_blocked: bool | None
    blocked_reason: str | None
    nsfw_level: str | None
    category: str | None
    has_minor: bool | None
    score: float | None


@dataclass(frozen=True, slots=True)
class ScanTruth:
    """One scan score item of a job's `lastEvent.context` (jobs whose v1 document is served).

    score: the intended value on the 0-100 scale (None: "n/a"); `form` is how it was written
    (`simulator.scancontext.FORMS`, `text` for extra keys); `blob_id` is `result[i].blobKey`.
    """

    job_id: str
    workflow_id: str
    score_name: str
    item_index: int
    score: float | None
    form: str
    blob_id: str | None


@dataclass(frozen=True, slots=True)
class JobTruth:
    """What a job's v1 document says about why it ended: `reason` and `blockedReason` of
    `lastEvent.context` (None where the context does not carry them), and the priority
    (`job.priority`'s value or min, `lastEvent.jobPriority`)."""

    job_id: str
    workflow_id: str
    step_name: str
    status: str
    reason: str | None
    blocked_reason: str | None
    priority: int
    served: bool  # False: the v1 endpoint answers 404 for it


def blob_truth(wf: GeneratedWorkflow) -> Iterator[BlobTruth]:
    steps = wf.doc["steps"]
    for info in wf.blobs:
        blob = info.blob
        yield BlobTruth(
            workflow_id=wf.id,
            step_name=steps[info.step]["name"],
            blob_id=blob["id"],
            job_id=info.job_id,
            blob_type=info.kind,
            served_type=blob.get("type"),
            nsfw_level=blob.get("nsfwLevel"),
            blocked_reason=blob.get("blockedReason"),
            available=blob["available"],
            width=blob.get("width"),
            height=blob.get("height"),
            json_path=info.path,
            legacy=info.legacy,
            cached_from=info.cached_from,
        )


def verdict_truth(wf: GeneratedWorkflow) -> Iterator[VerdictTruth]:
    steps = wf.doc["steps"]
    for v in wf.verdicts:
        yield VerdictTruth(
            wf.id,
            steps[v.step]["name"],
            v.step_type,
            v.index,
            v.is_blocked,
            v.blocked_reason,
            v.nsfw_level,
            v.category,
            v.has_minor,
            v.score,
        )


def scan_truth(wf: GeneratedWorkflow, seed: int) -> Iterator[ScanTruth]:
    for job in wf.jobs:
        scan = job.scan
        if scan is None or job.context_kind != "scan" or is_purged(seed, job, wf.g):
            continue
        keys = [b.blob["id"] for b in job.blobs]
        for i, score in enumerate(scan.percents):
            yield ScanTruth(
                job.id, wf.id, CSAM_KEY, i, score, scan.form, keys[i] if i < len(keys) else None
            )
        for key, value in scan.extra.items():
            yield ScanTruth(job.id, wf.id, key, 0, value, "text", keys[0] if keys else None)


def job_truth(wf: GeneratedWorkflow, seed: int) -> Iterator[JobTruth]:
    steps = wf.doc["steps"]
    for job in wf.jobs:
        step = steps[job.step]
        yield JobTruth(
            job.id,
            wf.id,
            step["name"],
            job.status,
            job.reason,
            job.blocked_reason,
            priority_value(step),
            not is_purged(seed, job, wf.g),
        )
