"""A workflow that has not finished yet, derived from its final form.

It is `processing` (most), `scheduled`, `preparing` (its first step downloads a model: the
step carries `preparation`) or still `unassigned`. Its first step's jobs share that status;
later steps wait `unassigned` without jobs; nothing has an output; it is charged but nothing
is refunded yet.
"""

from __future__ import annotations

from random import Random
from typing import Any

from simulator.ids import IdCodec, format_ticks
from simulator.model import GeneratedWorkflow, JobInfo, StepPlan, Weighted, ticks
from simulator.money import Money

_STATE_PICK = Weighted(
    (("processing", 60), ("scheduled", 20), ("preparing", 12), ("unassigned", 8))
)
DEFAULT_RESOURCE = "urn:air:sdxl:checkpoint:civitai:101055@128078"


def make_running(
    wf: GeneratedWorkflow, money: Money, plans: list[StepPlan], codec: IdCodec, rng: Random
) -> None:
    """Turn `wf` (final form) into the running form, in place."""
    state = _STATE_PICK.pick(rng)
    progress = round(0.05 + rng.random() * 0.9, 4)
    preceding = 1 + int(rng.random() * 40)
    eta = 5 + int(rng.random() * 120)
    doc = wf.doc
    wf.running = True
    doc["status"] = state
    doc.pop("completedAt", None)
    doc.pop("nsfwLevel", None)
    doc.pop("lostBlobsRefund", None)
    first_start = wf.created_ticks + ticks(0.5 + rng.random() * 2)
    if state == "processing":
        doc["startedAt"] = format_ticks(first_start)
    else:
        doc.pop("startedAt", None)
    doc["transactions"], doc["cost"] = money.running()

    running_jobs: list[JobInfo] = []
    for s, step in enumerate(doc["steps"]):
        for key in ("output", "completedAt", "startedAt"):
            step.pop(key, None)
        if s > 0:
            step["status"] = "unassigned"
            step.pop("jobs", None)
            continue
        step["status"] = state
        if state == "processing":
            step["startedAt"] = format_ticks(first_start)
            step["estimatedProgressRate"] = progress
        if state == "preparing":
            step["preparation"] = {
                "resource": plans[0].resource or DEFAULT_RESOURCE,
                "queuePosition": preceding // 4,
                "progress": progress,
                "etaSeconds": eta,
            }
        step_jobs = [j for j in wf.jobs if j.step == 0]
        if step_jobs and step_jobs[-1].retry_attempt:
            step_jobs = step_jobs[:1]  # the retry does not exist yet
        if not step_jobs:
            step_jobs = [
                JobInfo(
                    0, 0, codec.job_id(wf.day, wf.index, 0, 0), state, None, None, plans[0].cost, 0
                )
            ]
        docs = []
        for job in step_jobs:
            live = JobInfo(
                0,
                job.job,
                job.id,
                state,
                first_start if state == "processing" else None,
                None,
                job.cost,
                0,
            )
            live.context_kind = "running"
            running_jobs.append(live)
            docs.append(_live_job_doc(live, wf, state, progress, preceding))
        step["jobs"] = docs
    wf.jobs = running_jobs
    wf.blobs = []
    wf.verdicts = []


def _live_job_doc(
    live: JobInfo, wf: GeneratedWorkflow, state: str, progress: float, preceding: int
) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": live.id, "status": state}
    if state == "processing":
        doc["startedAt"] = format_ticks(live.start_ticks or 0)
    elif state == "scheduled":
        doc["queuePosition"] = {
            "support": "available",
            "precedingJobs": preceding,
            "startAt": format_ticks(wf.created_ticks + ticks(preceding * 3.0)),
            "completeAt": format_ticks(wf.created_ticks + ticks(preceding * 3.0 + 20)),
        }
    elif state == "unassigned":
        doc["queuePosition"] = {"support": "unavailable"}
    doc["cost"] = round(live.cost, 4) if live.cost != int(live.cost) else int(live.cost)
    doc["estimatedProgressRate"] = progress if state == "processing" else 0.0
    return doc
