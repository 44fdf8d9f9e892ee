"""The lake: one Delta Lake table per core table, partitioned by `window_date`.

A window's replacement is one Delta commit per table: the new data files are written first
(streamed, in bounded row groups: a day of any size costs the memory of one row group), then
one commit removes the window's old files and adds the new ones. The commit is atomic (a
reader sees the old rows of the window or the new ones, never half); the old files stay on disk
until `maintain` vacuums them. Files of a commit that never happened (a killed run) are never
part of the table and are vacuumed too.

Why not `write_deltalake`: it holds the whole input in memory before writing (delta-rs
collects the stream), about twice a day's data: a 100,000-workflow day went past 900 MiB.

One writer per window is the caller's rule (the sync's window lock; on object storage a claim,
see runs.sync), so a commit can only race commits of other windows: Delta's conflict check is
coarse for commits that remove files (any concurrent commit fails it), so the commit is
retried as long as the window's own files are still those it replaces. If they changed, or a
commit of another writer added files to the same window meanwhile, the window was written
twice: the later commit fails with ConcurrentWriteError and leaves the other's data.

Each commit is labelled with a write id in its commit metadata, so that the version it made is
found again in the table's log, and recorded in the ledger with its files (the warehouse reads
those files: a snapshot consistent across tables). The same code runs on a local directory and
on object storage (`s3://bucket/prefix` with the standard AWS variables): files are written
locally and copied up before the commit.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, Field
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError
from deltalake.transaction import AddAction, RemoveAction

from pipeline.core import storage
from pipeline.core.errors import LakeError
from pipeline.core.settings import Settings
from pipeline.lake import tables
from pipeline.lake.datafiles import (
    PARTITION,
    ROW_GROUP_ROWS,
    Committed,
    NewFile,
    columns_id,
    conform,
    conform_batches,
    file_schema,
    window_adds,
    window_files,
)
from pipeline.lake.delta_log import DeltaLog

# Re-exported: the names writers and readers of the lake use with `Lake`.
__all__ = [
    "PARTITION",
    "ROW_GROUP_ROWS",
    "Committed",
    "ConcurrentWriteError",
    "Lake",
    "NewFile",
    "columns_id",
    "conform",
    "file_schema",
]

_WRITE_ID = "civitai_sync.write_id"
_WINDOW = "civitai_sync.window"
# How far back in a table's log a commit of this process is looked for.
_HISTORY_LOOKBACK = 50
# Commits of other windows landing meanwhile: each costs a retry, never a failure.
_COMMIT_RETRIES = 50
_CREATE_LOCKS: dict[str, threading.Lock] = {}
_CREATE_LOCKS_GUARD = threading.Lock()


def _create_lock(table_uri: str) -> threading.Lock:
    """One lock per table: two threads creating the same table must not both try, while
    different tables are created side by side."""
    with _CREATE_LOCKS_GUARD:
        return _CREATE_LOCKS.setdefault(table_uri, threading.Lock())


class Lake:
    """The lake's tables under `uri` (a local directory or an `s3://` prefix)."""

    def __init__(
        self,
        uri: str,
        storage_options: Mapping[str, str] | None = None,
        staging_dir: Path | None = None,
    ) -> None:
        self.uri = uri.rstrip("/")
        self.storage_options = dict(storage_options or {})
        self.remote = storage.is_remote(self.uri)
        self.staging_dir = staging_dir

    @classmethod
    def from_settings(cls, settings: Settings) -> Lake:
        """The lake of `settings`; on object storage with the options of the standard AWS
        variables (`pipeline.core.storage`)."""
        location = settings.lake_location
        return cls(
            location,
            storage.storage_options(location),
            staging_dir=settings.work_dir / "lake-staging",
        )

    def filesystem(self, path: str = "") -> tuple[pafs.FileSystem, str]:
        """A pyarrow filesystem and the path of `path` (relative to the lake's root) in it,
        configured like delta-rs (`pipeline.core.storage`)."""
        filesystem, root = storage.filesystem(self.uri, self.storage_options)
        return filesystem, f"{root}/{path}".rstrip("/") if path else root

    def table_uri(self, table: str) -> str:
        return f"{self.uri}/{self._checked(table)}"

    @staticmethod
    def _checked(table: str) -> str:
        tables.schema_for(table)  # unknown names fail here, not deep inside delta-rs
        return table

    def _open(self, table: str, version: int | None = None) -> DeltaTable | None:
        try:
            return DeltaTable(
                self.table_uri(table), version=version, storage_options=self.storage_options
            )
        except TableNotFoundError:
            return None

    def exists(self, table: str) -> bool:
        return self._open(table) is not None

    def _create(self, table: str) -> DeltaTable:
        with _create_lock(self.table_uri(table)):
            found = self._open(table)
            if found is not None:
                return found
            with contextlib.suppress(DeltaError):  # another process created it first
                DeltaTable.create(
                    self.table_uri(table),
                    schema=tables.schema_for(table),
                    partition_by=[PARTITION],
                    mode="ignore",
                    storage_options=self.storage_options,
                )
        found = self._open(table)
        if found is None:
            raise LakeError(f"could not create the lake table {self.table_uri(table)}")
        return found

    # --- writing ---------------------------------------------------------------------------
    def new_file(self, table: str, day: date) -> NewFile:
        """Where to write a new data file of `day`: in the staging directory, moved into the
        table (or copied up to object storage) right before the commit, so that a vacuum never
        meets a file that is still being written."""
        name = f"{PARTITION}={day.isoformat()}/part-{uuid.uuid4().hex}.zstd.parquet"
        if self.staging_dir is not None:
            path = self.staging_dir / table / name
        elif self.remote:
            raise LakeError("a lake on object storage needs a local staging directory")
        else:
            path = Path(self.table_uri(table)) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return NewFile(table, day, path, name)

    def sweep_staging(self, day: date, names: Iterable[str]) -> None:
        """Delete staged files of `day` left by a killed run (call with the window's lock held,
        for the tables only that lock's holder writes)."""
        if self.staging_dir is None:
            return
        for table in names:
            shutil.rmtree(
                self.staging_dir / table / f"{PARTITION}={day.isoformat()}", ignore_errors=True
            )

    def write_file(
        self, table: str, day: date, data: pa.Table | Iterable[pa.RecordBatch]
    ) -> NewFile:
        """Write rows of `day` (a table or a stream of batches) into a new data file."""
        target = self.new_file(table, day)
        schema = file_schema(table)
        renamed = tables.RENAMED.get(table)
        batches = data.to_batches() if isinstance(data, pa.Table) else data
        with pq.ParquetWriter(
            target.path, schema, compression="zstd", compression_level=1
        ) as writer:
            for batch in batches:
                if batch.num_rows:
                    rows = conform(pa.Table.from_batches([batch]), schema, renamed)
                    writer.write_table(rows, ROW_GROUP_ROWS)
        return target

    def replace_window(
        self, table: str, day: date, data: pa.Table | Iterable[pa.RecordBatch]
    ) -> Committed:
        """Replace every row of `day` in `table` with `data`, in one commit."""
        return self.commit_window(table, day, [self.write_file(table, day, data)])

    def commit_window(self, table: str, day: date, files: Sequence[NewFile]) -> Committed:
        """Make `files` (written with new_file/write_file) the rows of `day`, in one commit.

        Raises ConcurrentWriteError when another writer changed the same window of the same
        table meanwhile: the lake is then as that writer left it, and `files` are deleted.
        """
        try:
            # A file without rows adds nothing: an empty window has no file at all.
            adds = [action for f in files if (action := self._add_action(f)) is not None]
            write_id = uuid.uuid4().hex
            version = self._commit(table, day, adds, write_id)
        except BaseException:
            for f in files:
                self._discard(f)
            raise
        return self._committed(table, day, version)

    def _add_action(self, new: NewFile) -> AddAction | None:
        rows = pq.read_metadata(new.path).num_rows
        if rows == 0:
            new.path.unlink()
            return None
        size = new.path.stat().st_size
        filesystem, root = self.filesystem(self._checked(new.table))
        target = f"{root}/{new.name}"
        if self.remote:
            storage.upload(new.path, filesystem, target)
            new.path.unlink(missing_ok=True)
        elif new.path != Path(target):
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(new.path, target)
        return AddAction(
            new.name,
            size,
            {PARTITION: new.day.isoformat()},
            int(time.time() * 1000),
            True,
            json.dumps({"numRecords": rows}),
        )

    def _discard(self, new: NewFile) -> None:
        new.path.unlink(missing_ok=True)
        filesystem, root = self.filesystem(self._checked(new.table))
        with contextlib.suppress(OSError):
            filesystem.delete_file(f"{root}/{new.name}")

    def _commit(self, table: str, day: date, adds: list[AddAction], write_id: str) -> int:
        for _attempt in range(_COMMIT_RETRIES):
            current = self._open(table) or self._create(table)
            self._ensure_columns(current, table)
            read_version = current.version()
            old = [(path, size) for path, size, _ in window_adds(current, day)]
            now = int(time.time() * 1000)
            removes = [
                RemoveAction(path, True, now, size, {PARTITION: day.isoformat()})
                for path, size in old
            ]
            try:
                current.create_write_transaction(
                    [*removes, *adds],
                    mode="append",
                    schema=current.schema(),
                    partition_by=[PARTITION],
                    commit_properties=CommitProperties(
                        custom_metadata={_WRITE_ID: write_id, _WINDOW: day.isoformat()}
                    ),
                )
            except CommitFailedError as exc:
                if self.window_files(table, day) != tuple(sorted(p for p, _ in old)):
                    raise _collision(table, day) from exc
                continue  # a commit of another window (or of the table's schema) came first
            except DeltaError as exc:
                raise LakeError(
                    f"window {day}: committing the {table} table failed: {exc}"
                ) from exc
            log = DeltaLog(self.table_uri(table), self.storage_options)
            version = log.find_commit(_WRITE_ID, write_id, _HISTORY_LOOKBACK)
            if log.added_to(f"{PARTITION}={day.isoformat()}/", read_version, version):
                self._undo(table, day, adds)
                raise _collision(table, day)
            return version
        raise LakeError(f"window {day}: the {table} commit kept losing races; run it again")

    def _ensure_columns(self, current: DeltaTable, table: str) -> None:
        """Columns added to the registry since the table was created join the table (a
        metadata commit of its own; files written before lack them and read as NULL)."""
        present = set(current.schema().to_arrow().names)
        missing = [f for f in tables.schema_for(table) if f.name not in present]
        if missing:
            try:
                # delta-rs takes its own Field type here, not pyarrow's.
                current.alter.add_columns([Field.from_arrow(f) for f in missing])
            except DeltaError as exc:
                if "already exists" not in str(exc).lower():
                    raise
            current.update_incremental()

    def _undo(self, table: str, day: date, adds: list[AddAction]) -> None:
        """Take back a commit that turned out to race another writer of the same window."""
        current = self._open(table)
        assert current is not None
        now = int(time.time() * 1000)
        removes: list[AddAction | RemoveAction] = [
            RemoveAction(a.path, True, now, a.size, {PARTITION: day.isoformat()}) for a in adds
        ]
        current.create_write_transaction(
            removes, mode="append", schema=current.schema(), partition_by=[PARTITION]
        )

    def _committed(self, table: str, day: date, version: int) -> Committed:
        at_version = self._open(table, version)
        assert at_version is not None
        files, rows = window_files(at_version, day)
        return Committed(table, version, files, rows, self._columns_id(table, files))

    def _columns_id(self, table: str, files: Sequence[str]) -> str:
        if not files:
            return ""
        filesystem, root = self.filesystem(self._checked(table))
        names = pq.read_schema(f"{root}/{files[0]}", filesystem=filesystem).names
        return columns_id(names)

    def drop_window(self, table: str, day: date) -> int | None:
        """Delete the rows of `day` (one commit); the new version, or None without a table."""
        if self._open(table) is None:
            return None
        return self.commit_window(table, day, []).version

    # --- reading ---------------------------------------------------------------------------
    def window_files(self, table: str, day: date) -> tuple[str, ...]:
        """The data files of `day` at the table's latest version (relative paths)."""
        current = self._open(table)
        return () if current is None else window_files(current, day)[0]

    def version(self, table: str) -> int | None:
        current = self._open(table)
        return None if current is None else current.version()

    def read(self, table: str, days: Iterable[date] | None = None) -> pa.Table:
        """The table's rows at its latest version (all of it, or some windows), in the
        registry's column order. For checks, tests and small tables."""
        schema = tables.schema_for(table)
        current = self._open(table)
        if current is None:
            return schema.empty_table()
        predicate = None
        if days is not None:
            wanted = sorted({d.isoformat() for d in days})
            if not wanted:
                return schema.empty_table()
            predicate = [(PARTITION, "in", wanted)]
        # One thread (also in `batches`): a threaded scan through delta-rs's Python file system
        # can leave a reader thread alive at exit, and the process then aborts.
        data = current.to_pyarrow_dataset(file_pruning_predicate=predicate).to_table(
            use_threads=False
        )
        return conform(data, schema, tables.RENAMED.get(table))

    def batches(
        self, table: str, day: date, columns: Sequence[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """The rows of one window at the table's latest version, streamed in batches, in the
        registry's schema (columns missing from older files come back as nulls)."""
        schema = tables.schema_for(table)
        current = self._open(table)
        if current is None:
            return
        dataset = current.to_pyarrow_dataset(
            file_pruning_predicate=[(PARTITION, "=", day.isoformat())]
        )
        wanted = list(columns or schema.names)
        renamed = {
            new: old
            for new, old in tables.RENAMED.get(table, {}).items()
            if new in wanted and old in dataset.schema.names
        }
        present = [name for name in wanted if name in dataset.schema.names]
        read = [*present, *(old for old in renamed.values() if old not in present)]
        yield from conform_batches(
            dataset.to_batches(columns=read, use_threads=False), table, wanted, present, renamed
        )

    def absolute(self, table: str, files: Sequence[str]) -> list[str]:
        root = self.table_uri(table)
        return [f"{root}/{name}" for name in files]


def _collision(table: str, day: date) -> ConcurrentWriteError:
    return ConcurrentWriteError(
        f"window {day}: another sync wrote the {table} table's rows of this day at the same "
        "time; this run changed nothing there. Check `civitai-sync status`, then run the "
        "window again if needed."
    )


class ConcurrentWriteError(LakeError):
    """Another writer replaced the same window of the same table first."""
