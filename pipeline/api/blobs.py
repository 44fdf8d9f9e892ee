"""Blobs (the output files of steps) and finding them anywhere in a step's output.

Every `Blob` / `ImageBlob` / `VideoBlob` / `AudioBlob` / `Model3DBlob` of the schema is an
object with a string `id` and `available` (or a blob `type`); they sit at any depth of an
output, depending on the step type: `images[i]`, `video`, the output itself (`transcode`),
`epochs[i].model` and `epochs[i].samples[j]` (`training`), lists of lists.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from pipeline.api.base import ApiModel, UtcDateTime

BLOB_TYPES = frozenset({"image", "video", "audio", "model3d"})
# Outputs are JSON documents a few levels deep; this only guards against a pathological one.
_MAX_DEPTH = 32


class Blob(ApiModel):
    """An output file (image, video, audio or 3D model); subtype fields are all optional.

    Real image blobs come without `type`, `nsfwLevel` and `jobId` although the schema requires
    `type`. `url`/`previewUrl` are signed and expire: never a key, never stored.
    """

    id: str
    type: str | None = None
    available: bool | None = None
    url: str | None = None
    url_expires_at: UtcDateTime | None = None
    preview_url: str | None = None
    preview_url_expires_at: UtcDateTime | None = None
    job_id: str | None = None
    nsfw_level: str | None = None
    blocked_reason: str | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    format: str | None = None
    tier: str | None = None


def is_blob(value: object) -> bool:
    """Whether a JSON value looks like a Blob: a string `id` plus `available` or a blob `type`."""
    return (
        isinstance(value, Mapping)
        and isinstance(value.get("id"), str)
        and ("available" in value or value.get("type") in BLOB_TYPES)
    )


def iter_output_blobs(output: Any) -> Iterator[tuple[str, int, Mapping[str, Any]]]:
    """Yield `(path, index, blob)` for every blob in a step's raw `output`, at any depth.

    `path` is where the blob (or the list holding it) sits: `images`, `video`, `output` for
    the output itself, `epochs[1].samples` for a nested list; `index` is its position in that
    list (0 when it is not in a list), counted over every item so that skipped non-blob items
    keep indexes stable. A blob's own members are not searched further.
    """
    if is_blob(output):
        yield "output", 0, output
    elif isinstance(output, Mapping):
        for key, value in output.items():
            yield from _walk(value, str(key), 0)


def _walk(value: Any, path: str, depth: int) -> Iterator[tuple[str, int, Mapping[str, Any]]]:
    if depth > _MAX_DEPTH:
        return
    if is_blob(value):
        yield path, 0, value
    elif isinstance(value, Mapping):
        for key, member in value.items():
            yield from _walk(member, f"{path}.{key}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if is_blob(item):
                yield path, index, item
            else:
                yield from _walk(item, f"{path}[{index}]", depth + 1)


class OutputBlob(NamedTuple):
    output_key: str
    item_index: int
    blob: Blob
