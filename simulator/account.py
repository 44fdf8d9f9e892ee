"""The simulated account: ground truth for tests, and what the server serves.

Everything is derived lazily from the config. Generated workflows, their serialized bytes and
v1 job documents sit in bounded LRU caches keyed by (position, finished), so `advance()` only
flips one flag: entries made before it are simply never asked for again.
"""

from __future__ import annotations

import threading
from collections.abc import Container, Iterator
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

import orjson

from simulator import truth
from simulator.blobs import hide_mature, iter_blob_paths
from simulator.config import SimulatorConfig
from simulator.generate import Generator
from simulator.ids import parse_compact_ms, uuid7_ms
from simulator.jobdocs import build_job_doc, is_purged
from simulator.model import MATURE_LEVELS, GeneratedWorkflow

# Serialized workflows (a few KB each): bounds memory for a 100,000-workflow day.
RECORD_CACHE_SIZE = 8192
GENERATED_CACHE_SIZE = 1024
JOB_CACHE_SIZE = 8192


@dataclass(frozen=True, slots=True)
class WorkflowRecord:
    """A workflow as the list endpoint needs it: bytes for both mature-content modes and the
    attributes the filters look at."""

    g: int
    id: str
    created_ticks: int
    full: bytes
    hidden: bytes  # hideMatureContent=true: mature blobs unavailable and without URLs
    tags: frozenset[str]
    status: str
    metadata_text: str  # lower-cased metadata JSON, for `query`
    running: bool


def iter_output_blobs(output: Any) -> Iterator[dict[str, Any]]:
    """Blobs inside a step output, whatever the step type and at any depth (lists of lists,
    objects in lists, the output itself): a blob is a dict with a string `id` and an
    `available` flag."""
    for _path, blob in iter_blob_paths(output):
        yield blob


def hidden_copy(doc: dict[str, Any], steps: Container[int] | None = None) -> dict[str, Any] | None:
    """The workflow as hideMatureContent=true serves it (mature blobs unavailable, without
    URLs), or None when nothing is mature. Copies only the path to each changed blob: the
    original is shared through the cache and must never change. `steps`: the positions of
    the only steps that can hold a mature blob, when known."""
    new_steps = []
    changed = False
    for s, step in enumerate(doc.get("steps") or []):
        output = step.get("output")
        if steps is not None and s not in steps:
            new_steps.append(step)
            continue
        hidden = hide_mature(output)
        if hidden is not output:
            step = {**step, "output": hidden}
            changed = True
        new_steps.append(step)
    return {**doc, "steps": new_steps} if changed else None


class SimulatedAccount:
    """Deterministic from the config; lazily generated; safe to use from many threads."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.generator = Generator(config)
        self.days: list[date] = list(self.generator.days)
        self.per_day = config.workflows_per_day
        self.total = self.generator.total
        self._finished = False
        self._lock = threading.Lock()
        self._generated = lru_cache(maxsize=GENERATED_CACHE_SIZE)(self.generator.generate)
        unbounded = config.cache_all
        self._record = lru_cache(maxsize=None if unbounded else RECORD_CACHE_SIZE)(
            self._build_record
        )
        self._job_bytes = lru_cache(maxsize=None if unbounded else JOB_CACHE_SIZE)(
            self._build_job_bytes
        )

    # --- state -----------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        """True once `advance()` has run: nothing is running any more."""
        return self._finished

    def advance(self) -> int:
        """Every workflow still running finishes (its final status was fixed by the seed).
        Returns how many workflows were running."""
        with self._lock:
            if self._finished:
                return 0
            self._finished = True
        return sum(1 for g in range(self.total) if self.generator.is_running(g))

    def running_ids(self) -> list[str]:
        if self._finished:
            return []
        return [self.record(g).id for g in range(self.total) if self.generator.is_running(g)]

    def cache_sizes(self) -> dict[str, int]:
        """How many generated workflows, serialized workflows and job documents are held."""
        return {
            "generated": self._generated.cache_info().currsize,
            "records": self._record.cache_info().currsize,
            "jobs": self._job_bytes.cache_info().currsize,
        }

    def warm(self) -> int:
        """Build every workflow's served bytes and every job document now (with `cache_all`
        they stay cached); returns how many workflows were built."""
        for g in range(self.total):
            self.record(g)
            for info in self.generated(g).jobs:
                self.job_bytes(info.id)
        return self.total

    # --- ground truth API ------------------------------------------------------------------
    def day_range(self, day: date) -> range:
        try:
            d = self.days.index(day)
        except ValueError:
            raise KeyError(
                f"{day} is not one of the simulated days {self.days[0]}..{self.days[-1]}"
            ) from None
        return range(d * self.per_day, (d + 1) * self.per_day)

    def workflows(self, day: date) -> Iterator[dict[str, Any]]:
        """The day's workflows as GET /v2/consumer/workflows/{id} serves them now, oldest first."""
        for g in self.day_range(day):
            yield orjson.loads(self.record(g).full)

    def workflow(self, workflow_id: str) -> dict[str, Any] | None:
        g = self.position_of(workflow_id)
        return None if g is None else orjson.loads(self.record(g).full)

    def job(self, job_id: str) -> dict[str, Any] | None:
        """The v1 JobStatus (detailed=true) served now, or None where the endpoint says 404."""
        raw = self.job_bytes(job_id)
        return None if raw is None else orjson.loads(raw)

    def jobs(self, day: date) -> Iterator[dict[str, Any]]:
        """v1 job documents of the day's workflows (jobs the endpoint 404s are left out)."""
        for g in self.day_range(day):
            for info in self.generated(g).jobs:
                raw = self.job_bytes(info.id)
                if raw is not None:
                    yield orjson.loads(raw)

    # --- lookups the server uses -----------------------------------------------------------
    def generated(self, g: int) -> GeneratedWorkflow:
        return self._generated(g, self._finished)

    def record(self, g: int) -> WorkflowRecord:
        return self._record(g, self._finished)

    def created_ticks(self, g: int) -> int:
        return self.generator.created_ticks(g)

    def first_at_or_after(self, ticks: int) -> int:
        return self.generator.first_at_or_after(ticks)

    def position_of(self, workflow_id: str) -> int | None:
        prefix, dash, rest = workflow_id.partition("-")
        if not dash:
            return None
        ms = (
            parse_compact_ms(rest)
            if len(rest) == 17
            else (uuid7_ms(rest) if prefix == "0" else None)
        )
        if ms is None:
            return None
        g = self.generator.find_by_ms(ms)
        if g is None or self.record(g).id != workflow_id:
            return None
        return g

    def step_bytes(self, workflow_id: str, step_name: str) -> bytes | None:
        g = self.position_of(workflow_id)
        if g is None:
            return None
        for step in self.generated(g).doc["steps"]:
            if step.get("name") == step_name:
                return orjson.dumps(step)
        return None

    def job_bytes(self, job_id: str) -> bytes | None:
        return self._job_bytes(job_id, self._finished)

    def blob(
        self, blob_id: str, workflow_id: str | None = None
    ) -> tuple[str, dict[str, Any]] | None:
        """(workflow id, blob) for a blob this account produced and that exists now. With
        `workflow_id`, the blob as that workflow lists it (an output-cache hit lists another
        workflow's blob), or None when it does not."""
        pos = self.generator.codec.decode_blob_id(blob_id)
        if pos is None:
            return None
        day, index, step, item = pos
        if day >= len(self.days) or index >= self.per_day:
            return None
        wf = self.generated(day * self.per_day + index)
        owner = None
        for info in wf.blobs:
            if info.step == step and info.item == item and info.blob["id"] == blob_id:
                owner = wf.id, info.blob
        if owner is None or workflow_id is None or workflow_id == owner[0]:
            return owner
        g = self.position_of(workflow_id)
        if g is None:
            return None
        for info in self.generated(g).blobs:
            if info.blob["id"] == blob_id:
                return workflow_id, info.blob
        return None

    # --- ground truth of a day, from the generator's own records ---------------------------
    def blob_truth(self, day: date) -> Iterator[truth.BlobTruth]:
        """Every blob at any depth of every step output of the day's workflows (as served
        now), with where it was placed (`json_path`)."""
        for g in self.day_range(day):
            yield from truth.blob_truth(self.generated(g))

    def verdict_truth(self, day: date) -> Iterator[truth.VerdictTruth]:
        """Every verdict of every moderation step of the day's workflows."""
        for g in self.day_range(day):
            yield from truth.verdict_truth(self.generated(g))

    def scan_truth(self, day: date) -> Iterator[truth.ScanTruth]:
        """Every scan score item of the day's jobs that the v1 endpoint serves, on the 0-100
        scale (see `simulator.scancontext` for the forms and the scale rule)."""
        for g in self.day_range(day):
            yield from truth.scan_truth(self.generated(g), self.config.seed)

    def job_truth(self, day: date) -> Iterator[truth.JobTruth]:
        """Every job of the day's workflows: status, failure reason, blocked reason, priority."""
        for g in self.day_range(day):
            yield from truth.job_truth(self.generated(g), self.config.seed)

    # --- builders (cached) -----------------------------------------------------------------
    def _build_record(self, g: int, finished: bool) -> WorkflowRecord:
        wf = self._generated(g, finished)
        full = orjson.dumps(wf.doc)
        mature = {b.step for b in wf.blobs if b.blob.get("nsfwLevel") in MATURE_LEVELS}
        copy = hidden_copy(wf.doc, mature) if mature else None
        hidden = full if copy is None else orjson.dumps(copy)
        return WorkflowRecord(
            g=g,
            id=wf.id,
            created_ticks=wf.created_ticks,
            full=full,
            hidden=hidden,
            tags=frozenset(wf.doc["tags"]),
            status=wf.doc["status"],
            metadata_text=orjson.dumps(wf.doc["metadata"]).decode().lower(),
            running=wf.running,
        )

    def _build_job_bytes(self, job_id: str, finished: bool) -> bytes | None:
        pos = self.generator.codec.decode_job_id(job_id)
        if pos is None:
            return None
        day, index, step, job = pos
        if day >= len(self.days) or index >= self.per_day:
            return None
        g = day * self.per_day + index
        wf = self._generated(g, finished)
        for info in wf.jobs:
            if info.step == step and info.job == job and info.id == job_id:
                if is_purged(self.config.seed, info, g):
                    return None
                return orjson.dumps(build_job_doc(self.config.seed, wf, info))
        return None
