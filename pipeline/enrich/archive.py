"""The raw archive of v1 job answers: `<raw>/jobs/date=YYYY-MM-DD/jobs.jsonl.gz`, one JSON
line per job (`job_id`, `workflow_id`, `fetched_at`, HTTP `status`, `body`), so that `rebuild`
can remake `job_details` and `scan_scores` without the API. `<raw>` is DATA_DIR/raw, or
`<lake>/_raw` for a lake on object storage.

A pass writes a new attempt file and puts it in place of the archive when it publishes: a
rename beside the archive on a local disk; on object storage, one upload of the finished file
(an object is replaced whole, so readers see the old archive or the new one, never half).
Signed-URL query strings are removed from every body before it is written.
"""

from __future__ import annotations

import gzip
import logging
import os
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import orjson
import pyarrow.fs as pafs

from pipeline.core import storage
from pipeline.core.files import replace
from pipeline.core.settings import Settings

log = logging.getLogger(__name__)

ARCHIVE_NAME = "jobs.jsonl.gz"
ATTEMPT_PREFIX = ".attempt-"
GZIP_LEVEL = 1


def archive_dir(raw_dir: Path, window_date: date) -> Path:
    return raw_dir / "jobs" / f"date={window_date.isoformat()}"


def archive_path(raw_dir: Path, window_date: date) -> Path:
    return archive_dir(raw_dir, window_date) / ARCHIVE_NAME


def record(
    *, job_id: str, workflow_id: str | None, fetched_at: datetime, status: int, body: bytes | None
) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "workflow_id": workflow_id,
        "fetched_at": fetched_at.isoformat(),
        "status": status,
        # Embedded as served (valid JSON), already scrubbed of URL queries and any echo of the
        # token by the client that fetched it (pipeline.enrich.lookups).
        "body": None if body is None else orjson.Fragment(body),
    }


def iter_archive(path: Path) -> Iterator[dict[str, Any]]:
    """Lines of a local job archive; a truncated or corrupt tail ends the iteration with a
    warning."""
    if not path.exists():
        return
    yield from _lines(lambda: path.open("rb"), str(path))


def _lines(opener: Callable[[], IO[bytes]], name: str) -> Iterator[dict[str, Any]]:
    try:
        with opener() as raw_file, gzip.open(raw_file, "rb") as handle:
            for raw in handle:
                if raw.strip():
                    line = orjson.loads(raw)
                    if isinstance(line, dict):
                        yield line
    except (OSError, EOFError, zlib.error, orjson.JSONDecodeError) as exc:
        log.warning("job archive %s is damaged after some lines (%s); rest ignored", name, exc)


class JobArchive:
    """The job archives of every window under `location` (local or `s3://`)."""

    def __init__(self, location: str, options: Mapping[str, str] | None = None) -> None:
        self.location = location.rstrip("/")
        self.remote = storage.is_remote(self.location)
        self.fs, self.root = storage.filesystem(self.location, options)

    @classmethod
    def from_settings(cls, settings: Settings) -> JobArchive:
        location = settings.raw_location
        return cls(location, storage.storage_options(location))

    def window_path(self, window_date: date) -> str:
        return f"{self.root}/jobs/date={window_date.isoformat()}"

    def path(self, window_date: date) -> str:
        return f"{self.window_path(window_date)}/{ARCHIVE_NAME}"

    def describe(self, window_date: date) -> str:
        return f"{self.location}/jobs/date={window_date.isoformat()}/{ARCHIVE_NAME}"

    def exists(self, window_date: date) -> bool:
        return self.fs.get_file_info(self.path(window_date)).type == pafs.FileType.File

    def lines(self, window_date: date) -> Iterator[dict[str, Any]]:
        if not self.exists(window_date):
            return
        path = self.path(window_date)
        yield from _lines(
            lambda: self.fs.open_input_stream(path, compression=None), self.describe(window_date)
        )

    def delete_window(self, window_date: date) -> None:
        with suppress(FileNotFoundError):
            self.fs.delete_dir(self.window_path(window_date))

    def writer(self, window_date: date, work_dir: Path) -> ArchiveWriter:
        return ArchiveWriter(self, window_date, work_dir)


class ArchiveWriter:
    """A new attempt of a window's job archive; `publish()` puts it in place of the old one."""

    def __init__(self, archive: JobArchive, window_date: date, work_dir: Path) -> None:
        self.archive = archive
        self.window_date = window_date
        if archive.remote:
            directory = work_dir
        else:
            # Beside the archive, so that publishing is one rename in one directory.
            directory = Path(archive.window_path(window_date))
            directory.mkdir(parents=True, exist_ok=True)
            for stale in directory.glob(f"{ATTEMPT_PREFIX}*"):
                # Left by a pass that died (the caller holds the window's enrichment lock).
                stale.unlink(missing_ok=True)
        directory.mkdir(parents=True, exist_ok=True)
        self.tmp = directory / f"{ATTEMPT_PREFIX}{uuid.uuid4().hex}.jsonl.gz"
        self._file = gzip.open(self.tmp, "wb", compresslevel=GZIP_LEVEL)  # noqa: SIM115

    def write(self, line: dict[str, Any]) -> None:
        self._file.write(orjson.dumps(line) + b"\n")

    def carry_over(self, job_ids: set[str]) -> int:
        """Copy the archived lines of `job_ids` from the archive being replaced."""
        copied = 0
        if job_ids:
            for line in self.archive.lines(self.window_date):
                if line.get("job_id") in job_ids:
                    self.write(line)
                    copied += 1
        return copied

    def publish(self) -> None:
        self._file.close()
        final = self.archive.path(self.window_date)
        if self.archive.remote:
            self.archive.fs.create_dir(self.archive.window_path(self.window_date))
            storage.upload(self.tmp, self.archive.fs, final)
            self.tmp.unlink(missing_ok=True)
            return
        with open(self.tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        replace(self.tmp, Path(final))

    def abort(self) -> None:
        with suppress(Exception):
            self._file.close()
        self.tmp.unlink(missing_ok=True)
