"""The window ledger: what was synced when, with which counts, and which lake files are live.

It is an append-only event log kept as a Delta table beside the lake tables
(`<lake>/_ledger`), so that it lives wherever the lake lives (a local directory, object
storage), many writers can append to it at once, and a read-only data dir can still be read.
The state of a window is the fold of its events:

    started    a sync of the window began (status `running` until it ends)
    complete   its data was published; counts, the raw-archive attempt, and for each table
               the Delta version and data files of the window (`partial` for today's window,
               which is still growing)
    failed     a sync failed; the counts and files of the last good sync stay the window's
    enriched   job enrichment published `job_details`/`scan_scores` for the window
    forgotten  the window was dropped; it is absent until synced again

A window is `complete` only once every table's commit is done, and the files it lists are what
the warehouse reads, so the warehouse never shows half a window even while another sync is
replacing it. `maintain` compacts the log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

from pipeline.fetch.windows import iter_gaps
from pipeline.lake.store import Committed, Lake

log = logging.getLogger(__name__)
LEDGER_TABLE = "_ledger"
# Every append is a file of its own and a read opens them all: a year of nightly runs is
# thousands of tiny files and seconds per read. Past this many, recording a complete window
# compacts the log into one file (as `maintain` does).
COMPACT_AFTER_FILES = 64
TIMESTAMP = pa.timestamp("us", tz="UTC")

RUNNING, COMPLETE, PARTIAL, FAILED = "running", "complete", "partial", "failed"
STATUSES = (RUNNING, COMPLETE, PARTIAL, FAILED)
# Statuses whose data is published (the warehouse shows the window).
PUBLISHED = (COMPLETE, PARTIAL)

COUNTS = ("pages", "workflows", "steps", "jobs", "blobs", "transactions", "verdicts")
ENRICH_COUNTS = ("jobs_enriched", "jobs_enrich_failed", "jobs_not_found")

EVENTS = pa.schema(
    [
        ("window_date", pa.date32()),
        ("event", pa.string()),
        ("at", TIMESTAMP),
        ("run_id", pa.string()),
        *[(name, pa.int64()) for name in COUNTS],
        *[(name, pa.int64()) for name in ENRICH_COUNTS],
        ("filter_mode", pa.string()),
        ("retries", pa.int64()),
        ("requests", pa.int64()),
        ("rate_limited", pa.int64()),
        ("seconds", pa.float64()),
        ("error", pa.string()),
        ("raw_attempt", pa.string()),
        # {table: {"version": int, "files": [relative paths], "rows": int}}
        ("tables_json", pa.string()),
    ]
)


@dataclass
class WindowRow:
    """The state of one window, folded from its events."""

    window_date: date
    status: str
    pages: int | None = None
    workflows: int | None = None
    steps: int | None = None
    jobs: int | None = None
    blobs: int | None = None
    transactions: int | None = None
    verdicts: int | None = None
    jobs_enriched: int | None = None
    jobs_enrich_failed: int | None = None
    jobs_not_found: int | None = None
    filter_mode: str | None = None
    retries: int | None = None
    requests: int | None = None
    rate_limited: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    synced_at: datetime | None = None  # when the live data was published
    seconds: float | None = None
    error: str | None = None
    run_id: str | None = None
    raw_attempt: str | None = None
    tables: dict[str, Committed] = field(default_factory=dict)

    @property
    def published(self) -> bool:
        """Whether the window has published data (its last good sync), whatever happened since."""
        return bool(self.tables)

    @property
    def versions(self) -> dict[str, int]:
        return {name: committed.version for name, committed in sorted(self.tables.items())}


# The columns of `sync_windows` as the warehouse and `status --json` show them.
COLUMNS = (
    "window_date",
    "status",
    *COUNTS,
    *ENRICH_COUNTS,
    "filter_mode",
    "retries",
    "requests",
    "rate_limited",
    "started_at",
    "finished_at",
    "synced_at",
    "seconds",
    "error",
    "run_id",
    "raw_attempt",
)


def _now() -> datetime:
    return datetime.now(UTC)


def _apply(state: WindowRow | None, event: Mapping[str, Any]) -> WindowRow | None:
    day: date = event["window_date"]
    kind: str = event["event"]
    at: datetime = event["at"]
    if kind == "forgotten":
        return None
    row = state or WindowRow(window_date=day, status=RUNNING)
    if kind == "started":
        return replace(
            row,
            status=RUNNING,
            started_at=at,
            finished_at=None,
            seconds=None,
            error=None,
            run_id=event["run_id"],
        )
    if kind in (COMPLETE, PARTIAL):
        tables = {
            name: Committed.from_json(name, data)
            for name, data in json.loads(event["tables_json"] or "{}").items()
        }
        # Enrichment tables of an earlier sync stay listed until enrichment runs again;
        # the publish pruned their rows of jobs that are gone (see runs.sync).
        merged = {**row.tables, **tables}
        counts = {name: event[name] for name in COUNTS}
        return replace(
            row,
            status=kind,
            **counts,
            filter_mode=event["filter_mode"],
            retries=event["retries"],
            requests=event["requests"],
            rate_limited=event["rate_limited"],
            finished_at=at,
            synced_at=at,
            seconds=event["seconds"],
            error=None,
            run_id=event["run_id"],
            raw_attempt=event["raw_attempt"],
            tables=merged,
        )
    if kind == FAILED:
        return replace(
            row,
            status=FAILED,
            finished_at=at,
            seconds=event["seconds"],
            error=event["error"],
            run_id=event["run_id"],
        )
    if kind == "enriched":
        tables = {
            name: Committed.from_json(name, data)
            for name, data in json.loads(event["tables_json"] or "{}").items()
        }
        enrich = {name: event[name] for name in ENRICH_COUNTS if event[name] is not None}
        return replace(row, **enrich, tables={**row.tables, **tables})
    return row  # an event kind this version does not know: kept in the log, ignored here


class Ledger:
    """The ledger of the lake at `lake`."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self.uri = f"{lake.uri}/{LEDGER_TABLE}"

    # --- writing ---------------------------------------------------------------------------
    def _append(self, events: Sequence[Mapping[str, Any]]) -> None:
        rows = [{**dict.fromkeys(EVENTS.names), "at": _now(), **event} for event in events]
        write_deltalake(
            self.uri,
            pa.Table.from_pylist(rows, schema=EVENTS),
            mode="append",
            schema_mode="merge",
            storage_options=self.lake.storage_options,
        )

    def start(self, day: date, *, run_id: str | None = None) -> None:
        self._append([{"window_date": day, "event": "started", "run_id": run_id}])

    def complete(
        self,
        day: date,
        *,
        tables: Mapping[str, Committed],
        partial: bool = False,
        run_id: str | None = None,
        raw_attempt: str | None = None,
        filter_mode: str | None = None,
        retries: int | None = None,
        requests: int | None = None,
        rate_limited: int | None = None,
        seconds: float | None = None,
        **counts: int | None,
    ) -> None:
        unknown = set(counts) - set(COUNTS)
        if unknown:
            raise TypeError(f"unknown ledger counts {sorted(unknown)}")
        self._append(
            [
                {
                    "window_date": day,
                    "event": PARTIAL if partial else COMPLETE,
                    "run_id": run_id,
                    **counts,
                    "filter_mode": filter_mode,
                    "retries": retries,
                    "requests": requests,
                    "rate_limited": rate_limited,
                    "seconds": seconds,
                    "raw_attempt": raw_attempt,
                    "tables_json": _tables_json(tables),
                }
            ]
        )
        self._compact_if_scattered()

    def _compact_if_scattered(self) -> None:
        # Best effort: a compaction that loses to another writer's commit leaves the log as it
        # was, only slower to read, and the next complete window tries again.
        try:
            table = DeltaTable(self.uri, storage_options=self.lake.storage_options)
            if table.get_add_actions(flatten=True).num_rows >= COMPACT_AFTER_FILES:
                table.optimize.compact()
        except Exception as exc:
            log.debug("ledger not compacted yet: %s", exc)

    def fail(
        self, day: date, error: str, *, seconds: float | None = None, run_id: str | None = None
    ) -> None:
        self._append(
            [
                {
                    "window_date": day,
                    "event": FAILED,
                    "error": error,
                    "seconds": seconds,
                    "run_id": run_id,
                }
            ]
        )

    def record_enrichment(
        self,
        day: date,
        *,
        jobs_enriched: int | None,
        jobs_enrich_failed: int | None,
        jobs_not_found: int | None,
        tables: Mapping[str, Committed] | None = None,
    ) -> None:
        """Job-enrichment counts (None leaves a count as recorded) and the enrichment tables'
        files of a window."""
        self._append(
            [
                {
                    "window_date": day,
                    "event": "enriched",
                    "jobs_enriched": jobs_enriched,
                    "jobs_enrich_failed": jobs_enrich_failed,
                    "jobs_not_found": jobs_not_found,
                    "tables_json": _tables_json(tables or {}),
                }
            ]
        )

    def forget(self, days: Iterable[date], *, run_id: str | None = None) -> None:
        events = [{"window_date": d, "event": "forgotten", "run_id": run_id} for d in days]
        if events:
            self._append(events)

    # --- reading ---------------------------------------------------------------------------
    def events(self, days: Sequence[date] | None = None) -> pa.Table:
        """The event log (only the events of `days` when given: a window's row needs no
        other window's events, and the log grows with every run)."""
        try:
            table = DeltaTable(self.uri, storage_options=self.lake.storage_options)
        except TableNotFoundError:
            return EVENTS.empty_table()
        # One thread: pyarrow's threaded scan through delta-rs's Python filesystem sometimes
        # leaves a reader thread alive at interpreter exit, and the process then aborts
        # ("terminate called without an active exception", ~1 short command in 15). The log
        # is small, so nothing is lost.
        dataset = table.to_pyarrow_dataset()
        wanted = None if days is None else ds.field("window_date").isin(pa.array(days, pa.date32()))
        data = dataset.to_table(filter=wanted, use_threads=False)
        for column in EVENTS:
            if column.name not in data.column_names:
                data = data.append_column(column, pa.nulls(data.num_rows, column.type))
        return data.select(EVENTS.names)

    def exists(self) -> bool:
        try:
            DeltaTable(self.uri, storage_options=self.lake.storage_options)
        except TableNotFoundError:
            return False
        return True

    def rows(self, days: Sequence[date] | None = None) -> list[WindowRow]:
        """Every window (or those of `days`), oldest first."""
        events = self.events(days).sort_by([("at", "ascending")]).to_pylist()
        state: dict[date, WindowRow | None] = {}
        # A compaction racing an append can leave an event in two files (delta-rs 1.x): the
        # log is at-least-once. Each event sets state rather than adding to it, and a repeat
        # sorts next to its original (same `at`), so folding it twice changes nothing.
        for event in events:
            day = event["window_date"]
            state[day] = _apply(state.get(day), event)
        return sorted((row for row in state.values() if row is not None), key=_day)

    def get(self, day: date) -> WindowRow | None:
        found = self.rows([day])
        return found[0] if found else None

    def gaps(self) -> list[date]:
        """Days with no ledger row between the first and the last day that has one."""
        return list(iter_gaps([row.window_date for row in self.rows()]))

    def compact(self) -> None:
        """Rewrite the log into few files (many small appends slow down every read)."""
        try:
            table = DeltaTable(self.uri, storage_options=self.lake.storage_options)
        except TableNotFoundError:
            return
        table.optimize.compact()


def _day(row: WindowRow) -> date:
    return row.window_date


def _tables_json(tables: Mapping[str, Committed]) -> str:
    return json.dumps({name: c.to_json() for name, c in sorted(tables.items())}, sort_keys=True)
