"""Video steps: videoGen (with `additionalVideos` and `draftCache`), the video utilities
(upscale, enhance, interpolate, background removal, frame extraction, metadata), transcode
(whose output is itself a blob) and composeMedia."""

from __future__ import annotations

from typing import Any

from simulator import vocab
from simulator.blobs import OutputContext
from simulator.ids import TICKS_PER_SECOND, timespan
from simulator.model import StepPlan, pick
from simulator.steptypes.common import DEFAULT_TIMEOUT, Draws


def _video_gen_input(
    d: Draws, engine: str, image: str | None
) -> tuple[dict[str, Any], int, int, int, int]:
    """(input, base cost, width, height, videos) of one videoGen engine."""
    seed = d.seed & 0x7FFFFFFF
    if engine == "wan":
        inp: dict[str, Any] = {
            "engine": "wan",
            "version": "v2.1",
            "provider": "civitai",
            "prompt": d.prompt,
            "cfgScale": 4,
            "frameRate": 16,
            "duration": 5,
            "seed": seed,
            "steps": 20,
            "width": 832,
            "height": 480,
            "model": vocab.WAN_MODEL,
        }
        if image:
            inp["images"] = [image]
        return inp, 150, 832, 480, 1
    if engine == "kling":
        inp = {
            "engine": "kling",
            "prompt": d.prompt,
            "model": "v2",
            "negativePrompt": d.negative,
            "cfgScale": 0.5,
            "mode": "standard",
            "aspectRatio": "16:9",
            "duration": "5",
        }
        if image:
            inp["sourceImage"] = image
        return inp, 400, 1280, 720, 1
    if engine == "veo3":
        inp = {
            "engine": "veo3",
            "prompt": d.prompt,
            "negativePrompt": d.negative,
            "aspectRatio": "16:9",
            "duration": 8,
            "generateAudio": d.seed % 2 == 0,
            "seed": seed,
            "version": "3.1",
            "mode": "fast",
        }
        if image:
            inp["images"] = [image]
        return inp, 600, 1280, 720, 1
    # LTX 2.3 batches several videos in one job: the extras go to `additionalVideos`.
    quantity = 1 + d.seed % 3
    inp = {
        "engine": "ltx2.3",
        "operation": "createVideo",
        "prompt": d.prompt,
        "negativePrompt": d.negative,
        "seed": seed,
        "duration": 5,
        "width": 1280,
        "height": 720,
        "fps": 24,
        "generateAudio": True,
        "steps": 20,
        "model": "22b-distilled",
        "quantity": quantity,
    }
    return inp, 120 * quantity, 1280, 720, quantity


def video_gen(d: Draws) -> StepPlan:
    engine, eco = pick(d.rng, vocab.VIDEO_ENGINES)
    image = d.url() if d.wf_tag == "img2vid" else None
    draft = d.rng.random() < 0.2
    inp, base, w, h, videos = _video_gen_input(d, engine, image)

    def output(ctx: OutputContext) -> dict[str, Any]:
        out: dict[str, Any] = {"video": ctx.blob("video", "$.video", "mp4", width=w, height=h)}
        if videos > 1:
            out["additionalVideos"] = [
                ctx.blob("video", f"$.additionalVideos[{i}]", "mp4", width=w, height=h)
                for i in range(videos - 1)
            ]
        if draft:
            out["draftCache"] = ctx.blob(
                "video", "$.draftCache", "mp4", width=w // 4, height=h // 4
            )
        return out

    return StepPlan(
        "videoGen",
        inp,
        d.prompt,
        inp.get("negativePrompt"),
        base,
        {"base": base, "duration": 5},
        (60.0, 400.0),
        "01:00:00",
        output,
        n_outputs=videos + draft,
        eco=eco,
        quantity=videos,
        scanned=True,
        resource=vocab.WAN_MODEL if engine == "wan" else None,
    )


def _video_in(d: Draws, step_type: str, inp: dict[str, Any], scale: int, cost: int) -> StepPlan:
    """A step that turns one video into another (`{video: VideoBlob}`)."""
    w, h = 832 * scale, 480 * scale
    return StepPlan(
        step_type,
        inp,
        None,
        None,
        cost,
        {"base": cost},
        (20.0, 180.0),
        "00:30:00",
        lambda ctx: {"video": ctx.blob("video", "$.video", "mp4", width=w, height=h)},
        n_outputs=1,
    )


def video_upscaler(d: Draws) -> StepPlan:
    return _video_in(d, "videoUpscaler", {"video": d.url("mp4"), "scaleFactor": 2}, 2, 40)


def video_enhancement(d: Draws) -> StepPlan:
    inp = {
        "sourceUrl": d.url("mp4"),
        "upscaler": {"model": vocab.VIDEO_UPSCALER_MODEL, "width": 1664, "height": 960},
        "interpolation": {"multiplier": 2},
    }
    return _video_in(d, "videoEnhancement", inp, 2, 60)


def video_interpolation(d: Draws) -> StepPlan:
    inp = {"video": d.url("mp4"), "interpolationFactor": 2, "model": "VFIMamba"}
    return _video_in(d, "videoInterpolation", inp, 1, 25)


def video_background_removal(d: Draws) -> StepPlan:
    inp = {
        "video": d.url("mp4"),
        "foregroundPoints": [{"x": d.ratio(0.3, 0.7), "y": d.ratio(0.3, 0.7)}],
        "maskFeather": 2,
    }
    return _video_in(d, "videoBackgroundRemoval", inp, 1, 30)


def video_frame_extraction(d: Draws) -> StepPlan:
    frames = d.count(2, 5)
    inp = {"videoUrl": d.url("mp4"), "frameRate": 1, "uniqueThreshold": 0.9, "maxFrames": frames}

    def output(ctx: OutputContext) -> dict[str, Any]:
        return {
            "frames": [
                ctx.blob("image", f"$.frames[{i}]", "jpeg", width=832, height=480)
                for i in range(frames)
            ],
            "totalFramesExtracted": frames,
        }

    return StepPlan(
        "videoFrameExtraction",
        inp,
        None,
        None,
        2,
        {"base": 2},
        (2.0, 15.0),
        "00:10:00",
        output,
        n_outputs=frames,
    )


def video_metadata(d: Draws) -> StepPlan:
    seconds = d.ratio(2, 12, 3)
    fps = pick(d.rng, (16, 24, 25, 30))
    return StepPlan(
        "videoMetadata",
        {"video": d.url("mp4")},
        None,
        None,
        1,
        {"base": 1},
        (0.5, 3.0),
        "00:05:00",
        lambda ctx: {
            "width": 1280,
            "height": 720,
            "fps": fps,
            "duration": timespan(int(seconds * TICKS_PER_SECOND)),
        },
    )


def transcode(d: Draws) -> StepPlan:
    inp = {"sourceUrl": d.url("mp4"), "containerFormat": pick(d.rng, ("mp4", "webM")), "width": 720}
    return StepPlan(
        "transcode",
        inp,
        None,
        None,
        3,
        {"base": 3},
        (5.0, 40.0),
        "00:10:00",
        # The output *is* the blob: `{id, available, url, urlExpiresAt, jobId}`.
        lambda ctx: ctx.blob("video", "$", "mp4", bare=True),
        n_outputs=1,
    )


def compose_media(d: Draws) -> StepPlan:
    rng = d.rng
    n = d.count(2, 3)
    lengths = [d.ratio(2, 6, 2) for _ in range(n)]
    elements: list[dict[str, Any]] = [
        {
            "url": d.url("mp4"),
            "offset": 0,
            "transformers": [{"type": "fadeIn", "durationMs": 250}],
        }
        for _ in range(n)
    ]
    inp = {
        "elements": elements,
        "canvas": {"width": 1280, "height": 720, "fps": 30, "background": "#000000"},
        "output": {"type": "video", "container": "mp4"},
    }
    if rng.random() < 0.5:
        elements.append(
            {"url": d.url("mp3"), "offset": 0, "transformers": [{"type": "volume", "db": -6}]}
        )

    def output(ctx: OutputContext) -> dict[str, Any]:
        starts = [round(sum(lengths[:i]), 2) for i in range(n)]
        return {
            "type": "video",
            "elements": [{"startSeconds": starts[i], "duration": lengths[i]} for i in range(n)],
            "videoBlob": ctx.blob("video", "$.videoBlob", "mp4", width=1280, height=720),
        }

    return StepPlan(
        "composeMedia",
        inp,
        None,
        None,
        5,
        {"base": 5, "elements": n},
        (5.0, 60.0),
        DEFAULT_TIMEOUT,
        output,
        n_outputs=1,
    )


BUILDERS = {
    "videoGen": video_gen,
    "videoUpscaler": video_upscaler,
    "videoEnhancement": video_enhancement,
    "videoInterpolation": video_interpolation,
    "videoBackgroundRemoval": video_background_removal,
    "videoFrameExtraction": video_frame_extraction,
    "videoMetadata": video_metadata,
    "transcode": transcode,
    "composeMedia": compose_media,
}
