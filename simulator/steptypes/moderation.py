"""Moderation and analysis steps and their verdicts: mediaRating, xGuardModeration,
shieldstralModeration, ageClassification, plus wdTagging, mediaCaptioning, qwenImageBench.

Each moderation step records its verdicts through `OutputContext.verdict` as it writes its
output (the ground truth `SimulatedAccount.verdict_truth` serves):

* mediaRating: one verdict: isBlocked, blockedReason, nsfwLevel; `has_minor` is the
  age classification's `minorDetected` when one ran, else None; no category, no score.
* xGuardModeration: one verdict per `results[i]`: category = label, score, is_blocked =
  the label's `triggered` (every label here acts by blocking, so the step's `blocked` is
  "any label triggered").
* shieldstralModeration: the same per `results[i]`, category = policy.
* ageClassification: one verdict: has_minor = hasMinor (nothing else).
"""

from __future__ import annotations

from typing import Any

from simulator import vocab
from simulator.blobs import OutputContext
from simulator.model import StepPlan, Weighted, pick
from simulator.steptypes.common import Draws

_LEVELS = Weighted((("pg", 40), ("pg13", 20), ("r", 15), ("x", 15), ("xxx", 6), ("na", 4)))


def _bbox(ctx: OutputContext) -> dict[str, float]:
    rng = ctx.rng
    x1, y1 = round(rng.random() * 400, 1), round(rng.random() * 400, 1)
    return {
        "x1": x1,
        "y1": y1,
        "x2": round(x1 + 80 + rng.random() * 300, 1),
        "y2": round(y1 + 80 + rng.random() * 300, 1),
    }


def _age_classification(ctx: OutputContext, minor: bool, ran: bool) -> dict[str, Any]:
    rng = ctx.rng
    if not ran:
        return {"detections": [], "status": "skipped", "ran": False, "minorDetected": None}
    detections = []
    for i in range(1 + int(rng.random() * 2)):
        is_minor = minor and i == 0
        label = pick(rng, vocab.MINOR_AGE_LABELS if is_minor else vocab.ADULT_AGE_LABELS)
        detections.append(
            {
                "detectorType": "face",
                "boundingBox": _bbox(ctx),
                "ageLabel": label,
                "confidence": round(0.55 + rng.random() * 0.44, 4),
                "isMinor": is_minor,
            }
        )
    return {
        "detections": detections,
        "status": "completed",
        "ran": True,
        "detector": "age-v3",
        "minorDetected": minor,
    }


def media_rating(d: Draws) -> StepPlan:
    rng = d.rng
    with_age = rng.random() < 0.8
    with_ai = rng.random() < 0.2
    inp = {
        "image": d.url(),
        "includeAgeClassification": with_age,
        "includeFaceRecognition": False,
        "includeAIRecognition": with_ai,
        "includeAnimeRecognition": with_ai,
        "includeHumanRecognition": False,
        "includeBodyAgeClassification": False,
    }

    def output(ctx: OutputContext) -> dict[str, Any]:
        r = ctx.rng
        level = _LEVELS.pick(r)
        minor, csam_draw, beast = r.random() < 0.06, r.random(), r.random()
        labels = sorted({pick(r, vocab.MEDIA_LABELS) for _ in range(1 + int(r.random() * 3))})
        mature = level in ("r", "x", "xxx")
        anime = "Anime" in labels
        csam = (minor and csam_draw < 0.6) if mature else None
        reason = None
        if csam:
            reason = "Child Sexual - Anime" if anime else "Child Sexual - Realistic"
        elif minor and mature:
            reason = "ChildReference"
        elif level == "xxx" and beast < 0.05:
            reason = "Bestiality"
        out: dict[str, Any] = {"nsfwLevel": level, "isBlocked": reason is not None}
        if reason is not None:
            out["blockedReason"] = reason
        out["labels"] = labels
        has_minor = None
        if with_age:
            ran = mature or r.random() < 0.3
            out["ageClassification"] = _age_classification(ctx, minor, ran)
            has_minor = minor if ran else None
        if with_ai:
            out["aiRecognition"] = {"label": "ai", "confidence": round(0.6 + r.random() * 0.4, 4)}
            out["animeRecognition"] = {
                "label": "anime" if anime else "realistic",
                "confidence": round(0.5 + r.random() * 0.5, 4),
            }
        out["csam"] = csam
        ctx.verdict(
            is_blocked=reason is not None,
            blocked_reason=reason,
            nsfw_level=level,
            has_minor=has_minor,
        )
        return out

    return StepPlan("mediaRating", inp, None, None, 1, {"base": 1}, (0.5, 3.0), "00:05:00", output)


def _guard_results(
    ctx: OutputContext, names: tuple[str, ...], threshold: float
) -> list[tuple[str, float, bool]]:
    """(name, score 0-1, triggered) per label or policy; most scans trigger nothing."""
    rng = ctx.rng
    hot = rng.random() < 0.12
    out = []
    for name in names:
        score = round(rng.random() * 0.3, 4)
        if hot and rng.random() < 0.5:
            score = round(threshold + rng.random() * (1 - threshold), 4)
        out.append((name, score, score >= threshold))
    return out


def _prompt_mode(d: Draws, text: str) -> dict[str, Any]:
    if d.rng.random() < 0.8:
        return {"mode": "prompt", "positivePrompt": d.prompt, "negativePrompt": d.negative}
    return {"mode": "text", "text": text}


def x_guard(d: Draws) -> StepPlan:
    labels = vocab.XGUARD_LABELS[: 3 + int(d.rng.random() * (len(vocab.XGUARD_LABELS) - 2))]
    inp = {**_prompt_mode(d, f"Model description: {d.prompt}"), "labels": list(labels)}
    inp.update(storeFullResponse=False, includeReasoning=d.rng.random() < 0.3)
    field = "positivePrompt" if inp["mode"] == "prompt" else "text"
    with_signals = d.rng.random() < 0.3

    def output(ctx: OutputContext) -> dict[str, Any]:
        results = []
        for label, score, triggered in _guard_results(ctx, labels, 0.5):
            results.append(
                {
                    "label": label,
                    "action": "block",
                    "threshold": 0.5,
                    "score": score,
                    "triggered": triggered,
                    "topToken": "yes" if triggered else "no",
                    "field": field,
                    "modelReason": f"{label} {'detected' if triggered else 'not detected'}",
                    "matchedTerms": {"text": [], "positivePrompt": [], "negativePrompt": []},
                }
            )
            ctx.verdict(is_blocked=triggered, category=label, score=score)
        hits = [r["label"] for r in results if r["triggered"]]
        out: dict[str, Any] = {"results": results}
        if with_signals:
            out["signalMetadata"] = _signals(len(hits))
        out["blocked"] = bool(hits)
        out["triggeredLabels"] = hits
        return out

    return StepPlan(
        "xGuardModeration",
        inp,
        d.prompt,
        d.negative,
        1,
        {"base": 1},
        (0.3, 2.5),
        "00:05:00",
        output,
    )


def _signals(n: int) -> dict[str, Any]:
    counts = {"school": n} if n else {}
    return {
        "positiveAgeDownSignals": counts,
        "negativeAgeDownSignals": {},
        "positiveAdultSignals": {},
        "negativeAdultSignals": {},
        "positiveSexualSignals": {},
        "negativeSexualSignals": {},
        "customSignals": [],
        "positiveAgeDownCount": n,
        "negativeAgeDownCount": 0,
        "positiveAdultCount": 0,
        "negativeAdultCount": 0,
        "positiveSexualCount": 0,
        "negativeSexualCount": 0,
    }


def shieldstral(d: Draws) -> StepPlan:
    policies = vocab.SHIELDSTRAL_POLICIES
    inp = {**_prompt_mode(d, d.prompt), "policies": list(policies)}

    def output(ctx: OutputContext) -> dict[str, Any]:
        results = []
        for policy, score, triggered in _guard_results(ctx, policies, 0.6):
            results.append(
                {
                    "policy": policy,
                    "action": "block",
                    "threshold": 0.6,
                    "score": score,
                    "triggered": triggered,
                    "topToken": "unsafe" if triggered else "safe",
                }
            )
            ctx.verdict(is_blocked=triggered, category=policy, score=score)
        hits = [r["policy"] for r in results if r["triggered"]]
        return {"results": results, "blocked": bool(hits), "triggeredPolicies": hits}

    return StepPlan(
        "shieldstralModeration", inp, d.prompt, None, 1, {"base": 1}, (0.3, 2.5), "00:05:00", output
    )


def age_classification(d: Draws) -> StepPlan:
    inp = {"mediaUrl": d.url("jpeg"), "faceDetectionThreshold": 0.5}

    def output(ctx: OutputContext) -> dict[str, Any]:
        r = ctx.rng
        minor = r.random() < 0.08
        n = 1 + int(r.random() * 3)
        labels = []
        for i in range(n):
            is_minor = minor and i == 0
            labels.append(
                {
                    "age": pick(r, vocab.MINOR_AGE_LABELS if is_minor else vocab.ADULT_AGE_LABELS),
                    "isMinor": is_minor,
                    "boundingBox": [int(r.random() * 300), int(r.random() * 300), 400, 420],
                    "faceDetectionConfidence": round(0.6 + r.random() * 0.4, 4),
                }
            )
        ctx.verdict(has_minor=minor)
        return {
            "labels": {"image-0": labels},
            "hasMinor": minor,
            "numPredictions": n,
            "numFlagged": int(minor),
            "faceRecognitionAvailable": False,
        }

    return StepPlan(
        "ageClassification", inp, None, None, 1, {"base": 1}, (0.5, 4.0), "00:05:00", output
    )


def wd_tagging(d: Draws) -> StepPlan:
    inp = {"mediaUrl": d.url("jpeg"), "model": vocab.WD_TAGGER, "threshold": 0.35}

    def output(ctx: OutputContext) -> dict[str, Any]:
        r = ctx.rng
        tags = {
            t: round(0.35 + r.random() * 0.64, 4)
            for t in {pick(r, vocab.DANBOORU_TAGS) for _ in range(4)}
        }
        return {
            "tags": dict(sorted(tags.items())),
            "rating": {"general": 0.81, "sensitive": 0.14, "questionable": 0.04, "explicit": 0.01},
        }

    return StepPlan("wdTagging", inp, None, None, 1, {"base": 1}, (0.5, 3.0), "00:05:00", output)


def media_captioning(d: Draws) -> StepPlan:
    inp = {
        "model": "joy-caption",
        "mediaUrl": d.url("jpeg"),
        "temperature": 0.5,
        "maxNewTokens": 300,
    }
    caption = f"A picture of {d.prompt}."
    return StepPlan(
        "mediaCaptioning",
        inp,
        None,
        None,
        2,
        {"base": 2},
        (1.0, 8.0),
        "00:05:00",
        lambda ctx: {"caption": caption},
    )


def qwen_image_bench(d: Draws) -> StepPlan:
    n = d.count(1, 3)
    dims = ["alignment", "aesthetics"]
    inp = {
        "items": [
            {"id": f"item-{i}", "prompt": d.prompt, "image": d.url("jpeg")} for i in range(n)
        ],
        "maxTokens": 2048,
        "seed": 42,
        "dimensions": dims,
    }

    def output(ctx: OutputContext) -> dict[str, Any]:
        r = ctx.rng
        results = {}
        for i in range(n):
            scores = {k: round(r.random() * 10, 2) for k in dims}
            results[f"item-{i}"] = {
                "fieldScores": scores,
                "totalScore": round(sum(scores.values()) / len(dims), 2),
                "scores": [
                    {
                        "name": k,
                        "score": v,
                        "children": [{"name": f"{k}.overall", "score": v, "children": []}],
                    }
                    for k, v in scores.items()
                ],
                "errors": {},
            }
        return {"results": results}

    return StepPlan(
        "qwenImageBench",
        inp,
        None,
        None,
        4,
        {"base": 4, "items": n},
        (3.0, 30.0),
        "00:10:00",
        output,
    )


BUILDERS = {
    "mediaRating": media_rating,
    "xGuardModeration": x_guard,
    "shieldstralModeration": shieldstral,
    "ageClassification": age_classification,
    "wdTagging": wd_tagging,
    "mediaCaptioning": media_captioning,
    "qwenImageBench": qwen_image_bench,
}
