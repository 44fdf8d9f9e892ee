"""The raw archive of v1 job answers: `raw/jobs/date=YYYY-MM-DD/jobs.jsonl.gz`, one JSON line
per job (`job_id`, `workflow_id`, `fetched_at`, HTTP `status`, `body`), so that `rebuild` can
remake `job_details` and `scan_scores` without the API.

A pass writes a new attempt file beside the archive and renames it over the archive when it
publishes; signed-URL query strings are removed from every body before it is written.
"""

from __future__ import annotations

import gzip
import logging
import os
import uuid
import zlib
from collections.abc import Iterator
from contextlib import suppress
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson

from pipeline.core.files import replace

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
    """Lines of a job archive; a truncated or corrupt tail ends the iteration with a warning."""
    if not path.exists():
        return
    try:
        with gzip.open(path, "rb") as handle:
            for raw in handle:
                if raw.strip():
                    line = orjson.loads(raw)
                    if isinstance(line, dict):
                        yield line
    except (OSError, EOFError, zlib.error, orjson.JSONDecodeError) as exc:
        log.warning("job archive %s is damaged after some lines (%s); rest ignored", path, exc)


class ArchiveWriter:
    """A new attempt of a window's job archive; `publish()` puts it in place of the old one."""

    def __init__(self, raw_dir: Path, window_date: date) -> None:
        directory = archive_dir(raw_dir, window_date)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob(f"{ATTEMPT_PREFIX}*"):
            # Left by a pass that died (the caller holds the window's enrichment lock).
            stale.unlink(missing_ok=True)
        self.path = directory / ARCHIVE_NAME
        self.tmp = directory / f"{ATTEMPT_PREFIX}{uuid.uuid4().hex}.jsonl.gz"
        self._file = gzip.open(self.tmp, "wb", compresslevel=GZIP_LEVEL)  # noqa: SIM115

    def write(self, line: dict[str, Any]) -> None:
        self._file.write(orjson.dumps(line) + b"\n")

    def carry_over(self, job_ids: set[str]) -> int:
        """Copy the archived lines of `job_ids` from the archive being replaced."""
        copied = 0
        if job_ids:
            for line in iter_archive(self.path):
                if line.get("job_id") in job_ids:
                    self.write(line)
                    copied += 1
        return copied

    def publish(self) -> None:
        self._file.close()
        with open(self.tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        replace(self.tmp, self.path)

    def abort(self) -> None:
        with suppress(Exception):
            self._file.close()
        self.tmp.unlink(missing_ok=True)
