"""Audio, 3D and text steps: aceStepAudio, miniMaxMusic3, textToSpeech, transcription,
audioCaptioning, polyGen (blobs nested under `basicAnimations`), model3DPreview,
chatCompletion, promptEnhancement and echo."""

from __future__ import annotations

from typing import Any

from simulator import vocab
from simulator.blobs import OutputContext
from simulator.model import StepPlan, pick
from simulator.steptypes.common import DEFAULT_TIMEOUT, Draws


def _audio_plan(
    step_type: str,
    inp: dict[str, Any],
    key: str,
    seconds: float,
    cost: int,
    extra: dict[str, Any] | None = None,
) -> StepPlan:
    def output(ctx: OutputContext) -> dict[str, Any]:
        out: dict[str, Any] = {key: ctx.blob("audio", f"$.{key}", "mp3", duration=seconds)}
        out.update(extra or {})
        return out

    return StepPlan(
        step_type,
        inp,
        None,
        None,
        cost,
        {"base": cost},
        (10.0, 120.0),
        DEFAULT_TIMEOUT,
        output,
        n_outputs=1,
    )


def ace_step_audio(d: Draws) -> StepPlan:
    seconds = float(d.count(30, 120))
    inp = {
        "musicDescription": f"lofi hip hop about {d.prompt.split(',')[0]}",
        "lyrics": vocab.LYRICS,
        "seed": d.seed & 0x7FFFFFFF,
        "duration": seconds,
        "bpm": d.count(70, 140),
        "timeSignature": "4",
        "language": "en",
        "key": pick(d.rng, ("C major", "A minor", "G major")),
        "steps": 8,
        "cfg": 1,
    }
    return _audio_plan("aceStepAudio", inp, "blob", seconds, 20)


def mini_max_music(d: Draws) -> StepPlan:
    seconds = float(d.count(30, 150))
    inp = {
        "caption": f"cinematic score, {d.prompt.split(',')[0]}",
        "lyrics": vocab.LYRICS,
        "seed": d.seed & 0x7FFFFFFF,
        "maxDuration": seconds,
    }
    return _audio_plan("miniMaxMusic3", inp, "blob", seconds, 30)


def text_to_speech(d: Draws) -> StepPlan:
    speaker = pick(d.rng, ("aiden", "serena", "vivian", "ryan"))
    text = f"Here is {d.prompt.split(',')[0]}."
    inp = {
        "engine": "custom",
        "text": text,
        "language": "en",
        "xVectorOnlyMode": False,
        "speaker": speaker,
    }
    return _audio_plan(
        "textToSpeech",
        inp,
        "audioBlob",
        round(len(text) / 14, 2),
        3,
        {"modelType": "qwen3-tts", "speaker": speaker},
    )


def transcription(d: Draws) -> StepPlan:
    words = d.prompt.split(", ")
    inp = {"mediaUrl": d.url("mp3"), "language": "en", "returnTimeStamps": True}

    def output(ctx: OutputContext) -> dict[str, Any]:
        stamps = [
            {"text": w, "startTime": 1.5 * i, "endTime": 1.5 * i + 1.2} for i, w in enumerate(words)
        ]
        return {
            "text": " ".join(words),
            "language": "en",
            "timeStamps": stamps,
            "elapsedSeconds": round(1 + ctx.rng.random() * 5, 3),
        }

    return StepPlan(
        "transcription", inp, None, None, 2, {"base": 2}, (2.0, 30.0), DEFAULT_TIMEOUT, output
    )


def audio_captioning(d: Draws) -> StepPlan:
    inp = {"mediaUrl": d.url("mp3"), "temperature": 0.7, "maxNewTokens": 256}
    caption = f"An instrumental track evoking {d.prompt.split(',')[0]}."
    return StepPlan(
        "audioCaptioning",
        inp,
        None,
        None,
        2,
        {"base": 2},
        (2.0, 20.0),
        DEFAULT_TIMEOUT,
        lambda ctx: {
            "results": {
                "0": {
                    "text": caption,
                    "caption": caption,
                    "bpm": "92",
                    "keyScale": "A minor",
                    "timeSignature": "4/4",
                    "duration": "00:01:30",
                    "language": "en",
                }
            }
        },
    )


def poly_gen(d: Draws) -> StepPlan:
    engine = pick(d.rng, ("comfy", "fal"))
    rigged = d.rng.random() < 0.5
    inp = {"engine": engine, "model": "hunyuan3d-2.1" if engine == "comfy" else "tripo3d-v2.5"}

    def output(ctx: OutputContext) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": ctx.blob("model3d", "$.model", "glb", fmt="glb"),
            "fbxModel": ctx.blob("model3d", "$.fbxModel", "fbx", fmt="fbx"),
            "thumbnail": ctx.blob("image", "$.thumbnail", "png", width=1024, height=1024),
        }
        if rigged:
            out["riggedModel"] = ctx.blob("model3d", "$.riggedModel", "glb", fmt="glb")
            out["basicAnimations"] = {
                "walkingModel": ctx.blob(
                    "model3d", "$.basicAnimations.walkingModel", "glb", fmt="glb"
                ),
                "walkingFbxModel": ctx.blob(
                    "model3d", "$.basicAnimations.walkingFbxModel", "fbx", fmt="fbx"
                ),
                "runningModel": ctx.blob(
                    "model3d", "$.basicAnimations.runningModel", "glb", fmt="glb"
                ),
            }
        return out

    return StepPlan(
        "polyGen", inp, None, None, 80, {"base": 80}, (60.0, 600.0), "01:00:00", output, n_outputs=1
    )


def model_3d_preview(d: Draws) -> StepPlan:
    poses = [
        {"name": name, "yaw": yaw, "pitch": 10, "distance": 2.8, "fov": 45}
        for name, yaw in (("front", 0), ("side", 90), ("back", 180))
    ]
    n = d.count(1, 3)
    inp = {
        "model": f"urn:air:other:model3d:civitai:{d.seed % 90_000 + 10_000}@{d.seed % 900_000 + 100_000}.glb",
        "width": 1024,
        "height": 1024,
        "outputFormat": "png",
        "cameraPoses": poses[:n],
        "format": "glb",
        "background": "#D9D9D9",
    }
    return StepPlan(
        "model3DPreview",
        inp,
        None,
        None,
        2,
        {"base": 2, "poses": n},
        (5.0, 40.0),
        DEFAULT_TIMEOUT,
        lambda ctx: {
            "images": [
                ctx.blob("image", f"$.images[{i}]", "png", width=1024, height=1024)
                for i in range(n)
            ]
        },
        n_outputs=n,
    )


def chat_completion(d: Draws) -> StepPlan:
    model = pick(d.rng, vocab.CHAT_MODELS)
    question = f"Write a better image prompt for: {d.prompt}"
    inp = {
        "model": model,
        "messages": [
            {"role": "system", "content": "You write prompts for image models."},
            {"role": "user", "content": [{"type": "text", "text": question}]},
        ],
        "temperature": 0.7,
        "maxTokens": 400,
    }
    bits = d.rng.getrandbits(64)

    def output(ctx: OutputContext) -> dict[str, Any]:
        answer = f"{d.prompt}, intricate details, soft rim light"
        prompt_tokens, completion_tokens = 40 + len(question) // 4, 10 + len(answer) // 4
        return {
            "id": f"chatcmpl-{bits:016x}",
            "object": "chat.completion",
            "created": 1_700_000_000 + ctx.index,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer},
                    "finishReason": "stop",
                }
            ],
            "usage": {
                "promptTokens": prompt_tokens,
                "completionTokens": completion_tokens,
                "totalTokens": prompt_tokens + completion_tokens,
            },
        }

    return StepPlan(
        "chatCompletion",
        inp,
        d.prompt,
        None,
        1,
        {"base": 1, "tokens": 0.5},
        (0.5, 8.0),
        "00:05:00",
        output,
    )


def prompt_enhancement(d: Draws) -> StepPlan:
    inp = {
        "ecosystem": "sdxl",
        "prompt": d.prompt,
        "negativePrompt": d.negative,
        "temperature": 0.4,
    }
    enhanced = f"{d.prompt}, masterpiece, best quality"
    return StepPlan(
        "promptEnhancement",
        inp,
        d.prompt,
        d.negative,
        1,
        {"base": 1},
        (0.5, 5.0),
        "00:05:00",
        lambda ctx: {
            "issues": [{"description": "The prompt names no lighting.", "severity": "low"}],
            "recommendations": ["Name a light source."],
            "enhancedPrompt": enhanced,
            "enhancedNegativePrompt": d.negative,
        },
    )


def echo(d: Draws) -> StepPlan:
    message = f"ping {d.seed:08x}"
    return StepPlan(
        "echo",
        {"message": message},
        None,
        None,
        0,
        {"base": 0},
        (0.05, 0.5),
        "00:01:00",
        lambda ctx: {"message": message},
    )


BUILDERS = {
    "aceStepAudio": ace_step_audio,
    "miniMaxMusic3": mini_max_music,
    "textToSpeech": text_to_speech,
    "transcription": transcription,
    "audioCaptioning": audio_captioning,
    "polyGen": poly_gen,
    "model3DPreview": model_3d_preview,
    "chatCompletion": chat_completion,
    "promptEnhancement": prompt_enhancement,
    "echo": echo,
}
