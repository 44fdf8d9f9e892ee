"""One step of a workflow: its jobs (statuses, times, retries, splits), its output and the
served step object.

A step's output comes from its type's builder (`simulator.steptypes`) through an
`OutputContext`; an output-cache hit instead serves another workflow's output again, blob
ids included.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from random import Random
from typing import Any

from simulator import vocab
from simulator.blobs import OutputContext, WorkflowFlags
from simulator.ids import TICKS_PER_MS, IdCodec, format_ticks
from simulator.model import (
    BlobInfo,
    JobInfo,
    StepPlan,
    VerdictInfo,
    Weighted,
    chances,
    ticks,
    timeout_seconds,
)
from simulator.scancontext import FORM_PICK, plan_scan

_FAILURE_REASONS = Weighted(vocab.JOB_FAILURE_REASONS)
_JOB_BLOCKS = Weighted(vocab.JOB_BLOCKED_REASONS)


@dataclass(slots=True)
class CachedOutput:
    """Step 0's output served from the output cache: another workflow's, blob for blob."""

    source_id: str
    output: Any
    blobs: list[BlobInfo]


@dataclass(slots=True)
class WorkflowBuild:
    """What building the steps of one workflow shares, and what it collects."""

    rng: Random
    codec: IdCodec
    day: int
    index: int
    api_user: bool
    flags: WorkflowFlags
    cached: CachedOutput | None = None
    blobs: list[BlobInfo] = field(default_factory=list)
    verdicts: list[VerdictInfo] = field(default_factory=list)


def iso_duration(text: str) -> str:
    """The ISO-8601 form of a timeout (`PT20M`, `PT1H`, `P1D`) the developer docs describe."""
    seconds = timeout_seconds(text)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    return "P" + (f"{days}D" if days else "") + (f"T{clock}" if clock else "")


class _StepDraws:
    """Every draw a step makes, taken up front so the stream never depends on a branch.
    Choices only some steps need are kept as uniforms and mapped when needed."""

    __slots__ = (
        "cancel_started",
        "durations",
        "fail_u",
        "future_step",
        "iso_timeout",
        "legacy",
        "preceding",
        "priority",
        "progress_rate",
        "queue_pos",
        "retries",
        "retry",
        "split",
        "uniforms",
    )

    def __init__(self, rng: Random, plan: StepPlan) -> None:
        r = rng.random
        low, high = plan.seconds
        self.split = r()
        self.retry = r()
        self.durations = (low + r() * (high - low), low + r() * (high - low))
        flags = chances(rng, 0.5, 0.15, 0.2, 0.01, 0.3, 0.1)
        self.cancel_started, self.queue_pos, self.retries, self.future_step = flags[:4]
        self.legacy, self.iso_timeout = flags[4:]
        self.preceding = int(r() * 4)
        self.priority = ("low", "normal", "high")[bisect_right((0.35, 0.9), r())]
        self.progress_rate = r() * 0.01
        self.fail_u = r()
        # per job (2 at most): scan form, failure reason, blocked reason
        self.uniforms = (r(), r(), r(), r(), r(), r())

    @property
    def fail_msg(self) -> str:
        return vocab.FAILURE_MESSAGES[int(self.fail_u * len(vocab.FAILURE_MESSAGES))]

    def scan_form(self, j: int) -> str:
        return FORM_PICK.at(self.uniforms[j])

    def fail_reason(self, j: int) -> str:
        return _FAILURE_REASONS.at(self.uniforms[2 + j])

    def job_block(self, j: int) -> str:
        return _JOB_BLOCKS.at(self.uniforms[4 + j])


def _jobs(
    b: WorkflowBuild, s: int, plan: StepPlan, status: str, origin: bool, ready: int, dr: _StepDraws
) -> tuple[list[JobInfo], int | None, int | None, str]:
    """(jobs, step start, step end, timeout text) of a step in a final status."""
    timeout = iso_duration(plan.timeout) if dr.iso_timeout and ":" in plan.timeout else plan.timeout
    producing = plan.output is not None and plan.n_outputs > 0
    cached = b.cached is not None and s == 0
    n_jobs, retry = 1, False
    if cached:
        pass
    elif plan.n_outputs >= 2 and dr.split < 0.15:
        n_jobs = 2
    elif producing and dr.retry < 0.05 and status in ("succeeded", "failed"):
        n_jobs, retry = 2, True
    cost = 0 if cached else plan.cost / n_jobs

    def job(
        j: int, job_status: str, start: int | None, end: int | None, attempt: int = 0
    ) -> JobInfo:
        info = JobInfo(
            s, j, b.codec.job_id(b.day, b.index, s, j), job_status, start, end, cost, attempt
        )
        info.cached = cached
        return info

    jobs: list[JobInfo] = []
    start: int | None = None
    end: int | None = None
    if status in ("succeeded", "failed"):
        start = ready
        for j in range(n_jobs):
            j_status = ("failed" if j == 0 else status) if retry else status
            j_start = jobs[0].end_ticks + ticks(0.5) if retry and j else ready  # type: ignore[operator]
            seconds = 0.05 + dr.durations[j] * 0.01 if cached else dr.durations[j]
            jobs.append(
                job(j, j_status, j_start, j_start + ticks(seconds), 1 if retry and j else 0)
            )
        end = max(j.end_ticks for j in jobs if j.end_ticks) + TICKS_PER_MS
    elif status == "expired":
        end = ready + ticks(timeout_seconds(timeout))
        jobs = [job(j, "expired", None, end - TICKS_PER_MS) for j in range(n_jobs)]
    elif status == "canceled" and origin:
        # Steps after a failure never got jobs; the step the user canceled did.
        start = ready if dr.cancel_started else None
        stop = ready + ticks(dr.durations[0] * 0.3)
        jobs = [job(j, "canceled", start, stop) for j in range(n_jobs)]
        end = stop + TICKS_PER_MS
    for j, info in enumerate(jobs):
        if plan.scanned:
            info.scan_form = dr.scan_form(j)
        if info.status == "failed":
            info.reason = dr.fail_reason(j)
            if info.reason == "Blocked":
                info.blocked_reason = dr.job_block(j)
    return jobs, start, end, timeout


def build_step(
    b: WorkflowBuild, s: int, plan: StepPlan, status: str, origin: bool, ready: int
) -> tuple[dict[str, Any], list[JobInfo], int | None]:
    """The served step, its jobs and when it ended (None: it never ran)."""
    rng = b.rng
    dr = _StepDraws(rng, plan)
    jobs, step_start, end, timeout = _jobs(b, s, plan, status, origin, ready, dr)

    output: Any = None
    has_output = plan.output is not None and status in ("succeeded", "failed")
    if has_output and (status == "succeeded" or plan.fails_with_output):
        produced = [j for j in jobs if j.status == status]
        ctx = OutputContext(
            rng=rng,
            codec=b.codec,
            position=(b.day, b.index, s),
            step_type=plan.type,
            status=status,
            fail_msg=dr.fail_msg,
            jobs=produced,
            flags=b.flags if s == 0 else _without_loss(b.flags),
            legacy=dr.legacy and plan.type == "imageGen",
        )
        if b.cached is not None and s == 0:
            output = b.cached.output
            ctx.adopt(b.cached.blobs, b.cached.source_id)
        else:
            output = plan.output(ctx)  # type: ignore[misc]
        b.blobs.extend(ctx.blobs)
        b.verdicts.extend(ctx.verdicts)
    for info in jobs:
        plan_scan(info, rng)

    step: dict[str, Any] = {"$type": plan.type, "input": plan.input}
    if output is not None:
        step["output"] = output
    step["name"] = f"${s}" if not b.api_user else (str(s) if s else "main")
    step["priority"] = dr.priority
    step["timeout"] = timeout
    if dr.retries:
        step["retries"] = 2
    if jobs:
        step["jobs"] = [job_doc(j, dr.queue_pos, dr.preceding, dr.progress_rate) for j in jobs]
    step["status"] = status
    if step_start is not None:
        step["startedAt"] = format_ticks(step_start)
    if end is not None:
        step["completedAt"] = format_ticks(end)
    step["metadata"] = {}
    if dr.future_step:
        step[vocab.FUTURE_FIELDS["step"]] = 1
    return step, jobs, end


def _without_loss(flags: WorkflowFlags) -> WorkflowFlags:
    """Only step 0 loses a blob in a storage incident."""
    if not flags.lost:
        return flags
    return WorkflowFlags(
        green=flags.green,
        allow_mature=flags.allow_mature,
        private=flags.private,
        restricted_source=flags.restricted_source,
        lost=False,
    )


def job_doc(job: JobInfo, queue_pos: bool, preceding: int, rate: float) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": job.id, "status": job.status}
    if job.start_ticks is not None:
        doc["startedAt"] = format_ticks(job.start_ticks)
    if job.end_ticks is not None:
        doc["completedAt"] = format_ticks(job.end_ticks)
    if queue_pos:
        doc["queuePosition"] = {"support": "available", "precedingJobs": preceding}
    doc["cost"] = round(job.cost, 4) if job.cost != int(job.cost) else int(job.cost)
    if job.status == "failed":
        doc["estimatedProgressRate"] = rate
    return doc
