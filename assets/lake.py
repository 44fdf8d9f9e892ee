"""Names of the lake tables, as the Dagster layer refers to them.

The asset key of a lake table is the table's name, so the asset graph, the lake directories
and the warehouse's core tables all use one vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

import dagster as dg

from pipeline.flatten.schemas import WORKFLOW_TABLES
from pipeline.lake import tables
from pipeline.warehouse.describe import ColumnDoc, lake_doc

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


def column_schema(columns: Iterable[ColumnDoc]) -> dg.TableSchema:
    """The `dagster/column_schema` of a table: each column with its type, description and
    unit (also as a `unit` tag), from where the description is written once."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                column.name,
                column.type,
                description=column.text or None,
                tags={"unit": column.unit} if column.unit else None,
            )
            for column in columns
        ]
    )


def lake_spec(table: str, deps: Sequence[str] = ()) -> dg.AssetSpec:
    """The asset of lake table `table`: its description and column schema."""
    return dg.AssetSpec(
        table,
        deps=list(deps),
        description=tables.DESCRIPTIONS[table],
        group_name=LAKE_GROUP,
        kinds={"deltalake"},
        metadata={"dagster/column_schema": column_schema(lake_doc(table).columns)},
    )
