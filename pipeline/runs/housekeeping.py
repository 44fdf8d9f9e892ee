"""Forgetting windows, and keeping the lake small over a year of nightly runs.

`forget` drops windows so that the next sync fetches them again: the ledger says so first
(from then on the warehouse no longer shows them), then each table's rows of those days are
deleted (one commit per table and day), and the raw archives of the days go. A crash half way
leaves the windows forgotten in the ledger, with some rows still in the Delta tables; the next
`forget` or sync of those days finishes the job.

`maintain` vacuums: a replaced window's old files stay on disk (readers of an older snapshot,
an analyst's open warehouse, may still read them) until they are older than the retention and
no window the ledger lists still uses them. It also checkpoints each table's log, compacts the
ledger's many small appends, and sweeps what killed runs left in the raw archive.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from pipeline.core.errors import WindowError
from pipeline.core.settings import Settings
from pipeline.enrich import archive as job_archive
from pipeline.fetch import archive
from pipeline.lake import claims, tables
from pipeline.lake.ledger import LEDGER_TABLE, Ledger
from pipeline.lake.store import Lake
from pipeline.runs.guard import window_guard

log = logging.getLogger(__name__)

# Files replaced more recently than this stay, whatever the ledger says: an analyst's warehouse
# opened before the replacement still reads them.
DEFAULT_RETENTION_HOURS = 7 * 24


@dataclass
class ForgetResult:
    windows: list[date] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)


def forget(settings: Settings, days: Sequence[date], *, run_id: str | None = None) -> ForgetResult:
    """Drop `days` from the ledger, the lake tables and the raw archives."""
    lake = Lake.from_settings(settings)
    ledger = Ledger(lake)
    result = ForgetResult()
    known = {row.window_date: row for row in ledger.rows(days)}
    raw = archive.RawArchive.from_settings(settings)
    jobs_archive = job_archive.JobArchive.from_settings(settings)
    for day in sorted(set(days)):
        with window_guard(settings, day):
            if day in known:
                ledger.forget([day], run_id=run_id)
            for name in tables.all_schemas():
                if lake.window_files(name, day):
                    result.rows[name] = result.rows.get(name, 0) + len(lake.read(name, [day]))
                    lake.drop_window(name, day)
            raw.delete_window(day)
            jobs_archive.delete_window(day)
        result.windows.append(day)
    return result


@dataclass
class MaintainResult:
    removed_files: dict[str, int] = field(default_factory=dict)
    swept: int = 0


def _kept_versions(lake: Lake) -> dict[str, set[int]]:
    """Per table, the versions whose files a window the ledger lists still uses."""
    kept: dict[str, set[int]] = {}
    for row in Ledger(lake).rows():
        for name, committed in row.tables.items():
            kept.setdefault(name, set()).add(committed.version)
    return kept


def maintain(
    settings: Settings, *, retention_hours: int = DEFAULT_RETENTION_HOURS, dry_run: bool = False
) -> MaintainResult:
    lake = Lake.from_settings(settings)
    result = MaintainResult()
    kept = _kept_versions(lake)
    for name in tables.all_schemas():
        try:
            table = DeltaTable(lake.table_uri(name), storage_options=lake.storage_options)
        except TableNotFoundError:
            continue
        options: dict[str, Any] = {
            "retention_hours": retention_hours,
            "dry_run": dry_run,
            "enforce_retention_duration": False,
            "keep_versions": sorted(kept.get(name, set())),
        }
        result.removed_files[name] = len(table.vacuum(**options))
        if not dry_run:
            table.create_checkpoint()
    ledger = Ledger(lake)
    if not dry_run:
        ledger.compact()
        try:
            log_table = DeltaTable(ledger.uri, storage_options=lake.storage_options)
        except TableNotFoundError:
            pass
        else:
            result.removed_files[LEDGER_TABLE] = len(
                log_table.vacuum(
                    retention_hours=retention_hours, dry_run=False, enforce_retention_duration=False
                )
            )
            log_table.create_checkpoint()
        result.swept = _sweep_raw(settings, lake)
        claims.Claims(lake).compact()
    return result


_LEFTOVER = re.compile(r"^\.(?:attempt|old)-(\d{4}-\d{2}-\d{2})-")


def _sweep_raw(settings: Settings, lake: Lake) -> int:
    """Raw archive attempts that no ledger event names (replaced ones, uploads of runs that
    died before recording them), for windows nobody is syncing now; plus what syncs of the
    previous layout left in a local raw dir."""
    raw = archive.RawArchive.from_settings(settings)
    live = {row.window_date: row.raw_attempt for row in Ledger(lake).rows()}
    legacy = _legacy_leftovers(settings)
    swept = 0
    for day in sorted({*raw.days(), *legacy}):
        if day not in legacy and all(a == live.get(day) for a in raw.attempts(day)):
            continue
        try:
            with window_guard(settings, day, timeout=0.1):
                if day in legacy:
                    root = archive.window_root(settings.raw_dir)
                    before = sum(1 for _ in root.glob(f".*-{day.isoformat()}-*"))
                    archive.recover(settings.raw_dir, day)
                    swept += before - sum(1 for _ in root.glob(f".*-{day.isoformat()}-*"))
                # Re-read under the guard: a sync may have recorded a new attempt meanwhile.
                row = Ledger(lake).get(day)
                swept += raw.sweep(day, keep=row.raw_attempt if row else None)
        except WindowError:
            continue  # a live sync of that day owns its attempts
    return swept


def _legacy_leftovers(settings: Settings) -> set[date]:
    root = archive.window_root(settings.raw_dir)
    if settings.shared_lake or not root.is_dir():
        return set()
    days = set()
    for path in root.iterdir():
        match = _LEFTOVER.match(path.name)
        if match:
            days.add(date.fromisoformat(match.group(1)))
    return days
