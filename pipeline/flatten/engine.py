"""Running the SQL pass: a bounded DuckDB connection, and its result streamed batch by batch
through `split_batch` into the Parquet writers.

Memory is bounded by DuckDB's memory limit plus a few Arrow batches and one buffered row
group per table, whatever the size of the day.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa

from pipeline.core import duck
from pipeline.fetch.windows import Window
from pipeline.flatten.split import split_batch
from pipeline.flatten.writers import PartitionWriter

# Rows per Arrow batch pulled from DuckDB: a few MB of workflow JSON at a time.
BATCH_ROWS = 2048
DUCKDB_MEMORY_LIMIT = "256MB"
DUCKDB_THREADS = 2


def connect(
    work_dir: Path, *, memory_limit: str = DUCKDB_MEMORY_LIMIT, threads: int = DUCKDB_THREADS
) -> duckdb.DuckDBPyConnection:
    """The project's in-memory DuckDB (`pipeline.core.duck`: UTC, bounded memory, spilling
    under `work_dir`) with the flattening's own planner settings."""
    con = duck.connect(memory_limit=memory_limit, threads=threads, work_dir=work_dir)
    try:
        # Pushing the window filter into the scan would make DuckDB parse each document three
        # more times (once per predicate); filtering after the parse is cheaper.
        con.execute("SET disabled_optimizers = 'filter_pushdown'")
    except BaseException:
        con.close()
        raise
    return con


# Re-exported for the cursors of the flattening's connection (a cursor does not inherit the
# session's time zone).
session = duck.session


def scalar(con: duckdb.DuckDBPyConnection, query: str) -> int:
    # fetchall, not fetchone: a result left half-read blocks the connection's next query.
    rows = con.execute(query).fetchall()
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def _batches(reader: pa.RecordBatchReader, rows: int) -> Iterator[pa.Table]:
    """Regroup DuckDB's output (about one page per batch) into batches of at least `rows`, so
    the per-batch cost of the Arrow calls is paid a few times per day, not once per page."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in reader:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield pa.Table.from_batches(pending).combine_chunks()
            pending, count = [], 0
    if pending:
        yield pa.Table.from_batches(pending).combine_chunks()


class _Prefetcher:
    """Pulls DuckDB's batches on a worker thread, a couple ahead of the consumer.

    DuckDB computes the next batch (without the GIL) while this thread's caller splits and
    writes the previous one, so the engine and the Parquet writers overlap instead of taking
    turns. At most `depth` batches wait in the queue, which bounds the memory it adds.
    """

    _END = object()

    def __init__(self, reader: pa.RecordBatchReader, rows: int, depth: int = 2) -> None:
        self._reader = reader
        self._rows = rows
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flatten-prefetch", daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for batch in _batches(self._reader, self._rows):
                if not self._put(batch):
                    return
            self._put(self._END)
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(exc)

    def __iter__(self) -> Iterator[pa.Table]:
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def stream_into(
    con: duckdb.DuckDBPyConnection,
    query: str,
    window: Window,
    writers: dict[str, PartitionWriter],
    lock: threading.Lock | None = None,
) -> None:
    """Run `query` and append its rows to the writers (tables without a writer are not
    kept); `lock` guards writers shared by several queries at once (each batch is split
    outside it)."""
    reader = con.sql(query).to_arrow_reader(BATCH_ROWS)
    prefetch = _Prefetcher(reader, BATCH_ROWS)
    try:
        for batch in prefetch:
            tables = split_batch(batch, window)
            with lock or contextlib.nullcontext():
                for name, writer in writers.items():
                    writer.add(tables[name])
    except BaseException:
        prefetch.close()
        # Stopping half way leaves a pending result on the connection; drop it so the
        # connection can run the next query.
        reader.close()
        with contextlib.suppress(duckdb.Error):
            con.abort()
        raise
    prefetch.close()
    reader.close()
