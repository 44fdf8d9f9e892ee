"""HTML report over a month of simulated traffic: file size and browser load time.

Builds a warehouse of D days x W workflows/day from the simulator's ground truth, through the
real pipeline minus HTTP: each day's workflows are written as list pages into a new raw
archive attempt, published as the sync publishes it, and its v1 job documents into the raw job
archive; then `rebuild_range` (the CLI's `rebuild`) flattens the attempt into the lake's Delta
tables, names it in the ledger and derives job_details and scan_scores from the job archive
(`rebuild_enrichment`), and `publish_warehouse` builds the warehouse with every SQL model.
Syncing 600,000 workflows over loopback HTTP would measure the simulator, not the report.

The page is rendered with `write_html_report` and opened in headless Chromium over the
DevTools protocol; the load time is navigation start to the end of the load event
(`PerformanceNavigationTiming`), cold (first page of a fresh browser) and warm (median of 5).

    .venv/bin/python -m benchmarks.html_report            # 30 days x 2,000 workflows/day
    .venv/bin/python -m benchmarks.html_report --full     # 30 days x 20,000 workflows/day
    .venv/bin/python -m benchmarks.html_report --days 2 --workflows-per-day 50 --no-browser

Budget: 5 MB and 2 s. Numbers only: it asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

from pipeline.core import duck
from pipeline.core.settings import PAGE_SIZE, Settings
from pipeline.enrich import archive as job_archive
from pipeline.fetch import archive
from pipeline.reports.html import write_html_report
from pipeline.runs.guard import window_work_dir
from pipeline.runs.sync import rebuild_range
from pipeline.warehouse.publish import publish_warehouse
from simulator import SimulatedAccount, SimulatorConfig
from tests.support.chromium import Chromium, find_chromium

BUDGET_MB = 5.0
BUDGET_SECONDS = 2.0
START = date(2026, 10, 1)


def _pages(items: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    page: list[dict[str, Any]] = []
    for item in items:
        page.append(item)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


def archive_workflow_pages(
    settings: Settings, day: date, workflows: Iterator[dict[str, Any]]
) -> int:
    """The day's workflows as list pages of a new raw archive attempt, with the manifest the
    sync writes, published as the sync publishes it (the rebuild then reads the newest
    complete attempt and names it in the ledger)."""
    attempt_id = archive.new_attempt_id()
    staged = archive.staging_dir(window_work_dir(settings, day), attempt_id)
    fetched_at = datetime.now(UTC).isoformat()
    count = pages = 0
    try:
        for number, page in enumerate(_pages(workflows, PAGE_SIZE), start=1):
            body = {"items": page, "next": f"cursor-{number}"}
            archive.write_page(staged, number, orjson.dumps(body))
            count += len(page)
            pages = number
        archive.write_manifest(
            staged,
            archive.Manifest(
                window_date=day.isoformat(),
                filter_mode="server",
                pages=pages,
                items_seen=count,
                items_in_window=count,
                fetched_at=fetched_at,
                finished_at=datetime.now(UTC).isoformat(),
                run_id="benchmark",
            ),
        )
        archive.RawArchive.from_settings(settings).publish(day, attempt_id, staged)
    finally:
        archive.discard(staged)
    return count


def archive_jobs(settings: Settings, day: date, jobs: Iterator[dict[str, Any]]) -> int:
    """The day's v1 job documents as the enrichment's raw job archive (one line per job)."""
    fetched_at = datetime.now(UTC)
    writer = job_archive.JobArchive.from_settings(settings).writer(day, settings.work_dir)
    count = 0
    try:
        for doc in jobs:
            job = doc.get("job") or {}
            writer.write(
                job_archive.record(
                    job_id=doc.get("jobId") or job.get("id"),
                    workflow_id=(job.get("properties") or {}).get("workflowId"),
                    fetched_at=fetched_at,
                    status=200,
                    body=orjson.dumps(doc),
                )
            )
            count += 1
        writer.publish()
    except BaseException:
        writer.abort()
        raise
    return count


def build_warehouse(settings: Settings, days: int, per_day: int, seed: int) -> dict[str, float]:
    config = SimulatorConfig(
        seed=seed, start=START, days=days, workflows_per_day=per_day, running_share=0.0
    )
    account = SimulatedAccount(config)
    started = time.perf_counter()
    workflows = jobs = 0
    for day in account.days:
        workflows += archive_workflow_pages(settings, day, account.workflows(day))
        jobs += archive_jobs(settings, day, account.jobs(day))
        for result in rebuild_range(settings, [day], enrichment=True):
            if result.error:
                raise SystemExit(f"rebuild of {day} failed: {result.error}")
        print(f"  {day}: {workflows:,} workflows, {jobs:,} jobs so far", flush=True)
    lake_seconds = time.perf_counter() - started
    print(f"lake built in {lake_seconds:.0f} s; publishing the warehouse", flush=True)
    started = time.perf_counter()
    publish_warehouse(settings)
    return {
        "workflows": workflows,
        "jobs": jobs,
        "lake_seconds": lake_seconds,
        "publish_seconds": time.perf_counter() - started,
    }


def measure_load(page: Path, warm_runs: int = 5) -> tuple[float | None, list[float], list[str]]:
    binary = find_chromium()
    if binary is None:
        return None, [], ["chromium not found: apt-get install -y chromium"]
    with Chromium(binary) as browser:
        cold = browser.load(page.resolve().as_uri())
        warm = [browser.load(page.resolve().as_uri()) for _ in range(warm_runs)]
    problems = cold.errors + [
        f"request: {u}" for u in cold.requests if u != cold.url and not u.startswith("data:")
    ]
    return cold.load_ms, [w.load_ms for w in warm if w.load_ms is not None], problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--workflows-per-day", type=int, default=2_000)
    parser.add_argument(
        "--full", action="store_true", help="30 days x 20,000 workflows/day (takes a while)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="build in this directory and keep it")
    parser.add_argument(
        "--no-browser", action="store_true", help="skip the load time (no Chromium needed)"
    )
    args = parser.parse_args()
    days, per_day = (30, 20_000) if args.full else (args.days, args.workflows_per_day)

    with tempfile.TemporaryDirectory(prefix="html-report-bench-") as tmp:
        data_dir = args.keep or Path(tmp)
        settings = Settings(data_dir=data_dir)
        print(f"building a warehouse of {days} days x {per_day:,} workflows/day in {data_dir}")
        built = build_warehouse(settings, days, per_day, args.seed)
        with duck.connect(settings.warehouse_path, read_only=True) as con:
            flagged = con.execute("select count(*) from rpt_flagged_jobs").fetchone()
            stored = con.execute("select count(*) from workflows").fetchone()
        started = time.perf_counter()
        page = write_html_report(settings, days=days, out=data_dir / "report.html")
        render_seconds = time.perf_counter() - started
        size_mb = page.stat().st_size / 1_000_000
        if args.no_browser:
            cold_ms, warm_ms, problems = None, [], ["not measured (--no-browser)"]
        else:
            cold_ms, warm_ms, problems = measure_load(page)

    print(f"days                 {days}")
    print(f"workflows_per_day    {per_day:,}")
    print(f"workflows            {built['workflows']:,}")
    print(f"warehouse_workflows  {stored[0] if stored else 0:,}")
    print(f"jobs                 {built['jobs']:,}")
    print(f"flagged_jobs         {flagged[0] if flagged else 0:,}")
    print(f"lake_seconds         {built['lake_seconds']:.1f}")
    print(f"publish_seconds      {built['publish_seconds']:.1f}")
    print(f"render_seconds       {render_seconds:.2f}")
    print(f"file_size_mb         {size_mb:.3f}   (budget {BUDGET_MB:g} MB)")
    if cold_ms is not None:
        print(f"load_ms_cold         {cold_ms:.0f}   (budget {BUDGET_SECONDS * 1000:.0f} ms)")
    if warm_ms:
        print(f"load_ms_warm_median  {statistics.median(warm_ms):.0f}")
    print(f"browser_problems     {problems or 'none'}")


if __name__ == "__main__":
    main()
