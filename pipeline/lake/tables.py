"""Every lake table: its schema, its key and what one row is. The workflow tables come from
`pipeline.flatten`, the enrichment tables from `pipeline.enrich`; the warehouse, the Dagster
assets and the data dictionary all read them from here.
"""

from __future__ import annotations

import pyarrow as pa

from pipeline.enrich.job_details import (
    JOB_DETAILS_COLUMNS,
    JOB_DETAILS_SCHEMA,
    SCAN_SCORES_COLUMNS,
    SCAN_SCORES_SCHEMA,
)
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

# Each column's description, with its unit in brackets at the end (see pipeline.flatten.schemas).
COLUMNS: dict[str, dict[str, str]] = {
    **schemas.COLUMNS,
    "job_details": JOB_DETAILS_COLUMNS,
    "scan_scores": SCAN_SCORES_COLUMNS,
}

# Columns renamed since an older release wrote files (table -> {new name: old name}): the old
# column of such a file is read under the new name (`pipeline.lake.datafiles.conform`, the
# warehouse's views), so a data dir synced before the rename keeps its values.
RENAMED: dict[str, dict[str, str]] = {
    "workflows": {
        "cost_tips_civitai_buzz": "cost_tips_civitai",
        "cost_tips_creators_buzz": "cost_tips_creators",
        "lost_blobs_refund_buzz": "lost_blobs_refund",
    },
    "blobs": {"duration_seconds": "duration"},
    "job_details": {"csam_score_max_pct": "csam_score_max"},
    # The design's name; files of a release that called it score_ratio read under it.
    "moderation_verdicts": {"score": "score_ratio"},
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
    "job_details": "One row per v1 job lookup (`GET /v1/consumer/jobs/{id}?detailed=true`): "
    "found or 404, provider, worker, the last event and its context, priority, prompt "
    "classification, the highest CSAM score, failure and blocked reasons.",
    "scan_scores": "Moderation values from a job's event context in long format, one row per "
    "key and output item: the value as given, `score` in percent 0-100 for scores, `label` "
    "for summaries such as hive_vlm_summary.",
}


def all_schemas() -> dict[str, pa.Schema]:
    return dict(SCHEMAS)


def schema_for(table: str) -> pa.Schema:
    if table not in SCHEMAS:
        raise KeyError(f"unknown lake table {table!r}; known: {', '.join(SCHEMAS)}")
    return SCHEMAS[table]
