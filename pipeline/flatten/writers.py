"""Parquet writers of a window's tables: bounded row groups, encoded on one shared thread,
fsynced at close, deleted on abort."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.flatten import schemas

PARQUET_COMPRESSION = "zstd"
# A Parquet row group is flushed at this many rows or bytes of Arrow data, whichever first:
# big enough for good compression and fast scans, small enough to bound memory.
ROW_GROUP_ROWS = 64_000
ROW_GROUP_BYTES = 4 * 2**20


class PartitionWriter:
    """Appends Arrow tables to one Parquet file in bounded row groups, then fsyncs it.

    Row groups are encoded and compressed on `encoder`'s thread while the flattening goes
    on. A writer hands over its next row group only once the previous one is written, so its
    file keeps their order and at most one of its row groups waits there. A failed write (a
    full disk) is raised by the next `add()` or by `close()`.
    """

    def __init__(self, path: Path, schema: pa.Schema, encoder: ThreadPoolExecutor) -> None:
        self.path = path
        self.schema = schema
        self.rows = 0
        self._file = open(path, "wb")  # noqa: SIM115 - closed in close()/abort()
        self._writer = pq.ParquetWriter(
            self._file,
            schema,
            compression=PARQUET_COMPRESSION,
            use_dictionary=schemas.dictionary_columns(schema),
        )
        self._buffer: list[pa.Table] = []
        self._buffered_rows = 0
        self._buffered_bytes = 0
        self._encoder = encoder
        self._encoding: Future[None] | None = None

    def add(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if table.num_columns != len(self.schema):
            table = table.select(self.schema.names)
        self._buffer.append(table)
        self._buffered_rows += table.num_rows
        self._buffered_bytes += table.nbytes
        if self._buffered_rows >= ROW_GROUP_ROWS or self._buffered_bytes >= ROW_GROUP_BYTES:
            self.flush()

    def flush(self, *, here: bool = False) -> None:
        """Hand what is buffered to the encoding thread as one row group (`here`: write it on
        this thread instead, once the previous one is written)."""
        self._wait()
        if self._buffer:
            tables, rows = self._buffer, self._buffered_rows
            if here:
                self._write(tables, rows)
            else:
                self._encoding = self._encoder.submit(self._write, tables, rows)
        self._buffer, self._buffered_rows, self._buffered_bytes = [], 0, 0

    def _write(self, tables: list[pa.Table], rows: int) -> None:
        self._writer.write_table(pa.concat_tables(tables))
        self.rows += rows

    def _wait(self) -> None:
        encoding, self._encoding = self._encoding, None
        if encoding is not None:
            encoding.result()

    def close(self) -> int:
        self.flush(here=True)
        self._writer.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return self.rows

    def abort(self) -> None:
        try:
            with contextlib.suppress(Exception):
                self._wait()
            self._writer.close()
        finally:
            self._file.close()
            self.path.unlink(missing_ok=True)


def close_writers(writers: Mapping[str, PartitionWriter]) -> dict[str, int]:
    """Close every writer; rows written per table.

    The last row groups are shared between the encoding thread and this one, which would
    otherwise only wait: every other table's goes to the encoder, the rest are written here.
    """
    names = list(writers)
    for name in names[::2]:
        writers[name].flush()
    rows = {name: writers[name].close() for name in [*names[1::2], *names[::2]]}
    _stop_encoders(writers)
    return {name: rows[name] for name in names}


def abort_writers(writers: Mapping[str, PartitionWriter]) -> None:
    """Abort every writer and delete its file (also after a close_writers that failed)."""
    try:
        for writer in writers.values():
            writer.abort()
    finally:
        _stop_encoders(writers)


def _stop_encoders(writers: Mapping[str, PartitionWriter]) -> None:
    for encoder in {writer._encoder for writer in writers.values()}:
        encoder.shutdown(wait=False)


def open_writers(
    outputs: Mapping[str, Path], without: Sequence[str] = ()
) -> dict[str, PartitionWriter]:
    """One Parquet writer per workflow table named in `outputs`, at `outputs[table]`, sharing
    one encoding thread: a thread per table was no faster on two cores, and each thread's own
    malloc arena raised the peak memory of a big day by a sixth. Columns named in `without`
    are left out of the files (the destination keeps them elsewhere, as a Delta table keeps
    its partition column in the directory name)."""
    unknown = sorted(set(outputs) - set(schemas.WORKFLOW_TABLES))
    if unknown:
        raise ValueError(
            f"not a workflow table: {', '.join(unknown)}; known: {', '.join(schemas.WORKFLOW_TABLES)}"
        )
    encoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-encode")
    return {
        name: PartitionWriter(outputs[name], _without(schema, without), encoder)
        for name, schema in schemas.WORKFLOW_TABLES.items()
        if name in outputs
    }


def _without(schema: pa.Schema, names: Sequence[str]) -> pa.Schema:
    for name in names:
        if name in schema.names:
            schema = schema.remove(schema.get_field_index(name))
    return schema
