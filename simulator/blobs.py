"""Blob objects: placing them in step outputs (at any depth), and finding them again.

A step-type builder asks its `OutputContext` for each blob it puts in an output and says
where it puts it (`$.epochs[0].samples[1]`); the context draws the blob's NSFW level, scan
score and blocked reason, and records a `BlobInfo`. The ground truth is that record, not a
re-parse of the served JSON.

Blocked reasons are the ones civitai.com's generator shows users: a Hive CSAM hit
(`CSAM`, `Child Sexual - Realistic`, `Child Sexual - Anime`), `ChildReference`,
`Bestiality`, a mature level where the workflow may not have one (`NSFWLevel`, rarely
`NsfwLevel`, `NSFWLevelSourceImageRestricted` for img2img sources without metadata,
`PrivateGen` for private generation), and the literal `"none"` on a few unblocked blobs,
which civitai.com's own code treats as "not blocked".

Only image and video blobs are rated and scanned. Training weights and nodepack artefacts
are not media: the document's `Blob.type` names only image/video/audio/model3d, so they get
type values newer than the document (`model`, `file`).
"""

from __future__ import annotations

from collections.abc import Iterator
from random import Random
from typing import Any

from simulator import vocab
from simulator.ids import TICKS_PER_MS, TICKS_PER_SECOND, IdCodec, format_ticks
from simulator.model import (
    BLOB_HOST,
    MATURE_LEVELS,
    BlobInfo,
    JobInfo,
    VerdictInfo,
    Weighted,
)

VISUAL = frozenset({"image", "video"})
URL_KEYS = frozenset({"url", "urlExpiresAt", "previewUrl", "previewUrlExpiresAt"})

_NSFW_BLUE = Weighted((("pg", 40), ("pg13", 20), ("r", 15), ("x", 15), ("xxx", 6), ("na", 4)))
_NSFW_GREEN = Weighted((("pg", 70), ("pg13", 25), ("r", 3), ("x", 1), ("xxx", 0.5), ("na", 0.5)))
_CSAM_REASONS = Weighted(
    (("CSAM", 50), ("Child Sexual - Realistic", 30), ("Child Sexual - Anime", 20))
)
# (high share, low share) of a job's scores by how its scan is written. Numeric forms carry
# nonzero scores more often and a probability-form scan (0.97 rather than "97.00 %") a high
# one ten times as often, so that a small account shows each (a report must flag 0.97).
SCORE_SHARES = {"probability": (0.15, 0.4), "percent": (0.015, 0.5)}
DEFAULT_SHARES = (0.015, 0.105)


def csam_percent(u: float, v: float, shares: tuple[float, float] = DEFAULT_SHARES) -> float:
    """A Hive CSAM score in percent: mostly 0, some low, a few at or above 50."""
    high, low = shares
    if u < high:
        return round(50 + v * 49.99, 2)
    if u < high + low:
        return round(0.01 + v * 24.99, 2)
    return 0.0


class WorkflowFlags:
    """What a workflow allows, which decides blocked reasons."""

    __slots__ = ("allow_mature", "green", "lost", "private", "restricted_source")

    def __init__(
        self,
        *,
        green: bool,
        allow_mature: bool,
        private: bool,
        restricted_source: bool,
        lost: bool,
    ) -> None:
        self.green = green
        self.allow_mature = allow_mature
        self.private = private
        self.restricted_source = restricted_source
        self.lost = lost


class OutputContext:
    """Handed to a step type's output builder: places blobs, records verdicts."""

    def __init__(
        self,
        *,
        rng: Random,
        codec: IdCodec,
        position: tuple[int, int, int],
        step_type: str,
        status: str,
        fail_msg: str,
        jobs: list[JobInfo],
        flags: WorkflowFlags,
        legacy: bool,
    ) -> None:
        self.rng = rng
        self.codec = codec
        self.day, self.index, self.step = position
        self.step_type = step_type
        self.status = status
        self.fail_msg = fail_msg
        self.jobs = jobs
        self.flags = flags
        self.legacy = legacy
        self.blobs: list[BlobInfo] = []
        self.verdicts: list[VerdictInfo] = []

    def time_text(self, offset_seconds: float = 0.0) -> str:
        """A timestamp relative to when the step's last job ended (or was last touched)."""
        end = max((j.end_ticks or j.start_ticks or 0) for j in self.jobs)
        return format_ticks(end + int(offset_seconds * TICKS_PER_SECOND))

    # --- blobs -----------------------------------------------------------------------------
    def blob(
        self,
        kind: str,
        path: str,
        ext: str,
        *,
        width: int | None = None,
        height: int | None = None,
        duration: float | None = None,
        fmt: str | None = None,
        bare: bool = False,
    ) -> dict[str, Any]:
        """A new blob of this step at `path` (its id encodes the step and item position).
        `bare`: only id, availability, URL and job id (a transcode output is such a blob)."""
        rng = self.rng
        k = len(self.blobs)
        owner = self.jobs[k % len(self.jobs)]
        # Fixed draws first: the stream must not depend on the branch taken below.
        level = (_NSFW_GREEN if self.flags.green else _NSFW_BLUE).pick(rng)
        u, v, other, casing = rng.random(), rng.random(), rng.random(), rng.random()
        flags = rng.getrandbits(30)  # three rare yes/no draws, 10 bits each
        future_blob, null_blocked, tier = (
            flags & 1023 < 10,
            flags >> 10 & 1023 < 307,
            flags >> 20 < 10,
        )
        bits = rng.getrandbits(64)
        visual = kind in VISUAL
        shares = SCORE_SHARES.get(owner.scan_form or "", DEFAULT_SHARES)
        csam = csam_percent(u, v, shares) if visual else 0.0
        blocked = self._blocked_reason(csam, level, other, casing) if visual else None
        lost = self.flags.lost and not self.blobs and self.status == "succeeded"
        available = self.status == "succeeded" and blocked in (None, "none") and not lost
        blob_id = self.codec.blob_id(self.day, self.index, self.step, k, ext)
        done = owner.end_ticks or 0
        expires = format_ticks(done + 86_400 * TICKS_PER_SECOND + bits % TICKS_PER_MS)
        url = f"{BLOB_HOST}/v2/consumer/blobs/{blob_id}?sig={bits:016x}"
        has_url = blocked in (None, "none") and not lost
        legacy = self.legacy and kind == "image"
        if bare:
            blob = {"id": blob_id, "available": available}
            if has_url:
                blob["url"] = url
                blob["urlExpiresAt"] = expires
            blob["jobId"] = owner.id
        elif legacy:
            # The real (failed) sample lists its unavailable image with URLs all the same.
            shown = available or (self.status == "failed" and has_url)
            blob = self._legacy_blob(
                blob_id, url if shown else None, expires, available, width, height
            )
        else:
            blob = {"type": kind, "id": blob_id, "available": available}
            if has_url:
                blob["url"] = url
                blob["urlExpiresAt"] = expires
                if kind == "image":
                    blob["previewUrl"] = url + "&preview=true"
                    blob["previewUrlExpiresAt"] = expires
            blob["jobId"] = owner.id
            if visual:
                blob["nsfwLevel"] = level
                if blocked is not None or null_blocked:
                    blob["blockedReason"] = blocked
            if width is not None:
                blob["width"] = width
                blob["height"] = height
            if duration is not None:
                blob["duration"] = duration
            if fmt is not None:
                blob["format"] = fmt
            if tier:
                blob["tier"] = "managed"
            if future_blob:
                blob[vocab.FUTURE_FIELDS["blob"]] = f"{bits ^ 0x5A5A5A5A5A5A5A5A:016x}"
        info = BlobInfo(self.step, k, owner.job, blob, csam, path, kind, owner.id, legacy)
        owner.blobs.append(info)
        self.blobs.append(info)
        return blob

    def adopt(self, infos: list[BlobInfo], source_workflow: str) -> None:
        """Record another workflow's blobs, served again from the output cache: same ids,
        same objects, produced by the source's jobs."""
        owner = self.jobs[0]
        for info in infos:
            copy = BlobInfo(
                self.step,
                info.item,
                owner.job,
                info.blob,
                info.csam_percent,
                info.path,
                info.kind,
                info.job_id,
                info.legacy,
                source_workflow,
            )
            owner.blobs.append(copy)
            self.blobs.append(copy)

    def _blocked_reason(self, csam: float, level: str, other: float, casing: float) -> str | None:
        flags = self.flags
        if csam >= 50:
            return _CSAM_REASONS.at(casing)
        if level in MATURE_LEVELS:
            if not flags.allow_mature:
                return "NsfwLevel" if casing < 0.1 else "NSFWLevel"
            if flags.private:
                return "PrivateGen"
            if flags.restricted_source:
                return "NSFWLevelSourceImageRestricted"
        if other < 0.004:
            return "ChildReference"
        if other < 0.006:
            return "Bestiality"
        if other > 0.997:
            return "none"
        return None

    @staticmethod
    def _legacy_blob(
        blob_id: str,
        url: str | None,
        expires: str,
        available: bool,
        width: int | None,
        height: int | None,
    ) -> dict[str, Any]:
        """The real sample's image blob: no type, nsfwLevel or jobId."""
        blob: dict[str, Any] = {"width": width, "height": height}
        if url is not None:
            blob["previewUrl"] = url + "&preview=true"
            blob["previewUrlExpiresAt"] = expires
        blob["id"] = blob_id
        blob["available"] = available
        if url is not None:
            blob["url"] = url
            blob["urlExpiresAt"] = expires
        return blob

    # --- verdicts --------------------------------------------------------------------------
    def verdict(
        self,
        *,
        is_blocked: bool | None = None,
        blocked_reason: str | None = None,
        nsfw_level: str | None = None,
        category: str | None = None,
        has_minor: bool | None = None,
        score: float | None = None,
    ) -> None:
        self.verdicts.append(
            VerdictInfo(
                self.step,
                self.step_type,
                len(self.verdicts),
                is_blocked,
                blocked_reason,
                nsfw_level,
                category,
                has_minor,
                score,
            )
        )


# --- finding blobs in served JSON ----------------------------------------------------------
def is_blob(node: Any) -> bool:
    """A blob is an object with a string `id` and an `available` flag (the document's Blob
    requires both; the real sample's blobs lack `type`)."""
    return isinstance(node, dict) and isinstance(node.get("id"), str) and "available" in node


def iter_blob_paths(node: Any, path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    """(JSON path, blob) for every blob at any depth of `node`, the node itself included."""
    if isinstance(node, dict):
        if is_blob(node):
            yield path, node
            return
        for key, value in node.items():
            if isinstance(value, dict | list):
                yield from iter_blob_paths(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            if isinstance(value, dict | list):
                yield from iter_blob_paths(value, f"{path}[{i}]")


def hide_mature(node: Any) -> Any:
    """`node` as hideMatureContent=true serves it: mature blobs unavailable, without URLs.
    Returns `node` itself when nothing in it changed, else a copy of only the changed path
    (the original is shared through the cache and must never change)."""
    if isinstance(node, dict):
        if is_blob(node):
            if node.get("nsfwLevel") not in MATURE_LEVELS:
                return node
            hidden = {k: v for k, v in node.items() if k not in URL_KEYS}
            hidden["available"] = False
            return hidden
        changed: dict[str, Any] | None = None
        for key, value in node.items():
            if isinstance(value, dict | list):
                new = hide_mature(value)
                if new is not value:
                    if changed is None:
                        changed = dict(node)
                    changed[key] = new
        return node if changed is None else changed
    if isinstance(node, list):
        out: list[Any] | None = None
        for i, value in enumerate(node):
            if isinstance(value, dict | list):
                new = hide_mature(value)
                if new is not value:
                    if out is None:
                        out = list(node)
                    out[i] = new
        return node if out is None else out
    return node
