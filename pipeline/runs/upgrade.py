"""Upgrade a data dir written by the release before Delta Lake, in place, losing nothing.

That release kept one plain Parquet file per window and table
(`lake/<table>/date=YYYY-MM-DD/data.parquet`) and the ledger in `ledger.sqlite`. Each window
is moved on its own: its files are committed to the Delta tables (one commit per table, the
same replacement a sync makes), the ledger event is written with the counts the old ledger
had, and only then are the old files of that window deleted. A crash at any point leaves the
window either still in the old layout or fully in the new one; running again finishes the
job. The raw archive keeps its layout. The old ledger is kept as `ledger.sqlite.upgraded`.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pipeline.core import locks
from pipeline.core.errors import LakeError
from pipeline.core.settings import Settings
from pipeline.lake import tables
from pipeline.lake.ledger import Ledger
from pipeline.lake.staging import read_parquet_batches
from pipeline.lake.store import Committed, Lake

log = logging.getLogger(__name__)

OLD_LEDGER = "ledger.sqlite"
OLD_FILE = "data.parquet"
ENRICH_TABLES = ("job_details", "scan_scores")


@dataclass
class UpgradeResult:
    windows: list[date] = field(default_factory=list)
    files: int = 0


def _old_days(lake_dir: Path) -> list[date]:
    days: set[date] = set()
    for table in tables.all_schemas():
        for child in (lake_dir / table).glob(f"date=*/{OLD_FILE}"):
            with contextlib.suppress(ValueError):
                days.add(date.fromisoformat(child.parent.name.removeprefix("date=")))
    return sorted(days)


def needs_upgrade(settings: Settings) -> bool:
    """Whether the data dir still holds data in the old layout (local lakes only)."""
    if settings.lake_uri:
        return False
    return (settings.data_dir / OLD_LEDGER).is_file() or bool(_old_days(settings.lake_dir))


def _old_ledger(path: Path) -> dict[date, dict[str, Any]]:
    if not path.is_file():
        return {}
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        con.row_factory = sqlite3.Row
        rows = con.execute("SELECT * FROM sync_windows").fetchall()
    except sqlite3.Error:
        return {}
    finally:
        con.close()
    return {date.fromisoformat(row["window_date"]): dict(row) for row in rows}


def upgrade(settings: Settings, *, say: Callable[[str], None] = log.info) -> UpgradeResult:
    """Move every old-layout window into the Delta lake and ledger (see the module doc)."""
    result = UpgradeResult()
    if not needs_upgrade(settings):
        return result
    path = locks.lock_path(settings.data_dir, "upgrade")
    with locks.file_lock(path, 600.0) as held:
        if not held:
            raise LakeError(
                f"another process is upgrading {settings.data_dir} (lock {path}); wait for it."
            )
        lake = Lake.from_settings(settings)
        ledger = Ledger(lake)
        old_ledger_path = settings.data_dir / OLD_LEDGER
        old = _old_ledger(old_ledger_path)
        days = _old_days(settings.lake_dir)
        if days:
            say(
                f"Upgrading {settings.data_dir} to the Delta Lake layout: {len(days)} window(s), "
                "one at a time; nothing is deleted before it is committed."
            )
        for day in days:
            result.files += _move_window(settings, lake, ledger, day, old.get(day, {}))
            result.windows.append(day)
        if old_ledger_path.is_file():
            old_ledger_path.replace(old_ledger_path.with_name(OLD_LEDGER + ".upgraded"))
            for suffix in ("-wal", "-shm"):
                old_ledger_path.with_name(OLD_LEDGER + suffix).unlink(missing_ok=True)
    return result


def _move_window(
    settings: Settings, lake: Lake, ledger: Ledger, day: date, old: dict[str, Any]
) -> int:
    found: dict[str, Path] = {}
    for table in tables.all_schemas():
        path = settings.lake_dir / table / f"date={day.isoformat()}" / OLD_FILE
        if path.is_file():
            found[table] = path
    commits: dict[str, Committed] = {}
    for table, path in found.items():
        commits[table] = lake.replace_window(table, day, read_parquet_batches(path))
    workflow_commits = {t: c for t, c in commits.items() if t not in ENRICH_TABLES}
    if workflow_commits:
        ledger.complete(
            day,
            tables=workflow_commits,
            run_id=old.get("run_id") or "upgrade",
            filter_mode=old.get("filter_mode"),
            retries=old.get("retries"),
            seconds=old.get("seconds"),
            pages=old.get("pages"),
            workflows=old.get("workflows", _rows(commits, "workflows")),
            steps=old.get("steps", _rows(commits, "steps")),
            jobs=old.get("jobs", _rows(commits, "jobs")),
            blobs=old.get("blobs", _rows(commits, "blobs")),
            transactions=old.get("transactions", _rows(commits, "transactions")),
        )
    enrich_commits = {t: c for t, c in commits.items() if t in ENRICH_TABLES}
    if enrich_commits:
        ledger.record_enrichment(
            day,
            jobs_enriched=old.get("jobs_enriched"),
            jobs_enrich_failed=old.get("jobs_enrich_failed"),
            jobs_not_found=old.get("jobs_not_found"),
            tables=enrich_commits,
        )
    for path in found.values():
        shutil.rmtree(path.parent, ignore_errors=True)
    return len(found)


def _rows(commits: dict[str, Committed], table: str) -> int | None:
    committed = commits.get(table)
    return committed.rows if committed is not None else None
