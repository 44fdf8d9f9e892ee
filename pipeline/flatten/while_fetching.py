"""Flattening a window while its pages are still being fetched.

A page takes a round trip to arrive, so flattening only after the last one leaves the CPU idle
during the fetch and the network idle during the flattening. `FlattenWhileFetching` starts
the window's one flattening query (the same SQL as `window.flatten_pages`) on a thread of its
own when the fetch starts. The query reads an Arrow stream of pages: the fetch's
`on_archived` hook queues each archived page's path, DuckDB reads the next page when it needs
it (blocking, without the GIL, while none is there), and the stream ends when the fetch does.
Only paths wait in the queue, so memory stays flat when the fetch runs ahead.

The files are then exactly what `window.flatten_pages` writes from the finished archive, with
one difference that no rule may depend on: rows are in arrival order, which differs from
page order when sub-window chains fetch in parallel. Page order decides which copy of a
repeated key is kept, so a window in which any key repeats (a workflow listed twice as the
list moved, a child id the API repeated) is flattened again from the archive files, in page
order. That is rare; the common case pays one query counting the keys of every table.
`FlattenResult.source` says which of the two passes wrote the files.

Threads: the query's one (plus those every flattening uses: the engine's prefetch and the
Parquet encoder). A run ends early one way only, `_stop`: its stream ends where it is, the
thread returns, its files are deleted.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from pipeline.fetch import archive
from pipeline.fetch.windows import Bounds, Window
from pipeline.flatten import duplicates, engine
from pipeline.flatten.query import build_query
from pipeline.flatten.window import FlattenResult, flatten_pages
from pipeline.flatten.writers import abort_writers, close_writers, open_writers

# The stream's schema: a page's number, its chain's bounds (NULL: the window's), its JSON text.
PAGE_SCHEMA = pa.schema(
    [
        ("page_no", pa.int32()),
        ("lo", pa.timestamp("us", tz="UTC")),
        ("hi", pa.timestamp("us", tz="UTC")),
        ("body", pa.large_string()),
    ]
)
log = logging.getLogger(__name__)

_STREAM = "pages_while_fetching"
# Pages per Arrow batch at most (fewer when fewer are waiting): a batch is parsed as a unit,
# so this bounds what a burst of pages costs in memory (~0.3 MB of JSON a page, several
# times that parsed).
PAGES_PER_BATCH = 4
_END = None
Queued = tuple[Path, Bounds | None] | None


class FlattenWhileFetching:
    """`add()` pages as they are archived (any thread), `restart()` when the fetch starts over,
    `finish()` once the archive is complete, `abort()` when the window will not be published
    (safe at any point, and more than once)."""

    def __init__(
        self,
        window: Window,
        outputs: Mapping[str, Path],
        *,
        synced_at: datetime,
        work_dir: Path,
        without: Sequence[str] = (),
    ) -> None:
        self.window = window
        self.outputs = dict(outputs)
        self.synced_at = synced_at
        self.work_dir = work_dir
        self.without = tuple(without)
        self._con = engine.connect(work_dir, threads=1)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flatten-while-fetching")
        self._finished = False
        self._start()

    # ------------------------------------------------------------------ the fetch's hooks

    def add(self, path: Path, bounds: Bounds | None = None) -> None:
        """`extract_window(on_archived=...)`: a page is complete in the archive."""
        self._queue.put((path, bounds))

    def restart(self) -> None:
        """`extract_window(on_restart=...)`: the pages so far are thrown away (the server
        ignored the date filter); flatten the next ones from scratch."""
        self._stop()
        self._start()

    # ------------------------------------------------------------------ the end

    def finish(
        self, files: Sequence[Path], page_bounds: Mapping[int, Bounds] | None
    ) -> FlattenResult:
        """End the stream, wait for the query and close the files; raises duckdb.Error on a
        page DuckDB cannot read. `files` and `page_bounds` are the whole archive, flattened
        again in page order when a key repeats."""
        self._queue.put(_END)
        try:
            rows = self._run.result()
            repeated = duplicates.any_repeated_keys(self._con, self.outputs)
        except BaseException:
            self.abort()
            raise
        self._finished = True
        self._close()
        if not repeated:
            return FlattenResult(rows=rows, source="stream")
        log.info(
            "window %s: a key repeats across pages; flattened again in page order", self.window
        )
        return flatten_pages(
            files,
            self.window,
            self.outputs,
            synced_at=self.synced_at,
            work_dir=self.work_dir,
            page_bounds=page_bounds,
            without=self.without,
        )

    def abort(self) -> None:
        """Stop the query and delete its files, unless `finish()` handed them over."""
        if not self._finished:
            self._stop()
            self._finished = True
        self._close()

    # ------------------------------------------------------------------ one run

    def _start(self) -> None:
        self._queue: queue.SimpleQueue[Queued] = queue.SimpleQueue()
        self._abandon = threading.Event()
        self._run: Future[dict[str, int]] = self._pool.submit(
            self._flatten, self._queue, self._abandon
        )

    def _stop(self) -> None:
        """The one way a run ends early: its stream ends at the next page, the thread
        returns, and its files are deleted."""
        self._abandon.set()
        self._queue.put(_END)
        with contextlib.suppress(BaseException):  # the run is thrown away, its error too
            self._run.result()
        for path in self.outputs.values():
            path.unlink(missing_ok=True)

    def _close(self) -> None:
        self._pool.shutdown(wait=True)
        self._con.close()

    def _flatten(
        self, pages: queue.SimpleQueue[Queued], abandon: threading.Event
    ) -> dict[str, int]:
        writers = open_writers(self.outputs, self.without)
        con = engine.session(self._con.cursor())
        try:
            stream = pa.RecordBatchReader.from_batches(PAGE_SCHEMA, _batches(pages, abandon))
            con.register(_STREAM, stream)
            query = build_query([], self.window, self.synced_at, stream=_STREAM)
            engine.stream_into(con, query, self.window, writers)
            if abandon.is_set():
                abort_writers(writers)
                return {}
            return close_writers(writers)
        except BaseException:
            abort_writers(writers)
            raise
        finally:
            con.close()


def _batches(
    pages: queue.SimpleQueue[Queued], abandon: threading.Event
) -> Iterator[pa.RecordBatch]:
    """The pages as Arrow batches, read back from the archive when DuckDB asks for more (so
    only paths pile up when the fetch runs ahead); ends at _END, or at once when abandoned."""
    ended = False
    while not ended:
        waiting = [pages.get()]
        while waiting[-1] is not _END and len(waiting) < PAGES_PER_BATCH:
            try:
                waiting.append(pages.get_nowait())
            except queue.Empty:
                break
        ended = waiting[-1] is _END
        batch = [page for page in waiting if page is not _END]
        if abandon.is_set():
            return
        if batch:
            yield _record_batch(batch)


def _record_batch(batch: Sequence[tuple[Path, Bounds | None]]) -> pa.RecordBatch:
    return pa.record_batch(
        [
            [archive.page_number(path) for path, _ in batch],
            [bounds[0] if bounds else None for _, bounds in batch],
            [bounds[1] if bounds else None for _, bounds in batch],
            [archive.read_page(path).decode("utf-8") for path, _ in batch],
        ],
        schema=PAGE_SCHEMA,
    )
