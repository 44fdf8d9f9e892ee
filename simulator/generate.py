"""Ground-truth workflows, generated lazily and deterministically from (seed, day, index).

Workflow `i` of day `d` is a pure function of the seed and its global position
`g = d * workflows_per_day + i`, so a day of 100,000 workflows never has to be in memory at
once: the account caches what it serves in bounded LRUs and regenerates the rest on demand.
`createdAt` grows with `i` (a jittered, millisecond-unique slot per workflow), which makes
listing in either order and date ranges cheap (binary search on the position).

The final form of a workflow is always generated first; a workflow that is still running
before `advance()` is derived from it (`simulator.running`), so advancing never changes what
a finished workflow looks like, and the random stream that builds it does not depend on the
running state.

About 2% of workflows are output-cache hits: the same request as a slightly earlier
workflow of the day, whose step-0 output (blob ids included) they serve again.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import timedelta
from random import Random
from typing import Any

import orjson

from simulator import vocab
from simulator.blobs import WorkflowFlags
from simulator.config import SimulatorConfig
from simulator.envelope import callbacks, metadata, nsfw_level
from simulator.ids import (
    TICKS_PER_MS,
    IdCodec,
    compact_ms,
    day_start_ms,
    format_ticks,
    mix,
    splitmix64,
    unit,
    uuid7,
)
from simulator.model import (
    MATURE_LEVELS,
    NSFW_ORDER,
    GeneratedWorkflow,
    JobInfo,
    StepPlan,
    Weighted,
    chances,
    ticks,
)
from simulator.money import settle
from simulator.running import make_running
from simulator.stepbuild import CachedOutput, WorkflowBuild, build_step
from simulator.steptypes import Catalog, plan_step

USER_COUNT = 40
CACHE_HIT_SHARE = 0.02
CACHEABLE = frozenset({"textToImage", "imageGen", "comfy", "videoGen"})
STATUS_WEIGHTS = (("succeeded", 85), ("failed", 8), ("expired", 3), ("canceled", 4))
_STATUS_PICK = Weighted(STATUS_WEIGHTS)


@dataclass(slots=True)
class _WorkflowDraws:
    """The workflow-level draws, in a fixed order."""

    user: int
    id_style: float
    api_user: bool
    plan: tuple[str, str, tuple[str, ...]]
    status: str
    color: float
    priority: str
    experimental: bool
    allow_mature: float
    private: bool
    restricted_source: bool
    lost_blob: bool
    force_refunded: bool
    upgrade_automatic: bool
    external: bool
    external_bits: int
    future_field: bool
    id_bits: int
    fail_first: bool


class Generator:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.seed = config.seed
        self.per_day = config.workflows_per_day
        self.days = [config.start + timedelta(days=d) for d in range(config.days)]
        self.total = config.days * config.workflows_per_day
        self.codec = IdCodec(config.seed)
        self.catalog = Catalog(config.seed)
        self._day_ms = [day_start_ms(d) for d in self.days]
        self._spacing = 86_400_000 / config.workflows_per_day
        rng = Random(mix(config.seed, 0x05E25))
        users: list[int] = []
        while len(users) < USER_COUNT:
            uid = rng.randrange(10_000, 9_999_999)
            if uid not in users:
                users.append(uid)
        self.users = users
        # Zipf-like activity: a few heavy users make most of the workflows.
        self._user_pick = Weighted((u, 1.0 / (k + 1) ** 1.1) for k, u in enumerate(users))
        self._k_created = mix(config.seed, 0xC7EA7E)
        self._k_workflow = mix(config.seed, 0x3F10)
        self._k_running = mix(config.seed, 0x2C2)
        self._k_cache = mix(config.seed, 0xCAC4E)

    # --- positions and timestamps ---------------------------------------------------------
    def created_ticks(self, g: int) -> int:
        day, index = divmod(g, self.per_day)
        h = splitmix64(self._k_created ^ g)
        ms = self._day_ms[day] + int((index + 0.05 + 0.9 * unit(h)) * self._spacing)
        # About 30% carry sub-millisecond ticks, so createdAt shows 7 fractional digits.
        extra = (h >> 8) % 9999 + 1 if (h & 0xFF) < 77 else 0
        return ms * TICKS_PER_MS + extra

    def find_by_ms(self, ms: int) -> int | None:
        """The position whose createdAt falls in millisecond `ms`, if any."""
        lo, hi = 0, self.total
        while lo < hi:
            mid = (lo + hi) // 2
            if self.created_ticks(mid) // TICKS_PER_MS < ms:
                lo = mid + 1
            else:
                hi = mid
        if lo < self.total and self.created_ticks(lo) // TICKS_PER_MS == ms:
            return lo
        return None

    def first_at_or_after(self, ticks_: int) -> int:
        lo, hi = 0, self.total
        while lo < hi:
            mid = (lo + hi) // 2
            if self.created_ticks(mid) < ticks_:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def is_running(self, g: int) -> bool:
        return unit(splitmix64(self._k_running ^ g)) < self.config.running_share

    def _cache_candidate(self, g: int) -> int | None:
        """The earlier workflow of the same day whose output `g` would be served from."""
        index = g % self.per_day
        h = splitmix64(self._k_cache ^ g)
        if index == 0 or unit(h) >= CACHE_HIT_SHARE:
            return None
        return g - 1 - (h >> 20) % min(index, 40)

    def cache_source(self, g: int) -> int | None:
        src = self._cache_candidate(g)
        if src is None or self._cache_candidate(src) is not None or self.is_running(src):
            return None
        return src

    # --- the workflow ----------------------------------------------------------------------
    def _draws(self, rng: Random, g: int) -> _WorkflowDraws:
        user = self._user_pick.pick(rng)
        id_style = rng.random()
        plan = self.catalog.pick(g, rng)
        status = _STATUS_PICK.pick(rng)
        color, priority_u, allow_mature = rng.random(), rng.random(), rng.random()
        flags = chances(rng, 0.08, 0.1, 0.1, 0.2, 0.01, 0.03, 0.05, 0.2, 0.01, 0.4)
        return _WorkflowDraws(
            user=user,
            id_style=id_style,
            api_user=flags[0],
            plan=plan,
            status=status,
            color=color,
            priority=("low", "normal", "high")[bisect_right((0.35, 0.9), priority_u)],
            experimental=flags[1],
            allow_mature=allow_mature,
            private=flags[2],
            restricted_source=flags[3],
            lost_blob=flags[4],
            force_refunded=flags[5],
            upgrade_automatic=flags[6],
            external=flags[7],
            external_bits=rng.getrandbits(74),
            future_field=flags[8],
            id_bits=rng.getrandbits(74),
            fail_first=flags[9],
        )

    def generate(self, g: int, finished: bool) -> GeneratedWorkflow:
        """Workflow `g` as served now (still running unless `finished` or it was not drawn to
        run). Longer than most functions here: it is the one place that orders a workflow's
        draws and assembles the served document in the API's field order."""
        day, index = divmod(g, self.per_day)
        rng = Random(self._k_workflow ^ g)
        created = self.created_ticks(g)
        ms = created // TICKS_PER_MS
        w = self._draws(rng, g)
        wf_tag, media, step_types = w.plan
        plans = [plan_step(rng, t, wf_tag) for t in step_types]
        status = w.status
        cached = None
        src_g = self.cache_source(g)
        if src_g is not None:
            cached, src_plans, src_tags = self._from_cache(src_g)
            if cached is not None:
                plans, status, (wf_tag, media) = src_plans, "succeeded", src_tags

        currencies, color = _currencies(w)
        allow_mature = color != "green" and w.allow_mature < 0.75
        flags = WorkflowFlags(
            green=color == "green",
            allow_mature=allow_mature,
            private=w.private and not w.api_user,
            restricted_source=w.restricted_source and wf_tag in ("img2img", "img2img:edit"),
            lost=w.lost_blob,
        )
        build = WorkflowBuild(rng, self.codec, day, index, w.api_user, flags, cached)
        steps, jobs, completed = _run_steps(build, plans, status, w.fail_first, created)
        starts = [j.start_ticks for j in jobs if j.start_ticks is not None]
        started = min(starts) if starts else None
        # The storage incident took step 0's first blob (see OutputContext.blob).
        lost = (
            w.lost_blob
            and cached is None
            and status == "succeeded"
            and bool(build.blobs)
            and build.blobs[0].step == 0
        )
        money = settle(
            rng,
            plans,
            status,
            currencies,
            never_started=started is None,
            api_user=w.api_user,
            lost_blob=lost,
        )

        doc: dict[str, Any] = {
            "id": f"{w.user}-{compact_ms(ms)}"
            if w.id_style < 0.85
            else "0-" + uuid7(ms, w.id_bits),
            "createdAt": format_ticks(created),
            "transactions": money.transactions,
            "metadata": metadata(rng, w.api_user, wf_tag, w.priority, plans[0], flags.private),
            "status": status,
        }
        if started is not None:
            doc["startedAt"] = format_ticks(started)
        doc["completedAt"] = format_ticks(completed)
        doc["tags"] = _tags(w, wf_tag, media, plans[0], color)
        doc["arguments"] = {}
        doc["steps"] = steps
        doc["callbacks"] = callbacks(w.api_user, w.user, plans[0].type, w.external_bits)
        doc["tips"] = money.tips_rates
        doc["cost"] = money.cost
        level = nsfw_level(build.blobs) if status == "succeeded" else None
        if level is not None:
            doc["nsfwLevel"] = level
        if not w.api_user:
            doc["experimental"] = w.experimental
            doc["allowMatureContent"] = allow_mature
        doc["upgradeMode"] = "automatic" if w.upgrade_automatic else "manual"
        doc["currencies"] = currencies
        doc["forceRefunded"] = status == "failed" and w.force_refunded
        if w.external:
            doc["externalId"] = f"{w.user}-{uuid7(ms, w.external_bits)}"
        if money.lost_refund is not None:
            doc["lostBlobsRefund"] = money.lost_refund
        if w.future_field:
            doc[vocab.FUTURE_FIELDS["workflow"]] = "eu-west"

        result = GeneratedWorkflow(
            g=g,
            day=day,
            index=index,
            doc=doc,
            running=False,
            user_id=w.user,
            created_ticks=created,
            jobs=jobs,
            blobs=build.blobs,
            prompts=[(p.prompt, p.negative) for p in plans],
            verdicts=build.verdicts,
            wf_tag=wf_tag,
            media=media,
        )
        if not finished and self.is_running(g):
            make_running(result, money, plans, self.codec, Random(self._k_running ^ g))
        return result

    def _from_cache(
        self, src_g: int
    ) -> tuple[CachedOutput | None, list[StepPlan], tuple[str, str]]:
        """(cached step-0 output, the source's plans, its tags) or (None, ...) when the source
        produced nothing worth caching."""
        src = self.generate(src_g, True)
        step0 = src.doc["steps"][0]
        blobs = [b for b in src.blobs if b.step == 0]
        usable = (
            src.doc["status"] == "succeeded"
            and step0["$type"] in CACHEABLE
            and step0.get("output") is not None
            and blobs
            and all(b.cached_from is None for b in blobs)
        )
        if not usable:
            return None, [], ("", "")
        # Re-plan the source's steps from its own stream, so the request is the same one.
        rng = Random(self._k_workflow ^ src_g)
        draws = self._draws(rng, src_g)
        wf_tag, media, types = draws.plan
        plans = [plan_step(rng, t, wf_tag) for t in types]
        output = orjson.loads(orjson.dumps(step0["output"]))
        return CachedOutput(src.id, output, blobs), plans, (wf_tag, media)


def _currencies(w: _WorkflowDraws) -> tuple[list[str], str | None]:
    """(accounts the workflow may charge, the site colour it came from)."""
    if w.api_user:
        return ["yellow"], None
    if w.color < 0.45:
        return ["blue", "green"], "green"
    if w.color < 0.85:
        return ["blue", "yellow"], "blue"
    return ["yellow"], "blue"


def _run_steps(
    build: WorkflowBuild, plans: list[StepPlan], status: str, fail_first: bool, created: int
) -> tuple[list[dict[str, Any]], list[JobInfo], int]:
    """(served steps, their jobs, when the last one ended). The failing step is the last one
    most of the time; what follows a failed, expired or canceled step never runs."""
    rng = build.rng
    fail_at = len(plans) - 1 if status == "succeeded" or not fail_first else 0
    steps: list[dict[str, Any]] = []
    jobs: list[JobInfo] = []
    cursor = created + ticks(0.2 + rng.random() * 2.5)
    completed = created
    for s, plan in enumerate(plans):
        step_status = "succeeded" if s < fail_at else (status if s == fail_at else "canceled")
        step, step_jobs, end = build_step(build, s, plan, step_status, s == fail_at, cursor)
        steps.append(step)
        jobs.extend(step_jobs)
        if end is not None:
            completed = max(completed, end)
            cursor = end + ticks(0.05 + rng.random() * 0.5)
    return steps, jobs, completed


def _tags(
    w: _WorkflowDraws, wf_tag: str, media: str, first: StepPlan, color: str | None
) -> list[str]:
    if w.api_user:
        tags = ["api", wf_tag] if w.id_bits % 10 < 7 else []
    else:
        tags = [t for t in ("civitai", first.eco, "gen", color or "blue", wf_tag, media) if t]
    if 0.85 <= w.id_style < 0.97:
        tags.append(f"user:{w.user}")
    return tags


__all__ = ["MATURE_LEVELS", "NSFW_ORDER", "Generator"]
