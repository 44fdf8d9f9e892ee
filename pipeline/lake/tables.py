"""Every lake table: its schema, its key and what one row is. The workflow tables come from
`pipeline.flatten`, the enrichment tables from `pipeline.enrich`; the warehouse, the Dagster
assets and the data dictionary all read them from here.
"""

from __future__ import annotations

import pyarrow as pa

from pipeline.enrich.job_details import JOB_DETAILS_SCHEMA, SCAN_SCORES_SCHEMA
from pipeline.flatten import schemas

# Tables one pass over the workflow list endpoint writes for a window.
WORKFLOW_TABLES: tuple[str, ...] = tuple(schemas.WORKFLOW_TABLES)
# Tables the job lookups (v1 job endpoint) write for a window.
ENRICH_TABLES: tuple[str, ...] = ("job_details", "scan_scores")

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

DESCRIPTIONS: dict[str, str] = {
    "workflows": "One row per workflow, as returned by the workflow endpoints (cost, Buzz "
    "totals, lost-blob refund, user id parsed from the id or a `user:N` tag, metadata and "
    "arguments as JSON text).",
    "steps": "One row per workflow step: `$type` as step_type, status, timings, the timeout "
    "as sent and in seconds, the main input fields (prompt, model, engine, size, seed) and "
    "input/output as JSON text.",
    "jobs": "One row per job embedded in a step (status, cost, times, queue, failure reason "
    "and blocked reason when the workflow carries them).",
    "blobs": "One row per output blob (image, video, audio, 3D model, ...) of a workflow, found "
    "at any depth of its step's output, with the JSON path it was found at; never the signed "
    "URL.",
    "transactions": "One row per Buzz transaction of a workflow (debit, or credit for a refund).",
    "moderation_verdicts": "One row per verdict of a moderation step (mediaRating, "
    "xGuardModeration, shieldstralModeration, ageClassification): blocked or not, reason, "
    "NSFW level, category, minor detected, score (0-1).",
    "job_details": "One row per v1 job lookup: found or 404, the last event and its context, "
    "priority, service providers, parameters, failure and blocked reasons.",
    "scan_scores": "Moderation values from a job's event context, one row per key and output "
    "item (`score` in percent 0-100 for scores, `label` for summaries such as "
    "hive_vlm_summary).",
}


def all_schemas() -> dict[str, pa.Schema]:
    return dict(SCHEMAS)


def schema_for(table: str) -> pa.Schema:
    if table not in SCHEMAS:
        raise KeyError(f"unknown lake table {table!r}; known: {', '.join(SCHEMAS)}")
    return SCHEMAS[table]
