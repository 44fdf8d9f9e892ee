"""What a blob is, and where the blobs of a step output are: the one rule the lake, the CLI and
the tests share.

The OpenAPI document declares `Blob` (discriminator `type`: image, video, audio, model3d)
with `id`, `type` and `available` required, and one more blob-shaped schema,
`TranscodeOutput` (`id`, `available`, `url`, `jobId`: the transcode step's output is itself
the blob). No other schema has a string `id` together with `available`. Real image blobs come
without `type` (and without `nsfwLevel` and `jobId`), so the rule does not need it:

    a blob is a JSON object with a string `id` and either an `available` member or a `type`
    that is one of the Blob discriminator values.

Blobs sit anywhere in an output: the output itself (`transcode`), a member (`video`), list
items (`images[i]`), or deeper (`training`: `epochs[i].model`, `epochs[i].samples[j]`; maps
keyed by name). `find_blobs` walks the whole value, so a new step type or output member is
covered without code changes; tests/unit/test_blob_discovery.py checks the rule against every
location the schema allows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from pipeline.api.base import ApiModel, UtcDateTime

BLOB_TYPES = frozenset({"image", "video", "audio", "model3d"})

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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
    """Whether a JSON value is a blob (see the module docstring for the rule)."""
    return (
        isinstance(value, dict | Mapping)
        and isinstance(value.get("id"), str)
        and ("available" in value or value.get("type") in BLOB_TYPES)
    )


def member_path(parent: str, key: str) -> str:
    """`$.images` for a plain member name, `$["image-0"]` for any other."""
    return f"{parent}.{key}" if _PLAIN_KEY.match(key) else f"{parent}[{json.dumps(key)}]"


class FoundBlob(NamedTuple):
    """A blob and where it was: its JSON path, the output member it sits under (None for the
    output itself) and its position in the innermost list around it (0 outside lists)."""

    json_path: str
    output_key: str | None
    item_index: int
    blob: Mapping[str, Any]


def find_blobs(value: Any) -> Iterator[FoundBlob]:
    """Every blob inside `value`, in document order, with its JSON path
    (`$`, `$.video`, `$.epochs[0].samples[1]`).

    A blob's own members are not searched: the schema gives blobs no nested blobs.
    """
    return _walk(value, "$", None, 0) if _is_container(value) else iter(())


_SCALARS = (str, int, float, bool, type(None))


def _is_container(value: Any) -> bool:
    # Concrete types first: parsed JSON is dicts, lists and scalars, and the `Mapping` ABC
    # check costs ten times more, which the lake pays on every member of every output.
    if isinstance(value, dict | list):
        return True
    return not isinstance(value, _SCALARS) and isinstance(value, Mapping)


def _walk(value: Any, path: str, key: str | None, index: int) -> Iterator[FoundBlob]:
    if isinstance(value, list):
        for position, item in enumerate(value):
            if _is_container(item):
                yield from _walk(item, f"{path}[{position}]", key, position)
    elif is_blob(value):
        yield FoundBlob(path, key, index, value)
    else:
        for name, item in value.items():
            if _is_container(item):
                name = str(name)
                yield from _walk(item, member_path(path, name), key or name, index)


class OutputBlob(NamedTuple):
    """A blob of a step's output as the CLI shows it: where it is, and the parsed blob."""

    json_path: str
    item_index: int
    blob: Blob


def iter_output_blobs(output: Any) -> Iterator[tuple[str, int, Mapping[str, Any]]]:
    """`(json_path, item_index, blob)` of every blob in a step's raw `output` (see find_blobs)."""
    for found in find_blobs(output):
        yield found.json_path, found.item_index, found.blob
