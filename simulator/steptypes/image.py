"""Image generation steps: textToImage, imageGen, comfy, customComfy, and one step type newer
than the document (`vocab.FUTURE_STEP_TYPE`) whose blobs sit in lists of lists."""

from __future__ import annotations

from typing import Any

from simulator import vocab
from simulator.blobs import OutputContext
from simulator.model import StepPlan, pick
from simulator.steptypes.common import DEFAULT_TIMEOUT, Draws


def _images(ctx: OutputContext, n: int, ext: str, w: int, h: int) -> list[dict[str, Any]]:
    return [ctx.blob("image", f"$.images[{i}]", ext, width=w, height=h) for i in range(n)]


def text_to_image(d: Draws) -> StepPlan:
    rng = d.rng
    air, eco, _base_model, _vid = pick(rng, vocab.CHECKPOINTS)
    steps = d.count(20, 40)
    width, height, quantity = d.width, d.height, d.quantity
    inp: dict[str, Any] = {
        "model": air,
        "prompt": d.prompt,
        "negativePrompt": d.negative,
        "scheduler": pick(rng, vocab.SCHEDULERS),
        "steps": steps,
        "cfgScale": pick(rng, (3.5, 5, 7, 7.5)),
        "width": width,
        "height": height,
        "seed": d.seed,
        "clipSkip": 2,
        "quantity": quantity,
        "batchSize": 1,
    }
    if rng.random() < 0.5:
        lora, _ = pick(rng, vocab.LORAS)
        inp["additionalNetworks"] = {lora: {"strength": 0.8, "type": "Lora"}}
    if d.wf_tag == "img2img":
        inp["sourceImage"] = d.url()
        inp["sourceImageDenoiseStrenght"] = 0.7
    per_image = max(1, round(width * height / 1024**2 * steps / 25 * 4))
    return StepPlan(
        "textToImage",
        inp,
        d.prompt,
        d.negative,
        per_image * quantity,
        {
            "size": round(width * height / 1024**2, 4),
            "steps": round(steps / 25, 4),
            "quantity": quantity,
        },
        (3.0, 25.0),
        DEFAULT_TIMEOUT,
        lambda ctx: {"images": _images(ctx, quantity, "jpeg", width, height)},
        n_outputs=quantity,
        eco=eco,
        quantity=quantity,
        scanned=True,
        resource=air,
    )


def _image_gen_input(
    d: Draws, engine: str, q: int, edit: bool
) -> tuple[dict[str, Any], int, int, int]:
    """(input, base cost, width, height) of one imageGen engine."""
    if engine == "gemini":
        inp: dict[str, Any] = {
            "engine": "gemini",
            "model": "2.5-flash",
            "operation": "editImage" if edit else "createImage",
            "prompt": vocab.EDIT_PROMPTS[d.seed % len(vocab.EDIT_PROMPTS)] if edit else d.prompt,
            "quantity": q,
            "outputFormat": "jpeg",
        }
        if edit:
            inp["images"] = [d.url()]
        return inp, 60, 1024, 1024
    if engine == "openai":
        size = ("1024x1024", "1536x1024", "1024x1536")[d.seed % 3]
        w, h = (int(x) for x in size.split("x"))
        inp = {
            "engine": "openai",
            "model": "gpt-image-1",
            "operation": "createImage",
            "prompt": d.prompt,
            "size": size,
            "quantity": q,
            "quality": ("auto", "high", "medium", "low")[d.seed % 4],
        }
        return inp, 40, w, h
    if engine == "flux2":
        w, h = max(d.width, 512), max(d.height, 512)
        inp = {
            "engine": "flux2",
            "model": "dev",
            "operation": "createImage",
            "prompt": d.prompt[:1000],
            "width": w,
            "height": h,
            "seed": d.seed,
            "quantity": q,
            "guidanceScale": 2.5,
            "numInferenceSteps": 28,
        }
        return inp, 25, w, h
    inp = {
        "engine": "seedream",
        "version": "v4",
        "prompt": d.prompt,
        "quantity": q,
        "width": 2048,
        "height": 2048,
        "seed": d.seed & 0x7FFFFFFF,
    }
    if edit:
        inp["images"] = [d.url()]
    return inp, 30, 2048, 2048


def image_gen(d: Draws) -> StepPlan:
    rng = d.rng
    engine, eco = pick(rng, vocab.IMAGE_GEN_ENGINES)
    edit = d.wf_tag == "img2img:edit"
    q = min(d.quantity, 4)
    inp, base, w, h = _image_gen_input(d, engine, q, edit)
    if rng.random() < 0.4:
        inp["imageMetadata"] = (
            f'{{"workflow":"{d.wf_tag}","prompt":"{inp["prompt"]}","quantity":{q}}}'
        )

    def output(ctx: OutputContext) -> dict[str, Any]:
        out: dict[str, Any] = {"images": _images(ctx, q, "jpeg", w, h)}
        if ctx.status == "failed":
            out["errors"] = [ctx.fail_msg]
        return out

    return StepPlan(
        "imageGen",
        inp,
        inp["prompt"],
        None,
        base * q,
        {"base": base, "quantity": q},
        (4.0, 40.0),
        DEFAULT_TIMEOUT,
        output,
        n_outputs=q,
        eco=eco,
        quantity=q,
        scanned=True,
        fails_with_output=True,
    )


def _comfy_graph(air: str, d: Draws) -> dict[str, Any]:
    return {
        "4": {"classType": "CheckpointLoaderSimple", "inputs": {"ckpt_name": air}},
        "6": {"classType": "CLIPTextEncode", "inputs": {"text": d.prompt, "clip": [4, 1]}},
        "3": {
            "classType": "KSampler",
            "inputs": {
                "seed": d.seed,
                "steps": 25,
                "cfg": 7,
                "sampler_name": "euler",
                "model": [4, 0],
            },
        },
        "5": {
            "classType": "EmptyLatentImage",
            "inputs": {"width": d.width, "height": d.height, "batch_size": 1},
        },
    }


def comfy(d: Draws) -> StepPlan:
    air, eco, _bm, _vid = pick(d.rng, vocab.CHECKPOINTS)
    q, w, h = d.quantity, d.width, d.height
    return StepPlan(
        "comfy",
        {"comfyWorkflow": _comfy_graph(air, d), "quantity": q},
        d.prompt,
        None,
        8 * q,
        {"base": 8, "quantity": q},
        (5.0, 60.0),
        DEFAULT_TIMEOUT,
        lambda ctx: {
            "blobs": [
                ctx.blob("image", f"$.blobs[{i}]", "png", width=w, height=h) for i in range(q)
            ]
        },
        n_outputs=q,
        eco=eco,
        quantity=q,
        scanned=True,
        resource=air,
    )


def custom_comfy(d: Draws) -> StepPlan:
    rng = d.rng
    air, eco, _bm, _vid = pick(rng, vocab.CHECKPOINTS)
    lora, _ = pick(rng, vocab.LORAS)
    trace = pick(rng, ("none", "none", "logs", "binary"))
    w, h = d.width, d.height
    n_temp = d.count(0, 2)
    runtime = d.ratio(8, 120, 2)
    inp = {
        "resources": [air, lora],
        "workflow": _comfy_graph(air, d),
        "trace": trace,
        "comfyImage": vocab.COMFY_IMAGE,
        "minVramGb": 16,
    }

    def output(ctx: OutputContext) -> dict[str, Any]:
        out: dict[str, Any] = {
            "blobs": [ctx.blob("image", "$.blobs[0]", "png", width=w, height=h)],
            "tempBlobs": [
                ctx.blob("image", f"$.tempBlobs[{i}]", "png", width=w // 2, height=h // 2)
                for i in range(n_temp)
            ],
        }
        if trace != "none":
            ext = "txt" if trace == "logs" else "bin"
            out["traceUrl"] = f"{vocab.TRACE_HOST}/{ctx.codec.seed % 997}/{ctx.index}.{ext}"
        out["usage"] = {
            "buzzPerSecond": 0.25,
            "runtimeSeconds": runtime,
            "estimatedCost": round(runtime * 0.25, 2),
            "startedAt": ctx.time_text(-runtime),
            "computedAt": ctx.time_text(),
        }
        return out

    return StepPlan(
        "customComfy",
        inp,
        d.prompt,
        None,
        30,
        {"base": 30, "runtime": runtime},
        (10.0, 120.0),
        DEFAULT_TIMEOUT,
        output,
        n_outputs=1,
        eco=eco,
        scanned=True,
        resource=air,
    )


def future_type(d: Draws) -> StepPlan:
    """A step type newer than the published document; its output nests blobs in lists of
    lists and objects, which only a walk of the whole output finds."""
    q, w, h = min(d.quantity, 2), d.width, d.height
    inp = {
        "engine": "hyper",
        "prompt": d.prompt,
        "negativePrompt": d.negative,
        "width": w,
        "height": h,
        "quantity": q,
        "seed": d.seed,
        "model": "urn:air:hyper:checkpoint:civitai:999001@999002",
    }

    def output(ctx: OutputContext) -> dict[str, Any]:
        layers = [
            [
                ctx.blob("image", f"$.artifacts[{i}][{j}]", "png", width=w, height=h)
                for j in range(2)
            ]
            for i in range(q)
        ]
        preview = {
            "frames": [ctx.blob("image", "$.preview.frames[0]", "png", width=w // 4, height=h // 4)]
        }
        return {"artifacts": layers, "preview": preview, "hologramDepth": 1 + ctx.index % 3}

    return StepPlan(
        vocab.FUTURE_STEP_TYPE,
        inp,
        d.prompt,
        d.negative,
        35,
        {"base": 35},
        (5.0, 30.0),
        DEFAULT_TIMEOUT,
        output,
        n_outputs=2 * q + 1,
        eco="Hyper",
        quantity=q,
        scanned=True,
    )


BUILDERS = {
    "textToImage": text_to_image,
    "imageGen": image_gen,
    "comfy": comfy,
    "customComfy": custom_comfy,
    vocab.FUTURE_STEP_TYPE: future_type,
}
