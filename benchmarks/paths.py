"""The measured paths: each takes a JSON-able spec and returns counts (and its own seconds).

Ours (the code the CLI and Dagster run): `sync`, `enrich`, `rebuild`, `publish`, `models`.
Reference points, on the same simulator and the same archived data: `bare` (`http.client` loops
that only follow cursors), `ceiling` (DuckDB alone: read_json -> unnest -> Parquet),
`bareload` (DuckDB alone: lake Parquet -> a new database file), `dlt` (see dlt_reference.py).
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

Spec = dict[str, Any]


def _days(spec: Spec) -> list[date]:
    return [date.fromisoformat(d) for d in spec["days"]]


def _settings(spec: Spec) -> Any:
    from pipeline.core.settings import Settings

    return Settings(
        api_url=spec.get("url") or "http://127.0.0.1:9", token=spec.get("token"),
        data_dir=Path(spec["data_dir"]),
    )  # fmt: skip


# --------------------------------------------------------------------------- ours


def sync(spec: Spec) -> dict[str, Any]:
    """`sync_range` as `civitai-sync sync --from --to [--no-jobs]` runs it."""
    from pipeline.api.client import OrchestrationClient
    from pipeline.core import settings as defaults
    from pipeline.fetch import archive
    from pipeline.runs import enrich as enrich_mod
    from pipeline.runs.sync import sync_range

    if spec.get("chains"):
        defaults.SYNC_FETCH_CONCURRENCY = int(spec["chains"])
    settings = _settings(spec)
    days = _days(spec)
    enrich = bool(spec.get("enrich"))
    timings = {"enrich_seconds": 0.0, "looked_up": 0, "enrich_failed": 0}
    with OrchestrationClient(base_url=settings.api_url, token=settings.token) as client:
        if enrich:
            # The job client the CLI would build, with the benchmark's in-flight cap and rate
            # budget; its enrichment time is recorded so that the job rate can be reported.
            with enrich_mod.job_client(
                settings, concurrency=spec["job_concurrency"], rate=spec["job_rate"]
            ) as jobs:

                def enricher(s: Any, day: date) -> Any:
                    t0 = time.perf_counter()
                    res = enrich_mod.enrich_window(s, day, client=jobs)
                    timings["enrich_seconds"] += time.perf_counter() - t0
                    timings["looked_up"] += res.looked_up
                    timings["enrich_failed"] += res.failed
                    return res

                started = time.perf_counter()
                results = sync_range(settings, client, days, enrich=True, enricher=enricher)
                seconds = time.perf_counter() - started
        else:
            started = time.perf_counter()
            results = sync_range(settings, client, days, enrich=False)
            seconds = time.perf_counter() - started
        requests = client.stats.as_dict()
    failed = [r.error for r in results if r.status != "complete" or r.error]
    manifests = [archive.read_manifest(archive.latest_dir(settings.raw_dir, d)) for d in days]
    return {
        "seconds": seconds,
        # Cursor chains that had a request in flight at once (the list's parallelism).
        "chains": max((m.chains for m in manifests if m is not None), default=1),
        "workflows": sum(r.workflows for r in results),
        "pages": sum(r.pages for r in results),
        "jobs": sum(r.jobs for r in results),
        "steps": sum(r.steps for r in results),
        "filter_modes": sorted({r.filter_mode for r in results}),
        "errors": failed,
        "requests": requests,
        **timings,
    }


def enrich(spec: Spec) -> dict[str, Any]:
    """Job enrichment of already-synced windows (every job asked for: `force`)."""
    from pipeline.runs import enrich as enrich_mod

    settings = _settings(spec)
    looked_up = failed = 0
    with enrich_mod.job_client(
        settings, concurrency=spec["job_concurrency"], rate=spec["job_rate"]
    ) as client:
        started = time.perf_counter()
        for day in _days(spec):
            res = enrich_mod.enrich_window(settings, day, client=client, force=True)
            looked_up += res.looked_up
            failed += res.failed
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "looked_up": looked_up, "failed": failed}


def rebuild(spec: Spec) -> dict[str, Any]:
    """`civitai-sync rebuild --from --to`: re-flatten the lake from the raw archive."""
    import pipeline.runs.enrich  # noqa: F401 - rebuild_range imports it; module loading is not rebuilding
    from pipeline.runs.sync import rebuild_range

    settings = _settings(spec)
    started = time.perf_counter()
    results = rebuild_range(settings, _days(spec))
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "workflows": sum(r.workflows for r in results),
        "pages": sum(r.pages for r in results),
        "errors": [r.error for r in results if r.status != "complete" or r.error],
    }


def publish(spec: Spec) -> dict[str, Any]:
    """The warehouse publish (core tables only; models are measured on their own)."""
    from pipeline.warehouse.publish import publish_warehouse

    settings = _settings(spec)
    started = time.perf_counter()
    result = publish_warehouse(settings, build_models=False)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "tables": dict(result.tables)}


def models(spec: Spec) -> dict[str, Any]:
    """Every SQL model of sql/, built on a copy of the published warehouse."""

    from pipeline.warehouse import build as sql_build
    from pipeline.warehouse import publish as warehouse

    settings = _settings(spec)
    copy = settings.data_dir / "bench-models.duckdb"
    shutil.copyfile(settings.warehouse_path, copy)
    con = warehouse.connect_for_build(copy, settings.work_dir, settings.warehouse_memory_limit)
    try:
        started = time.perf_counter()
        built = sql_build.build_models(con)
        con.execute("CHECKPOINT")
        seconds = time.perf_counter() - started
    finally:
        con.close()
        copy.unlink(missing_ok=True)
    return {"seconds": seconds, "models": len(built)}


# --------------------------------------------------------------------------- history


def history_build(spec: Spec) -> dict[str, Any]:
    """Sync `days` (jobs off) into a data dir and publish once: a history to measure on."""
    from pipeline.api.client import OrchestrationClient
    from pipeline.runs.housekeeping import maintain
    from pipeline.runs.sync import sync_range
    from pipeline.warehouse.publish import publish_warehouse

    settings = _settings(spec)
    days = _days(spec)
    started = time.perf_counter()
    with OrchestrationClient(base_url=settings.api_url, token=settings.token) as client:
        results = sync_range(settings, client, days, enrich=False)
    synced = time.perf_counter() - started
    publish_warehouse(settings)
    maintain(settings, retention_hours=0)
    return {
        "seconds": time.perf_counter() - started,
        "sync_seconds": synced,
        "workflows": sum(r.workflows for r in results),
        "errors": [r.error for r in results if r.status != "complete" or r.error],
    }


def nightly(spec: Spec) -> dict[str, Any]:
    """A nightly run: sync the new day (jobs off), then publish the warehouse."""
    from pipeline.api.client import OrchestrationClient
    from pipeline.runs.sync import sync_range
    from pipeline.warehouse.publish import publish_warehouse

    settings = _settings(spec)
    started = time.perf_counter()
    with OrchestrationClient(base_url=settings.api_url, token=settings.token) as client:
        results = sync_range(settings, client, _days(spec), enrich=False)
    synced = time.perf_counter()
    published = publish_warehouse(settings)
    done = time.perf_counter()
    return {
        "seconds": done - started,
        "sync_seconds": synced - started,
        "publish_seconds": done - synced,
        "changed_days": [d.isoformat() for d in published.changed_days],
        "rebuilt": published.rebuilt,
        "workflows": sum(r.workflows for r in results),
        "pages": sum(r.pages for r in results),
        "errors": [r.error for r in results if r.status != "complete" or r.error],
    }


def unsync(spec: Spec) -> dict[str, Any]:
    """Undo a nightly run on a history fixture (forget the day, republish, vacuum): set-up."""
    from pipeline.runs.housekeeping import forget, maintain
    from pipeline.warehouse.publish import publish_warehouse

    settings = _settings(spec)
    started = time.perf_counter()
    forget(settings, _days(spec))
    publish_warehouse(settings)
    maintain(settings, retention_hours=0)
    return {"seconds": time.perf_counter() - started}


def publish_full(spec: Spec) -> dict[str, Any]:
    """The warehouse rebuilt whole (what every publish cost before it was incremental)."""
    from pipeline.warehouse.publish import publish_warehouse

    settings = _settings(spec)
    started = time.perf_counter()
    publish_warehouse(settings, full=True)
    return {"seconds": time.perf_counter() - started}


def _disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def reads(spec: Spec) -> dict[str, Any]:
    """Analysts' reads on the published warehouse (views over the lake, day-by-day report
    tables) against a copy where every core table and model is a materialized table (how the
    warehouse was built before), plus the disk each takes."""

    from pipeline.core import duck
    from pipeline.warehouse.publish import connect_for_build

    settings = _settings(spec)
    queries: dict[str, str] = spec["queries"]
    copy = settings.data_dir / "bench-materialized.duckdb"
    copy.unlink(missing_ok=True)
    views = duck.connect(settings.warehouse_path, read_only=True)
    relations = views.execute(
        "select table_name from information_schema.tables where table_schema = 'main'"
    ).fetchall()
    views.close()
    con = connect_for_build(copy, settings.work_dir, settings.warehouse_memory_limit)
    con.execute(f"ATTACH '{settings.warehouse_path}' AS published (READ_ONLY)")
    for (name,) in relations:
        con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM published.main."{name}"')
    con.execute("DETACH published")
    con.execute("CHECKPOINT")
    con.close()

    def timed(path: Path, sql: str) -> float:
        con = duck.connect(path, read_only=True)
        try:
            con.execute(sql).fetchall()  # first read: file and OS caches warm, as for an analyst
            runs = []
            for _ in range(5):
                started = time.perf_counter()
                con.execute(sql).fetchall()
                runs.append(time.perf_counter() - started)
        finally:
            con.close()
        return sorted(runs)[len(runs) // 2]

    results = {
        name: {"views": timed(settings.warehouse_path, sql), "materialized": timed(copy, sql)}
        for name, sql in queries.items()
    }
    disk = {
        "lake": _disk_bytes(settings.data_dir / "lake"),
        "warehouse": settings.warehouse_path.stat().st_size,
        "materialized": copy.stat().st_size,
    }
    copy.unlink(missing_ok=True)
    return {"seconds": 0.0, "queries": results, "disk": disk}


# --------------------------------------------------------------------------- references


def bare(spec: Spec) -> dict[str, Any]:
    """The API side alone: keep-alive `http.client` loops that page each day and only look
    for the `next` cursor in the body (no JSON parse, no archive, no flatten). The standard
    library's client is the cheapest there is on the client's side: httpx's own parsing adds
    ~1 ms a page, and ~6 ms with four loops in parallel.

    With `chains` > 1 it asks the way the sync does on a busy day: one probe page of the
    whole day, then that many equal sub-windows paged in parallel threads. That measures what
    this server allows for the sync's request pattern, which the (page size / latency) x
    chains formula leaves out: a page's transfer and the probe's round trip.
    """
    import http.client
    import threading
    from urllib.parse import urlencode, urlsplit

    chains = int(spec.get("chains", 1))
    take = str(spec.get("take", 100))
    origin = urlsplit(spec["url"])
    headers = {"Authorization": f"Bearer {spec['token']}", "Accept": "application/json"}
    totals = {"pages": 0, "bytes": 0}
    lock = threading.Lock()

    def page_through(start: datetime, end: datetime, *, probe: bool = False) -> None:
        params = {
            "take": take,
            "fromDate": start.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "toDate": end.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        pages = nbytes = 0
        conn = http.client.HTTPConnection(origin.hostname or "127.0.0.1", origin.port, timeout=60)
        try:
            cursor: str | None = None
            while True:
                query = dict(params, cursor=cursor) if cursor else params
                conn.request("GET", f"/v2/consumer/workflows?{urlencode(query)}", headers=headers)
                response = conn.getresponse()
                body = response.read()
                if response.status != 200:
                    raise RuntimeError(f"the simulator answered {response.status}")
                pages += 1
                nbytes += len(body)
                cursor = None if probe else _next_cursor(body, cursor)
                if cursor is None:
                    break
        finally:
            conn.close()
        with lock:
            totals["pages"] += pages
            totals["bytes"] += nbytes

    started = time.perf_counter()
    for day in _days(spec):
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        end = start + timedelta(days=1)
        if chains <= 1:
            page_through(start, end)
            continue
        page_through(start, end, probe=True)
        step = (end - start) / chains
        threads = [
            threading.Thread(target=page_through, args=(start + step * i, start + step * (i + 1)))
            for i in range(chains)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "chains": chains, **totals}


_NEXT = re.compile(rb'"next"\s*:\s*"([^"]+)"')


def _next_cursor(body: bytes, cursor: str | None) -> str | None:
    """The page's `next`, None at the end of the list."""
    if b'"items":[]' in body[:80]:
        return None
    # The simulator (like the API's serializer) puts `next` first; look there, then at the
    # end, before scanning the whole body.
    match = (
        _NEXT.match(body, 1) or _NEXT.search(body, max(0, len(body) - 4096)) or _NEXT.search(body)
    )
    if match is None or match.group(1).decode() == cursor:
        return None
    return match.group(1).decode()


def ceiling(spec: Spec) -> dict[str, Any]:
    from benchmarks.columnar_ceiling import run_ceiling

    return run_ceiling(Path(spec["data_dir"]), _days(spec), Path(spec["out_dir"]))


def bareload(spec: Spec) -> dict[str, Any]:
    """DuckDB alone loading the lake's Parquet into a fresh database file (publish's ceiling)."""

    from pipeline.warehouse import publish as warehouse

    settings = _settings(spec)
    target = settings.data_dir / "bench-bareload.duckdb"
    target.unlink(missing_ok=True)
    started = time.perf_counter()
    con = warehouse.connect_for_build(target, settings.work_dir, settings.warehouse_memory_limit)
    tables = {}
    try:
        for table_dir in sorted(settings.lake_dir.iterdir()):
            files = sorted(table_dir.glob("window_date=*/*.parquet"))
            if not files:
                continue
            listing = "[" + ", ".join(f"'{f}'" for f in files) + "]"
            con.execute(f"CREATE TABLE {table_dir.name} AS SELECT * FROM read_parquet({listing})")
            row = con.execute(f"SELECT count(*) FROM {table_dir.name}").fetchone()
            tables[table_dir.name] = int(row[0]) if row else 0
        con.execute("CHECKPOINT")
    finally:
        con.close()
    seconds = time.perf_counter() - started
    target.unlink(missing_ok=True)
    return {"seconds": seconds, "tables": tables}


def dlt(spec: Spec) -> dict[str, Any]:
    from benchmarks.dlt_reference import run_dlt

    return run_dlt(spec["url"], spec["token"], _days(spec), Path(spec["work_dir"]))


PATHS: dict[str, Callable[[Spec], dict[str, Any]]] = {
    "history_build": history_build,
    "nightly": nightly,
    "unsync": unsync,
    "publish_full": publish_full,
    "reads": reads,
    "sync": sync,
    "enrich": enrich,
    "rebuild": rebuild,
    "publish": publish,
    "models": models,
    "bare": bare,
    "ceiling": ceiling,
    "bareload": bareload,
    "dlt": dlt,
}
