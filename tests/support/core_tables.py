"""Hand-made core tables for SQL model tests, in the warehouse's column layout (team contract).

Each helper takes plain dicts; missing columns are null. Kept small on purpose: the integration
tests build the same tables from simulator data through the real sync instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import duckdb

TS = "timestamp with time zone"

# fmt: off
CORE_COLUMNS: dict[str, dict[str, str]] = {
    "workflows": {
        "workflow_id": "varchar", "window_date": "date", "created_at": TS, "started_at": TS,
        "completed_at": TS, "deleted_at": TS, "status": "varchar", "user_id": "bigint",
        "nsfw_level": "varchar", "tags": "varchar[]", "currencies": "varchar[]",
        "cost_base": "bigint", "cost_total": "bigint", "cost_tips_civitai": "bigint",
        "cost_tips_creators": "bigint", "buzz_debit": "bigint", "buzz_credit": "bigint",
        "upgrade_mode": "varchar", "external_id": "varchar", "experimental": "boolean",
        "allow_mature_content": "boolean", "force_refunded": "boolean", "step_count": "integer",
        "metadata_json": "varchar", "arguments_json": "varchar", "extra_json": "varchar",
        "synced_at": TS,
    },
    "steps": {
        "workflow_id": "varchar", "step_name": "varchar", "window_date": "date",
        "step_index": "integer", "step_type": "varchar", "status": "varchar",
        "priority": "varchar", "started_at": TS, "completed_at": TS, "timeout_seconds": "double",
        "retries": "integer", "estimated_progress_rate": "double", "prompt": "varchar",
        "negative_prompt": "varchar", "model": "varchar", "engine": "varchar", "width": "integer",
        "height": "integer", "quantity": "integer", "seed": "bigint", "job_count": "integer",
        "input_json": "varchar", "output_json": "varchar", "metadata_json": "varchar",
        "extra_json": "varchar",
    },
    "jobs": {
        "job_id": "varchar", "workflow_id": "varchar", "step_name": "varchar",
        "window_date": "date", "job_index": "integer", "status": "varchar", "cost": "double",
        "started_at": TS, "completed_at": TS, "estimated_progress_rate": "double",
        "queue_support": "varchar", "queue_preceding_jobs": "integer", "queue_start_at": TS,
        "queue_complete_at": TS, "job_type": "varchar", "provider": "varchar",
        "worker_id": "varchar", "last_event_type": "varchar", "last_event_at": TS,
        "is_final": "boolean", "retry_attempt": "integer", "job_duration_seconds": "double",
        "prompt_sexual": "boolean", "prompt_young": "boolean", "prompt_cr": "boolean",
        "prompt_scan": "boolean", "context_json": "varchar", "csam_score_max": "double",
        "enriched_at": TS,
    },
    "job_details": {
        "job_id": "varchar", "workflow_id": "varchar", "window_date": "date", "fetched_at": TS,
        "found": "boolean", "job_type": "varchar", "provider": "varchar", "worker_id": "varchar",
        "last_event_type": "varchar", "last_event_at": TS, "is_final": "boolean",
        "retry_attempt": "integer", "job_duration_seconds": "double",
        "claim_duration_seconds": "double", "cost": "double", "prompt_sexual": "boolean",
        "prompt_young": "boolean", "prompt_cr": "boolean", "prompt_scan": "boolean",
        "prompt_classification_json": "varchar", "result_json": "varchar",
        "context_json": "varchar", "csam_score_max": "double",
    },
    "blobs": {
        "blob_id": "varchar", "workflow_id": "varchar", "step_name": "varchar",
        "job_id": "varchar", "window_date": "date", "output_key": "varchar",
        "item_index": "integer", "blob_type": "varchar", "available": "boolean",
        "nsfw_level": "varchar", "blocked_reason": "varchar", "width": "integer",
        "height": "integer", "duration": "double", "url_expires_at": TS,
    },
    "transactions": {
        "workflow_id": "varchar", "txn_index": "integer", "window_date": "date",
        "txn_type": "varchar", "amount": "bigint", "account_type": "varchar",
        "transaction_id": "varchar",
    },
    "scan_scores": {
        "job_id": "varchar", "score_name": "varchar", "item_index": "integer",
        "workflow_id": "varchar", "window_date": "date", "blob_id": "varchar",
        "value_text": "varchar", "score": "double", "label": "varchar",
        "raw_value_text": "varchar",
    },
    "sync_windows": {
        "window_date": "date", "status": "varchar", "workflows": "integer",
    },
}
# fmt: on


def create_core_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create every core table, empty."""
    for table, columns in CORE_COLUMNS.items():
        cols = ", ".join(f"{name} {type_}" for name, type_ in columns.items())
        con.execute(f"create or replace table {table} ({cols})")


def insert(
    con: duckdb.DuckDBPyConnection, table: str, rows: Iterable[Mapping[str, object]]
) -> None:
    """Insert dict rows into a core table; columns a row leaves out are null."""
    columns = list(CORE_COLUMNS[table])
    placeholders = ", ".join("?" for _ in columns)
    for row in rows:
        unknown = set(row) - set(columns)
        assert not unknown, f"{table} has no column(s) {unknown}"
        con.execute(f"insert into {table} values ({placeholders})", [row.get(c) for c in columns])
