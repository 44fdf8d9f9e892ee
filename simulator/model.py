"""The generator's own record of what it decided: plans, jobs, blobs and verdicts.

These objects are the ground truth behind every served document. The served JSON is built
from them, and `SimulatedAccount`'s truth methods read them back, so a test never needs to
re-parse served JSON (with the walker the pipeline would use) to know what was meant.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate
from random import Random
from typing import Any

from simulator.ids import TICKS_PER_SECOND

FINAL_STATUSES = ("succeeded", "failed", "expired", "canceled")
RUNNING_STATUSES = ("unassigned", "preparing", "scheduled", "processing")
REFUNDED_STATUSES = frozenset({"failed", "expired", "canceled"})
NSFW_ORDER = {"pg": 0, "pg13": 1, "r": 2, "x": 3, "xxx": 4}
MATURE_LEVELS = frozenset({"r", "x", "xxx"})
NSFW_LABELS = {"pg": "PG", "pg13": "PG13", "r": "R", "x": "X", "xxx": "XXX", "na": "NA"}
BLOB_HOST = "https://orchestration.simulator.invalid"
SIGNALS_HOST = "https://signals.simulator.invalid"


class Weighted:
    """A weighted choice with precomputed cumulative weights (random.choices is slower)."""

    __slots__ = ("cum", "items", "total")

    def __init__(self, pairs: Any) -> None:
        pairs = list(pairs)
        self.items = [p[0] for p in pairs]
        self.cum = list(accumulate(float(p[1]) for p in pairs))
        self.total = self.cum[-1]

    def pick(self, rng: Random) -> Any:
        return self.items[bisect_right(self.cum, rng.random() * self.total)]

    def at(self, u: float) -> Any:
        """The item a uniform draw `u` in [0, 1) selects."""
        return self.items[bisect_right(self.cum, u * self.total)]


def chances(rng: Random, *shares: float) -> list[bool]:
    """One yes/no per share from a single draw (10 bits each, so a share is exact to 1/1024):
    several rare flags cost one call instead of one each."""
    bits = rng.getrandbits(10 * len(shares))
    out = []
    for share in shares:
        out.append((bits & 1023) < share * 1024)
        bits >>= 10
    return out


def pick(rng: Random, items: tuple[Any, ...] | list[Any]) -> Any:
    return items[int(rng.random() * len(items))]


@dataclass(slots=True)
class ScanPlan:
    """The scan scores a job's v1 `lastEvent.context` carries (see `simulator.scancontext`).

    percents: the intended score per output item on the 0-100 scale (None: not readable).
    form: how `hive_csam_score` is written (one of `scancontext.FORMS`).
    """

    form: str
    percents: list[float | None]
    raw: Any = None  # the value as served
    extra: dict[str, float] = field(default_factory=dict)  # other `*_score` keys, in percent


@dataclass(slots=True)
class BlobInfo:
    """One blob object placed in a step output, with where and why."""

    step: int
    item: int  # position of the blob within its step (part of its id)
    job: int  # index of the producing job in the step
    blob: dict[str, Any]  # the served object (shared, never mutated after the build)
    csam_percent: float
    path: str  # JSON path inside the step output: `$.epochs[0].samples[1]`, `$` for itself
    kind: str  # image | video | audio | model3d | model | file
    job_id: str  # the job that produced it (another workflow's, for an output-cache hit)
    legacy: bool = False  # served like the real sample: no type, nsfwLevel, jobId
    cached_from: str | None = None  # the workflow whose output cache served it


@dataclass(slots=True)
class VerdictInfo:
    """One verdict of a moderation step (see `simulator.truth.VerdictTruth`)."""

    step: int
    step_type: str
    index: int
    is_blocked: bool | None
    blocked_reason: str | None
    nsfw_level: str | None
    category: str | None
    has_minor: bool | None
    score: float | None


@dataclass(slots=True)
class JobInfo:
    step: int
    job: int
    id: str
    status: str
    start_ticks: int | None
    end_ticks: int | None
    cost: float
    retry_attempt: int
    blobs: list[BlobInfo] = field(default_factory=list)
    scan_form: str | None = None  # drawn before the blobs (it biases their scores)
    scan: ScanPlan | None = None
    context_kind: str = "none"  # none | metrics | scan | failed | canceled | running
    reason: str | None = None  # why it failed (lastEvent.context.reason)
    blocked_reason: str | None = None  # lastEvent.context.blockedReason
    cached: bool = False  # served from the output cache: nothing ran, nothing scanned


@dataclass(slots=True)
class GeneratedWorkflow:
    """One workflow as served now, plus what the job documents need to agree with it."""

    g: int
    day: int
    index: int
    doc: dict[str, Any]
    running: bool
    user_id: int
    created_ticks: int
    jobs: list[JobInfo]
    blobs: list[BlobInfo]
    prompts: list[tuple[str | None, str | None]]
    verdicts: list[VerdictInfo] = field(default_factory=list)
    wf_tag: str = ""
    media: str = ""

    @property
    def id(self) -> str:
        return str(self.doc["id"])


@dataclass(slots=True)
class StepPlan:
    """What one step is asked to do, and how its output looks when it produced one.

    `output` builds the output (a dict, or anything else the schema allows) through an
    `OutputContext`, which places blobs and records verdicts; None means the step type has
    no output. `n_outputs` is how many items the jobs split between them.
    """

    type: str
    input: Any
    prompt: str | None
    negative: str | None
    cost: int
    factors: dict[str, float]
    seconds: tuple[float, float]
    timeout: str
    output: Callable[[Any], Any] | None
    n_outputs: int = 0
    eco: str | None = None
    quantity: int = 1
    scanned: bool = False  # its jobs' outputs go through the Hive scan (image/video)
    fails_with_output: bool = False  # imageGen: a failed step still lists its images
    resource: str | None = None  # the AIR a `preparing` step downloads


def ticks(seconds: float) -> int:
    return int(seconds * TICKS_PER_SECOND)


_ISO_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def timeout_seconds(text: str) -> int:
    """Seconds of a step timeout in any form the simulator writes: .NET `hh:mm:ss`,
    `d.hh:mm:ss`, or ISO-8601 `PT20M` / `P1D`."""
    iso = _ISO_DURATION.match(text)
    if iso:
        d, h, m, s = (int(x or 0) for x in iso.groups())
        return ((d * 24 + h) * 60 + m) * 60 + s
    days, dot, rest = text.partition(".")
    if not dot:
        days, rest = "0", text
    h, m, s = (int(x) for x in rest.split(":"))
    return int(days) * 86_400 + h * 3600 + m * 60 + s
