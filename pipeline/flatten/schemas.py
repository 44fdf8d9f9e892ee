"""Explicit Arrow schemas of the lake tables.

Every lake file is written with exactly one of these schemas, so a partition written today and
one written a year ago read back as the same types, and a window without rows still has a
typed (empty) file. The enrichment tables (`job_details`, `scan_scores`) are defined beside
the code that builds their rows (`pipeline.enrich.job_details`); `pipeline.lake.tables`
registers every table.

Each schema has its column descriptions right below it (`<TABLE>_COLUMNS`): what a value is,
what NULL means when it can be NULL, and its unit in brackets at the end (`[Buzz]`,
`[seconds]`, `[percent 0-100]`, `[ratio 0-1]`, ...). The warehouse publishes them as DuckDB
comments, the Dagster assets as column schemas and the data dictionary as tables; a test
fails when a column has none. A value's unit is in its name (`_buzz`, `_seconds`, `_pct`,
`_ratio`) unless the name is fixed by the design (`cost_base`, `cost_total`, `amount`).
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
        ("cost_tips_civitai_buzz", pa.int64()),
        ("cost_tips_creators_buzz", pa.int64()),
        # `cost.factors` and `cost.fees` are maps (factor or resource AIR -> number).
        ("cost_factors_json", pa.string()),
        ("cost_fees_json", pa.string()),
        ("lost_blobs_refund_buzz", pa.int64()),
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

_WINDOW_DATE = (
    "The UTC day of the workflow's createdAt: the sync window (and Delta partition) the row "
    "belongs to."
)
_EXTRA_JSON = (
    "The object's members without a column of their own, as JSON text (new API fields land "
    "here). NULL: it had none."
)

WORKFLOWS_COLUMNS = {
    "workflow_id": "The workflow's id (`id`), e.g. `8484131-20260121222126332`.",
    "window_date": _WINDOW_DATE,
    "created_at": "When the workflow was created (`createdAt`, UTC).",
    "started_at": "When the workflow started running. NULL: it has not started.",
    "completed_at": "When the workflow reached a final status. NULL: it has not finished.",
    "deleted_at": "When the workflow was soft-deleted. NULL: it is not deleted.",
    "status": "The workflow's status as the API sent it (unassigned, preparing, scheduled, "
    "processing, succeeded, failed, expired, canceled; other values kept as sent).",
    "user_id": "The user who ran it, read from the id's numeric prefix, else from a `user:N` "
    "tag (the API has no user field). NULL: neither names a user (e.g. `0-<uuid>` ids of API "
    "keys).",
    "nsfw_level": "The workflow's NSFW level as sent (pg, pg13, r, x, xxx, na). NULL: not sent.",
    "tags": "The workflow's tags, in the API's order (empty list: none). NULL: not sent.",
    "currencies": "The Buzz accounts the workflow could charge (yellow, blue, green, "
    "fakeRed). NULL: not sent.",
    "cost_base": "`cost.base`: the cost before tips. NULL: not sent. [Buzz]",
    "cost_total": "`cost.total`: the cost including tips; 0 for a refunded or failed run. "
    "NULL: not sent. [Buzz]",
    "cost_tips_civitai_buzz": "`cost.tips.civitai`: the tip to Civitai. NULL: not sent. [Buzz]",
    "cost_tips_creators_buzz": "`cost.tips.creators`: the tip to creators. NULL: not sent. [Buzz]",
    "cost_factors_json": "`cost.factors` as JSON text (factor -> number, e.g. base, "
    "quantity). NULL: not sent.",
    "cost_fees_json": "`cost.fees` as JSON text (resource AIR -> fee). NULL: not sent.",
    "lost_blobs_refund_buzz": "`lostBlobsRefund`: Buzz refunded for outputs lost in a storage "
    "incident. NULL: never checked. [Buzz]",
    "buzz_debit": "Sum of the amounts of the workflow's debit transactions (0 when it has a "
    "transaction list without debits). NULL: the workflow came without a transaction list. "
    "[Buzz]",
    "buzz_credit": "Sum of the amounts of its credit (refund) transactions (0 when none). "
    "NULL: the workflow came without a transaction list. [Buzz]",
    "upgrade_mode": "`upgradeMode` (manual, automatic). NULL: not sent.",
    "external_id": "`externalId`, the caller's idempotency key. NULL: none given.",
    "experimental": "`experimental` as sent. NULL: not sent.",
    "allow_mature_content": "`allowMatureContent` as sent. NULL: not sent.",
    "force_refunded": "`forceRefunded`: the workflow was refunded by force. NULL: not sent.",
    "step_count": "Number of steps the workflow lists. NULL: it came without a step list.",
    "metadata_json": "The workflow's `metadata` as JSON text. NULL: not sent.",
    "arguments_json": "The workflow's `arguments` as JSON text. NULL: not sent.",
    "extra_json": _EXTRA_JSON,
    "synced_at": "When this copy of the workflow was fetched and written (UTC): a later sync "
    "of the window replaces the row.",
}

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

STEPS_COLUMNS = {
    "workflow_id": "The workflow the step belongs to.",
    "step_name": "The step's `name`, unique within its workflow (e.g. `$0`).",
    "window_date": _WINDOW_DATE,
    "step_index": "Position of the step in the workflow's step list, from 0.",
    "step_type": "The step's `$type` (textToImage, videoGen, mediaRating, ...; new types kept "
    "as sent).",
    "status": "The step's status as the API sent it (same values as the workflow's).",
    "priority": "The step's priority (high, normal, low). NULL: not sent.",
    "started_at": "When the step started. NULL: it has not started.",
    "completed_at": "When the step reached a final status. NULL: it has not finished.",
    "timeout": "The step's `timeout` as sent (TimeSpan text `hh:mm:ss`, or an ISO-8601 "
    "duration). NULL: none set.",
    "timeout_seconds": "The timeout read as seconds. NULL: none set, or the text could not be "
    "read (then `timeout` shows it). [seconds]",
    "retries": "`retries`: how many times the step may be retried. NULL: not sent.",
    "estimated_progress_rate": "`estimatedProgressRate` as sent: the service's estimate of "
    "the share of the work done per second (inferred from the values seen). NULL: not sent. "
    "[share per second]",
    "prompt": "`input.prompt`. NULL: the step type has none, or none was given.",
    "negative_prompt": "`input.negativePrompt`. NULL: the step type has none, or none was given.",
    "model": "`input.model` (an AIR). NULL: the step's input names none.",
    "engine": "`input.engine`. NULL: the step's input names none.",
    "width": "`input.width` of the requested output. NULL: the input has none. [pixels]",
    "height": "`input.height` of the requested output. NULL: the input has none. [pixels]",
    "quantity": "`input.quantity`: how many outputs were asked for. NULL: the input has none.",
    "seed": "`input.seed`. NULL: the input has none.",
    "job_count": "Number of jobs the step lists. NULL: it came without a job list.",
    "input_json": "The step's `input` as JSON text, signed URLs stripped of their signature. "
    "NULL: not sent.",
    "output_json": "The step's `output` as JSON text, signed URLs stripped of their signature. "
    "NULL: no output yet.",
    "metadata_json": "The step's `metadata` as JSON text. NULL: not sent.",
    "extra_json": _EXTRA_JSON,
}

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

JOBS_COLUMNS = {
    "job_id": "The job's id.",
    "workflow_id": "The workflow the job belongs to.",
    "step_name": "The step the job belongs to.",
    "window_date": _WINDOW_DATE,
    "job_index": "Position of the job in its step's job list, from 0.",
    "status": "The job's status as the API sent it (same values as the workflow's).",
    "cost": "The job's `cost`: a relative complexity score, not Buzz (the API documents no unit).",
    "started_at": "When the job started. NULL: it has not started.",
    "completed_at": "When the job finished. NULL: it has not finished.",
    "estimated_progress_rate": STEPS_COLUMNS["estimated_progress_rate"],
    "queue_support": "`queuePosition.support` (unsupported, unavailable, available). NULL: no "
    "queue position sent.",
    "queue_preceding_jobs": "`queuePosition.precedingJobs`: jobs ahead of this one in the "
    "queue. NULL: not sent.",
    "queue_start_at": "`queuePosition.startAt`: when the job was expected to start. NULL: not "
    "sent.",
    "queue_complete_at": "`queuePosition.completeAt`: when the job was expected to finish. "
    "NULL: not sent.",
    "reason": "The job's failure reason as the workflow gives it. NULL: the workflow gives "
    "none (the v1 job event may: see job_details.reason).",
    "blocked_reason": "Why the job was blocked, as the workflow gives it. NULL: not blocked "
    "as far as the workflow says (see job_details.blocked_reason).",
    "extra_json": _EXTRA_JSON,
}

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
        ("duration_seconds", pa.float64()),
        ("format", pa.string()),
        ("url_expires_at", TIMESTAMP),
        ("extra_json", pa.string()),
    ]
)

BLOBS_COLUMNS = {
    "workflow_id": "The workflow whose output holds the blob.",
    "blob_id": "The blob's id (also its file name in the blob store).",
    "step_name": "The step whose output holds the blob.",
    "job_id": "The job that produced it: the blob's `jobId`, else the step's job when the step "
    "ran exactly one. NULL: neither tells.",
    "window_date": _WINDOW_DATE,
    "json_path": "Where the blob was found in the step's output, e.g. `$.images[0]` or "
    "`$.epochs[0].samples[1]`.",
    "blob_type": "The blob's `type` (image, video, audio, model3D, ...). NULL: not sent "
    "(older outputs omit it).",
    "available": "Whether the blob can be downloaded. NULL: not sent.",
    "nsfw_level": "The blob's NSFW level (pg, pg13, r, x, xxx, na). NULL: not rated.",
    "blocked_reason": "Why the blob is blocked. NULL: it is not blocked.",
    "width": "Width of an image or video. NULL: not an image or video, or not sent. [pixels]",
    "height": "Height of an image or video. NULL: not an image or video, or not sent. [pixels]",
    "duration_seconds": "Length of an audio blob (`duration`). NULL: not audio, or not sent. "
    "[seconds]",
    "format": "File format of a 3D model blob (e.g. glb). NULL: not a 3D model, or not sent.",
    "url_expires_at": "When the signed URL the API sent with the blob expires (the URL itself "
    "is never stored). NULL: no expiry sent.",
    "extra_json": _EXTRA_JSON,
}

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

TRANSACTIONS_COLUMNS = {
    "workflow_id": "The workflow the transaction belongs to.",
    "txn_index": "Position of the transaction in the workflow's transaction list, from 0.",
    "window_date": _WINDOW_DATE,
    "txn_type": "debit (a charge) or credit (a refund), as sent.",
    "amount": "The transaction's amount, never negative (a credit is a refund). [Buzz]",
    "account_type": "The Buzz account charged or refunded (yellow, blue, green, fakeRed). "
    "NULL: not sent.",
    "transaction_id": "The transaction's id. NULL: not sent.",
}

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
        ("score", pa.float64()),
        ("labels", pa.list_(pa.string())),
        ("detail_json", pa.string()),
    ]
)

MODERATION_VERDICTS_COLUMNS = {
    "workflow_id": "The workflow of the moderation step.",
    "step_name": "The moderation step.",
    "verdict_index": "Position of the verdict in the step's output, from 0.",
    "window_date": _WINDOW_DATE,
    "step_type": "The moderation step's type (mediaRating, xGuardModeration, "
    "shieldstralModeration, ageClassification).",
    "job_id": "The step's job. NULL: the step ran no job or several.",
    "is_blocked": "Whether the verdict blocks the content (`isBlocked`, `triggered`, "
    "`blocked`). NULL: the output does not say.",
    "blocked_reason": "The reason given for a block. NULL: none given.",
    "nsfw_level": "The NSFW level a mediaRating step gave. NULL: other step types, or not rated.",
    "category": "What the verdict is about: an xGuard label, a Shieldstral policy, an age "
    "label. NULL: mediaRating verdicts, and steps without per-label results.",
    "has_minor": "Whether a minor was detected (`minorDetected`, `isMinor`, `hasMinor`). "
    "NULL: no age classification ran.",
    "csam": "The mediaRating `csam` flag. NULL: other step types, or not sent.",
    "score": "The verdict's score as the API gives it: a label's or policy's score, an "
    "age label's probability. NULL: the verdict has none. [ratio 0-1]",
    "labels": "Labels of the verdict (mediaRating `labels`, triggered labels or policies). "
    "NULL: none sent.",
    "detail_json": "The verdict object's members without a column (thresholds, actions, "
    "detections, unknown members) as JSON text. NULL: none.",
}

# Tables built by flattening the workflow pages of a window, in publish order.
WORKFLOW_TABLES: dict[str, pa.Schema] = {
    "workflows": WORKFLOWS,
    "steps": STEPS,
    "jobs": JOBS,
    "blobs": BLOBS,
    "transactions": TRANSACTIONS,
    "moderation_verdicts": MODERATION_VERDICTS,
}

COLUMNS: dict[str, dict[str, str]] = {
    "workflows": WORKFLOWS_COLUMNS,
    "steps": STEPS_COLUMNS,
    "jobs": JOBS_COLUMNS,
    "blobs": BLOBS_COLUMNS,
    "transactions": TRANSACTIONS_COLUMNS,
    "moderation_verdicts": MODERATION_VERDICTS_COLUMNS,
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
