"""Job enrichment: one v1 job lookup per job -> `job_details` + `scan_scores` lake partitions.

Embedded jobs in a workflow carry no event, provider or scan scores; only
`GET /v1/consumer/jobs/{id}?detailed=true` has them, one request per job. So this pass is the
API-heaviest part of a sync and is built to be fast and polite:

* only jobs that have no `job_details` row yet, or whose last event was not final, are asked
  for again (`force=True` asks for all). A job the API answers 404 for is recorded with
  `found=false` and counts as final: it is never asked for again.
* at most `concurrency` requests are in flight (default `settings.JOB_CONCURRENCY`, 16), and the
  client's RateLimiter caps requests/second (default `settings.JOB_RATE_LIMIT`, 50/s). Use
  `job_client()` to build the client: its limiter is one per base URL for the whole process, so
  windows enriched concurrently share one budget, and a 429 slows that whole budget.
  The lookups run on `concurrency` worker threads with the blocking client over keep-alive
  `http.client` connections (pipeline/transport.py): at 20 ms per request that costs about
  half the CPU per lookup of an asyncio client, and the client's CPU is what bounds the
  rate once the API answers quickly.
* memory stays bounded whatever the window size: each response is appended to a gzip JSONL
  archive attempt file and turned into rows that are flushed to Parquet in batches.
* publication is atomic per file and ordered archive -> scan_scores -> job_details: the
  job_details partition is what decides "already enriched", so if the process dies half way the
  next run simply asks again for what was not recorded there.

A failed lookup (after the client's retries) is counted in `failed`; that job keeps its previous
row if it had one (it was not final, so it is asked for again next run), and the window still
publishes everything that succeeded.
"""

from __future__ import annotations

import gzip
import logging
import os
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.core import locks
from pipeline.core import settings as defaults
from pipeline.core.errors import (
    ApiError,
    AuthenticationError,
    NotFoundError,
    PipelineError,
    ResponseValidationError,
    WindowError,
)
from pipeline.core.redact import redact
from pipeline.core.settings import Settings
from pipeline.enrich.job_details import (
    JOB_DETAILS_SCHEMA,
    SCAN_SCORES_SCHEMA,
    job_rows,
    not_found_row,
)
from pipeline.enrich.scan_scores import strip_signed_urls
from pipeline.lake import partitions as lake

if TYPE_CHECKING:
    from pipeline.api.client import OrchestrationClient
    from pipeline.api.ratelimit import RateLimiter

log = logging.getLogger(__name__)


ARCHIVE_NAME = "jobs.jsonl.gz"
ATTEMPT_PREFIX = ".attempt-"
ENRICH_TABLES = ("job_details", "scan_scores")
# Fast compression, as for the page archive: it is written on the event loop between lookups.
GZIP_LEVEL = 1
LOCK_TIMEOUT_SECONDS = 120.0
ARCHIVE_CHUNK_BYTES = 1 << 20
# Rows per Parquet row batch: small enough to bound memory, large enough for sane row groups.
BATCH_ROWS = 2000


@dataclass
class EnrichResult:
    """What one enrichment pass did.

    looked_up: jobs asked for this run (including the failed and the not found ones);
    skipped: jobs already final, carried over without a request; failed: lookups that failed
    after retries (retried next run); not_found: 404s this run; rate_limited: 429 answers seen
    by the client during the pass; enriched: found jobs in the published partition;
    jobs: jobs in the window; parse_failures: context items kept as text without a score.
    """

    window_date: date
    looked_up: int = 0
    skipped: int = 0
    failed: int = 0
    not_found: int = 0
    rate_limited: int = 0
    seconds: float = 0.0
    enriched: int = 0
    jobs: int = 0
    parse_failures: int = 0


# --------------------------------------------------------------------------- paths


def partition_path(settings: Settings, table: str, window_date: date) -> Path:
    return lake.partition_path(settings.lake_dir, table, window_date)


def archive_dir(settings: Settings, window_date: date) -> Path:
    return settings.raw_dir / "jobs" / f"date={window_date.isoformat()}"


@contextmanager
def enrich_lock(settings: Settings, window_date: date, timeout: float) -> Iterator[None]:
    """One enrichment per window at a time, across processes (Dagster runs, CLI backfills):
    two passes would delete each other's attempt files and race on the same partitions."""
    path = locks.lock_path(settings.data_dir, f"enrich-{window_date.isoformat()}")
    with locks.file_lock(path, timeout) as held:
        if not held:
            raise WindowError(
                f"window {window_date}: another process is enriching this window's jobs "
                f"(lock {path}); wait for it to finish, then run again.",
                window=window_date.isoformat(),
            )
        yield


# --------------------------------------------------------------------------- shared budget

_LIMITERS: dict[str, RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def shared_rate_limiter(base_url: str, rate: float = defaults.JOB_RATE_LIMIT) -> RateLimiter:
    """The process-wide request budget for one API host.

    The API's rate limit is per account/host, not per window, so every concurrent enrichment
    in this process must draw from the same bucket. The first caller's `rate` wins.
    """
    from pipeline.api.ratelimit import RateLimiter

    key = base_url.rstrip("/")
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(key)
        if limiter is None:
            limiter = _LIMITERS[key] = RateLimiter(rate)
        return limiter


def make_job_client(
    settings: Settings,
    *,
    concurrency: int = defaults.JOB_CONCURRENCY,
    rate: float = defaults.JOB_RATE_LIMIT,
    **client_kwargs: Any,
) -> OrchestrationClient:
    """A thread-safe client for job lookups that draws from the process-wide budget of its host.

    Unless a `transport` is given, it talks through the client's keep-alive transport (one
    connection per worker thread, see `pipeline.api.transport`). Close it (or use `job_client()`).
    """
    from pipeline.api.client import OrchestrationClient

    return OrchestrationClient(
        base_url=settings.api_url,
        token=settings.token,
        rate_limiter=shared_rate_limiter(settings.api_url, rate),
        max_connections=concurrency,
        **client_kwargs,
    )


@contextmanager
def job_client(
    settings: Settings,
    *,
    concurrency: int = defaults.JOB_CONCURRENCY,
    rate: float = defaults.JOB_RATE_LIMIT,
    **client_kwargs: Any,
) -> Iterator[OrchestrationClient]:
    """`make_job_client` as a context manager."""
    client = make_job_client(settings, concurrency=concurrency, rate=rate, **client_kwargs)
    try:
        yield client
    finally:
        client.close()


# --------------------------------------------------------------------------- writers


def _conform(batch: pa.RecordBatch | pa.Table, schema: pa.Schema) -> pa.Table:
    """Columns of `schema` in order, cast; a column an older file lacks becomes nulls."""
    columns = []
    for schema_field in schema:
        if schema_field.name in batch.schema.names:
            columns.append(batch.column(schema_field.name).cast(schema_field.type))
        else:
            columns.append(pa.nulls(batch.num_rows, schema_field.type))
    return pa.Table.from_arrays(columns, schema=schema)


class _ParquetSink:
    """Rows streamed to a temp Parquet file beside the partition, swapped in by `publish()`."""

    def __init__(
        self, settings: Settings, table: str, window_date: date, schema: pa.Schema
    ) -> None:
        self.path = partition_path(settings, table, window_date)
        self.schema = schema
        self.tmp = lake.temp_path(settings.lake_dir, table, window_date)
        self._handle = open(self.tmp, "wb")  # noqa: SIM115 - closed by publish() or abort()
        self._writer = pq.ParquetWriter(self._handle, schema, compression="zstd")
        self._rows: list[dict[str, Any]] = []
        self.count = 0
        # Lookup threads add rows at once; a batch is converted and written outside `_lock`
        # so that the other threads keep adding meanwhile, one write at a time.
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()

    def add(self, rows: list[dict[str, Any]]) -> None:
        with self._lock:
            self._rows.extend(rows)
            self.count += len(rows)
            if len(self._rows) < BATCH_ROWS:
                return
            batch, self._rows = self._rows, []
        self._write(batch)

    def _write(self, batch: list[dict[str, Any]]) -> None:
        table = pa.Table.from_pylist(batch, schema=self.schema)
        with self._write_lock:
            self._writer.write_table(table)

    def _flush(self) -> None:
        with self._lock:
            batch, self._rows = self._rows, []
        if batch:
            self._write(batch)

    def carry_over(self, job_ids: set[str]) -> int:
        """Copy the rows of `job_ids` from the partition file being replaced."""
        if not job_ids or not self.path.exists():
            return 0
        self._flush()
        wanted = pa.array(sorted(job_ids), pa.string())
        copied = 0
        for batch in pq.ParquetFile(self.path).iter_batches(batch_size=BATCH_ROWS):
            kept = batch.filter(pc.is_in(batch.column("job_id"), value_set=wanted))
            if kept.num_rows:
                self._writer.write_table(_conform(kept, self.schema))
                copied += kept.num_rows
        self.count += copied
        return copied

    def close(self) -> None:
        """Finish and fsync the temp file (before any output of the pass is published)."""
        self._flush()
        self._writer.close()
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()

    def publish(self) -> None:
        lake.publish(self.tmp, self.path)

    def abort(self) -> None:
        with suppress(Exception):
            self._writer.close()
        with suppress(Exception):
            self._handle.close()
        self.tmp.unlink(missing_ok=True)


class _ArchiveSink:
    """Raw v1 responses, one JSON line per job, gzip; the attempt file replaces the archive at the end."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob(f"{ATTEMPT_PREFIX}*"):
            # Left by a pass that died (the caller holds the window's enrich lock).
            stale.unlink(missing_ok=True)
        self.path = directory / ARCHIVE_NAME
        self.tmp = directory / f"{ATTEMPT_PREFIX}{uuid.uuid4().hex}.jsonl.gz"
        self._handle = open(self.tmp, "wb")  # noqa: SIM115 - closed by close() or abort()
        self._file = gzip.GzipFile(fileobj=self._handle, mode="wb", compresslevel=GZIP_LEVEL)
        self._buffer = bytearray()
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        # Compressed in chunks, not per line: zlib releases the GIL on every call, and getting
        # it back from the lookup threads costs far more than compressing a 1 KB line.
        line = orjson.dumps(record) + b"\n"
        with self._lock:
            self._buffer += line
            if len(self._buffer) < ARCHIVE_CHUNK_BYTES:
                return
            chunk, self._buffer = self._buffer, bytearray()
        with self._write_lock:
            self._file.write(chunk)

    def _flush(self) -> None:
        with self._lock:
            chunk, self._buffer = self._buffer, bytearray()
        if chunk:
            with self._write_lock:
                self._file.write(chunk)

    def carry_over(self, job_ids: set[str]) -> int:
        copied = 0
        if job_ids:
            for line in iter_archive(self.path):
                if line.get("job_id") in job_ids:
                    self.write(line)
                    copied += 1
        return copied

    def close(self) -> None:
        self._flush()
        self._file.close()
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()

    def publish(self) -> None:
        lake.publish(self.tmp, self.path)

    def abort(self) -> None:
        with suppress(Exception):
            self._file.close()
        with suppress(Exception):
            self._handle.close()
        self.tmp.unlink(missing_ok=True)


def iter_archive(path: Path) -> Iterator[dict[str, Any]]:
    """Lines of a job archive; a truncated or corrupt tail ends the iteration with a warning."""
    if not path.exists():
        return
    try:
        with gzip.open(path, "rb") as handle:
            for raw in handle:
                if raw.strip():
                    line = orjson.loads(raw)
                    if isinstance(line, dict):
                        yield line
    except (OSError, EOFError, zlib.error, orjson.JSONDecodeError) as exc:
        log.warning("job archive %s is damaged after some lines (%s); rest ignored", path, exc)


def _archive_record(
    *, job_id: str, workflow_id: str | None, fetched_at: datetime, status: int, body: bytes | None
) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "workflow_id": workflow_id,
        "fetched_at": fetched_at.isoformat(),
        "status": status,
        # Embedded as-is (already validated JSON), minus URL signatures.
        "body": None if body is None else orjson.Fragment(strip_signed_urls(body.decode())),
    }


# --------------------------------------------------------------------------- lake reads


def _read_window_jobs(settings: Settings, window_date: date) -> list[tuple[str, str | None]] | None:
    path = partition_path(settings, "jobs", window_date)
    if not path.exists():
        return None
    table = pq.read_table(path, columns=["job_id", "workflow_id"])
    seen: set[str] = set()
    jobs: list[tuple[str, str | None]] = []
    for job_id, workflow_id in zip(
        table.column("job_id").to_pylist(), table.column("workflow_id").to_pylist(), strict=True
    ):
        if job_id is not None and job_id not in seen:
            seen.add(job_id)
            jobs.append((job_id, workflow_id))
    return jobs


def _read_final_state(settings: Settings, window_date: date) -> dict[str, bool]:
    """job_id -> is_final of the window's current job_details (a 404 row is final)."""
    path = partition_path(settings, "job_details", window_date)
    if not path.exists():
        return {}
    table = pq.read_table(path, columns=["job_id", "is_final", "found"])
    state: dict[str, bool] = {}
    for job_id, is_final, found in zip(
        table.column("job_id").to_pylist(),
        table.column("is_final").to_pylist(),
        table.column("found").to_pylist(),
        strict=True,
    ):
        state[job_id] = bool(is_final) or found is False
    return state


# --------------------------------------------------------------------------- the pass


class _Publication:
    """The outputs of one pass: written to temp files, then published in a safe order."""

    def __init__(self, settings: Settings, window_date: date, *, archive: bool = True) -> None:
        lake.remove_stale_temps(settings.lake_dir, window_date, ENRICH_TABLES)
        self.archive = _ArchiveSink(archive_dir(settings, window_date)) if archive else None
        self.scores = _ParquetSink(settings, "scan_scores", window_date, SCAN_SCORES_SCHEMA)
        self.details = _ParquetSink(settings, "job_details", window_date, JOB_DETAILS_SCHEMA)
        self.details_path = self.details.path

    def add_found(self, details: dict[str, Any], scores: list[dict[str, Any]]) -> None:
        self.details.add([details])
        self.scores.add(scores)

    def add_archive(self, record: dict[str, Any]) -> None:
        if self.archive is not None:
            self.archive.write(record)

    def publish(self, carried: set[str]) -> None:
        """Carry over the rows of `carried`, then swap everything in: archive first (the source
        of a rebuild must never be older than the lake), job_details last (it decides what the
        next pass skips)."""
        sinks: list[_ParquetSink | _ArchiveSink] = [self.scores, self.details]
        if self.archive is not None:
            self.archive.carry_over(carried)
            sinks.insert(0, self.archive)
        self.scores.carry_over(carried)
        self.details.carry_over(carried)
        for sink in sinks:
            sink.close()
        for sink in sinks:
            sink.publish()

    def abort(self) -> None:
        if self.archive is not None:
            self.archive.abort()
        self.scores.abort()
        self.details.abort()


def _count_found(path: Path) -> tuple[int, int]:
    """(found, not found) rows of a published job_details partition."""
    found = pq.read_table(path, columns=["found"]).column("found")
    yes = pc.sum(pc.cast(found, pa.int64())).as_py() or 0
    return int(yes), len(found) - int(yes)


def _enrich(
    settings: Settings,
    window_date: date,
    *,
    client: OrchestrationClient,
    force: bool,
    concurrency: int | None,
    on_progress: Callable[[int, int], None] | None,
) -> EnrichResult:
    started = time.monotonic()
    first_429 = client.stats.status_429
    result = EnrichResult(window_date=window_date)
    jobs = _read_window_jobs(settings, window_date)
    if jobs is None:
        log.info("enrich %s: no jobs partition (window not synced); nothing to do", window_date)
        result.seconds = time.monotonic() - started
        return result
    result.jobs = len(jobs)
    final = _read_final_state(settings, window_date)
    todo = [(job_id, wf) for job_id, wf in jobs if force or not final.get(job_id, False)]
    result.skipped = len(jobs) - len(todo)
    answered: set[str] = set()

    out = _Publication(settings, window_date)
    pending = iter(todo)
    # Guards `pending`, `answered` and the counters (the sinks of `out` lock for themselves).
    lock = threading.Lock()
    stop = threading.Event()
    fatal: list[BaseException] = []
    done = 0

    def lookup(job_id: str, workflow_id: str | None) -> None:
        try:
            raw = client.get_job_raw(job_id, detailed=True)
            document = raw.json()
            if not isinstance(document, dict):
                raise ResponseValidationError(
                    "the v1 job endpoint did not return a JSON object",
                    endpoint="/v1/consumer/jobs/{id}",
                )
        except NotFoundError:
            fetched_at = datetime.now(UTC)
            row = not_found_row(
                job_id=job_id,
                workflow_id=workflow_id,
                window_date=window_date,
                fetched_at=fetched_at,
            )
            record = _archive_record(
                job_id=job_id, workflow_id=workflow_id, fetched_at=fetched_at, status=404, body=None
            )
            out.details.add([row])
            out.add_archive(record)
            with lock:
                result.not_found += 1
                answered.add(job_id)
            return
        except (ApiError, ResponseValidationError, orjson.JSONDecodeError) as exc:
            if isinstance(exc, AuthenticationError):
                raise  # every other lookup would fail the same way
            with lock:
                result.failed += 1
            log.warning(
                "enrich %s: job %s failed, will retry next run: %s",
                window_date,
                job_id,
                redact(str(exc), [settings.token]),
            )
            return
        fetched_at = datetime.now(UTC)
        rows = job_rows(
            document,
            job_id=job_id,
            workflow_id=workflow_id,
            window_date=window_date,
            fetched_at=fetched_at,
        )
        record = _archive_record(
            job_id=job_id, workflow_id=workflow_id, fetched_at=fetched_at, status=200,
            body=raw.content,
        )  # fmt: skip
        out.add_archive(record)
        out.add_found(rows.details, rows.scan_scores)
        with lock:
            result.parse_failures += rows.parse_failures
            answered.add(job_id)

    def worker() -> None:
        nonlocal done
        while not stop.is_set():
            with lock:
                item = next(pending, None)
                if item is None:
                    return
                result.looked_up += 1
            try:
                lookup(*item)
            except BaseException as exc:
                with lock:
                    fatal.append(exc)
                stop.set()
                return
            with lock:
                done += 1
                count = done
            if on_progress is not None:
                on_progress(count, len(todo))

    limit = concurrency or getattr(client, "max_connections", None) or defaults.JOB_CONCURRENCY
    workers = max(1, min(limit, len(todo)))
    try:
        if todo:
            threads = [
                threading.Thread(target=worker, name=f"enrich-{n}", daemon=True)
                for n in range(workers)
            ]
            for thread in threads:
                thread.start()
            try:
                for thread in threads:
                    thread.join()
            except BaseException:  # Ctrl-C: let the lookups in flight end, publish nothing
                stop.set()
                for thread in threads:
                    thread.join()
                raise
            if fatal:
                raise fatal[0]
        carried = {job_id for job_id, _ in jobs if job_id not in answered and job_id in final}
        out.publish(carried)
    except BaseException:
        out.abort()
        raise

    result.enriched, not_found_total = _count_found(out.details_path)
    result.rate_limited = client.stats.status_429 - first_429
    result.seconds = time.monotonic() - started
    _record_ledger(settings, window_date, result, not_found_total, failed=result.failed)
    log.info(
        "enrich %s: %d jobs, %d looked up, %d skipped, %d failed, %d not found, %d 429s, %.1fs",
        window_date,
        result.jobs,
        result.looked_up,
        result.skipped,
        result.failed,
        result.not_found,
        result.rate_limited,
        result.seconds,
    )
    if result.parse_failures:
        log.warning(
            "enrich %s: %d context values kept as text without a score",
            window_date,
            result.parse_failures,
        )
    return result


def enrich_window(
    settings: Settings,
    window_date: date,
    *,
    client: OrchestrationClient,
    force: bool = False,
    concurrency: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> EnrichResult:
    """Look up the window's not-yet-final jobs on the v1 job endpoint and publish its
    `job_details` and `scan_scores` partitions (plus the raw archive under raw/jobs/).

    Reads DATA_DIR/lake/jobs/date=YYYY-MM-DD/data.parquet (written by the sync); a window
    without it is a no-op. `concurrency` worker threads send the lookups (default: the
    client's `max_connections`, `settings.JOB_CONCURRENCY` = 16 for `job_client()`); the
    request rate is capped by the client's RateLimiter (build the client with `job_client()` /
    `make_job_client()`: `settings.JOB_RATE_LIMIT` = 50 req/s, shared per process). 16 in
    flight at ~300 ms per lookup gives ~53 req/s, so by default the rate budget, not the
    concurrency, is what binds.

    Raises AuthenticationError at once on a 401 (nothing is published); every other per-job
    failure is counted in `failed` and the rest is published. One client can serve many
    calls, from many threads. Waits up to LOCK_TIMEOUT_SECONDS for another process enriching
    the same window, then raises WindowError.
    """
    with enrich_lock(settings, window_date, timeout=LOCK_TIMEOUT_SECONDS):
        return _enrich(
            settings,
            window_date,
            client=client,
            force=force,
            concurrency=concurrency,
            on_progress=on_progress,
        )


def rebuild_enrichment(settings: Settings, window_date: date) -> EnrichResult:
    """Rebuild the window's job_details and scan_scores from raw/jobs/ alone (no API).

    The last archived answer per job wins; when the lake `jobs` partition exists, only its jobs
    are kept (a job that vanished from the window does not come back).
    """
    with enrich_lock(settings, window_date, timeout=LOCK_TIMEOUT_SECONDS):
        return _rebuild(settings, window_date)


def _rebuild(settings: Settings, window_date: date) -> EnrichResult:
    started = time.monotonic()
    result = EnrichResult(window_date=window_date)
    archive = archive_dir(settings, window_date) / ARCHIVE_NAME
    if not archive.exists():
        raise PipelineError(
            f"No job archive for {window_date} at {archive}: run the sync with enrichment "
            "for this window first."
        )
    jobs = _read_window_jobs(settings, window_date)
    window_workflows = dict(jobs) if jobs is not None else None
    last_line: dict[str, int] = {}
    for index, line in enumerate(iter_archive(archive)):
        job_id = line.get("job_id")
        if isinstance(job_id, str) and (window_workflows is None or job_id in window_workflows):
            last_line[job_id] = index

    # The archive is the source here, so it is read, never rewritten.
    out = _Publication(settings, window_date, archive=False)
    try:
        for index, line in enumerate(iter_archive(archive)):
            job_id = line.get("job_id")
            if not isinstance(job_id, str) or last_line.get(job_id) != index:
                continue
            workflow_id = (
                window_workflows.get(job_id) if window_workflows is not None else None
            ) or line.get("workflow_id")
            fetched_at = _parse_fetched(line.get("fetched_at"))
            if line.get("status") == 404:
                out.details.add(
                    [
                        not_found_row(
                            job_id=job_id,
                            workflow_id=workflow_id,
                            window_date=window_date,
                            fetched_at=fetched_at,
                        )
                    ]
                )
                result.not_found += 1
            else:
                rows = job_rows(
                    line.get("body"),
                    job_id=job_id,
                    workflow_id=workflow_id,
                    window_date=window_date,
                    fetched_at=fetched_at,
                )
                result.parse_failures += rows.parse_failures
                out.add_found(rows.details, rows.scan_scores)
        out.publish(set())
    except BaseException:
        out.abort()
        raise
    result.enriched, not_found_total = _count_found(out.details_path)
    result.jobs = len(jobs) if jobs is not None else result.enriched + not_found_total
    result.skipped = result.enriched + not_found_total
    result.seconds = time.monotonic() - started
    _record_ledger(settings, window_date, result, not_found_total, failed=None)
    return result


def _parse_fetched(value: Any) -> datetime:
    if isinstance(value, str):
        with suppress(ValueError):
            parsed = datetime.fromisoformat(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.now(UTC)


def _record_ledger(
    settings: Settings,
    window_date: date,
    result: EnrichResult,
    not_found_total: int,
    *,
    failed: int | None,
) -> None:
    from pipeline.lake import ledger

    ledger.record_enrichment(
        settings,
        window_date,
        jobs_enriched=result.enriched,
        jobs_enrich_failed=failed,
        jobs_not_found=not_found_total,
    )
