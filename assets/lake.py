"""Names and paths of the lake tables, as the Dagster layer refers to them.

The asset key of a lake table is the table's name, so the asset graph, the lake directories
and the warehouse's core tables all use one vocabulary.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg

from pipeline.core.settings import Settings
from pipeline.lake import partitions as lake

LAKE_GROUP = "lake"
# Tables one pass over the workflow list endpoint writes for a window.
INGEST_TABLES = ("workflows", "steps", "jobs", "blobs", "transactions")
# Tables the job lookups (v1 job endpoint) write for a window.
ENRICH_TABLES = ("job_details", "scan_scores")
LAKE_TABLES = (*INGEST_TABLES, *ENRICH_TABLES)
LAKE_KEYS = [dg.AssetKey(table) for table in LAKE_TABLES]


def partition_path(settings: Settings, table: str, window_date: date) -> Path:
    """The Parquet file that holds one window of one table."""
    return lake.partition_path(settings.lake_dir, table, window_date)


def partition_files(settings: Settings, table: str) -> list[Path]:
    """Every published window file of one table, oldest first."""
    return lake.partition_files(settings.lake_dir, table)


def window_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> date:
    """The sync window (UTC day) of a partitioned run."""
    return date.fromisoformat(context.partition_key)
