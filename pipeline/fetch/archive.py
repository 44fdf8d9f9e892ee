"""The raw page archive: <raw>/workflows/date=YYYY-MM-DD/attempt=<id>/page-00001.json.zst ...

Every list page is kept as the API served it, less its secrets: the sync removes the query
string of every URL (signed blob URLs) and any echo of the token before a page is written
(`pipeline.core.redact`; the flattening strips the same query strings, so a rebuild from the
archive gives the same tables). Pages are zstd (archives written before zstd hold `.json.gz`
pages, which are read the same way), so the lake can be rebuilt without the API.
`_manifest.json` beside the pages records how they were fetched.

`<raw>` is DATA_DIR/raw, or `<lake>/_raw` for a lake on object storage, where nothing can be
renamed. So an archive is never replaced in place: each sync of a window writes its pages to
a local staging directory (its work dir, swept when a killed run is found), and publishes them
as a new immutable attempt (`attempt=<UTC time>-<random>`; a local rename, or an upload).
Which attempt is the window's archive is recorded by the ledger's `complete` event
(`raw_attempt`), written only after the lake commits; an attempt nobody references (a
replaced archive, a run that died after its upload) is deleted by the next sync of the window
or by `maintain`. Archives of the previous layout (pages directly under `date=...`) are read
the same way until a new attempt replaces them.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from pipeline.core import storage
from pipeline.core.files import fsync_dir, write_durably
from pipeline.core.settings import Settings
from pipeline.fetch.windows import Bounds

WORKFLOWS_DIR = "workflows"
ATTEMPT_PREFIX = "attempt="
# Files moved to or from object storage at once.
TRANSFER_THREADS = 8
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


def new_attempt_id() -> str:
    """A new attempt's name: sorts by creation time, unique across machines."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:12]}"


def staging_dir(work_dir: Path, attempt: str) -> Path:
    """Where a sync writes the pages of `attempt` before publishing them (a local disk)."""
    path = work_dir / f"raw-{attempt}"
    path.mkdir(parents=True, exist_ok=False)
    return path


def latest_dir(raw_dir: Path, day: date) -> Path:
    """The newest complete archive of `day` in a local raw dir (for tools and tests; the sync
    reads the attempt the ledger names)."""
    window = archive_dir(raw_dir, day)
    complete = sorted(p for p in window.glob(f"{ATTEMPT_PREFIX}*") if (p / MANIFEST).is_file())
    return complete[-1] if complete else window


def discard(attempt: Path) -> None:
    shutil.rmtree(attempt, ignore_errors=True)


class RawArchive:
    """The workflow-page archives of every window under `location` (local or `s3://`)."""

    def __init__(self, location: str, options: Mapping[str, str] | None = None) -> None:
        self.location = location.rstrip("/")
        self.remote = storage.is_remote(self.location)
        self.fs, self.root = storage.filesystem(self.location, options)

    @classmethod
    def from_settings(cls, settings: Settings) -> RawArchive:
        location = settings.raw_location
        return cls(location, storage.storage_options(location))

    def window_path(self, day: date) -> str:
        return f"{self.root}/{WORKFLOWS_DIR}/date={day.isoformat()}"

    def attempt_path(self, day: date, attempt: str) -> str:
        return f"{self.window_path(day)}/{ATTEMPT_PREFIX}{attempt}"

    def describe(self, day: date, attempt: str | None = None) -> str:
        """Where an archive is, for messages."""
        tail = f"/{ATTEMPT_PREFIX}{attempt}" if attempt else ""
        return f"{self.location}/{WORKFLOWS_DIR}/date={day.isoformat()}{tail}"

    # --- writing ---------------------------------------------------------------------------
    def publish(self, day: date, attempt: str, staged: Path) -> str:
        """Store the staged pages and manifest as the immutable archive `attempt` of `day`.

        Local: one rename of the staging directory (the files were fsynced as written).
        Object storage: the pages are uploaded, the manifest last; each object appears
        whole or not at all, and the attempt is only used once the ledger names it.
        """
        final = self.attempt_path(day, attempt)
        if not self.remote:
            target = Path(final)
            target.parent.mkdir(parents=True, exist_ok=True)
            fsync_dir(staged)
            shutil.move(staged, target)
            fsync_dir(target.parent)
            return final
        pages = page_files(staged)
        with ThreadPoolExecutor(TRANSFER_THREADS, thread_name_prefix="raw-upload") as pool:
            list(pool.map(lambda path: self._upload(path, f"{final}/{path.name}"), pages))
        if (staged / MANIFEST).is_file():
            self._upload(staged / MANIFEST, f"{final}/{MANIFEST}")
        return final

    def _upload(self, path: Path, key: str) -> None:
        storage.upload(path, self.fs, key)

    # --- reading ---------------------------------------------------------------------------
    def attempts(self, day: date) -> list[str]:
        """Names of the window's attempts (complete or not), oldest first."""
        found = []
        for info in self._list(self.window_path(day)):
            if info.type == pafs.FileType.Directory and info.base_name.startswith(ATTEMPT_PREFIX):
                found.append(info.base_name.removeprefix(ATTEMPT_PREFIX))
        return sorted(found)

    def _list(self, path: str, recursive: bool = False) -> list[pafs.FileInfo]:
        selector = pafs.FileSelector(path, allow_not_found=True, recursive=recursive)
        return list(self.fs.get_file_info(selector))

    def _complete(self, day: date, attempt: str) -> bool:
        info = self.fs.get_file_info(f"{self.attempt_path(day, attempt)}/{MANIFEST}")
        return info.type == pafs.FileType.File

    def resolve(self, day: date, attempt: str | None) -> str | None:
        """The attempt to read for `day`: the one the ledger names; without one, the previous
        layout's archive if there is one (None), else the newest complete attempt."""
        if attempt:
            return attempt
        legacy = [i for i in self._list(self.window_path(day)) if i.base_name == MANIFEST]
        if legacy:
            return None
        complete = [a for a in self.attempts(day) if self._complete(day, a)]
        return complete[-1] if complete else None

    def local_copy(
        self, day: date, attempt: str | None, scratch: Path
    ) -> tuple[list[Path], Manifest | None]:
        """The pages (in fetch order) and manifest of an archive as local files: read in
        place on a local disk, downloaded into `scratch` from object storage."""
        where = self.attempt_path(day, attempt) if attempt else self.window_path(day)
        if not self.remote:
            directory = Path(where)
            return page_files(directory), read_manifest(directory)
        directory = scratch / f"download-{uuid.uuid4().hex}"
        directory.mkdir(parents=True)
        files = [i for i in self._list(where) if i.type == pafs.FileType.File]

        def download(info: pafs.FileInfo) -> None:
            with self.fs.open_input_stream(info.path, compression=None) as source:
                (directory / info.base_name).write_bytes(source.read())

        with ThreadPoolExecutor(TRANSFER_THREADS, thread_name_prefix="raw-download") as pool:
            list(pool.map(download, files))
        return page_files(directory), read_manifest(directory)

    def days(self) -> list[date]:
        days = []
        for info in self._list(f"{self.root}/{WORKFLOWS_DIR}"):
            if info.type == pafs.FileType.Directory and info.base_name.startswith("date="):
                with contextlib.suppress(ValueError):
                    days.append(date.fromisoformat(info.base_name.removeprefix("date=")))
        return sorted(days)

    # --- removing --------------------------------------------------------------------------
    def sweep(self, day: date, keep: str | None) -> int:
        """Delete the window's attempts other than `keep` (and, once an attempt is kept, the
        previous layout's pages); the number of attempts deleted. Call holding the window."""
        removed = 0
        for attempt in self.attempts(day):
            if attempt != keep:
                self.fs.delete_dir(self.attempt_path(day, attempt))
                removed += 1
        if keep is not None:
            for info in self._list(self.window_path(day)):
                if info.type == pafs.FileType.File:
                    self.fs.delete_file(info.path)
        return removed

    def delete_window(self, day: date) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_dir(self.window_path(day))


def recover(raw_dir: Path, day: date) -> None:
    """Undo what a sync of the previous layout, killed while swapping archives, left behind
    in a local raw dir: restore an archive it had set aside, and delete its abandoned attempt
    directories. Call with the window's lock held."""
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
