"""Names of the lake tables, as the Dagster layer refers to them.

The asset key of a lake table is the table's name, so the asset graph, the lake directories
and the warehouse's core tables all use one vocabulary.
"""

from __future__ import annotations

from datetime import date

import dagster as dg

from pipeline.flatten.schemas import WORKFLOW_TABLES

LAKE_GROUP = "lake"
# Tables one pass over the workflow list endpoint writes for a window.
INGEST_TABLES = tuple(WORKFLOW_TABLES)
# Tables the job lookups (v1 job endpoint) write for a window.
ENRICH_TABLES = ("job_details", "scan_scores")
LAKE_TABLES = (*INGEST_TABLES, *ENRICH_TABLES)
LAKE_KEYS = [dg.AssetKey(table) for table in LAKE_TABLES]


def window_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> date:
    """The sync window (UTC day) of a partitioned run."""
    return date.fromisoformat(context.partition_key)
