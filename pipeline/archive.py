"""The raw page archive: DATA_DIR/raw/workflows/date=YYYY-MM-DD/page-00001.json.gz ...

Every list page is kept exactly as the API served it (gzip), so the lake can be rebuilt
without the API. A sync writes a window's pages into a fresh attempt directory and swaps it
in only when the window completed; a failed or killed attempt never touches the previous
good archive. `_manifest.json` beside the pages records how they were fetched.
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

from pipeline.lake import fsync_dir
from pipeline.windows import Bounds

WORKFLOWS_DIR = "workflows"
MANIFEST = "_manifest.json"
PAGE_GLOB = "page-*.json.gz"
# Fast compression: the archive is written while paging, so level 1 keeps it off the critical
# path; JSON still compresses about 10x.
GZIP_LEVEL = 1


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
    return f"page-{number:05d}.json.gz"


def page_number(path: Path) -> int | None:
    """The number in a page file's name (`page-00012.json.gz` -> 12), None if it has none."""
    digits = "".join(ch for ch in path.name.split(".")[0] if ch.isdigit())
    return int(digits) if digits else None


def page_files(directory: Path) -> list[Path]:
    """The pages of an archive or attempt directory, in fetch order."""
    return sorted(directory.glob(PAGE_GLOB))


def new_attempt_dir(raw_dir: Path, day: date) -> Path:
    root = window_root(raw_dir)
    root.mkdir(parents=True, exist_ok=True)
    attempt = root / f".attempt-{day.isoformat()}-{uuid.uuid4().hex}"
    attempt.mkdir()
    return attempt


def write_page(directory: Path, number: int, content: bytes) -> Path:
    """Archive one page as served. Not fsynced one by one: the whole attempt directory is
    synced once before it is swapped in."""
    path = directory / page_name(number)
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(
            filename="", mode="wb", fileobj=raw, compresslevel=GZIP_LEVEL, mtime=0
        ) as handle,
    ):
        handle.write(content)
    return path


def clear_pages(directory: Path) -> None:
    for path in page_files(directory):
        path.unlink()


def write_manifest(directory: Path, manifest: Manifest) -> None:
    path = directory / MANIFEST
    path.write_text(json.dumps(asdict(manifest), indent=2, sort_keys=True), encoding="utf-8")


def read_manifest(directory: Path) -> Manifest | None:
    path = directory / MANIFEST
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    known = set(Manifest.__dataclass_fields__)
    return Manifest(**{key: value for key, value in data.items() if key in known})


def _sync_tree(directory: Path) -> None:
    for path in directory.iterdir():
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
    fsync_dir(directory)


def publish_attempt(raw_dir: Path, day: date, attempt: Path) -> Path:
    """Swap a finished attempt in as the window's archive.

    Two renames (old aside, new in); if the process dies between them the old archive is
    still complete under its `.old-` name and `recover()` puts it back.
    """
    _sync_tree(attempt)
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
