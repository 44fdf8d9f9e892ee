"""What tests expect the simulator to serve, written down here rather than read from its code."""

from __future__ import annotations

from simulator.vocab import FUTURE_STEP_TYPE

# Every step type the generated workflows must cover, including one the API does not have yet.
STEP_TYPES = frozenset(
    {
        "textToImage",
        "imageGen",
        "videoGen",
        "comfy",
        "imageUpscaler",
        "mediaRating",
        "wdTagging",
        FUTURE_STEP_TYPE,
    }
)
