"""The DuckDB warehouse analysts open: DATA_DIR/warehouse.duckdb, published atomically.

The warehouse holds no copy of the lake: its core tables are views over the lake files the
ledger lists for each published window (`pipeline.warehouse.views`), its SQL models are views
or small tables kept up to date day by day (`pipeline.warehouse.models`), and `sync_windows`
is the ledger's state. A publish copies the current file (small: no lake data in it), points
the views at the new files, recomputes the incremental models' rows of the days whose files
changed since the last publish, checkpoints, and renames the copy over the published file.

So a nightly run costs the changed days, not the history; an analyst holding the old file open
keeps reading the old, consistent snapshot and never blocks the publish; and if anything fails
(a model with a SQL error, say) the published file is left exactly as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pipeline.core import duck
from pipeline.core.errors import PipelineError
from pipeline.core.files import fsync_dir
from pipeline.core.locks import file_lock, lock_path
from pipeline.core.settings import Settings
from pipeline.lake import tables
from pipeline.lake.ledger import Ledger, WindowRow
from pipeline.lake.store import Lake
from pipeline.warehouse import build, cache, describe, models, views

PUBLISH_LOCK_TIMEOUT = 600.0
# Bumped when the warehouse's own layout changes: an older file is then rebuilt, not updated.
LAYOUT_VERSION = 2
PUBLISHED_TABLE = "_published_windows"
TEMP_PREFIX = ".warehouse-"

log = logging.getLogger(__name__)


@dataclass
class PublishResult:
    path: Path
    tables: dict[str, int] = field(default_factory=dict)
    models: list[Any] = field(default_factory=list)
    seconds: float = 0.0
    changed_days: list[date] = field(default_factory=list)
    rebuilt: bool = False


@contextlib.contextmanager
def publish_lock(settings: Settings, timeout: float = PUBLISH_LOCK_TIMEOUT) -> Iterator[None]:
    """One publisher at a time across processes (a second one waits, then publishes the newer
    lake)."""
    with file_lock(lock_path(settings.data_dir, "warehouse"), timeout) as held:
        if not held:
            raise PipelineError(
                f"Another process has been publishing the warehouse for {timeout:.0f}s; "
                "wait for it to finish and run again."
            )
        yield


def connect_for_build(path: Path, work_dir: Path, memory_limit: str) -> duckdb.DuckDBPyConnection:
    """A read-write connection that builds a warehouse file: bounded memory (the models join
    and aggregate, so they get more room than the streaming flattening), spilling what DuckDB
    can under `work_dir`."""
    return duck.connect(path, memory_limit=memory_limit, work_dir=work_dir)


def _fingerprint(row: WindowRow) -> str:
    """What the warehouse shows of a window: its live files in every table."""
    parts = sorted(f"{name}:{','.join(c.files)}" for name, c in row.tables.items())
    return hashlib.sha1("\n".join([row.status, *parts]).encode()).hexdigest()


def _previous(con: duckdb.DuckDBPyConnection) -> dict[date, str] | None:
    """The windows (and their fingerprints) the copied warehouse was published with; None when
    it is not a warehouse this version can update."""
    try:
        row = con.execute(f"SELECT max(layout) FROM {PUBLISHED_TABLE}").fetchone()
        if row is None or row[0] != LAYOUT_VERSION:
            return None
        found = con.execute(
            f"SELECT window_date, fingerprint FROM {PUBLISHED_TABLE} WHERE window_date IS NOT NULL"
        ).fetchall()
    except duckdb.Error:
        return None
    return dict(found)


def _record(con: duckdb.DuckDBPyConnection, fingerprints: Mapping[date, str]) -> None:
    days = sorted(fingerprints)
    # A warehouse with no window still has a layout: the row with no day.
    published = pa.table(
        {
            "window_date": pa.array([*days, None], pa.date32()),
            "fingerprint": pa.array([*(fingerprints[d] for d in days), None], pa.string()),
            "layout": pa.array([LAYOUT_VERSION] * (len(days) + 1), pa.int32()),
        }
    )
    # One statement: executemany costs a statement per window (seconds for a year).
    con.register("published_windows_rows", published)
    try:
        con.execute(
            f"CREATE OR REPLACE TABLE {PUBLISHED_TABLE} AS SELECT * FROM published_windows_rows"
        )
    finally:
        con.unregister("published_windows_rows")


def _core_views(
    con: duckdb.DuckDBPyConnection, lake: cache.FileSource, rows: Sequence[WindowRow]
) -> None:
    """`lake.<table>`: each lake table as the ledger's files; `main.<table>`: what analysts
    read, the lake table itself unless sql/core/<table>.sql presents it otherwise."""
    con.execute("CREATE SCHEMA IF NOT EXISTS lake")
    for name, schema in tables.all_schemas().items():
        groups = views.file_groups(name, rows, views.live_files(lake, name, rows))
        views.create_view(con, name, schema, groups, in_schema="lake")
    for name in tables.all_schemas():
        sql = models.core_view_sql(name)
        con.execute(f"CREATE OR REPLACE VIEW {views.ident(name)} AS\n{sql}")


def _sweep_temps(settings: Settings) -> None:
    """Temp files of killed publishes (the caller holds the publish lock, so none is live)."""
    for leftover in settings.data_dir.glob(f"{TEMP_PREFIX}*"):
        with contextlib.suppress(OSError):
            leftover.unlink()


def publish_warehouse(
    settings: Settings,
    *,
    build_models: bool = True,
    params: Mapping[str, object] | None = None,
    full: bool = False,
) -> PublishResult:
    """Bring DATA_DIR/warehouse.duckdb up to the lake's published windows, then swap it in.

    Only the days whose live files changed since the last publish are recomputed, unless
    `full` (or the file cannot be updated: missing, damaged, older layout).
    """
    started = time.monotonic()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    final = settings.warehouse_path
    lake = Lake.from_settings(settings)
    with publish_lock(settings):
        _sweep_temps(settings)
        ledger_rows = Ledger(lake).rows()
        rows = [row for row in ledger_rows if row.published]
        fingerprints = {row.window_date: _fingerprint(row) for row in rows}
        temp = settings.data_dir / f"{TEMP_PREFIX}{uuid.uuid4().hex}.duckdb"
        result = PublishResult(path=final)
        try:
            previous = None
            if not full and final.is_file():
                shutil.copyfile(final, temp)
                previous = _open_previous(temp)
            if previous is None:
                temp.unlink(missing_ok=True)
            con = connect_for_build(temp, settings.work_dir, settings.warehouse_memory_limit)
            try:
                _build(con, settings, lake, rows, ledger_rows, fingerprints, previous, result,
                       build_models=build_models, params=params)  # fmt: skip
            except duckdb.Error as exc:
                raise PipelineError(
                    "the new warehouse cannot read the lake "
                    f"({' '.join(str(exc).split())[:300]}); nothing was published. A lake file "
                    "may be missing: see `civitai-sync status`, then sync or rebuild that day."
                ) from exc
            finally:
                con.close()
            _verify(temp, rows, None if result.rebuilt else result.changed_days)
            temp.replace(final)
            # A WAL beside the published name belongs to the file just replaced (a reader that
            # held it read-write): replayed into the new file it would stop every open.
            final.with_name(final.name + ".wal").unlink(missing_ok=True)
            fsync_dir(final.parent)
            if lake.remote:
                cache.LakeCache(lake, settings.data_dir / cache.CACHE_DIR).evict()
        finally:
            temp.unlink(missing_ok=True)
            temp.with_name(temp.name + ".wal").unlink(missing_ok=True)
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _build(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    lake: Lake,
    rows: Sequence[WindowRow],
    ledger_rows: Sequence[WindowRow],
    fingerprints: Mapping[date, str],
    previous: Mapping[date, str] | None,
    result: PublishResult,
    *,
    build_models: bool,
    params: Mapping[str, object] | None,
) -> None:
    """Fill the new file: core views, sync_windows, the models (of the changed days only when
    `previous` tells what the copied file showed), and the record of what it now shows."""
    _core_views(con, cache.readable(settings, lake, rows), rows)
    views.write_sync_windows(con, ledger_rows)
    changed: list[date] | None = None
    if previous is not None:
        changed = sorted(
            day for day in {*previous, *fingerprints} if previous.get(day) != fingerprints.get(day)
        )
        result.changed_days = changed
    result.rebuilt = changed is None
    if build_models:
        result.models = build.build_models(con, params=params, changed_days=changed)
    built = build.built_models(con) if build_models else []
    describe.comment(con, describe.document(con, built).values())
    _record(con, fingerprints)
    result.tables = {name: committed_rows(rows, name) for name in tables.all_schemas()}
    result.tables["sync_windows"] = len(fingerprints)
    con.execute("CHECKPOINT")


def _verify(path: Path, rows: Sequence[WindowRow], changed: Sequence[date] | None) -> None:
    """The new file opens, every core table reads, and the days recomputed hold exactly the
    rows the ledger recorded (every day after a full rebuild): checked before it is published,
    so that a run never ends "ok" with a warehouse that does not open."""
    checked = [row for row in rows if changed is None or row.window_date in set(changed)]
    try:
        con = duck.connect(path, read_only=True)
    except duckdb.Error as exc:
        raise PipelineError(
            f"the new warehouse does not open ({exc}); nothing was published"
        ) from exc
    try:
        for name in tables.all_schemas():
            con.execute(f"SELECT * FROM {views.ident(name)} LIMIT 0").fetchall()
            if not checked:
                continue
            days = [row.window_date for row in checked]
            (found,) = con.execute(
                f"SELECT count(*) FROM lake.{views.ident(name)} "
                "WHERE window_date IN (SELECT unnest(?::DATE[]))",
                [days],
            ).fetchone() or (0,)
            expected = committed_rows(checked, name)
            if found != expected:
                raise PipelineError(
                    f"the new warehouse holds {found} {name} rows for the days it recomputed "
                    f"where the ledger recorded {expected}; nothing was published. Run "
                    "`civitai-sync maintain`, then the sync again."
                )
    except duckdb.Error as exc:
        raise PipelineError(
            f"the new warehouse cannot read the lake ({' '.join(str(exc).split())[:300]}); "
            "nothing was published. A lake file may be missing: run `civitai-sync status`."
        ) from exc
    finally:
        con.close()


def _open_previous(path: Path) -> dict[date, str] | None:
    try:
        con = duck.connect(path)
    except duckdb.Error:
        return None
    try:
        return _previous(con)
    finally:
        con.close()


def committed_rows(rows: Sequence[WindowRow], table: str) -> int:
    """Rows of `table` over the published windows, from the ledger (no lake read)."""
    return sum(row.tables[table].rows for row in rows if table in row.tables)
