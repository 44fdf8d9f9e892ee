"""What tests expect the simulator to serve, written down here rather than read from its code."""

from __future__ import annotations

from simulator.vocab import FUTURE_STEP_TYPE

# The 45 `$type`s of the OpenAPI document's WorkflowStep discriminator.
DOCUMENTED_STEP_TYPES = frozenset(
    {
        "aceStepAudio",
        "ageClassification",
        "audioCaptioning",
        "blobArchive",
        "chatCompletion",
        "comfy",
        "comfyNodepackSnapshot",
        "composeMedia",
        "convertImage",
        "customComfy",
        "echo",
        "imageBackgroundRemoval",
        "imageGen",
        "imageResourceTraining",
        "imageToSvg",
        "imageUpload",
        "imageUpscaler",
        "mediaCaptioning",
        "mediaHash",
        "mediaRating",
        "miniMaxMusic3",
        "model3DPreview",
        "modelClamScan",
        "modelHash",
        "modelParseMetadata",
        "modelPickleScan",
        "polyGen",
        "preprocessImage",
        "promptEnhancement",
        "qwenImageBench",
        "shieldstralModeration",
        "textToImage",
        "textToSpeech",
        "training",
        "transcode",
        "transcription",
        "videoBackgroundRemoval",
        "videoEnhancement",
        "videoFrameExtraction",
        "videoGen",
        "videoInterpolation",
        "videoMetadata",
        "videoUpscaler",
        "wdTagging",
        "xGuardModeration",
    }
)
# Every step type the generated workflows must cover, including one the API does not have yet.
STEP_TYPES = DOCUMENTED_STEP_TYPES | {FUTURE_STEP_TYPE}
# Moderation steps whose outputs carry verdicts.
MODERATION_STEP_TYPES = frozenset(
    {"mediaRating", "xGuardModeration", "shieldstralModeration", "ageClassification"}
)
# Blocked reasons civitai.com's generator knows (`imageBlockedReasonMap` and its callers),
# plus the Hive CSAM block; "none" is a literal civitai.com treats as not blocked.
REAL_BLOCKED_REASONS = frozenset(
    {
        "ChildReference",
        "Child Sexual - Realistic",
        "Child Sexual - Anime",
        "NSFWLevel",
        "NsfwLevel",
        "NSFWLevelSourceImageRestricted",
        "Bestiality",
        "PrivateGen",
        "CSAM",
        "none",
    }
)
