"""A local copy of a shared lake's live files, for DuckDB to read.

DuckDB reads object storage through its httpfs extension, which it downloads on first use; a
machine without internet access cannot load it. So when the lake is on object storage, the
warehouse (and the lake checks) read local copies instead: DATA_DIR/lake-cache/<table>/<file>,
the same relative paths as in the lake (`window_date=.../part-....parquet`, so DuckDB still
sees the partition column).

Delta data files are immutable: a file name is never written twice, so a cached file is never
stale and only the files the ledger lists that are not cached yet are downloaded (a nightly
publish fetches the changed days). Each download goes to a temporary name and is renamed into
place, so a killed download never leaves a half file under a real name. The views are made
over the ledger's files only after all of them are here, so the guarantees stay those of a
local lake: one consistent snapshot, never half a window.

A publish touches every file it uses; files no published window has used for the retention
(an analyst's older warehouse may still read them) are evicted.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from pipeline.core.files import atomic_writer
from pipeline.core.settings import Settings
from pipeline.lake.ledger import WindowRow
from pipeline.lake.store import Lake

log = logging.getLogger(__name__)

CACHE_DIR = "lake-cache"
DOWNLOAD_THREADS = 8
# Same as `maintain`'s vacuum retention: files replaced less than this long ago stay.
RETENTION_HOURS = 7 * 24
_PARTIAL = ".partial-"
# Files are copied in pieces of this size: a large lake file never sits in memory whole.
_CHUNK = 8 << 20


class FileSource(Protocol):
    """What the warehouse views need of a lake: where DuckDB can read a table's files."""

    def absolute(self, table: str, files: Sequence[str]) -> list[str]: ...


class LakeCache:
    """Local copies of the files of a lake on object storage."""

    def __init__(self, lake: Lake, directory: Path) -> None:
        self.lake = lake
        self.directory = directory
        self.downloaded = 0
        self.downloaded_bytes = 0

    def local(self, table: str, name: str) -> Path:
        return self.directory / table / name

    def absolute(self, table: str, files: Sequence[str]) -> list[str]:
        return [str(self.local(table, name)) for name in files]

    def fetch(self, rows: Iterable[WindowRow], tables: Iterable[str] | None = None) -> None:
        """Download the live files of `rows` (of `tables`, default all) not cached yet."""
        wanted = set(tables) if tables is not None else None
        missing: list[tuple[str, str]] = []
        now = time.time()
        for row in rows:
            for table, committed in row.tables.items():
                if wanted is not None and table not in wanted:
                    continue
                for name in committed.files:
                    path = self.local(table, name)
                    if path.is_file():
                        os.utime(path, (now, now))
                    else:
                        missing.append((table, name))
        if not missing:
            return
        filesystem, root = self.lake.filesystem()

        def download(item: tuple[str, str]) -> int:
            table, name = item
            final = self.local(table, name)
            final.parent.mkdir(parents=True, exist_ok=True)
            size = 0
            with (
                filesystem.open_input_stream(f"{root}/{table}/{name}", compression=None) as source,
                atomic_writer(final, durable=False, prefix=_PARTIAL) as target,
            ):
                while chunk := source.read(_CHUNK):
                    target.write(chunk)
                    size += len(chunk)
            return size

        with ThreadPoolExecutor(DOWNLOAD_THREADS, thread_name_prefix="lake-cache") as pool:
            sizes = list(pool.map(download, sorted(set(missing))))
        self.downloaded += len(sizes)
        self.downloaded_bytes += sum(sizes)
        log.info("lake cache: %d files downloaded (%d bytes)", len(sizes), sum(sizes))

    def evict(self, retention_hours: float = RETENTION_HOURS) -> int:
        """Delete cached files no publish has used for `retention_hours`."""
        cutoff = time.time() - retention_hours * 3600
        removed = 0
        if not self.directory.is_dir():
            return 0
        for path in self.directory.rglob("*"):
            with contextlib.suppress(FileNotFoundError):
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
        return removed


def readable(
    settings: Settings,
    lake: Lake,
    rows: Sequence[WindowRow],
    tables: Iterable[str] | None = None,
) -> FileSource:
    """Where DuckDB reads the live files of `rows`: the lake itself on a local disk, else
    local copies (downloaded here as needed)."""
    if not lake.remote:
        return lake
    cache = LakeCache(lake, settings.data_dir / CACHE_DIR)
    cache.fetch(rows, tables)
    return cache
