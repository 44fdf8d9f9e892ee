"""Every step type the simulator generates, and the mix of workflows it draws them in.

One builder per `$type` (the document's 45 plus `vocab.FUTURE_STEP_TYPE`), grouped by family
in the modules of this package. A builder turns the step's `Draws` into a `StepPlan`: its
input (shaped after the document's schema of that input), cost, duration, timeout and an
output builder.

The mix: most workflows draw from `COMMON_PLANS` (generation dominates, as on civitai.com,
with prompt and image moderation alongside). Every `RARE_STRIDE`-th workflow (by global
position) takes the next entry of a seeded rotation of `RARE_PLANS` instead (training, 3D,
audio, text, utilities, ...), so each rare plan shows up once per
`RARE_STRIDE * len(RARE_PLANS)` workflows: the default 3 days x 200 workflows see every
step type.
"""

from __future__ import annotations

from collections.abc import Callable
from random import Random

from simulator import vocab
from simulator.ids import mix
from simulator.model import StepPlan, Weighted
from simulator.steptypes import audio3d, image, media, moderation, training, video
from simulator.steptypes.common import Draws

BUILDERS: dict[str, Callable[[Draws], StepPlan]] = {
    **image.BUILDERS,
    **video.BUILDERS,
    **media.BUILDERS,
    **moderation.BUILDERS,
    **training.BUILDERS,
    **audio3d.BUILDERS,
}

Plan = tuple[str, str, tuple[str, ...]]  # (workflow tag, media tag, step types)

# (weight, workflow tag, media tag, step types)
COMMON_PLANS: tuple[tuple[float, str, str, tuple[str, ...]], ...] = (
    (28, "txt2img", "img", ("textToImage",)),
    (6, "img2img", "img", ("textToImage",)),
    (4, "txt2img", "img", ("textToImage", "imageUpscaler")),
    (3, "txt2img", "img", ("xGuardModeration", "textToImage")),
    (13, "txt2img", "img", ("imageGen",)),
    (8, "img2img:edit", "img", ("imageGen",)),
    (3, "txt2img", "img", ("imageGen", "mediaRating")),
    (2, "txt2img", "img", ("shieldstralModeration", "imageGen")),
    (7, "txt2vid", "vid", ("videoGen",)),
    (4, "img2vid", "vid", ("videoGen",)),
    (13, "comfy", "img", ("comfy",)),
    (3, "img-upscale", "img", ("imageUpscaler",)),
    (3, "media-rating", "img", ("mediaRating",)),
    (2, "img-tagging", "img", ("wdTagging",)),
    (2, "hyper", "img", (vocab.FUTURE_STEP_TYPE,)),
)
RARE_PLANS: tuple[Plan, ...] = (
    ("training", "img", ("training",)),
    ("training", "img", ("imageResourceTraining",)),
    (
        "model-scan",
        "model",
        ("modelHash", "modelClamScan", "modelPickleScan", "modelParseMetadata"),
    ),
    ("nodepack", "model", ("comfyNodepackSnapshot",)),
    ("custom-comfy", "img", ("customComfy",)),
    ("3d", "3d", ("polyGen", "model3DPreview")),
    ("music", "audio", ("aceStepAudio",)),
    ("music", "audio", ("miniMaxMusic3",)),
    ("tts", "audio", ("textToSpeech",)),
    ("transcribe", "audio", ("transcription",)),
    ("audio-caption", "audio", ("audioCaptioning",)),
    ("chat", "text", ("chatCompletion",)),
    ("prompt-enhance", "text", ("promptEnhancement",)),
    ("ping", "text", ("echo",)),
    ("upload", "img", ("imageUpload", "ageClassification")),
    ("upload", "img", ("imageUpload", "mediaRating")),
    ("convert", "img", ("convertImage",)),
    ("bg-removal", "img", ("imageBackgroundRemoval",)),
    ("svg", "img", ("imageToSvg",)),
    ("controlnet", "img", ("preprocessImage",)),
    ("archive", "img", ("blobArchive",)),
    ("hash", "img", ("mediaHash",)),
    ("caption", "img", ("mediaCaptioning",)),
    ("bench", "img", ("qwenImageBench",)),
    ("age-check", "img", ("ageClassification",)),
    ("vid-upscale", "vid", ("videoUpscaler",)),
    ("vid-enhance", "vid", ("videoEnhancement",)),
    ("vid-interpolate", "vid", ("videoInterpolation",)),
    ("vid-bg-removal", "vid", ("videoBackgroundRemoval",)),
    ("vid-frames", "vid", ("videoFrameExtraction", "videoMetadata")),
    ("transcode", "vid", ("transcode",)),
    ("compose", "vid", ("composeMedia",)),
    ("text-moderation", "text", ("xGuardModeration",)),
    ("text-moderation", "text", ("shieldstralModeration",)),
)
RARE_STRIDE = 8

_COMMON_PICK = Weighted(((tag, media, types), weight) for weight, tag, media, types in COMMON_PLANS)


class Catalog:
    """Which plan workflow `g` follows (seeded)."""

    def __init__(self, seed: int) -> None:
        self._phase = mix(seed, 0x5A7E) % RARE_STRIDE
        rotation = list(RARE_PLANS)
        Random(mix(seed, 0x4A4E)).shuffle(rotation)
        self._rotation = rotation

    def pick(self, g: int, rng: Random) -> Plan:
        common: Plan = _COMMON_PICK.pick(rng)  # drawn always: the stream stays the same
        if g % RARE_STRIDE == self._phase:
            return self._rotation[(g // RARE_STRIDE) % len(self._rotation)]
        return common


def plan_step(rng: Random, step_type: str, wf_tag: str) -> StepPlan:
    return BUILDERS[step_type](Draws(rng, wf_tag))
