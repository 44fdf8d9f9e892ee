"""Jobs, the nightly schedule, and the sensor that rebuilds the warehouse after syncs.

Two jobs, because the two halves have different shapes:

* `sync_windows_job` is partitioned: one run per window syncs the day (ingest) then looks up
  its jobs (enrichment), with the lake checks for that window;
* `warehouse_job` is not: it rebuilds the whole warehouse from the lake once.

The nightly schedule asks for one `sync_windows_job` run per window (yesterday and the
`DEFAULT_LOOKBACK_DAYS` days before it, to pick up workflows that finished late). Rather than
guessing how long those runs take with a second cron, the `warehouse_after_sync` sensor starts
`warehouse_job` once lake data is newer than the warehouse and no sync run is queued or still
running. The same sensor covers backfills: a week or a year of windows backfilled from the UI
ends with one warehouse rebuild, not one per window.
"""

from collections.abc import Iterator
from datetime import date

import dagster as dg

from assets.enrichment import enrich_window
from assets.html_report import html_report
from assets.ingest import ingest_window
from assets.lake import LAKE_KEYS
from assets.partitions import daily_window_partitions
from assets.warehouse import WAREHOUSE_KEY, build_warehouse
from pipeline.core import settings as defaults
from pipeline.fetch.windows import nightly_dates, utc_today

NIGHTLY_CRON = "0 2 * * *"

sync_windows_job = dg.define_asset_job(
    "sync_windows_job",
    selection=dg.AssetSelection.assets(ingest_window, enrich_window),
    description="Sync one UTC day: workflows, steps, jobs, blobs, transactions, then the job "
    "lookups (job_details, scan_scores), with the lake checks of that window.",
)

warehouse_job = dg.define_asset_job(
    "warehouse_job",
    selection=dg.AssetSelection.assets(build_warehouse, html_report),
    description="Rebuild DATA_DIR/warehouse.duckdb (core tables and every SQL model) from the "
    "whole lake and publish it atomically, then check it and write DATA_DIR/report.html.",
)


def nightly_partition_keys(
    today: date, lookback: int = defaults.DEFAULT_LOOKBACK_DAYS
) -> list[str]:
    """Yesterday and `lookback` earlier days that are partitions (not before the first day)."""
    first = daily_window_partitions.start.date()
    return [d.isoformat() for d in nightly_dates(today, lookback) if d >= first]


@dg.schedule(
    cron_schedule=NIGHTLY_CRON,
    job=sync_windows_job,
    execution_timezone="UTC",
    description=f"At 02:00 UTC, sync yesterday and the {defaults.DEFAULT_LOOKBACK_DAYS} days "
    "before it (late finishers); the warehouse_after_sync sensor rebuilds the warehouse after.",
)
def nightly_sync(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
    """One run per window; the run key makes a tick's requests idempotent if re-evaluated."""
    scheduled = context.scheduled_execution_time
    today = scheduled.date() if scheduled is not None else utc_today()
    for key in nightly_partition_keys(today):
        yield dg.RunRequest(
            run_key=f"{key}@{today.isoformat()}",
            partition_key=key,
            tags={"civitai/trigger": "nightly"},
        )


_UNFINISHED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def _latest_storage_id(instance: dg.DagsterInstance, keys: list[dg.AssetKey]) -> int:
    latest = 0
    for key in keys:
        records = instance.fetch_materializations(key, limit=1).records
        if records:
            latest = max(latest, records[0].storage_id)
    return latest


def _writes_lake_or_warehouse(run: dg.DagsterRun) -> bool:
    # Runs of a named job carry no asset selection (only subsets and the UI's asset runs and
    # backfills do), so the two jobs are recognised by name.
    if run.job_name in (sync_windows_job.name, warehouse_job.name):
        return True
    watched = {*LAKE_KEYS, WAREHOUSE_KEY}
    return bool(run.asset_selection and watched.intersection(run.asset_selection))


@dg.sensor(
    job=warehouse_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Rebuild the warehouse once the lake has changed and no sync run is pending.",
)
def warehouse_after_sync(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    """Request a warehouse rebuild when the lake is newer than the warehouse and quiet.

    Quiet means no run that writes lake tables (or rebuilds the warehouse) is queued or in
    progress, so a nightly tick or a backfill of many windows leads to one rebuild at its end.
    The run key is the newest lake materialization, so each lake change triggers at most one.
    """
    instance = context.instance
    lake_latest = _latest_storage_id(instance, LAKE_KEYS)
    if lake_latest == 0:
        return dg.SkipReason("The lake has no materialization yet.")
    if _latest_storage_id(instance, [WAREHOUSE_KEY]) > lake_latest:
        return dg.SkipReason("The warehouse is newer than every lake table.")
    busy = [
        run.run_id
        for run in instance.get_runs(filters=dg.RunsFilter(statuses=_UNFINISHED))
        if _writes_lake_or_warehouse(run)
    ]
    if busy:
        return dg.SkipReason(f"Waiting for {len(busy)} sync or warehouse runs to finish.")
    return dg.RunRequest(run_key=f"lake-{lake_latest}", tags={"civitai/trigger": "lake-changed"})
