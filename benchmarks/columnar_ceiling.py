"""The columnar ceiling: DuckDB alone turning the archived pages into the five lake tables.

It reads the same archived pages as `rebuild` with DuckDB's JSON reader, parsing each page once
into typed structs (`read_json_objects` + `from_json`: on these one-object-per-file pages that
is several times faster than `read_json` with a `columns` schema), unnests workflows -> steps -> jobs, output blobs and
transactions, and writes one zstd Parquet file per table. It skips what the real path must
also do (signed-URL stripping, `extra_json` of unknown members, the exact window filter,
duplicate handling, atomic publication, the ledger), so it is an upper bound, not a rival.
"""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Any

_TS = "TIMESTAMPTZ"
# JSON type descriptions for from_json (lenient: a missing member is NULL, not an error).
_BLOB = {
    "id": "VARCHAR",
    "type": "VARCHAR",
    "available": "BOOLEAN",
    "jobId": "VARCHAR",
    "nsfwLevel": "VARCHAR",
    "blockedReason": "VARCHAR",
    "width": "INTEGER",
    "height": "INTEGER",
    "duration": "DOUBLE",
    "urlExpiresAt": _TS,
}
_OUTPUT = {"images": [_BLOB], "blobs": [_BLOB], "video": _BLOB, "blob": _BLOB}
_JOB = {
    "id": "VARCHAR",
    "status": "VARCHAR",
    "cost": "DOUBLE",
    "startedAt": _TS,
    "completedAt": _TS,
    "estimatedProgressRate": "DOUBLE",
    "queuePosition": {
        "support": "VARCHAR",
        "precedingJobs": "INTEGER",
        "startAt": _TS,
        "completeAt": _TS,
    },
}
_STEP = {
    "$type": "VARCHAR",
    "name": "VARCHAR",
    "priority": "VARCHAR",
    "timeout": "VARCHAR",
    "retries": "INTEGER",
    "status": "VARCHAR",
    "startedAt": _TS,
    "completedAt": _TS,
    "estimatedProgressRate": "DOUBLE",
    "metadata": "JSON",
    "input": "JSON",
    "output": "JSON",
    "jobs": [_JOB],
}
_WORKFLOW = {
    "id": "VARCHAR",
    "createdAt": _TS,
    "startedAt": _TS,
    "completedAt": _TS,
    "deletedAt": _TS,
    "status": "VARCHAR",
    "nsfwLevel": "VARCHAR",
    "tags": ["VARCHAR"],
    "currencies": ["VARCHAR"],
    "cost": {
        "base": "BIGINT",
        "total": "BIGINT",
        "tips": {"civitai": "BIGINT", "creators": "BIGINT"},
    },
    "transactions": {
        "list": [{"type": "VARCHAR", "amount": "BIGINT", "accountType": "VARCHAR", "id": "VARCHAR"}]
    },
    "upgradeMode": "VARCHAR",
    "externalId": "VARCHAR",
    "experimental": "BOOLEAN",
    "allowMatureContent": "BOOLEAN",
    "forceRefunded": "BOOLEAN",
    "metadata": "JSON",
    "arguments": "JSON",
    "steps": [_STEP],
}
_PAGE = json.dumps({"items": [_WORKFLOW]})

_TABLES = {
    "workflows": """
        SELECT w.id AS workflow_id, CAST(w.createdAt AS DATE) AS window_date,
               w.createdAt AS created_at, w.startedAt AS started_at,
               w.completedAt AS completed_at, w.deletedAt AS deleted_at, w.status,
               TRY_CAST(split_part(w.id, '-', 1) AS BIGINT) AS user_id, w.nsfwLevel AS nsfw_level,
               w.tags, w.currencies, w.cost.base AS cost_base, w.cost.total AS cost_total,
               w.cost.tips.civitai AS cost_tips_civitai, w.cost.tips.creators AS cost_tips_creators,
               list_sum([t.amount FOR t IN w.transactions.list IF t.type = 'debit']) AS buzz_debit,
               list_sum([t.amount FOR t IN w.transactions.list IF t.type = 'credit']) AS buzz_credit,
               w.upgradeMode AS upgrade_mode, w.externalId AS external_id, w.experimental,
               w.allowMatureContent AS allow_mature_content, w.forceRefunded AS force_refunded,
               len(w.steps) AS step_count, CAST(w.metadata AS VARCHAR) AS metadata_json,
               CAST(w.arguments AS VARCHAR) AS arguments_json
        FROM wf""",
    "transactions": """
        SELECT workflow_id, window_date, t.generate_subscript - 1 AS txn_index,
               t.t.type AS txn_type, t.t.amount AS amount, t.t.accountType AS account_type,
               t.t.id AS transaction_id
        FROM (SELECT w.id AS workflow_id, CAST(w.createdAt AS DATE) AS window_date,
                     unnest(w.transactions.list) AS t,
                     generate_subscripts(w.transactions.list, 1) AS generate_subscript
              FROM wf) AS t""",
    "steps": """
        SELECT workflow_id, s.name AS step_name, window_date, step_index, s."$type" AS step_type,
               s.status, s.priority, s.startedAt AS started_at, s.completedAt AS completed_at,
               s.timeout AS timeout, s.retries, s.estimatedProgressRate AS estimated_progress_rate,
               s.input->>'prompt' AS prompt, s.input->>'negativePrompt' AS negative_prompt,
               s.input->>'model' AS model, s.input->>'engine' AS engine,
               TRY_CAST(s.input->>'width' AS INTEGER) AS width,
               TRY_CAST(s.input->>'height' AS INTEGER) AS height,
               TRY_CAST(s.input->>'quantity' AS INTEGER) AS quantity,
               TRY_CAST(s.input->>'seed' AS BIGINT) AS seed, len(s.jobs) AS job_count,
               CAST(s.input AS VARCHAR) AS input_json, CAST(s.output AS VARCHAR) AS output_json,
               CAST(s.metadata AS VARCHAR) AS metadata_json
        FROM st""",
    "jobs": """
        SELECT j.id AS job_id, workflow_id, step_name, window_date, job_index, j.status, j.cost,
               j.startedAt AS started_at, j.completedAt AS completed_at,
               j.estimatedProgressRate AS estimated_progress_rate,
               j.queuePosition.support AS queue_support,
               j.queuePosition.precedingJobs AS queue_preceding_jobs,
               j.queuePosition.startAt AS queue_start_at,
               j.queuePosition.completeAt AS queue_complete_at
        FROM (SELECT workflow_id, s.name AS step_name, window_date, unnest(s.jobs) AS j,
                     generate_subscripts(s.jobs, 1) - 1 AS job_index FROM st)""",
    "blobs": f"""
        SELECT x.b.id AS blob_id, workflow_id, step_name, x.b.jobId AS job_id, window_date,
               x.output_key, x.item_index, x.b.type AS blob_type, x.b.available,
               x.b.nsfwLevel AS nsfw_level, x.b.blockedReason AS blocked_reason,
               x.b.width AS width, x.b.height AS height, x.b.duration AS duration,
               x.b.urlExpiresAt AS url_expires_at
        FROM (
            SELECT workflow_id, step_name, window_date, unnest(blobs) AS x
            FROM (
                SELECT workflow_id, s.name AS step_name, window_date,
                       list_concat(
                           [{{'output_key': 'images', 'item_index': i - 1, 'b': o.images[i]}}
                            FOR i IN range(1, len(o.images) + 1)],
                           [{{'output_key': 'blobs', 'item_index': i - 1, 'b': o.blobs[i]}}
                            FOR i IN range(1, len(o.blobs) + 1)],
                           [{{'output_key': x.k, 'item_index': 0, 'b': x.b}}
                            FOR x IN [{{'k': 'video', 'b': o.video}}, {{'k': 'blob', 'b': o.blob}}]
                            IF x.b.id IS NOT NULL]
                       ) AS blobs
                FROM (SELECT *, from_json(s.output, '{json.dumps(_OUTPUT)}') AS o FROM st)
            )
        )""",
}


def run_ceiling(data_dir: Path, days: list[date], out_dir: Path) -> dict[str, Any]:
    import duckdb

    from pipeline.fetch import archive

    files = []
    for day in days:
        files += archive.page_files(archive.latest_dir(data_dir / "raw", day))
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    con = duckdb.connect(":memory:")
    rows: dict[str, int] = {}
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET threads = 2")
        con.execute("SET enable_progress_bar = false")
        listing = "[" + ", ".join(f"'{f}'" for f in files) + "]"
        # Parsed once into typed columns; the five tables are cut from that.
        con.execute(f"""
            CREATE TEMP TABLE wf AS
            SELECT unnest(from_json(json, '{_PAGE}').items) AS w
            FROM read_json_objects({listing}, format = 'unstructured',
                                   maximum_object_size = 268435456)""")
        con.execute("""
            CREATE TEMP TABLE st AS
            SELECT w.id AS workflow_id, CAST(w.createdAt AS DATE) AS window_date,
                   unnest(w.steps) AS s, generate_subscripts(w.steps, 1) - 1 AS step_index
            FROM wf""")
        for name, query in _TABLES.items():
            path = out_dir / f"{name}.parquet"
            con.execute(f"COPY ({query}) TO '{path}' (FORMAT parquet, COMPRESSION zstd)")
            row = con.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchone()
            rows[name] = int(row[0]) if row else 0
    finally:
        con.close()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "pages": len(files), "workflows": rows["workflows"], "rows": rows}
