"""Image utility steps: imageUpscaler, convertImage, imageBackgroundRemoval, imageToSvg,
preprocessImage, imageUpload (whose `input` is a bare string), blobArchive (a signed archive
URL, no blob) and mediaHash."""

from __future__ import annotations

from typing import Any

from simulator import vocab
from simulator.blobs import OutputContext
from simulator.model import BLOB_HOST, StepPlan, pick
from simulator.steptypes.common import DEFAULT_TIMEOUT, Draws


def _one_image(
    step_type: str,
    inp: Any,
    key: str,
    ext: str,
    w: int,
    h: int,
    cost: int,
    seconds: tuple[float, float],
) -> StepPlan:
    """A step whose output is `{key: ImageBlob}`."""
    return StepPlan(
        step_type,
        inp,
        None,
        None,
        cost,
        {"base": cost},
        seconds,
        DEFAULT_TIMEOUT,
        lambda ctx: {key: ctx.blob("image", f"$.{key}", ext, width=w, height=h)},
        n_outputs=1,
    )


def image_upscaler(d: Draws) -> StepPlan:
    inp = {"image": d.url(), "model": vocab.UPSCALER_MODEL, "numberOfRepeats": 1}
    return _one_image(
        "imageUpscaler", inp, "blob", "png", d.width * 2, d.height * 2, 12, (2.0, 12.0)
    )


def convert_image(d: Draws) -> StepPlan:
    rng = d.rng
    fmt = pick(rng, ("jpeg", "webp", "png"))
    output: dict[str, Any] = {"format": fmt, "hideMetadata": rng.random() < 0.5}
    if fmt in ("jpeg", "webp"):
        output["quality"] = 85
    transforms: list[dict[str, Any]] = [{"type": "resize", "targetWidth": 512}]
    if rng.random() < 0.3:
        transforms.append(
            {
                "type": "blur",
                "blur": 40,
                "mode": "include",
                "regions": [{"x1": 0, "y1": 0, "x2": 128, "y2": 128}],
            }
        )
    inp = {"image": d.url(), "transforms": transforms, "output": output}
    h = round(512 * d.height / d.width)
    return _one_image("convertImage", inp, "blob", fmt, 512, h, 1, (0.3, 2.0))


def image_background_removal(d: Draws) -> StepPlan:
    inp = {"image": d.url(), "format": "png"}
    return _one_image(
        "imageBackgroundRemoval", inp, "image", "png", d.width, d.height, 4, (1.0, 6.0)
    )


def image_to_svg(d: Draws) -> StepPlan:
    inp = {"engine": "comfy", "image": d.url(), "ecosystem": "sdxl"}
    return _one_image("imageToSvg", inp, "svg", "svg", d.width, d.height, 6, (2.0, 15.0))


def preprocess_image(d: Draws) -> StepPlan:
    kind = pick(d.rng, ("canny", "depth-anything-v2", "hed"))
    inp: dict[str, Any] = {
        "kind": kind,
        "image": d.url(),
        "resolution": 512,
        "preprocessorType": kind,
    }
    if kind == "canny":
        inp.update(lowThreshold=100, highThreshold=200)
    elif kind == "depth-anything-v2":
        inp["checkpoint"] = "depth_anything_v2_vitl.pth"
    else:
        inp["safe"] = "enable"
    return _one_image("preprocessImage", inp, "blob", "png", 512, 512, 1, (0.5, 4.0))


def image_upload(d: Draws) -> StepPlan:
    # The document types this step's input as a plain string: the URL to ingest.
    source = f"https://images.example.invalid/uploads/{d.seed:08x}.jpeg"
    return _one_image("imageUpload", source, "blob", "jpeg", d.width, d.height, 0, (0.3, 3.0))


def blob_archive(d: Draws) -> StepPlan:
    n = d.count(2, 6)
    fmt = pick(d.rng, ("zip", "tar"))
    entries = [
        {"blobId": f"{d.url('jpeg').split('/')[-1].split('?')[0]}", "fileName": f"image-{i}.jpeg"}
        for i in range(n)
    ]
    bits = d.rng.getrandbits(64)

    def output(ctx: OutputContext) -> dict[str, Any]:
        token = f"{bits:016x}{ctx.index:08x}"
        return {
            "url": f"{BLOB_HOST}/v2/consumer/blobs/archive/{token}?sig={bits ^ 0xA5A5:016x}",
            "entryCount": n,
            "format": fmt,
            "expiresAt": ctx.time_text(86_400),
        }

    return StepPlan(
        "blobArchive",
        {"entries": entries, "archiveName": f"batch-{d.seed % 1000}", "format": fmt},
        None,
        None,
        1,
        {"base": 1},
        (1.0, 10.0),
        DEFAULT_TIMEOUT,
        output,
    )


def media_hash(d: Draws) -> StepPlan:
    kinds = ["perceptual", "perceptualDct"]
    bits = d.rng.getrandbits(128)
    return StepPlan(
        "mediaHash",
        {"mediaUrl": d.url("jpeg"), "hashTypes": kinds},
        None,
        None,
        1,
        {"base": 1},
        (0.2, 1.5),
        "00:05:00",
        lambda ctx: {
            "hashes": {
                "perceptual": f"{bits >> 64:016x}",
                "perceptualDct": f"{bits & (2**64 - 1):016x}",
            }
        },
    )


BUILDERS = {
    "imageUpscaler": image_upscaler,
    "convertImage": convert_image,
    "imageBackgroundRemoval": image_background_removal,
    "imageToSvg": image_to_svg,
    "preprocessImage": preprocess_image,
    "imageUpload": image_upload,
    "blobArchive": blob_archive,
    "mediaHash": media_hash,
}
