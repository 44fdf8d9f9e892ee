"""The lake: one Delta Lake table per core table, partitioned by `window_date`.

A window's replacement is one Delta commit per table: `write_deltalake` in overwrite mode with
the predicate `window_date = 'YYYY-MM-DD'`. The commit is atomic (a reader sees the old rows of
the window or the new ones, never half), the files of the replaced rows stay on disk until
`maintain` vacuums them, and Delta's conflict check makes two writers of the same window
collide (the later commit fails and changes nothing) while writers of different windows never
do. The same code runs on a local directory and on object storage (`s3://bucket/prefix` with
the standard AWS variables).

Each commit is labelled with a write id in its commit metadata, so that the version it made
and the data files it added for the window can be read back exactly and recorded in the ledger
(the warehouse reads those files: a snapshot consistent across tables).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from pipeline.core import storage
from pipeline.core.errors import LakeError
from pipeline.core.settings import Settings
from pipeline.lake import tables

PARTITION = "window_date"
_WRITE_ID = "civitai_sync.write_id"
_WINDOW = "civitai_sync.window"
# zstd level 1: about as small as gzip, several times cheaper to write and read.
_WRITER = WriterProperties(compression="ZSTD", compression_level=1)
# How far back in a table's history a commit of this process is looked for.
_HISTORY_LOOKBACK = 50
# Two processes creating the same new table race on its first commit; the loser's writes then
# fail on "metadata changed" although no window was touched: those are retried.
_METADATA_RACE = "Metadata changed"
_METADATA_RETRIES = 3
_CREATE_LOCK = threading.Lock()
_COMMIT_FILE = re.compile(r"^\d{20}\.json$")


@dataclass(frozen=True)
class Committed:
    """What one commit published for one window of one table."""

    table: str
    version: int
    files: tuple[str, ...]  # data files of the window, relative to the table's root
    rows: int
    # Which columns the files hold (files written before a column existed lack it): an id of
    # the sorted column names, so that readers can group files of one shape.
    columns_id: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "files": list(self.files),
            "rows": self.rows,
            "columns_id": self.columns_id,
        }

    @classmethod
    def from_json(cls, table: str, data: Mapping[str, Any]) -> Committed:
        return cls(
            table,
            int(data["version"]),
            tuple(data.get("files") or ()),
            int(data["rows"]),
            str(data.get("columns_id") or ""),
        )


def columns_id(names: Iterable[str]) -> str:
    return hashlib.sha1("\n".join(sorted(names)).encode()).hexdigest()[:12]


def _predicate(day: date) -> str:
    return f"{PARTITION} = '{day.isoformat()}'"


class Lake:
    """The lake's tables under `uri` (a local directory or an `s3://` prefix)."""

    def __init__(self, uri: str, storage_options: Mapping[str, str] | None = None) -> None:
        self.uri = uri.rstrip("/")
        self.storage_options = dict(storage_options or {})

    @classmethod
    def from_settings(cls, settings: Settings) -> Lake:
        """The lake of `settings`; on object storage with the options of the standard AWS
        variables (`pipeline.core.storage`)."""
        location = settings.lake_location
        return cls(location, storage.storage_options(location))

    @property
    def remote(self) -> bool:
        return storage.is_remote(self.uri)

    def filesystem(self, path: str = "") -> tuple[pafs.FileSystem, str]:
        """A pyarrow filesystem and the path of `path` (relative to the lake's root) in it."""
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
        with _CREATE_LOCK:
            found = self._open(table)
            if found is not None:
                return found
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

    def replace_window(
        self,
        table: str,
        day: date,
        data: pa.Table | pa.RecordBatchReader | Callable[[], pa.RecordBatchReader],
    ) -> Committed:
        """Replace every row of `day` in `table` with `data`, in one commit.

        `data` is a table, a stream, or a function that opens the stream (then a commit that
        lost a race on the table's metadata, which only happens while a new lake's tables are
        being created, is retried). Raises ConcurrentWriteError when another writer changed
        the same window of the same table since this one read it: the lake is then as that
        writer left it.
        """
        schema = tables.schema_for(table)
        write_id = uuid.uuid4().hex
        for attempt in range(_METADATA_RETRIES + 1):
            current = self._open(table) or self._create(table)
            if isinstance(data, pa.Table):
                source: pa.RecordBatchReader = data.select(schema.names).cast(schema).to_reader()
            elif isinstance(data, pa.RecordBatchReader):
                source = data
            else:
                source = data()
            try:
                self._write(current, source, day, write_id)
                break
            except CommitFailedError as exc:
                retry = callable(data) or isinstance(data, pa.Table)
                if retry and _METADATA_RACE in str(exc) and attempt < _METADATA_RETRIES:
                    continue
                raise ConcurrentWriteError(
                    f"window {day}: another sync replaced the {table} table's rows of this day "
                    "while this one was writing; this run changed nothing there. Check "
                    "`civitai-sync status`, then run the window again if needed."
                ) from exc
            except DeltaError as exc:
                raise LakeError(f"window {day}: writing the {table} table failed: {exc}") from exc
        return self._committed(table, day, write_id)

    def _write(
        self, current: DeltaTable, source: pa.RecordBatchReader, day: date, write_id: str
    ) -> None:
        write_deltalake(
            current,
            source,
            mode="overwrite",
            predicate=_predicate(day),
            partition_by=[PARTITION],
            # A column added to a schema since the table was created joins the table here.
            schema_mode="merge",
            writer_properties=_WRITER,
            commit_properties=CommitProperties(
                custom_metadata={_WRITE_ID: write_id, _WINDOW: day.isoformat()}
            ),
            storage_options=self.storage_options,
        )

    def _committed(self, table: str, day: date, write_id: str) -> Committed:
        version = self._find_commit(table, write_id)
        at_version = self._open(table, version)
        assert at_version is not None
        files, rows = _window_files(at_version, day)
        return Committed(table, version, files, rows, self._columns_id(table, files))

    def _find_commit(self, table: str, write_id: str) -> int:
        """The version of the commit labelled `write_id`, read from the table's log itself
        (`_delta_log/<version>.json`, one JSON action per line): other writers may have
        committed since, so "the latest version" would not do."""
        filesystem, root = self.filesystem(f"{self._checked(table)}/_delta_log")
        entries = filesystem.get_file_info(pafs.FileSelector(root))
        commits = sorted(
            (info.base_name for info in entries if _COMMIT_FILE.match(info.base_name)),
            reverse=True,
        )
        for name in commits[:_HISTORY_LOOKBACK]:
            with filesystem.open_input_stream(f"{root}/{name}", compression=None) as stream:
                for line in stream.read().splitlines():
                    info = json.loads(line).get("commitInfo")
                    if info is not None and info.get(_WRITE_ID) == write_id:
                        return int(name.split(".")[0])
        raise LakeError(f"the {table} commit {write_id} could not be found in the table's log")

    def _columns_id(self, table: str, files: Sequence[str]) -> str:
        if not files:
            return ""
        filesystem, root = self.filesystem(self._checked(table))
        names = pq.read_schema(f"{root}/{files[0]}", filesystem=filesystem).names
        return columns_id(names)

    def window_files(self, table: str, day: date) -> tuple[str, ...]:
        """The data files of `day` at the table's latest version (relative paths)."""
        current = self._open(table)
        return () if current is None else _window_files(current, day)[0]

    def drop_window(self, table: str, day: date) -> int | None:
        """Delete the rows of `day` (one commit); the new version, or None without a table."""
        current = self._open(table)
        if current is None:
            return None
        empty = tables.schema_for(table).empty_table()
        write_deltalake(
            current,
            empty,
            mode="overwrite",
            predicate=_predicate(day),
            partition_by=[PARTITION],
            schema_mode="merge",
            storage_options=self.storage_options,
        )
        return self.version(table)

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
        filters = None
        if days is not None:
            wanted = sorted({d.isoformat() for d in days})
            if not wanted:
                return schema.empty_table()
            filters = [(PARTITION, "in", wanted)]
        data = current.to_pyarrow_table(filters=filters)
        missing = [f for f in schema if f.name not in data.column_names]
        for column in missing:
            data = data.append_column(column, pa.nulls(data.num_rows, column.type))
        return data.select(schema.names).cast(schema)

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
        present = [name for name in wanted if name in dataset.schema.names]
        for batch in dataset.to_batches(columns=present):
            arrays = [
                batch.column(name).cast(schema.field(name).type)
                if name in present
                else pa.nulls(batch.num_rows, schema.field(name).type)
                for name in wanted
            ]
            yield pa.RecordBatch.from_arrays(
                arrays, schema=pa.schema([schema.field(n) for n in wanted])
            )

    def absolute(self, table: str, files: Sequence[str]) -> list[str]:
        root = self.table_uri(table)
        return [f"{root}/{name}" for name in files]


def _window_files(table: DeltaTable, day: date) -> tuple[tuple[str, ...], int]:
    actions = pa.table(table.get_add_actions(flatten=True))
    key = f"partition.{PARTITION}"
    if actions.num_rows == 0 or key not in actions.column_names:
        return (), 0
    wanted = day.isoformat()
    paths, rows = [], 0
    for path, part, count in zip(
        actions.column("path").to_pylist(),
        actions.column(key).to_pylist(),
        actions.column("num_records").to_pylist(),
        strict=True,
    ):
        value = part.isoformat() if isinstance(part, date) else str(part)
        if value == wanted:
            paths.append(path)
            rows += int(count or 0)
    return tuple(sorted(paths)), rows


class ConcurrentWriteError(LakeError):
    """Another writer replaced the same window of the same table first."""
