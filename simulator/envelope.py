"""A workflow's own fields around its steps: metadata (what civitai.com stores there),
callbacks and its NSFW level."""

from __future__ import annotations

from random import Random
from typing import Any

from simulator import vocab
from simulator.model import NSFW_ORDER, SIGNALS_HOST, BlobInfo, StepPlan


def metadata(
    rng: Random, api_user: bool, wf_tag: str, priority: str, first: StepPlan, private: bool
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
    params["quantity"] = max(first.quantity, 1)
    inp = first.input if isinstance(first.input, dict) else {}
    seed = inp.get("seed")
    if seed is not None:
        params["seed"] = seed
    if first.eco:
        params["ecosystem"] = first.eco
    resources: list[dict[str, Any]] = []
    model = inp.get("model")
    for air, _eco, base_model, version_id in vocab.CHECKPOINTS:
        if air == model:
            params["baseModel"] = base_model
            resources.append({"id": version_id, "model": {"type": "Checkpoint"}})
    if "additionalNetworks" in inp:
        _lora, vid = vocab.LORAS[lora_draw]
        resources.append({"id": vid, "model": {"type": "LORA"}, "strength": 0.8})
    return {"params": params, "resources": resources, "isPrivateGeneration": private}


def callbacks(api_user: bool, user: int, first_type: str, bits: int) -> list[dict[str, Any]]:
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
    kind = {"videoGen": "video-gen", "comfy": "comfy", "training": "training"}.get(
        first_type, "text-to-image"
    )
    return [
        {
            "url": f"{SIGNALS_HOST}/users/{user}/signals/orchestrator:{kind}-update",
            "type": ["step:*"],
        }
    ]


def nsfw_level(blobs: list[BlobInfo]) -> str | None:
    """The workflow's level: the highest of its blobs' (`na` when they only say `na`)."""
    levels = [b.blob.get("nsfwLevel") for b in blobs if b.blob.get("nsfwLevel")]
    ranked = [lvl for lvl in levels if lvl in NSFW_ORDER]
    if ranked:
        return max(ranked, key=NSFW_ORDER.__getitem__)
    return "na" if levels else None
