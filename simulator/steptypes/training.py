"""Training and model-file steps: training (blobs under `epochs[].model` and
`epochs[].samples[]`), imageResourceTraining (epochs given as URLs only, no blob), the model
scans (modelHash, modelClamScan, modelPickleScan, modelParseMetadata) and
comfyNodepackSnapshot (blobs under `results[]`)."""

from __future__ import annotations

from typing import Any

from simulator import vocab
from simulator.blobs import OutputContext
from simulator.model import BLOB_HOST, StepPlan, pick
from simulator.steptypes.common import Draws


def training(d: Draws) -> StepPlan:
    rng = d.rng
    eco, base_air, variant = pick(rng, vocab.TRAINING_BASES)
    epochs = d.count(2, 6)
    prompts = [f"{d.prompt.split(',')[0]}, {style}" for style in vocab.STYLES[: d.count(2, 3)]]
    trigger = f"tok{d.seed % 10_000}"
    video = eco == "ltx2"
    trace = rng.random() < 0.3
    inp: dict[str, Any] = {"engine": "ai-toolkit", "ecosystem": eco}
    if base_air:
        inp["model"] = base_air
    if variant:
        inp["modelVariant"] = variant
    inp |= {
        "trainingData": {
            "type": "zip",
            "sourceUrl": f"urn:air:{eco}:trainingdata:civitai:{d.seed % 900_000 + 100_000}@{d.seed % 9_000_000 + 1_000_000}.zip",
            "count": d.count(12, 60),
        },
        "samples": {"prompts": prompts, "negativePrompt": d.negative},
        "epochs": epochs,
        "batchSize": 1,
        "lr": 0.0001,
        "optimizerType": "adamw8bit",
        "networkDim": 32,
        "networkAlpha": 16,
        "triggerWord": trigger,
        "usesStepPricing": False,
        "requiresAgeClassification": True,
        "defaultSteps": 1500,
        "maxBatchSize": 4,
        "storageBuzzPerEpoch": 5,
    }
    cost = 500 + 25 * epochs

    def output(ctx: OutputContext) -> dict[str, Any]:
        out_epochs = []
        for e in range(epochs):
            model = ctx.blob("model", f"$.epochs[{e}].model", "safetensors")
            samples = [
                ctx.blob("video", f"$.epochs[{e}].samples[{i}]", "mp4", width=832, height=480)
                if video
                else ctx.blob(
                    "image", f"$.epochs[{e}].samples[{i}]", "jpeg", width=1024, height=1024
                )
                for i in range(len(prompts))
            ]
            epoch: dict[str, Any] = {"epochNumber": e + 1, "model": model, "samples": samples}
            if trace:
                # Seen in real training outputs though the document does not list it.
                epoch[vocab.FUTURE_FIELDS["epoch"]] = (
                    f"{BLOB_HOST}/v2/consumer/traces/{ctx.index}-{e}.txt?sig={ctx.index:08x}"
                )
            out_epochs.append(epoch)
        return {
            "moderationStatus": pick(ctx.rng, ("approved", "approved", "approved", "underReview")),
            "epochs": out_epochs,
        }

    plan = StepPlan(
        "training",
        inp,
        None,
        d.negative,
        cost,
        {"base": 500, "epochs": epochs},
        (1200.0, 5400.0),
        pick(rng, ("1.00:00:00", "1.00:00:00", "2.00:00:00", "P1D")),
        output,
        n_outputs=0,  # one job trains every epoch
        eco=eco,
        resource=base_air or f"urn:air:{eco}:checkpoint:civitai:0@0",
    )
    return plan


def image_resource_training(d: Draws) -> StepPlan:
    epochs = d.count(3, 8)
    prompts = [d.prompt, f"{d.prompt.split(',')[0]}, portrait"]
    inp = {
        "engine": "kohya",
        "model": vocab.CHECKPOINTS[0][0],
        "trainingData": d.url("zip"),
        "trainingDataImagesCount": d.count(10, 40),
        "loraName": f"lora-{d.seed % 10_000}",
        "samplePrompts": prompts,
        "maxTrainEpochs": epochs,
        "numRepeats": 8,
        "resolution": 1024,
        "networkDim": 32,
        "networkAlpha": 16,
    }

    def output(ctx: OutputContext) -> dict[str, Any]:
        rng = ctx.rng
        result = []
        for e in range(epochs):
            name = f"lora-{ctx.index}_e{e + 1:06d}.safetensors"
            result.append(
                {
                    "epochNumber": e + 1,
                    "blobName": name,
                    "blobUrl": f"{BLOB_HOST}/v1/consumer/jobs/files/{name}?sig={rng.getrandbits(48):012x}",
                    "blobSize": 228_000_000 + int(rng.random() * 1_000_000),
                    "sampleImages": [
                        f"{BLOB_HOST}/v1/consumer/jobs/files/{ctx.index}-{e}-{i}.jpeg?sig={rng.getrandbits(48):012x}"
                        for i in range(len(prompts))
                    ],
                }
            )
        return {"moderationStatus": "approved", "epochs": result, "sampleImagesPrompts": prompts}

    return StepPlan(
        "imageResourceTraining",
        inp,
        None,
        None,
        500,
        {"base": 500},
        (1200.0, 5400.0),
        "1.00:00:00",
        output,
        resource=vocab.CHECKPOINTS[0][0],
    )


def _model_step(step_type: str, d: Draws, output: Any, seconds: tuple[float, float]) -> StepPlan:
    model = pick(d.rng, vocab.LORAS)[0]
    return StepPlan(
        step_type,
        {"model": model},
        None,
        None,
        1,
        {"base": 1},
        seconds,
        "00:30:00",
        output,
        resource=model,
    )


def model_hash(d: Draws) -> StepPlan:
    bits = d.rng.getrandbits(256)
    sha = f"{bits:064x}"
    return _model_step(
        "modelHash",
        d,
        lambda ctx: {
            "sha256": sha.upper(),
            "autoV1": sha[:8],
            "autoV2": sha[:10].upper(),
            "autoV3": sha[10:22].upper(),
            "blake3": sha[::-1],
            "crc32": sha[22:30].upper(),
        },
        (5.0, 60.0),
    )


def model_clam_scan(d: Draws) -> StepPlan:
    infected = d.rng.random() < 0.01

    def output(ctx: OutputContext) -> dict[str, Any]:
        return {
            "exitCode": int(infected),
            "output": "model.safetensors: Win.Test.EICAR FOUND"
            if infected
            else "model.safetensors: OK",
            "status": "infected" if infected else "clean",
            "infected": infected,
            "infectedFileCount": int(infected),
            "scannedFileCount": 1,
        }

    return _model_step("modelClamScan", d, output, (5.0, 90.0))


def model_pickle_scan(d: Draws) -> StepPlan:
    dangerous = d.rng.random() < 0.02

    def output(ctx: OutputContext) -> dict[str, Any]:
        if not dangerous:
            return {
                "exitCode": 0,
                "status": "skippedSafetensors",
                "skipped": True,
                "skipReason": "safetensors",
                "scannedFileCount": 0,
            }
        return {
            "exitCode": 1,
            "output": "dangerous import os.system",
            "globalImports": ["collections.OrderedDict", "os.system"],
            "dangerousImports": ["os.system"],
            "status": "dangerousImportsFound",
            "dangerousImportsFound": True,
            "scannedFileCount": 1,
            "infectedFileCount": 1,
            "dangerousGlobalCount": 1,
        }

    return _model_step("modelPickleScan", d, output, (5.0, 60.0))


def model_parse_metadata(d: Draws) -> StepPlan:
    meta = f'{{"ss_base_model_version":"sdxl_base_v1-0","ss_output_name":"lora-{d.seed % 1000}","ss_network_dim":"32"}}'
    return _model_step("modelParseMetadata", d, lambda ctx: {"metadata": meta}, (1.0, 10.0))


def comfy_nodepack_snapshot(d: Draws) -> StepPlan:
    packs = list(vocab.NODEPACKS[: d.count(1, len(vocab.NODEPACKS))])
    inp = {"comfyImage": vocab.COMFY_IMAGE, "nodepacks": packs, "minVramGb": 12}

    def output(ctx: OutputContext) -> dict[str, Any]:
        results = []
        for i, pack in enumerate(packs):
            digest = f"{ctx.rng.getrandbits(32):08x}"
            results.append(
                {
                    "nodepack": pack,
                    "layerAir": f"urn:air:comfy:nodepacklayer:civitai:{pack.rsplit(':', 1)[-1]}+{digest}",
                    "layer": ctx.blob("file", f"$.results[{i}].layer", "tar"),
                    "objectInfo": ctx.blob("file", f"$.results[{i}].objectInfo", "json"),
                    "web": ctx.blob("file", f"$.results[{i}].web", "zip"),
                }
            )
        return {"results": results}

    return StepPlan(
        "comfyNodepackSnapshot",
        inp,
        None,
        None,
        10,
        {"base": 10, "nodepacks": len(packs)},
        (60.0, 600.0),
        "01:00:00",
        output,
        resource=vocab.COMFY_IMAGE,
    )


BUILDERS = {
    "training": training,
    "imageResourceTraining": image_resource_training,
    "modelHash": model_hash,
    "modelClamScan": model_clam_scan,
    "modelPickleScan": model_pickle_scan,
    "modelParseMetadata": model_parse_metadata,
    "comfyNodepackSnapshot": comfy_nodepack_snapshot,
}
