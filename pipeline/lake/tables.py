"""Every lake table, its schema and its key: the workflow tables of `pipeline.flatten` and the
enrichment tables of `pipeline.enrich`."""

from __future__ import annotations

import pyarrow as pa

from pipeline.enrich.job_details import JOB_DETAILS_SCHEMA, SCAN_SCORES_SCHEMA
from pipeline.flatten import schemas

SCHEMAS: dict[str, pa.Schema] = {
    **schemas.WORKFLOW_TABLES,
    "job_details": JOB_DETAILS_SCHEMA,
    "scan_scores": SCAN_SCORES_SCHEMA,
}

KEYS: dict[str, tuple[str, ...]] = {
    **schemas.KEYS,
    "job_details": ("job_id",),
    "scan_scores": ("job_id", "score_name", "item_index"),
}


def all_schemas() -> dict[str, pa.Schema]:
    return dict(SCHEMAS)


def schema_for(table: str) -> pa.Schema:
    if table not in SCHEMAS:
        raise KeyError(f"unknown lake table {table!r}; known: {', '.join(SCHEMAS)}")
    return SCHEMAS[table]
