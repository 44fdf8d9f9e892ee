"""Ground-truth workflows, generated lazily and deterministically from (seed, day, index).

Workflow `i` of day `d` is a pure function of the seed and its global position
`g = d * workflows_per_day + i`, so a day of 100,000 workflows never has to be in memory at
once: the account caches what it serves in bounded LRUs and regenerates the rest on demand.
`createdAt` grows with `i` (a jittered, millisecond-unique slot per workflow), which makes
listing in either order and date ranges cheap (binary search on the position).

The final form of a workflow is always generated first; a workflow that is still running
before `advance()` is derived from it, so advancing never changes what a finished workflow
looks like, and the random stream that builds it does not depend on the running state.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import accumulate
from random import Random
from typing import Any

from simulator import vocab
from simulator.config import SimulatorConfig
from simulator.ids import (
    TICKS_PER_MS,
    TICKS_PER_SECOND,
    IdCodec,
    compact_ms,
    crockford26,
    day_start_ms,
    format_ticks,
    format_uuid,
    mix,
    splitmix64,
    unit,
    uuid7,
)

FINAL_STATUSES = ("succeeded", "failed", "expired", "canceled")
REFUNDED_STATUSES = frozenset({"failed", "expired", "canceled"})
NSFW_ORDER = {"pg": 0, "pg13": 1, "r": 2, "x": 3, "xxx": 4}
MATURE_LEVELS = frozenset({"r", "x", "xxx"})
BLOB_HOST = "https://orchestration.simulator.invalid"
SIGNALS_HOST = "https://signals.simulator.invalid"
USER_COUNT = 40

# (weight, workflow tag, media tag, step types)
PLANS: tuple[tuple[int, str, str, tuple[str, ...]], ...] = (
    (30, "txt2img", "img", ("textToImage",)),
    (6, "img2img", "img", ("textToImage",)),
    (4, "txt2img", "img", ("textToImage", "imageUpscaler")),
    (14, "txt2img", "img", ("imageGen",)),
    (8, "img2img:edit", "img", ("imageGen",)),
    (3, "txt2img", "img", ("imageGen", "mediaRating")),
    (8, "txt2vid", "vid", ("videoGen",)),
    (4, "img2vid", "vid", ("videoGen",)),
    (14, "comfy", "img", ("comfy",)),
    (3, "img-upscale", "img", ("imageUpscaler",)),
    (2, "media-rating", "img", ("mediaRating",)),
    (2, "img-tagging", "img", ("wdTagging",)),
    (2, "hyper", "img", (vocab.FUTURE_STEP_TYPE,)),
)
STATUS_WEIGHTS = (("succeeded", 85), ("failed", 8), ("expired", 3), ("canceled", 4))
NSFW_WEIGHTS_BLUE = (("pg", 40), ("pg13", 20), ("r", 15), ("x", 15), ("xxx", 6), ("na", 4))
NSFW_WEIGHTS_GREEN = (("pg", 70), ("pg13", 25), ("r", 3), ("x", 1), ("xxx", 0.5), ("na", 0.5))
NSFW_LABELS = {"pg": "PG", "pg13": "PG13", "r": "R", "x": "X", "xxx": "XXX", "na": "NA"}


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


_PLAN_PICK = Weighted((plan, plan[0]) for plan in PLANS)
_STATUS_PICK = Weighted(STATUS_WEIGHTS)
_NSFW_BLUE = Weighted(NSFW_WEIGHTS_BLUE)
_NSFW_GREEN = Weighted(NSFW_WEIGHTS_GREEN)


@dataclass(slots=True)
class BlobInfo:
    step: int
    item: int
    job: int
    blob: dict[str, Any]
    csam_percent: float


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

    @property
    def id(self) -> str:
        return str(self.doc["id"])


@dataclass(slots=True)
class _StepPlan:
    type: str
    input: dict[str, Any]
    prompt: str | None
    negative: str | None
    blob_kind: str | None  # image | video | None
    n_blobs: int
    width: int
    height: int
    ext: str
    cost: int
    factors: dict[str, float]
    seconds: tuple[float, float]
    timeout: str
    legacy_blobs: bool = False
    eco: str | None = None


def _ticks(seconds: float) -> int:
    return int(seconds * TICKS_PER_SECOND)


class Generator:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.seed = config.seed
        self.per_day = config.workflows_per_day
        self.days = [config.start + timedelta(days=d) for d in range(config.days)]
        self.total = config.days * config.workflows_per_day
        self.codec = IdCodec(config.seed)
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

    def first_at_or_after(self, ticks: int) -> int:
        lo, hi = 0, self.total
        while lo < hi:
            mid = (lo + hi) // 2
            if self.created_ticks(mid) < ticks:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def is_running(self, g: int) -> bool:
        return unit(splitmix64(self._k_running ^ g)) < self.config.running_share

    # --- the workflow ----------------------------------------------------------------------
    def generate(self, g: int, finished: bool) -> GeneratedWorkflow:
        day, index = divmod(g, self.per_day)
        rng = Random(self._k_workflow ^ g)
        created = self.created_ticks(g)
        ms = created // TICKS_PER_MS
        user = self._user_pick.pick(rng)
        id_style = rng.random()
        api_user = rng.random() < 0.08
        _, wf_tag, media, step_types = _PLAN_PICK.pick(rng)
        status = _STATUS_PICK.pick(rng)
        color_draw = rng.random()
        priority = ("low", "normal", "high")[bisect_right((0.35, 0.9), rng.random())]

        tags: list[str] = []
        if id_style < 0.85:
            workflow_id = f"{user}-{compact_ms(ms)}"
        else:
            workflow_id = "0-" + uuid7(ms, rng.getrandbits(74))
        if api_user:
            currencies = ["yellow"]
            color = None
        elif color_draw < 0.45:
            currencies, color = ["blue", "green"], "green"
        elif color_draw < 0.85:
            currencies, color = ["blue", "yellow"], "blue"
        else:
            currencies, color = ["yellow"], "blue"
        green = color == "green"

        plans = [self._plan_step(rng, t, wf_tag) for t in step_types]
        first = plans[0]
        if api_user:
            tags = ["api", wf_tag] if rng.random() < 0.7 else []
        else:
            parts = ["civitai", first.eco, "gen", color or "blue", wf_tag, media]
            tags = [t for t in parts if t]
        if 0.85 <= id_style < 0.97:
            tags.append(f"user:{user}")
        # Statuses per step: the failing step is the last one most of the time; what follows
        # a failed/expired/canceled step never runs.
        n_steps = len(plans)
        fail_at = (
            n_steps - 1 if status == "succeeded" else (n_steps - 1 if rng.random() < 0.6 else 0)
        )
        step_statuses = [
            "succeeded" if s < fail_at else (status if s == fail_at else "canceled")
            for s in range(n_steps)
        ]

        steps: list[dict[str, Any]] = []
        jobs_info: list[JobInfo] = []
        blobs_info: list[BlobInfo] = []
        prompts: list[tuple[str | None, str | None]] = []
        cursor_ticks = created + _ticks(0.2 + rng.random() * 2.5)
        wf_completed = created
        planned_base = 0
        for s, plan in enumerate(plans):
            step_doc, jobs, blobs, end = self._build_step(
                rng,
                g,
                day,
                index,
                s,
                plan,
                step_statuses[s],
                s == fail_at,
                cursor_ticks,
                api_user,
                green,
            )
            steps.append(step_doc)
            jobs_info.extend(jobs)
            blobs_info.extend(blobs)
            prompts.append((plan.prompt, plan.negative))
            planned_base += plan.cost
            if end is not None:
                wf_completed = max(wf_completed, end)
                cursor_ticks = end + _ticks(0.05 + rng.random() * 0.5)
        starts = [j.start_ticks for j in jobs_info if j.start_ticks is not None]
        wf_started = min(starts) if starts else None

        tips_rates: dict[str, float] = {"civitai": 0, "creators": 0}
        if not api_user and rng.random() < 0.1:
            tips_rates = {
                "civitai": (0.1, 0.25)[rng.random() < 0.5],
                "creators": (0.1, 0.25, 0.5)[int(rng.random() * 3)],
            }
        tip_c = math.ceil(planned_base * tips_rates["civitai"])
        tip_cr = math.ceil(planned_base * tips_rates["creators"])
        charged = planned_base + tip_c + tip_cr
        split = len(currencies) > 1 and rng.random() < 0.15
        split_at = max(1, int(charged * (0.2 + rng.random() * 0.6)))
        never_started = wf_started is None
        txn_rand = [rng.getrandbits(122) for _ in range(4)]
        future_field = rng.random() < 0.01
        external = rng.random() < 0.2
        external_bits = rng.getrandbits(74)
        experimental = rng.random() < 0.1
        allow_mature = (not green) and rng.random() < 0.75
        private = rng.random() < 0.1
        force_refunded = status == "failed" and rng.random() < 0.03
        upgrade_mode = "automatic" if rng.random() < 0.05 else "manual"

        debits: list[tuple[int, str]] = (
            [(split_at, currencies[0]), (charged - split_at, currencies[1])]
            if split and charged > 1
            else [(charged, currencies[0])]
        )
        refunded = status in REFUNDED_STATUSES
        txns: list[dict[str, Any]] = []
        if not (status == "canceled" and never_started):
            for n, (amount, account) in enumerate(debits):
                txns.append(
                    {
                        "type": "debit",
                        "amount": amount,
                        "id": _txn_id(txn_rand[n]),
                        "accountType": account,
                    }
                )
            if refunded:
                for n, (amount, account) in enumerate(debits):
                    txns.append(
                        {
                            "type": "credit",
                            "amount": amount,
                            "id": _txn_id(txn_rand[2 + n]),
                            "accountType": account,
                        }
                    )

        factors = dict(first.factors)
        if refunded:
            cost = {
                "base": 0,
                "factors": factors,
                "tips": {"civitai": 0, "creators": 0},
                "total": 0,
            }
        else:
            cost = {
                "base": planned_base,
                "factors": factors,
                "tips": {"civitai": tip_c, "creators": tip_cr},
                "total": charged,
            }

        doc: dict[str, Any] = {
            "id": workflow_id,
            "createdAt": format_ticks(created),
            "transactions": {"list": txns},
            "metadata": self._metadata(rng, api_user, wf_tag, priority, first, private),
            "status": status,
        }
        if wf_started is not None:
            doc["startedAt"] = format_ticks(wf_started)
        doc["completedAt"] = format_ticks(wf_completed)
        doc["tags"] = tags
        doc["arguments"] = {}
        doc["steps"] = steps
        doc["callbacks"] = self._callbacks(api_user, user, first.type, external_bits)
        doc["tips"] = tips_rates
        doc["cost"] = cost
        if status == "succeeded":
            levels = [b.blob.get("nsfwLevel") for b in blobs_info if b.blob.get("nsfwLevel")]
            ranked = [lvl for lvl in levels if lvl in NSFW_ORDER]
            if ranked:
                doc["nsfwLevel"] = max(ranked, key=NSFW_ORDER.__getitem__)
            elif levels:
                doc["nsfwLevel"] = "na"
        if not api_user:
            doc["experimental"] = experimental
            doc["allowMatureContent"] = allow_mature
        doc["upgradeMode"] = upgrade_mode
        doc["currencies"] = currencies
        doc["forceRefunded"] = force_refunded
        if external:
            doc["externalId"] = f"{user}-{uuid7(ms, external_bits)}"
        if future_field:
            doc[vocab.FUTURE_FIELDS["workflow"]] = "eu-west"

        result = GeneratedWorkflow(
            g=g,
            day=day,
            index=index,
            doc=doc,
            running=False,
            user_id=user,
            created_ticks=created,
            jobs=jobs_info,
            blobs=blobs_info,
            prompts=prompts,
        )
        if not finished and self.is_running(g):
            self._make_running(result, planned_base, tip_c, tip_cr, debits, txn_rand)
        return result

    # --- steps -----------------------------------------------------------------------------
    def _prompt(self, rng: Random) -> str:
        subject = vocab.SUBJECTS[int(rng.random() * len(vocab.SUBJECTS))]
        setting = vocab.SETTINGS[int(rng.random() * len(vocab.SETTINGS))]
        n = len(vocab.STYLES)
        first = int(rng.random() * n)
        a = vocab.STYLES[first]
        b = vocab.STYLES[(first + 1 + int(rng.random() * (n - 1))) % n]
        return f"{subject} {setting}, {a}, {b}"

    def _input_url(self, rng: Random, ext: str = "png") -> str:
        stem = crockford26(rng.getrandbits(130))
        return f"{BLOB_HOST}/v2/consumer/blobs/{stem}.{ext}?sig={rng.getrandbits(64):016x}"

    def _plan_step(self, rng: Random, step_type: str, wf_tag: str) -> _StepPlan:
        width, height = vocab.SIZES[int(rng.random() * len(vocab.SIZES))]
        seed = rng.getrandbits(32)
        prompt = self._prompt(rng)
        negative = vocab.NEGATIVES[int(rng.random() * len(vocab.NEGATIVES))]
        quantity = (1, 1, 2, 4)[int(rng.random() * 4)]
        if step_type == "textToImage":
            air, eco, _base_model, _vid = vocab.CHECKPOINTS[
                int(rng.random() * len(vocab.CHECKPOINTS))
            ]
            steps = 20 + int(rng.random() * 21)
            inp: dict[str, Any] = {
                "model": air,
                "prompt": prompt,
                "negativePrompt": negative,
                "scheduler": vocab.SCHEDULERS[int(rng.random() * len(vocab.SCHEDULERS))],
                "steps": steps,
                "cfgScale": (3.5, 5, 7, 7.5)[int(rng.random() * 4)],
                "width": width,
                "height": height,
                "seed": seed,
                "clipSkip": 2,
                "quantity": quantity,
                "batchSize": 1,
            }
            if rng.random() < 0.5:
                lora, _ = vocab.LORAS[int(rng.random() * len(vocab.LORAS))]
                inp["additionalNetworks"] = {lora: {"strength": 0.8, "type": "Lora"}}
            if wf_tag == "img2img":
                inp["sourceImage"] = self._input_url(rng)
                inp["sourceImageDenoiseStrenght"] = 0.7
            per_image = max(1, round(width * height / 1024**2 * steps / 25 * 4))
            return _StepPlan(
                step_type,
                inp,
                prompt,
                negative,
                "image",
                quantity,
                width,
                height,
                "jpeg",
                per_image * quantity,
                {
                    "size": round(width * height / 1024**2, 4),
                    "steps": round(steps / 25, 4),
                    "quantity": quantity,
                },
                (3.0, 25.0),
                "00:20:00",
                eco=eco,
            )
        if step_type == "imageGen":
            engine, eco = vocab.IMAGE_GEN_ENGINES[int(rng.random() * len(vocab.IMAGE_GEN_ENGINES))]
            edit = wf_tag == "img2img:edit"
            legacy = rng.random() < 0.3
            q = min(quantity, 4)
            if engine == "gemini":
                inp = {
                    "engine": "gemini",
                    "model": "2.5-flash",
                    "operation": "editImage" if edit else "createImage",
                    "prompt": vocab.EDIT_PROMPTS[seed % len(vocab.EDIT_PROMPTS)]
                    if edit
                    else prompt,
                    "quantity": q,
                    "outputFormat": "jpeg",
                }
                if edit:
                    inp["images"] = [self._input_url(rng)]
                base, w, h = 60, 1024, 1024
            elif engine == "openai":
                size = ("1024x1024", "1536x1024", "1024x1536")[seed % 3]
                inp = {
                    "engine": "openai",
                    "model": "gpt-image-1",
                    "operation": "createImage",
                    "prompt": prompt,
                    "size": size,
                    "quantity": q,
                    "quality": ("auto", "high", "medium", "low")[seed % 4],
                }
                w, h = (int(x) for x in size.split("x"))
                base = 40
            elif engine == "flux2":
                inp = {
                    "engine": "flux2",
                    "model": "dev",
                    "operation": "createImage",
                    "prompt": prompt[:1000],
                    "width": width if width >= 512 else 512,
                    "height": height if height >= 512 else 512,
                    "seed": seed,
                    "quantity": q,
                    "guidanceScale": 2.5,
                    "numInferenceSteps": 28,
                }
                base, w, h = 25, inp["width"], inp["height"]
            else:
                inp = {
                    "engine": "seedream",
                    "version": "v4",
                    "prompt": prompt,
                    "quantity": q,
                    "width": 2048,
                    "height": 2048,
                    "seed": seed & 0x7FFFFFFF,
                }
                if edit:
                    inp["images"] = [self._input_url(rng)]
                base, w, h = 30, 2048, 2048
            if rng.random() < 0.4:
                inp["imageMetadata"] = (
                    f'{{"workflow":"{wf_tag}","prompt":"{inp["prompt"]}","quantity":{q}}}'
                )
            return _StepPlan(
                step_type,
                inp,
                inp["prompt"],
                None,
                "image",
                q,
                w,
                h,
                "jpeg",
                base * q,
                {"base": base, "quantity": q},
                (4.0, 40.0),
                "00:20:00",
                legacy_blobs=legacy,
                eco=eco,
            )
        if step_type == "videoGen":
            engine, eco = vocab.VIDEO_ENGINES[int(rng.random() * len(vocab.VIDEO_ENGINES))]
            image = self._input_url(rng) if wf_tag == "img2vid" else None
            if engine == "wan":
                inp = {
                    "engine": "wan",
                    "version": "v2.1",
                    "provider": "civitai",
                    "prompt": prompt,
                    "cfgScale": 4,
                    "frameRate": 16,
                    "duration": 5,
                    "seed": seed & 0x7FFFFFFF,
                    "steps": 20,
                    "width": 832,
                    "height": 480,
                    "model": vocab.WAN_MODEL,
                }
                if image:
                    inp["images"] = [image]
                base, w, h = 150, 832, 480
            elif engine == "kling":
                inp = {
                    "engine": "kling",
                    "prompt": prompt,
                    "model": "v2",
                    "negativePrompt": negative,
                    "cfgScale": 0.5,
                    "mode": "standard",
                    "aspectRatio": "16:9",
                    "duration": "5",
                }
                if image:
                    inp["sourceImage"] = image
                base, w, h = 400, 1280, 720
            else:
                inp = {
                    "engine": "veo3",
                    "prompt": prompt,
                    "negativePrompt": negative,
                    "aspectRatio": "16:9",
                    "duration": 8,
                    "generateAudio": seed % 2 == 0,
                    "seed": seed & 0x7FFFFFFF,
                    "version": "3.1",
                    "mode": "fast",
                }
                if image:
                    inp["images"] = [image]
                base, w, h = 600, 1280, 720
            return _StepPlan(
                step_type,
                inp,
                prompt,
                inp.get("negativePrompt"),
                "video",
                1,
                w,
                h,
                "mp4",
                base,
                {"base": base, "duration": 5},
                (60.0, 400.0),
                "01:00:00",
                eco=eco,
            )
        if step_type == "comfy":
            air, eco, _bm, _vid = vocab.CHECKPOINTS[int(rng.random() * len(vocab.CHECKPOINTS))]
            inp = {
                "comfyWorkflow": {
                    "4": {"classType": "CheckpointLoaderSimple", "inputs": {"ckpt_name": air}},
                    "6": {
                        "classType": "CLIPTextEncode",
                        "inputs": {"text": prompt, "clip": [4, 1]},
                    },
                    "3": {
                        "classType": "KSampler",
                        "inputs": {
                            "seed": seed,
                            "steps": 25,
                            "cfg": 7,
                            "sampler_name": "euler",
                            "model": [4, 0],
                        },
                    },
                    "5": {
                        "classType": "EmptyLatentImage",
                        "inputs": {"width": width, "height": height, "batch_size": 1},
                    },
                },
                "quantity": quantity,
            }
            return _StepPlan(
                step_type,
                inp,
                prompt,
                None,
                "image",
                quantity,
                width,
                height,
                "png",
                8 * quantity,
                {"base": 8, "quantity": quantity},
                (5.0, 60.0),
                "00:20:00",
                eco=eco,
            )
        if step_type == "imageUpscaler":
            inp = {
                "image": self._input_url(rng),
                "model": vocab.UPSCALER_MODEL,
                "numberOfRepeats": 1,
            }
            return _StepPlan(
                step_type,
                inp,
                None,
                None,
                "image",
                1,
                width * 2,
                height * 2,
                "png",
                12,
                {"base": 12},
                (2.0, 12.0),
                "00:20:00",
            )
        if step_type == "mediaRating":
            inp = {
                "image": self._input_url(rng),
                "includeAgeClassification": True,
                "includeFaceRecognition": False,
                "includeAIRecognition": False,
                "includeAnimeRecognition": False,
                "includeHumanRecognition": False,
                "includeBodyAgeClassification": False,
            }
            return _StepPlan(
                step_type,
                inp,
                None,
                None,
                None,
                0,
                0,
                0,
                "",
                1,
                {"base": 1},
                (0.5, 3.0),
                "00:05:00",
            )
        if step_type == "wdTagging":
            inp = {
                "mediaUrl": self._input_url(rng, "jpeg"),
                "model": vocab.WD_TAGGER,
                "threshold": 0.35,
            }
            return _StepPlan(
                step_type,
                inp,
                None,
                None,
                None,
                0,
                0,
                0,
                "",
                1,
                {"base": 1},
                (0.5, 3.0),
                "00:05:00",
            )
        # A step type newer than the published document.
        inp = {
            "engine": "hyper",
            "prompt": prompt,
            "negativePrompt": negative,
            "width": width,
            "height": height,
            "quantity": min(quantity, 2),
            "seed": seed,
            "model": "urn:air:hyper:checkpoint:civitai:999001@999002",
        }
        return _StepPlan(
            step_type,
            inp,
            prompt,
            negative,
            "image",
            min(quantity, 2),
            width,
            height,
            "png",
            35,
            {"base": 35},
            (5.0, 30.0),
            "00:20:00",
            eco="Hyper",
        )

    def _build_step(
        self,
        rng: Random,
        g: int,
        day: int,
        index: int,
        s: int,
        plan: _StepPlan,
        status: str,
        origin: bool,
        ready: int,
        api_user: bool,
        green: bool,
    ) -> tuple[dict[str, Any], list[JobInfo], list[BlobInfo], int | None]:
        # Fixed draws first (determinism does not depend on the branch taken below).
        split_draw = rng.random()
        retry_draw = rng.random()
        durations = [
            plan.seconds[0] + rng.random() * (plan.seconds[1] - plan.seconds[0]) for _ in range(2)
        ]
        cancel_started = rng.random() < 0.5
        queue_pos = rng.random() < 0.15
        preceding = int(rng.random() * 4)
        retries = rng.random() < 0.2
        future_step = rng.random() < 0.01
        step_priority = ("low", "normal", "high")[bisect_right((0.35, 0.9), rng.random())]
        progress_rate = rng.random() * 0.01
        fail_msg = vocab.FAILURE_MESSAGES[int(rng.random() * len(vocab.FAILURE_MESSAGES))]

        n_jobs, retry = 1, False
        if plan.n_blobs >= 2 and split_draw < 0.15:
            n_jobs = 2
        elif plan.blob_kind and retry_draw < 0.05 and status in ("succeeded", "failed"):
            n_jobs, retry = 2, True

        name = f"${s}" if not api_user else (str(s) if s else "main")
        jobs: list[JobInfo] = []
        end: int | None = None
        step_start: int | None = None
        if status in ("succeeded", "failed"):
            start = ready
            step_start = start
            for j in range(n_jobs):
                if retry:
                    job_status = "failed" if j == 0 else status
                    j_start = start if j == 0 else jobs[0].end_ticks + _ticks(0.5)  # type: ignore[operator]
                else:
                    job_status = status
                    j_start = start
                j_end = j_start + _ticks(durations[j])
                jobs.append(
                    JobInfo(
                        s,
                        j,
                        self.codec.job_id(day, index, s, j),
                        job_status,
                        j_start,
                        j_end,
                        plan.cost / n_jobs,
                        1 if retry and j else 0,
                    )
                )
            end = max(j.end_ticks for j in jobs if j.end_ticks) + TICKS_PER_MS
        elif status == "expired":
            end = ready + _ticks(_timeout_seconds(plan.timeout))
            for j in range(n_jobs):
                jobs.append(
                    JobInfo(
                        s,
                        j,
                        self.codec.job_id(day, index, s, j),
                        "expired",
                        None,
                        end - TICKS_PER_MS,
                        plan.cost / n_jobs,
                        0,
                    )
                )
        elif status == "canceled" and origin:
            # Steps after a failure never got jobs; the step the user canceled did.
            step_start = ready if cancel_started else None
            stop = ready + _ticks(durations[0] * 0.3)
            for j in range(n_jobs):
                jobs.append(
                    JobInfo(
                        s,
                        j,
                        self.codec.job_id(day, index, s, j),
                        "canceled",
                        step_start,
                        stop,
                        plan.cost / n_jobs,
                        0,
                    )
                )
            end = stop + TICKS_PER_MS

        blobs: list[BlobInfo] = []
        output: dict[str, Any] | None = None
        if (
            plan.blob_kind
            and status in ("succeeded", "failed")
            and (status == "succeeded" or plan.type == "imageGen")
        ):
            produced = [j for j in jobs if j.status == status]
            blob_docs = []
            for k in range(plan.n_blobs):
                owner = produced[k % len(produced)]
                blob, csam = self._blob(rng, g, day, index, s, k, plan, owner, status, green)
                info = BlobInfo(s, k, owner.job, blob, csam)
                owner.blobs.append(info)
                blobs.append(info)
                blob_docs.append(blob)
            output = self._output(plan, blob_docs, status, fail_msg, rng)
        elif plan.type == "mediaRating" and status == "succeeded":
            level = _NSFW_BLUE.pick(rng)
            output = {
                "nsfwLevel": level,
                "isBlocked": False,
                "labels": sorted({vocab.MEDIA_LABELS[int(rng.random() * 6)]}),
                "csam": None,
            }
        elif plan.type == "wdTagging" and status == "succeeded":
            tags = {
                t: round(0.35 + rng.random() * 0.64, 4)
                for t in {vocab.DANBOORU_TAGS[int(rng.random() * 16)] for _ in range(4)}
            }
            output = {
                "tags": dict(sorted(tags.items())),
                "rating": {
                    "general": 0.81,
                    "sensitive": 0.14,
                    "questionable": 0.04,
                    "explicit": 0.01,
                },
            }

        step: dict[str, Any] = {"$type": plan.type, "input": plan.input}
        if output is not None:
            step["output"] = output
        step["name"] = name
        step["priority"] = step_priority
        step["timeout"] = plan.timeout
        if retries:
            step["retries"] = 2
        if jobs:
            step["jobs"] = [self._job_doc(j, queue_pos, preceding, progress_rate) for j in jobs]
        step["status"] = status
        if step_start is not None:
            step["startedAt"] = format_ticks(step_start)
        if end is not None:
            step["completedAt"] = format_ticks(end)
        step["metadata"] = {}
        if future_step:
            step[vocab.FUTURE_FIELDS["step"]] = 1
        return step, jobs, blobs, end

    def _job_doc(
        self, job: JobInfo, queue_pos: bool, preceding: int, rate: float
    ) -> dict[str, Any]:
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

    def _blob(
        self,
        rng: Random,
        g: int,
        day: int,
        index: int,
        s: int,
        k: int,
        plan: _StepPlan,
        owner: JobInfo,
        status: str,
        green: bool,
    ) -> tuple[dict[str, Any], float]:
        level = (_NSFW_GREEN if green else _NSFW_BLUE).pick(rng)
        other_block = rng.random() < 0.01
        future_blob = rng.random() < 0.01
        null_blocked = rng.random() < 0.3
        blob_id = self.codec.blob_id(day, index, s, k, plan.ext)
        csam = _csam_percent(rng.random(), rng.random())
        blocked = "CSAM" if csam >= 50 else ("ProhibitedContent" if other_block else None)
        available = status == "succeeded" and blocked is None
        done = owner.end_ticks or 0
        bits = rng.getrandbits(64)
        expires = format_ticks(done + 86_400 * TICKS_PER_SECOND + bits % TICKS_PER_MS)
        url = f"{BLOB_HOST}/v2/consumer/blobs/{blob_id}?sig={bits:016x}"
        if plan.legacy_blobs:
            # The real sample's image blobs: no type, nsfwLevel or jobId.
            blob: dict[str, Any] = {"width": plan.width, "height": plan.height}
            if available or status == "failed":
                blob["previewUrl"] = url + "&preview=true"
                blob["previewUrlExpiresAt"] = expires
            blob["id"] = blob_id
            blob["available"] = available
            if available or status == "failed":
                blob["url"] = url
                blob["urlExpiresAt"] = expires
            return blob, csam
        blob = {"type": plan.blob_kind, "id": blob_id, "available": available}
        if blocked is None:
            blob["url"] = url
            blob["urlExpiresAt"] = expires
            if plan.blob_kind == "image":
                blob["previewUrl"] = url + "&preview=true"
                blob["previewUrlExpiresAt"] = expires
        blob["jobId"] = owner.id
        blob["nsfwLevel"] = level
        if blocked is not None or null_blocked:
            blob["blockedReason"] = blocked
        blob["width"] = plan.width
        blob["height"] = plan.height
        if future_blob:
            blob[vocab.FUTURE_FIELDS["blob"]] = f"{bits ^ 0x5A5A5A5A5A5A5A5A:016x}"
        return blob, csam

    @staticmethod
    def _output(
        plan: _StepPlan, blobs: list[dict[str, Any]], status: str, fail_msg: str, rng: Random
    ) -> dict[str, Any]:
        if plan.type in ("textToImage", "imageGen"):
            out: dict[str, Any] = {"images": blobs}
            if status == "failed":
                out["errors"] = [fail_msg]
            return out
        if plan.type == "videoGen":
            return {"video": blobs[0]}
        if plan.type == "comfy":
            return {"blobs": blobs}
        if plan.type == "imageUpscaler":
            return {"blob": blobs[0]}
        return {"artifacts": blobs, "hologramDepth": 1 + int(rng.random() * 3)}

    # --- workflow-level pieces -------------------------------------------------------------
    def _metadata(
        self,
        rng: Random,
        api_user: bool,
        wf_tag: str,
        priority: str,
        first: _StepPlan,
        private: bool,
    ) -> dict[str, Any]:
        batch = int(rng.random() * 1000)
        lora_draw = int(rng.random() * len(vocab.LORAS))
        if api_user:
            return {"batch": f"batch-{batch}"} if batch % 2 else {}
        params: dict[str, Any] = {"workflow": wf_tag, "priority": priority}
        if first.prompt:
            params["prompt"] = first.prompt
        if first.negative:
            params["negativePrompt"] = first.negative
        params["quantity"] = max(first.n_blobs, 1)
        seed = first.input.get("seed")
        if seed is not None:
            params["seed"] = seed
        if first.eco:
            params["ecosystem"] = first.eco
        resources: list[dict[str, Any]] = []
        model = first.input.get("model")
        for air, _eco, base_model, version_id in vocab.CHECKPOINTS:
            if air == model:
                params["baseModel"] = base_model
                resources.append({"id": version_id, "model": {"type": "Checkpoint"}})
        if "additionalNetworks" in first.input:
            _lora, vid = vocab.LORAS[lora_draw]
            resources.append({"id": vid, "model": {"type": "LORA"}, "strength": 0.8})
        return {"params": params, "resources": resources, "isPrivateGeneration": private}

    @staticmethod
    def _callbacks(api_user: bool, user: int, first_type: str, bits: int) -> list[dict[str, Any]]:
        if api_user:
            if bits % 3 == 0:
                return []
            return [
                {
                    "url": "https://hooks.example.invalid/civitai",
                    "type": ["workflow:succeeded", "workflow:failed"],
                    "detailed": False,
                }
            ]
        kind = {"videoGen": "video-gen", "comfy": "comfy"}.get(first_type, "text-to-image")
        return [
            {
                "url": f"{SIGNALS_HOST}/users/{user}/signals/orchestrator:{kind}-update",
                "type": ["step:*"],
            }
        ]

    # --- still running ---------------------------------------------------------------------
    def _make_running(
        self,
        wf: GeneratedWorkflow,
        planned_base: int,
        tip_c: int,
        tip_cr: int,
        debits: list[tuple[int, str]],
        txn_rand: list[int],
    ) -> None:
        rng = Random(self._k_running ^ wf.g)
        state = "processing" if rng.random() < 0.7 else "scheduled"
        progress = round(0.05 + rng.random() * 0.9, 4)
        preceding = 1 + int(rng.random() * 40)
        doc = wf.doc
        wf.running = True
        doc["status"] = state
        doc.pop("completedAt", None)
        doc.pop("nsfwLevel", None)
        first_start = wf.created_ticks + _ticks(0.5 + rng.random() * 2)
        if state == "processing":
            doc["startedAt"] = format_ticks(first_start)
        else:
            doc.pop("startedAt", None)
        doc["transactions"] = {
            "list": [
                {"type": "debit", "amount": amount, "id": _txn_id(txn_rand[n]), "accountType": acct}
                for n, (amount, acct) in enumerate(debits)
            ]
        }
        cost = dict(doc["cost"])
        cost.update(
            base=planned_base,
            tips={"civitai": tip_c, "creators": tip_cr},
            total=planned_base + tip_c + tip_cr,
        )
        doc["cost"] = cost

        running_jobs: list[JobInfo] = []
        for s, step in enumerate(doc["steps"]):
            step.pop("output", None)
            step.pop("completedAt", None)
            step.pop("startedAt", None)
            if s > 0:
                step["status"] = "unassigned"
                step.pop("jobs", None)
                continue
            step["status"] = state
            if state == "processing":
                step["startedAt"] = format_ticks(first_start)
                step["estimatedProgressRate"] = progress
            step_jobs = [j for j in wf.jobs if j.step == 0]
            if step_jobs and step_jobs[-1].retry_attempt:
                step_jobs = step_jobs[:1]  # the retry does not exist yet
            if not step_jobs:
                step_jobs = [
                    JobInfo(
                        0,
                        0,
                        self.codec.job_id(wf.day, wf.index, 0, 0),
                        state,
                        None,
                        None,
                        planned_base,
                        0,
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
                running_jobs.append(live)
                jd: dict[str, Any] = {"id": live.id, "status": state}
                if state == "processing":
                    jd["startedAt"] = format_ticks(first_start)
                else:
                    jd["queuePosition"] = {
                        "support": "available",
                        "precedingJobs": preceding,
                        "startAt": format_ticks(wf.created_ticks + _ticks(preceding * 3.0)),
                        "completeAt": format_ticks(wf.created_ticks + _ticks(preceding * 3.0 + 20)),
                    }
                jd["cost"] = round(live.cost, 4) if live.cost != int(live.cost) else int(live.cost)
                jd["estimatedProgressRate"] = progress if state == "processing" else 0.0
                docs.append(jd)
            step["jobs"] = docs
        wf.jobs = running_jobs
        wf.blobs = []


def _csam_percent(u: float, v: float) -> float:
    """A Hive CSAM score in percent: mostly 0, some low, ~1.5% of outputs at or above 50."""
    if u < 0.015:
        return round(50 + v * 49.99, 2)
    if u < 0.12:
        return round(0.01 + v * 24.99, 2)
    return 0.0


def _txn_id(bits: int) -> str:
    return format_uuid(bits, version=4)


def _timeout_seconds(text: str) -> int:
    h, m, s = (int(x) for x in text.split(":"))
    return h * 3600 + m * 60 + s
