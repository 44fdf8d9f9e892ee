"""Enrichment: the v1 job lookups that add provider, event and moderation scan scores.

A separate asset from the ingest on purpose:

* it costs one request per job (the ingest costs one per page of 100 workflows), so it has its
  own API budget (`job_concurrency`, `job_rate_limit` on the API resource) and its own retries;
* it can be re-run alone for a window, e.g. after a 429 storm left lookups `failed`, or with
  `force: true` to ask again for every job, without paging the workflow list again;
* a window's workflows can be in the lake before its jobs are enriched: the lake `jobs`
  partition is the input, and only jobs not yet final are asked for again.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from assets.ingest import API_POOL
from assets.lake import ENRICH_TABLES, lake_spec, window_of
from assets.partitions import daily_window_partitions
from assets.resources import DataDirResource, OrchestrationApiResource
from pipeline.lake.ledger import Ledger
from pipeline.lake.store import Lake
from pipeline.runs import enrich


class EnrichConfig(dg.Config):
    """Run-time switches of the job lookups."""

    force: bool = False
    """Ask for every job of the window again, final or not (default: only jobs not yet final)."""


@dg.multi_asset(
    name="enrich_window",
    specs=[lake_spec(table, deps=["jobs"]) for table in ENRICH_TABLES],
    partitions_def=daily_window_partitions,
    pool=API_POOL,
    can_subset=False,
)
def enrich_window(
    context: dg.AssetExecutionContext,
    config: EnrichConfig,
    api: OrchestrationApiResource,
    data: DataDirResource,
) -> Iterator[dg.MaterializeResult]:
    """Look up the partition's jobs on `GET /v1/consumer/jobs/{id}?detailed=true` and replace
    the window's `job_details` and `scan_scores` (plus the raw job archive).

    Only jobs without a row yet or whose last event was not final are asked for; a 404 is
    recorded (found=false) and never asked for again. Lookups that still fail after retries
    are counted in `failed` and asked for on the next run; everything else is published.
    """
    window_date = window_of(context)
    settings = data.settings(api)
    with api.job_client() as client:
        result = enrich.enrich_window(settings, window_date, client=client, force=config.force)
    context.log.info(
        f"window {window_date}: {result.looked_up} jobs looked up, {result.skipped} already "
        f"final, {result.failed} failed, {result.not_found} not found, "
        f"{result.rate_limited} answers 429 ({result.seconds:.1f}s)"
    )
    if result.failed:
        context.log.warning(
            f"window {window_date}: {result.failed} job lookups failed after retries; "
            "they keep their previous state and are asked for again on the next run"
        )
    shared: dict[str, Any] = {
        "window_date": window_date.isoformat(),
        "jobs_looked_up": result.looked_up,
        "jobs_skipped": result.skipped,
        "jobs_failed": result.failed,
        "jobs_not_found": result.not_found,
        "status_429": result.rate_limited,
        "seconds": dg.MetadataValue.float(float(result.seconds)),
        "force": config.force,
    }
    row = Ledger(Lake.from_settings(settings)).get(window_date)
    for table in ENRICH_TABLES:
        committed = row.tables.get(table) if row is not None else None
        rows = committed.rows if committed is not None else 0
        yield dg.MaterializeResult(
            asset_key=table,
            metadata={
                **shared,
                "rows": rows,
                "dagster/row_count": rows,
                "delta_version": committed.version if committed is not None else None,
            },
        )
