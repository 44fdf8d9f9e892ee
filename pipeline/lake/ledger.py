"""The window ledger: DATA_DIR/ledger.sqlite, table `sync_windows`, one row per UTC day.

It records what was synced when, with which counts and filter mode, and why a window failed.
A window is `complete` only after all of its lake files are published, so `complete` always
describes data that is really there. A failed or interrupted attempt leaves the counts of the
last good sync in place (that data is still what the lake holds) and records the error.

SQLite in WAL mode with a busy timeout, and one short connection per call, so several
processes (Dagster runs, a CLI backfill) can share it.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pipeline.core.settings import Settings
from pipeline.fetch.windows import iter_gaps

STATUSES = ("pending", "running", "complete", "failed")

_COLUMNS_SQL = """
    window_date TEXT PRIMARY KEY,
    status TEXT NOT NULL DEFAULT 'pending',
    pages INTEGER,
    workflows INTEGER,
    steps INTEGER,
    jobs INTEGER,
    blobs INTEGER,
    transactions INTEGER,
    jobs_enriched INTEGER,
    jobs_enrich_failed INTEGER,
    jobs_not_found INTEGER,
    filter_mode TEXT,
    retries INTEGER,
    started_at TEXT,
    finished_at TEXT,
    seconds REAL,
    error TEXT,
    run_id TEXT
"""


@dataclass
class WindowRow:
    window_date: date
    status: str
    pages: int | None = None
    workflows: int | None = None
    steps: int | None = None
    jobs: int | None = None
    blobs: int | None = None
    transactions: int | None = None
    jobs_enriched: int | None = None
    jobs_enrich_failed: int | None = None
    jobs_not_found: int | None = None
    filter_mode: str | None = None
    retries: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    seconds: float | None = None
    error: str | None = None
    run_id: str | None = None


COLUMNS = tuple(f.name for f in fields(WindowRow))
_TIME_COLUMNS = ("started_at", "finished_at")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _row(record: sqlite3.Row) -> WindowRow:
    values: dict[str, Any] = dict(zip(record.keys(), tuple(record), strict=True))
    values["window_date"] = date.fromisoformat(values["window_date"])
    for name in _TIME_COLUMNS:
        if values[name]:
            values[name] = datetime.fromisoformat(values[name])
    return WindowRow(**{name: values[name] for name in COLUMNS})


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute(f"CREATE TABLE IF NOT EXISTS sync_windows ({_COLUMNS_SQL})")

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        try:
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA busy_timeout = 60000")
            con.execute("PRAGMA journal_mode = WAL")
            con.execute("PRAGMA synchronous = NORMAL")
            yield con
        finally:
            con.close()

    def _upsert(self, day: date, values: dict[str, Any]) -> None:
        names = ["window_date", *values]
        placeholders = ", ".join("?" for _ in names)
        updates = ", ".join(f"{name} = excluded.{name}" for name in values)
        with self._connect() as con:
            con.execute(
                f"INSERT INTO sync_windows ({', '.join(names)}) VALUES ({placeholders}) "
                f"ON CONFLICT (window_date) DO UPDATE SET {updates}",
                [day.isoformat(), *values.values()],
            )

    def start(self, day: date, *, run_id: str | None = None) -> None:
        """The window is being synced; the counts of its last good sync stay."""
        self._upsert(
            day,
            {
                "status": "running",
                "started_at": _now(),
                "finished_at": None,
                "seconds": None,
                "error": None,
                "run_id": run_id,
            },
        )

    def complete(
        self,
        day: date,
        *,
        pages: int,
        workflows: int,
        steps: int,
        jobs: int,
        blobs: int,
        transactions: int,
        filter_mode: str,
        retries: int,
        seconds: float,
        run_id: str | None = None,
    ) -> None:
        self._upsert(
            day,
            {
                "status": "complete",
                "pages": pages,
                "workflows": workflows,
                "steps": steps,
                "jobs": jobs,
                "blobs": blobs,
                "transactions": transactions,
                "filter_mode": filter_mode,
                "retries": retries,
                "finished_at": _now(),
                "seconds": seconds,
                "error": None,
                "run_id": run_id,
            },
        )

    def fail(
        self, day: date, error: str, *, seconds: float | None = None, run_id: str | None = None
    ) -> None:
        self._upsert(
            day,
            {
                "status": "failed",
                "error": error,
                "finished_at": _now(),
                "seconds": seconds,
                "run_id": run_id,
            },
        )

    def record_enrichment(
        self,
        day: date,
        *,
        jobs_enriched: int | None,
        jobs_enrich_failed: int | None,
        jobs_not_found: int | None,
    ) -> None:
        """Job-enrichment counts of a window; a None count leaves the recorded one as is."""
        values = {
            "jobs_enriched": jobs_enriched,
            "jobs_enrich_failed": jobs_enrich_failed,
            "jobs_not_found": jobs_not_found,
        }
        values = {name: value for name, value in values.items() if value is not None}
        if values:
            self._upsert(day, values)

    def get(self, day: date) -> WindowRow | None:
        with self._connect() as con:
            record = con.execute(
                "SELECT * FROM sync_windows WHERE window_date = ?", [day.isoformat()]
            ).fetchone()
        return _row(record) if record else None

    def rows(self, days: Sequence[date] | None = None) -> list[WindowRow]:
        """Every window (or those of `days`), oldest first."""
        with self._connect() as con:
            records = con.execute("SELECT * FROM sync_windows ORDER BY window_date").fetchall()
        rows = [_row(r) for r in records]
        if days is not None:
            wanted = set(days)
            rows = [r for r in rows if r.window_date in wanted]
        return rows

    def gaps(self) -> list[date]:
        """Days with no ledger row between the first and the last day that has one."""
        return list(iter_gaps([row.window_date for row in self.rows()]))


def open_ledger(settings: Settings) -> Ledger:
    return Ledger(settings.ledger_path)


def record_enrichment(
    settings: Settings,
    window_date: date,
    *,
    jobs_enriched: int | None,
    jobs_enrich_failed: int | None,
    jobs_not_found: int | None,
) -> None:
    """Job-enrichment counts of a window; a None count leaves the recorded one unchanged."""
    Ledger(settings.ledger_path).record_enrichment(
        window_date,
        jobs_enriched=jobs_enriched,
        jobs_enrich_failed=jobs_enrich_failed,
        jobs_not_found=jobs_not_found,
    )
