"""Explicit Arrow schemas of the lake tables.

Every lake file is written with exactly one of these schemas, so a partition written today and
one written a year ago read back as the same types, and a window without rows still has a
typed (empty) file. The enrichment tables (`job_details`, `scan_scores`) are defined beside
the code that builds their rows (`pipeline.enrich.job_details`); `pipeline.lake.tables`
registers every table.
"""

from __future__ import annotations

import pyarrow as pa

TIMESTAMP = pa.timestamp("us", tz="UTC")

WORKFLOWS = pa.schema(
    [
        ("workflow_id", pa.string()),
        ("window_date", pa.date32()),
        ("created_at", TIMESTAMP),
        ("started_at", TIMESTAMP),
        ("completed_at", TIMESTAMP),
        ("deleted_at", TIMESTAMP),
        ("status", pa.string()),
        ("user_id", pa.int64()),
        ("nsfw_level", pa.string()),
        ("tags", pa.list_(pa.string())),
        ("currencies", pa.list_(pa.string())),
        ("cost_base", pa.int64()),
        ("cost_total", pa.int64()),
        ("cost_tips_civitai", pa.int64()),
        ("cost_tips_creators", pa.int64()),
        # `cost.factors` and `cost.fees` are maps (factor or resource AIR -> number).
        ("cost_factors_json", pa.string()),
        ("cost_fees_json", pa.string()),
        ("lost_blobs_refund", pa.int64()),
        ("buzz_debit", pa.int64()),
        ("buzz_credit", pa.int64()),
        ("upgrade_mode", pa.string()),
        ("external_id", pa.string()),
        ("experimental", pa.bool_()),
        ("allow_mature_content", pa.bool_()),
        ("force_refunded", pa.bool_()),
        ("step_count", pa.int32()),
        ("metadata_json", pa.string()),
        ("arguments_json", pa.string()),
        ("extra_json", pa.string()),
        ("synced_at", TIMESTAMP),
    ]
)

STEPS = pa.schema(
    [
        ("workflow_id", pa.string()),
        ("step_name", pa.string()),
        ("window_date", pa.date32()),
        ("step_index", pa.int32()),
        ("step_type", pa.string()),
        ("status", pa.string()),
        ("priority", pa.string()),
        ("started_at", TIMESTAMP),
        ("completed_at", TIMESTAMP),
        ("timeout", pa.string()),
        ("timeout_seconds", pa.float64()),
        ("retries", pa.int32()),
        ("estimated_progress_rate", pa.float64()),
        ("prompt", pa.string()),
        ("negative_prompt", pa.string()),
        ("model", pa.string()),
        ("engine", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("quantity", pa.int32()),
        ("seed", pa.int64()),
        ("job_count", pa.int32()),
        ("input_json", pa.string()),
        ("output_json", pa.string()),
        ("metadata_json", pa.string()),
        ("extra_json", pa.string()),
    ]
)

JOBS = pa.schema(
    [
        ("job_id", pa.string()),
        ("workflow_id", pa.string()),
        ("step_name", pa.string()),
        ("window_date", pa.date32()),
        ("job_index", pa.int32()),
        ("status", pa.string()),
        ("cost", pa.float64()),
        ("started_at", TIMESTAMP),
        ("completed_at", TIMESTAMP),
        ("estimated_progress_rate", pa.float64()),
        ("queue_support", pa.string()),
        ("queue_preceding_jobs", pa.int32()),
        ("queue_start_at", TIMESTAMP),
        ("queue_complete_at", TIMESTAMP),
        # Not in the schema of an embedded job, but the developer docs show them there.
        ("reason", pa.string()),
        ("blocked_reason", pa.string()),
        ("extra_json", pa.string()),
    ]
)

# Never a `url`/`previewUrl` column: those are signed, expiring grants, fetched on demand.
BLOBS = pa.schema(
    [
        ("workflow_id", pa.string()),
        ("blob_id", pa.string()),
        ("step_name", pa.string()),
        ("job_id", pa.string()),
        ("window_date", pa.date32()),
        ("json_path", pa.string()),
        ("blob_type", pa.string()),
        ("available", pa.bool_()),
        ("nsfw_level", pa.string()),
        ("blocked_reason", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("duration", pa.float64()),
        ("format", pa.string()),
        ("url_expires_at", TIMESTAMP),
        ("extra_json", pa.string()),
    ]
)

TRANSACTIONS = pa.schema(
    [
        ("workflow_id", pa.string()),
        ("txn_index", pa.int32()),
        ("window_date", pa.date32()),
        ("txn_type", pa.string()),
        ("amount", pa.int64()),
        ("account_type", pa.string()),
        ("transaction_id", pa.string()),
    ]
)

MODERATION_VERDICTS = pa.schema(
    [
        ("workflow_id", pa.string()),
        ("step_name", pa.string()),
        ("verdict_index", pa.int32()),
        ("window_date", pa.date32()),
        ("step_type", pa.string()),
        ("job_id", pa.string()),
        ("is_blocked", pa.bool_()),
        ("blocked_reason", pa.string()),
        ("nsfw_level", pa.string()),
        ("category", pa.string()),
        ("has_minor", pa.bool_()),
        ("csam", pa.bool_()),
        ("score_ratio", pa.float64()),
        ("labels", pa.list_(pa.string())),
        ("detail_json", pa.string()),
    ]
)

# Tables built by flattening the workflow pages of a window, in publish order.
WORKFLOW_TABLES: dict[str, pa.Schema] = {
    "workflows": WORKFLOWS,
    "steps": STEPS,
    "jobs": JOBS,
    "blobs": BLOBS,
    "transactions": TRANSACTIONS,
    "moderation_verdicts": MODERATION_VERDICTS,
}

KEYS: dict[str, tuple[str, ...]] = {
    "workflows": ("workflow_id",),
    "steps": ("workflow_id", "step_name"),
    "jobs": ("job_id",),
    # One blob id in two workflows (a result served from the output cache) is two rows.
    "blobs": ("workflow_id", "blob_id"),
    "transactions": ("workflow_id", "txn_index"),
    "moderation_verdicts": ("workflow_id", "step_name", "verdict_index"),
}


# Columns whose values are all but unique per row (ids, instants, prompts, whole documents):
# a Parquet dictionary there only costs hashing before the writer falls back to plain
# encoding. Every other column (statuses, types, models, amounts, dates) is dictionary-encoded.
HIGH_CARDINALITY = frozenset(
    {
        "workflow_id",
        "job_id",
        "blob_id",
        "transaction_id",
        "external_id",
        "created_at",
        "started_at",
        "completed_at",
        "queue_start_at",
        "queue_complete_at",
        "url_expires_at",
        "prompt",
        "seed",
        "detail_json",
        "input_json",
        "output_json",
        "extra_json",
    }
)


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """The columns of `schema` worth a Parquet dictionary."""
    return [column.name for column in schema if column.name not in HIGH_CARDINALITY]
