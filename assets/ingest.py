"""Ingest: one pass over a window's workflows writes the workflow tables of the lake.

The workflow list endpoint returns each workflow with its steps, jobs, output blobs, Buzz
transactions and moderation verdicts embedded, so a single paged fetch feeds every table; that
is why they are one multi-asset (one op, one API pass) rather than assets that would each page
the API.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from assets.lake import INGEST_TABLES, lake_spec, window_of
from assets.partitions import daily_window_partitions
from assets.resources import DataDirResource, OrchestrationApiResource
from pipeline.lake.ledger import Ledger
from pipeline.lake.store import Lake
from pipeline.runs import sync

API_POOL = "orchestration_api"


@dg.multi_asset(
    name="ingest_window",
    specs=[lake_spec(table) for table in INGEST_TABLES],
    partitions_def=daily_window_partitions,
    pool=API_POOL,
    can_subset=False,
)
def ingest_window(
    context: dg.AssetExecutionContext, api: OrchestrationApiResource, data: DataDirResource
) -> Iterator[dg.MaterializeResult]:
    """Fetch every workflow created in the partition's UTC day and replace that window in the
    lake (workflows, steps, jobs, blobs, transactions, moderation_verdicts), plus the raw page
    archive and the ledger.

    Re-running a partition is idempotent: the window is replaced whole, one Delta commit per
    table, so a late finisher re-synced tomorrow replaces its row instead of adding one. Filters on
    `createdAt` client-side too; when the API ignores the date filter the metadata says
    `filter_mode = client`.
    """
    window_date = window_of(context)
    settings = data.settings(api)

    def on_page(page: int, workflows: int) -> None:
        context.log.debug(f"window {window_date}: page {page}, {workflows} workflows so far")

    with api.client() as client:
        result = sync.sync_window(
            settings, client, window_date, run_id=context.run.run_id, on_page=on_page
        )
    context.log.info(
        f"window {window_date}: {result.workflows} workflows in {result.pages} pages "
        f"({result.filter_mode}-side date filter, {result.retries} retries, "
        f"{result.seconds:.1f}s)"
    )
    shared: dict[str, Any] = {
        "window_date": window_date.isoformat(),
        "pages": result.pages,
        "workflows": result.workflows,
        "filter_mode": result.filter_mode,
        "retries": result.retries,
        "seconds": dg.MetadataValue.float(float(result.seconds)),
    }
    row = Ledger(Lake.from_settings(settings)).get(window_date)
    for table in INGEST_TABLES:
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
