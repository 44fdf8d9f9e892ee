"""The raw page archive: DATA_DIR/raw/workflows/date=YYYY-MM-DD/page-00001.json.zst ...

Every list page is kept as the API served it, less its secrets: the sync removes the query
string of every URL (signed blob URLs) and any echo of the token before a page is written
(`pipeline.core.redact`; the flattening strips the same query strings, so a rebuild from the
archive gives the same tables). Pages are zstd (archives written before zstd hold `.json.gz`
pages, which are read the same way), so the lake can be rebuilt without the API.
A sync writes a window's pages into a fresh attempt directory and swaps it in only when the
window completed; a failed or killed attempt never touches the previous good archive.
`_manifest.json` beside the pages records how they were fetched.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.core.files import fsync_dir, write_durably
from pipeline.fetch.windows import Bounds

WORKFLOWS_DIR = "workflows"
MANIFEST = "_manifest.json"
PAGE_SUFFIX = ".json.zst"
# Pages of archives written before zstd; read, never written.
LEGACY_PAGE_SUFFIX = ".json.gz"
# The archive is compressed while paging, on the same two cores as the flattening: zstd level 1
# costs a third of gzip level 1's CPU to write and to read back (0.04 s against 0.13 s per
# 26 MB of pages) and still makes JSON 7x smaller. DuckDB reads both formats.
ZSTD_LEVEL = 1
_ZSTD = pa.Codec("zstd", compression_level=ZSTD_LEVEL)
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass
class Manifest:
    window_date: str
    filter_mode: str
    pages: int
    items_seen: int
    items_in_window: int
    fetched_at: str
    finished_at: str
    run_id: str | None = None
    request: dict[str, Any] = field(default_factory=dict)
    # Sub-window chains fetched in parallel; with more than one, each page's [lo, hi) bounds
    # (ISO texts by page number): its items outside them belong to another chain.
    chains: int = 1
    page_bounds: dict[str, list[str]] = field(default_factory=dict)

    @property
    def fetched_at_dt(self) -> datetime:
        return datetime.fromisoformat(self.fetched_at)

    def bounds(self) -> dict[int, Bounds]:
        return {
            int(page): (datetime.fromisoformat(lo), datetime.fromisoformat(hi))
            for page, (lo, hi) in self.page_bounds.items()
        }


def window_root(raw_dir: Path) -> Path:
    return raw_dir / WORKFLOWS_DIR


def archive_dir(raw_dir: Path, day: date) -> Path:
    return window_root(raw_dir) / f"date={day.isoformat()}"


def page_name(number: int) -> str:
    return f"page-{number:05d}{PAGE_SUFFIX}"


def page_number(path: Path) -> int | None:
    """The number in a page file's name (`page-00012.json.zst` -> 12), None if it has none."""
    digits = "".join(ch for ch in path.name.split(".")[0] if ch.isdigit())
    return int(digits) if digits else None


def page_files(directory: Path) -> list[Path]:
    """The pages of an archive or attempt directory, in fetch order."""
    return sorted(
        path
        for path in directory.glob("page-*.json.*")
        if path.name.endswith((PAGE_SUFFIX, LEGACY_PAGE_SUFFIX))
    )


def read_page(path: Path) -> bytes:
    """A page's JSON as the API served it, whichever format it was archived in."""
    if path.name.endswith(LEGACY_PAGE_SUFFIX):
        return gzip.decompress(path.read_bytes())
    with pa.input_stream(str(path), compression="zstd") as stream:
        return stream.read()


def uncompressed_size(path: Path) -> int:
    """The size of a page's JSON, read from the file's header or trailer (no decompression).

    zstd: the frame header's content size (RFC 8878, 3.1.1.1), which a one-shot compression
    always records; gzip: the trailer's ISIZE (mod 4 GiB). 0 when the file does not say.
    """
    with open(path, "rb") as handle:
        if path.name.endswith(LEGACY_PAGE_SUFFIX):
            handle.seek(-4, os.SEEK_END)
            return int.from_bytes(handle.read(4), "little")
        header = handle.read(18)
    if len(header) < 6 or header[:4] != _ZSTD_MAGIC:
        return 0
    descriptor = header[4]
    single_segment = bool(descriptor & 0x20)
    size_bytes = {0: 1 if single_segment else 0, 1: 2, 2: 4, 3: 8}[descriptor >> 6]
    start = 5 + (0 if single_segment else 1) + {0: 0, 1: 1, 2: 2, 3: 4}[descriptor & 0x03]
    field = header[start : start + size_bytes]
    if not size_bytes or len(field) < size_bytes:
        return 0
    return int.from_bytes(field, "little") + (256 if size_bytes == 2 else 0)


def new_attempt_dir(raw_dir: Path, day: date) -> Path:
    root = window_root(raw_dir)
    root.mkdir(parents=True, exist_ok=True)
    attempt = root / f".attempt-{day.isoformat()}-{uuid.uuid4().hex}"
    attempt.mkdir()
    return attempt


def write_page(directory: Path, number: int, content: bytes) -> Path:
    """Archive one page durably, as given: the sync passes it already scrubbed (see the module
    docstring). The sync writes pages on a thread of their own
    while the next ones are fetched, so the fsync here keeps it off the end of the window,
    where only the directory is left to sync."""
    path = directory / page_name(number)
    write_durably(path, _ZSTD.compress(content, asbytes=True))
    return path


def clear_pages(directory: Path) -> None:
    for path in page_files(directory):
        path.unlink()


def write_manifest(directory: Path, manifest: Manifest) -> None:
    text = json.dumps(asdict(manifest), indent=2, sort_keys=True)
    write_durably(directory / MANIFEST, text.encode("utf-8"))


def read_manifest(directory: Path) -> Manifest | None:
    path = directory / MANIFEST
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    known = set(Manifest.__dataclass_fields__)
    return Manifest(**{key: value for key, value in data.items() if key in known})


def publish_attempt(raw_dir: Path, day: date, attempt: Path) -> Path:
    """Swap a finished attempt in as the window's archive.

    Two renames (old aside, new in); if the process dies between them the old archive is
    still complete under its `.old-` name and `recover()` puts it back. Its files were synced
    as they were written (write_page, write_manifest); their directory entries are synced here.
    """
    fsync_dir(attempt)
    final = archive_dir(raw_dir, day)
    old = None
    if final.exists():
        old = final.parent / f".old-{day.isoformat()}-{uuid.uuid4().hex}"
        os.replace(final, old)
    os.replace(attempt, final)
    fsync_dir(final.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return final


def recover(raw_dir: Path, day: date) -> None:
    """Undo what a killed sync of `day` left behind: restore an archive set aside by an
    unfinished swap, and delete abandoned attempts. Call with the window's lock held."""
    root = window_root(raw_dir)
    if not root.is_dir():
        return
    final = archive_dir(raw_dir, day)
    key = day.isoformat()
    olds = sorted(root.glob(f".old-{key}-*"), key=lambda p: p.stat().st_mtime)
    if not final.exists() and olds:
        os.replace(olds.pop(), final)
    for leftover in [*olds, *root.glob(f".attempt-{key}-*")]:
        with contextlib.suppress(OSError):
            shutil.rmtree(leftover)


def discard(attempt: Path) -> None:
    shutil.rmtree(attempt, ignore_errors=True)


def archived_days(raw_dir: Path) -> list[date]:
    days = []
    root = window_root(raw_dir)
    if root.is_dir():
        for child in root.glob("date=*"):
            with contextlib.suppress(ValueError):
                days.append(date.fromisoformat(child.name.removeprefix("date=")))
    return sorted(days)
