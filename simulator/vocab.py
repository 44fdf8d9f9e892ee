"""Word lists and catalogues the generated data draws from."""

from __future__ import annotations

SUBJECTS = (
    "a red fox",
    "an astronaut",
    "a lighthouse",
    "a samurai",
    "a cyberpunk street",
    "a cat",
    "a dragon",
    "a mountain village",
    "a robot",
    "a portrait of a woman",
    "a knight",
    "a bowl of ramen",
    "a sailing ship",
    "an owl",
    "a witch",
    "a desert caravan",
    "a steampunk airship",
    "a koi pond",
    "a neon diner",
    "a forest spirit",
)
SETTINGS = (
    "at sunset",
    "in the rain",
    "under a full moon",
    "in a snowy forest",
    "on a busy market",
    "in outer space",
    "at golden hour",
    "in a misty valley",
    "inside a cathedral",
    "by the sea",
)
STYLES = (
    "cinematic lighting",
    "watercolor",
    "oil painting",
    "highly detailed",
    "anime style",
    "photorealistic",
    "35mm film",
    "isometric",
    "studio ghibli style",
    "volumetric fog",
    "8k",
    "sharp focus",
    "concept art",
    "pixel art",
)
NEGATIVES = (
    "blurry, lowres, bad anatomy",
    "worst quality, low quality, watermark",
    "extra fingers, deformed hands, text",
    "jpeg artifacts, signature, cropped",
)
EDIT_PROMPTS = (
    "make the background solid white",
    "turn it into a pencil sketch",
    "add falling snow",
    "change the season to autumn",
    "remove the people in the background",
)

# (AIR, ecosystem tag, metadata baseModel, model version id)
CHECKPOINTS = (
    ("urn:air:sdxl:checkpoint:civitai:101055@128078", "SDXL", "SDXL 1.0", 128078),
    ("urn:air:pony:checkpoint:civitai:257749@290640", "Pony", "Pony", 290640),
    ("urn:air:illustrious:checkpoint:civitai:795765@889818", "Illustrious", "Illustrious", 889818),
    ("urn:air:sd1:checkpoint:civitai:4384@128713", "SD1", "SD 1.5", 128713),
    ("urn:air:flux1:checkpoint:civitai:618692@691639", "Flux1", "Flux.1 D", 691639),
)
LORAS = (
    ("urn:air:sdxl:lora:civitai:122359@135867", 135867),
    ("urn:air:sdxl:lora:civitai:341353@382152", 382152),
    ("urn:air:pony:lora:civitai:264290@298120", 298120),
    ("urn:air:flux1:lora:civitai:667086@746484", 746484),
)
SCHEDULERS = ("eulerA", "euler", "dpM2MKarras", "dpM2SAKarras", "uniPC", "ddim")
SIZES = ((832, 1216), (1216, 832), (1024, 1024), (512, 768), (768, 512), (896, 1152))

UPSCALER_MODEL = "urn:air:other:upscaler:civitai:147759@164821"
WD_TAGGER = "wd14-vit.v3"
DANBOORU_TAGS = (
    "1girl",
    "solo",
    "outdoors",
    "sky",
    "smile",
    "long_hair",
    "cat",
    "no_humans",
    "scenery",
    "armor",
    "sword",
    "night",
    "water",
    "tree",
    "building",
    "food",
)
MEDIA_LABELS = ("Animal", "Adult", "Landscape", "Food", "Vehicle", "Anime", "Child", "Weapon")

# imageGen engines: (engine, ecosystem tag)
IMAGE_GEN_ENGINES = (
    ("gemini", "NanoBanana"),
    ("openai", "OpenAI"),
    ("flux2", "Flux2"),
    ("seedream", "Seedream"),
)
VIDEO_ENGINES = (("wan", "WanVideo"), ("kling", "Kling"), ("veo3", "Veo3"), ("ltx2.3", "LTXV2"))
WAN_MODEL = "urn:air:wanvideo:checkpoint:civitai:1329096@1500141"

PROVIDERS = ("ValdiAI", "Civitai", "SaladML", "RunPods", "RunDiffusion", "FalAI")
WORKER_GROUPS = ("gpu-a100", "gpu-4090", "gpu-l40s", "gpu-h100", "cpu-small")

# v1 job types (PascalCase) where they differ from `{StepType}Job`.
JOB_TYPES = {
    "textToImage": "TextToImageV2",
    "imageGen": "ImageGenJob",
    "videoGen": "VideoGenJob",
    "comfy": "ComfyJob",
    "wdTagging": "WDTaggingJob",
    "imageResourceTraining": "ImageResourceTrainingJob",
}

FAILURE_MESSAGES = (
    "Could not generate images with the given prompts and images. Please try again with different inputs.",
    "The provider rejected the request.",
    "Worker ran out of memory.",
)
# A failed job's `lastEvent.context.reason` (weights); "Blocked" comes with a blockedReason.
JOB_FAILURE_REASONS = (
    ("ProviderError", 30),
    ("WorkerOutOfMemory", 15),
    ("InvalidInput", 15),
    ("Timeout", 10),
    ("Blocked", 20),
    ("InternalError", 10),
)
JOB_BLOCKED_REASONS = (
    ("ChildReference", 35),
    ("Child Sexual - Realistic", 15),
    ("Child Sexual - Anime", 15),
    ("NSFWLevel", 20),
    ("Bestiality", 5),
    ("PrivateGen", 5),
    ("CSAM", 5),
)

# A step `$type` newer than the OpenAPI document; the pipeline must keep it, not crash.
FUTURE_STEP_TYPE = "hyperGen9"
# Fields newer than the OpenAPI document, placed now and then on workflows, steps and blobs.
# `epoch` is seen in real training outputs (a trace URL per epoch) but not in the document.
FUTURE_FIELDS = {
    "workflow": "queueRegion",
    "step": "attemptCount",
    "blob": "perceptualHash",
    "epoch": "traceUrl",
}
# Context keys newer than the ones the pipeline knows about.
FUTURE_CONTEXT_KEY = "shield_v2_score"

# --- rarer step types ----------------------------------------------------------------------
VIDEO_UPSCALER_MODEL = "urn:air:other:upscaler:civitai:147759@1593123"
COMFY_IMAGE = "urn:air:comfy:image:civitai:1002@2025.11"
TRACE_HOST = "https://orchestration.simulator.invalid/v2/consumer/traces"
# (ai-toolkit ecosystem, base model AIR when the ecosystem takes one, model variant) a LoRA
# is trained on; `ltx2` trains a video LoRA (video samples).
TRAINING_BASES = (
    ("sdxl", "urn:air:sdxl:checkpoint:civitai:101055@128078", None),
    ("flux1", None, "dev"),
    ("ltx2", None, None),
)
NODEPACKS = (
    "urn:air:comfy:nodepack:github:ltdrdata/ComfyUI-Impact-Pack@8.8.1",
    "urn:air:comfy:nodepack:github:kijai/ComfyUI-KJNodes@1.1.0",
    "urn:air:comfy:nodepack:github:cubiq/ComfyUI_IPAdapter_plus@2.0.0",
)
CHAT_MODELS = ("urn:air:qwen3:llm:civitai:1:qwen3-8b", "gpt-4o-mini", "mistral-small-3.2")
LYRICS = "[verse]\nneon rain on the window\n[chorus]\nwe keep on dreaming"
# Labels / policies the prompt moderation steps score (illustrative names).
XGUARD_LABELS = ("csam", "minor", "nsfw", "violence", "hate", "self_harm")
SHIELDSTRAL_POLICIES = ("sexual_minors", "sexual", "violence", "hate", "self_harm")
MINOR_AGE_LABELS = ("0-2", "3-9", "10-12", "13-17")
ADULT_AGE_LABELS = ("18-24", "25-34", "35-44", "45-54", "55+")
