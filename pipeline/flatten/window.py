"""Archived workflow pages of one window -> the workflows, steps, jobs, blobs and transactions
tables, as Parquet files with the explicit schemas of `pipeline.flatten.schemas`.

DuckDB does the work, streaming over the compressed pages: one SQL pass parses each workflow and
emits one typed row per step, with the workflow's columns on its first row and jobs, blobs and
transactions as nested lists; Arrow splits each batch into the five tables and appends them
to one Parquet writer per table, while a worker thread already pulls the next batch from
DuckDB. Memory is bounded by DuckDB's memory limit plus a few Arrow batches and one buffered
row group per table, whatever the size of the day.

Rules that hold for every row:

* Only workflows whose createdAt falls in the window are kept: the server's date filter is
  not trusted (the API says it "may have limited support").
* A workflow listed twice keeps the copy from the latest page (the last one fetched).
* Signed URL query strings are removed from the whole document before any column is cut
  from it, so no JSON text column can carry a `?sig=`; blob `url`/`previewUrl` have no column.
* Known members become typed columns; everything else stays as JSON text (`*_json`,
  `extra_json`) so a new API field is kept, never a crash.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.fetch import archive
from pipeline.fetch.windows import Bounds, Window
from pipeline.flatten import schemas

# Removes the query string of every URL (signatures, tokens) inside JSON text. Backslashes stop
# the match so an URL inside an escaped JSON string (`\"https://...?sig=x\"`) keeps its closing
# escape and the document stays valid JSON.
SIGNED_URL_PATTERN = r'(https?://[^"?\s\\]*)\?[^"\s\\]*'

# Rows per Arrow batch pulled from DuckDB: a few MB of workflow JSON at a time.
BATCH_ROWS = 2048
PARQUET_COMPRESSION = "zstd"

# Top-level workflow members that have a column of their own; everything else goes to extra_json
# (cost with its factors/fees, tips rates, callbacks, transactions' insufficientBuzz, unknowns).
WORKFLOW_MAPPED = (
    "id",
    "createdAt",
    "startedAt",
    "completedAt",
    "deletedAt",
    "status",
    "nsfwLevel",
    "tags",
    "currencies",
    "upgradeMode",
    "externalId",
    "experimental",
    "allowMatureContent",
    "forceRefunded",
    "metadata",
    "arguments",
    "steps",
)
STEP_MAPPED = (
    "$type",
    "name",
    "priority",
    "timeout",
    "retries",
    "status",
    "startedAt",
    "completedAt",
    "estimatedProgressRate",
    "metadata",
    "input",
    "output",
    "jobs",
)
JOB_MAPPED = (
    "id",
    "status",
    "cost",
    "startedAt",
    "completedAt",
    "estimatedProgressRate",
    "queuePosition",
)

_WORKFLOW_TYPE = {
    "id": "VARCHAR",
    "createdAt": "TIMESTAMPTZ",
    "startedAt": "TIMESTAMPTZ",
    "completedAt": "TIMESTAMPTZ",
    "deletedAt": "TIMESTAMPTZ",
    "status": "VARCHAR",
    "nsfwLevel": "VARCHAR",
    "tags": "VARCHAR[]",
    "currencies": "VARCHAR[]",
    "cost": "JSON",
    "tips": "JSON",
    "callbacks": "JSON",
    "transactions": "JSON",
    "upgradeMode": "VARCHAR",
    "externalId": "VARCHAR",
    "experimental": "BOOLEAN",
    "allowMatureContent": "BOOLEAN",
    "forceRefunded": "BOOLEAN",
    "metadata": "JSON",
    "arguments": "JSON",
    "steps": "JSON[]",
}
_COST_TYPE = {
    "base": "BIGINT",
    "total": "BIGINT",
    "tips": {"civitai": "BIGINT", "creators": "BIGINT"},
}
_TXN_TYPE = {
    "list": [{"type": "VARCHAR", "amount": "BIGINT", "accountType": "VARCHAR", "id": "VARCHAR"}]
}
_STEP_TYPE = {
    "$type": "VARCHAR",
    "name": "VARCHAR",
    "priority": "VARCHAR",
    "timeout": "VARCHAR",
    "retries": "INTEGER",
    "status": "VARCHAR",
    "startedAt": "TIMESTAMPTZ",
    "completedAt": "TIMESTAMPTZ",
    "estimatedProgressRate": "DOUBLE",
    "metadata": "JSON",
    "input": "JSON",
    "output": "JSON",
    "jobs": "JSON[]",
}
_INPUT_TYPE = {
    "prompt": "VARCHAR",
    "negativePrompt": "VARCHAR",
    "model": "VARCHAR",
    "engine": "VARCHAR",
    "width": "INTEGER",
    "height": "INTEGER",
    "quantity": "INTEGER",
    "seed": "BIGINT",
}
_JOB_TYPE = {
    "id": "VARCHAR",
    "status": "VARCHAR",
    "cost": "DOUBLE",
    "startedAt": "TIMESTAMPTZ",
    "completedAt": "TIMESTAMPTZ",
    "estimatedProgressRate": "DOUBLE",
    "queuePosition": {
        "support": "VARCHAR",
        "precedingJobs": "INTEGER",
        "startAt": "TIMESTAMPTZ",
        "completeAt": "TIMESTAMPTZ",
    },
}
_BLOB_TYPE = {
    "id": "VARCHAR",
    "type": "VARCHAR",
    "available": "BOOLEAN",
    "jobId": "VARCHAR",
    "nsfwLevel": "VARCHAR",
    "blockedReason": "VARCHAR",
    "width": "INTEGER",
    "height": "INTEGER",
    "duration": "DOUBLE",
    "urlExpiresAt": "TIMESTAMPTZ",
}


def _lit(value: Any) -> str:
    """A SQL string literal (JSON type descriptions, patterns, paths)."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return "'" + text.replace("'", "''") + "'"


def _minus(json_expr: str, keys: Sequence[str]) -> str:
    """SQL for "the JSON object minus `keys`", NULL when nothing is left.

    json_keys is a cheap check; the merge-patch rewrite only runs for objects that do carry
    members without a column.
    """
    patch = _lit(dict.fromkeys(keys))
    known = "[" + ", ".join(_lit(key) for key in keys) + "]"
    return (
        # json_keys of anything but an object is [], which has no unknown members.
        f"CASE WHEN NOT list_has_all({known}, json_keys({json_expr})) "
        f"THEN nullif(CAST(json_merge_patch({json_expr}, {patch}) AS VARCHAR), '{{}}') END"
    )


# .NET TimeSpan text `[-][d.]hh:mm:ss[.fffffff]` -> seconds (the API's "date-span").
_TIMESPAN_RE = r"^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d{1,7})?)$"


def _timespan_parts(expr: str) -> str:
    return f"regexp_extract({expr}, {_lit(_TIMESPAN_RE)}, ['sign', 'd', 'h', 'm', 's'])"


def _timespan_seconds(p: str) -> str:
    """Seconds from the parts of `_timespan_parts` (NULL when the text did not match)."""
    return (
        f"CASE WHEN {p}.h <> '' THEN (CASE WHEN {p}.sign = '-' THEN -1 ELSE 1 END) * ("
        f"coalesce(TRY_CAST(nullif({p}.d, '') AS DOUBLE), 0) * 86400 "
        f"+ CAST({p}.h AS DOUBLE) * 3600 + CAST({p}.m AS DOUBLE) * 60 + CAST({p}.s AS DOUBLE)) END"
    )


def _user_id(id_expr: str, tags_expr: str) -> str:
    # The id's prefix before the first '-' is the Civitai user id when it is a positive integer
    # (`8484131-20260121222126332`); `0-<uuid>` and redacted ids fall back to a `user:N` tag.
    prefix = f"TRY_CAST(regexp_extract({id_expr}, '^([0-9]+)-', 1) AS BIGINT)"
    tag = (
        f"TRY_CAST(regexp_extract(list_filter({tags_expr}, lambda t: "
        f"regexp_full_match(t, 'user:[0-9]+'))[1], '^user:([0-9]+)$', 1) AS BIGINT)"
    )
    return f"CASE WHEN {prefix} > 0 THEN {prefix} WHEN {tag} > 0 THEN {tag} END"


def _blobs(outmap: str, output: str) -> str:
    """Every blob of a step output, found by shape rather than by step type.

    A blob is a JSON object with `id` and `available`: a member of the output (`video`, `blob`),
    an element of an array member (`images`, `frames`, `blobs`), or the output itself
    (`transcode`), so new step types and output keys are picked up without code changes.
    `outmap` is the output parsed once as MAP(VARCHAR, JSON); each member is then parsed once
    as a blob object and once as a list of blob objects (the lenient parser gives NULLs for the
    shape a member does not have).
    """
    blob_type = _lit(_BLOB_TYPE)
    list_type = _lit([_BLOB_TYPE])
    is_blob = "c.b.id IS NOT NULL AND c.b.available IS NOT NULL"
    members = (
        f"flatten(list_transform(map_entries({outmap}), lambda e: list_transform(list_filter("
        f"list_concat([{{'i': 0, 'b': from_json(e.value, {blob_type})}}], "
        f"list_transform(from_json(e.value, {list_type}), lambda b, i: {{'i': i - 1, 'b': b}})), "
        f"lambda c: {is_blob}), "
        f"lambda c: {{'output_key': e.key, 'item_index': c.i, 'blob': c.b}})))"
    )
    itself = (
        f"CASE WHEN map_contains({outmap}, 'id') AND map_contains({outmap}, 'available') "
        f"THEN [{{'output_key': NULL::VARCHAR, 'item_index': 0, 'blob': from_json({output}, {blob_type})}}] "
        f"ELSE [] END"
    )
    return f"CASE WHEN {outmap} IS NULL THEN [] ELSE list_concat({itself}, {members}) END"


def _workflow_extra(doc: str) -> str:
    """Members of the workflow without a column of their own, as one JSON object.

    The common case (only documented members) is assembled from members already parsed
    (`to_json` embeds JSON values as they are; an absent member shows as null); the full
    object rewrite runs only for documents that carry members nobody knows yet.
    """
    captured = ("cost", "tips", "callbacks", "transactions")
    known = "[" + ", ".join(_lit(k) for k in (*WORKFLOW_MAPPED, *captured)) + "]"
    patch = _lit(dict.fromkeys(WORKFLOW_MAPPED))
    assembled = "to_json({" + ", ".join(f"{_lit(k)}: w.{k}" for k in captured) + "})"
    return (
        f"CAST(CASE WHEN list_has_all({known}, json_keys({doc})) THEN {assembled} "
        f"ELSE json_merge_patch({doc}, {patch}) END AS VARCHAR)"
    )


def _step_extra(step: str) -> str:
    return _minus(step, STEP_MAPPED)


def _page_bounds_sql(page_bounds: Mapping[int, Bounds] | None, page_no: str) -> tuple[str, str]:
    """(lo, hi) SQL for a page's own bounds by its number; NULL for a page without any.

    A page's bounds are looked up in a constant map rather than joined from a table: a join
    would let DuckDB emit rows out of page order, and page order decides which copy of a
    repeated child key is kept.
    """
    if not page_bounds:
        return "NULL::TIMESTAMPTZ", "NULL::TIMESTAMPTZ"
    pages = sorted(page_bounds.items())
    keys = "[" + ", ".join(str(int(page)) for page, _ in pages) + "]"

    def lookup(side: int) -> str:
        values = ", ".join(f"TIMESTAMPTZ {_lit(bounds[side].isoformat())}" for _, bounds in pages)
        return f"map_extract_value(MAP({keys}, [{values}]), {page_no})"

    return lookup(0), lookup(1)


def _window_sql(window: Window, lo: str, hi: str) -> tuple[str, str]:
    """(lower, upper) SQL: a page's bounds, never reaching outside the window."""
    start = f"TIMESTAMPTZ {_lit(window.start.isoformat())}"
    end = f"TIMESTAMPTZ {_lit(window.end.isoformat())}"
    return f"greatest(coalesce({lo}, {start}), {start})", f"least(coalesce({hi}, {end}), {end})"


def build_query(
    files: Sequence[Path],
    window: Window,
    synced_at: datetime,
    *,
    max_object_size: int = 16 * 2**20,
    exclude_table: str | None = None,
    page_bounds: Mapping[int, Bounds] | None = None,
    stream: str | None = None,
) -> str:
    """The one streaming SELECT over a window's pages: one row per step of every in-window
    workflow (one row with NULL step columns for a workflow without steps).

    The workflow's own columns are filled on its first row only; jobs, blobs and transactions
    ride along as nested lists that Arrow unnests. Steps are rows rather than a nested list
    because DuckDB evaluates plain column expressions far faster than lambdas over lists.
    `exclude_table` names a table of (page_no, item_no) to leave out: the older copies of a
    workflow that was listed twice. `page_bounds` gives pages of parallel sub-window chains
    their own [lo, hi): an item outside them is another chain's (see pipeline.fetch.paging).
    `stream` names a registered Arrow stream of pages (page_no, lo, hi, body) to read
    instead of `files` (see pipeline.flatten.live).
    """
    if stream is None:
        file_list = "[" + ", ".join(_lit(str(f)) for f in files) + "]"
        page_lo, page_hi = _page_bounds_sql(page_bounds, "page_no")
        source = f"""
    SELECT CAST(regexp_extract(filename, 'page-([0-9]+)', 1) AS INTEGER) AS page_no, items,
           {page_lo} AS lo, {page_hi} AS hi
    FROM read_json({file_list}, columns = {{'next': 'VARCHAR', 'items': 'JSON[]'}},
                   filename = true, format = 'unstructured', maximum_object_size = {max_object_size})"""
    else:
        source = f"""
    SELECT page_no, from_json(body, '{{"items": "JSON[]"}}').items AS items, lo, hi
    FROM {stream}"""
    lo, hi = _window_sql(window, "p.lo", "p.hi")
    exclude = (
        f"AND (p.page_no, p.item_no) NOT IN (SELECT (page_no, item_no) FROM {exclude_table})"
        if exclude_table
        else ""
    )
    # Leaving the older copies out is a join, which may emit rows out of page order; the
    # order decides which row of a repeated child key is kept, so restore it (a rare path).
    order = "ORDER BY page_no, item_no, step_pos" if exclude_table else ""

    def first(expr: str) -> str:
        return f"CASE WHEN step_pos = 1 THEN {expr} END"

    return f"""
WITH pages AS ({source}
), raw_items AS (
    SELECT page_no, lo, hi, unnest(items) AS item, generate_subscripts(items, 1) AS item_no
    FROM pages
), docs AS (
    SELECT page_no, item_no, lo, hi,
           regexp_replace(CAST(item AS VARCHAR), {_lit(SIGNED_URL_PATTERN)}, '\\1', 'g') AS doc
    FROM raw_items
), parsed AS (
    SELECT page_no, item_no, lo, hi, doc, from_json(doc, {_lit(_WORKFLOW_TYPE)}) AS w FROM docs
), kept AS (
    SELECT p.page_no, p.item_no, p.doc, p.w FROM parsed p
    WHERE p.w.id IS NOT NULL
      AND p.w.createdAt >= {lo}
      AND p.w.createdAt < {hi}
      {exclude}
), step_rows AS (
    SELECT page_no, item_no, doc, w,
           unnest(CASE WHEN len(w.steps) > 0 THEN w.steps ELSE [NULL::JSON] END) AS step_doc,
           generate_subscripts(CASE WHEN len(w.steps) > 0 THEN w.steps ELSE [NULL::JSON] END, 1)
               AS step_pos
    FROM kept
), steps_a AS (
    SELECT *, from_json(step_doc, {_lit(_STEP_TYPE)}) AS st FROM step_rows
), steps_b AS (
    SELECT *,
           from_json(st.input, {_lit(_INPUT_TYPE)}) AS inp,
           from_json(st.output, '"MAP(VARCHAR, JSON)"') AS outmap,
           {_timespan_parts("st.timeout")} AS ts,
           list_transform(st.jobs, lambda j, ji: {{
               'job': from_json(j, {_lit(_JOB_TYPE)}),
               'job_index': ji - 1,
               'extra_json': {_minus("j", JOB_MAPPED)}
           }}) AS jobs
    FROM steps_a
), wf AS (
    SELECT *,
           {first(f"from_json(w.cost, {_lit(_COST_TYPE)})")} AS cost,
           {first(f"from_json(w.transactions, {_lit(_TXN_TYPE)}).list")} AS txns
    FROM steps_b
)
SELECT
    page_no,
    item_no,
    step_pos,
    step_doc IS NOT NULL AS has_step,
    w.id AS workflow_id,
    {first("w.createdAt")} AS created_at,
    {first("w.startedAt")} AS started_at,
    {first("w.completedAt")} AS completed_at,
    {first("w.deletedAt")} AS deleted_at,
    {first("w.status")} AS status,
    {first(_user_id("w.id", "w.tags"))} AS user_id,
    {first("w.nsfwLevel")} AS nsfw_level,
    {first("w.tags")} AS tags,
    {first("w.currencies")} AS currencies,
    cost.base AS cost_base,
    cost.total AS cost_total,
    cost.tips.civitai AS cost_tips_civitai,
    cost.tips.creators AS cost_tips_creators,
    CASE WHEN txns IS NOT NULL THEN coalesce(list_sum(list_transform(
        list_filter(txns, lambda t: lower(t.type) = 'debit'), lambda t: t.amount)), 0) END AS buzz_debit,
    CASE WHEN txns IS NOT NULL THEN coalesce(list_sum(list_transform(
        list_filter(txns, lambda t: lower(t.type) = 'credit'), lambda t: t.amount)), 0) END AS buzz_credit,
    {first("w.upgradeMode")} AS upgrade_mode,
    {first("w.externalId")} AS external_id,
    {first("w.experimental")} AS experimental,
    {first("w.allowMatureContent")} AS allow_mature_content,
    {first("w.forceRefunded")} AS force_refunded,
    {first("len(w.steps)")} AS step_count,
    {first("CAST(w.metadata AS VARCHAR)")} AS metadata_json,
    {first("CAST(w.arguments AS VARCHAR)")} AS arguments_json,
    {first(_workflow_extra("doc"))} AS extra_json,
    TIMESTAMPTZ {_lit(synced_at.isoformat())} AS synced_at,
    list_transform(txns, lambda t, ti: {{
        'txn_index': ti - 1, 'txn_type': t.type, 'amount': t.amount,
        'account_type': t.accountType, 'transaction_id': t.id
    }}) AS transactions,
    st.name AS step_name,
    step_pos - 1 AS step_index,
    st."$type" AS step_type,
    st.status AS step_status,
    st.priority AS priority,
    st.startedAt AS step_started_at,
    st.completedAt AS step_completed_at,
    {_timespan_seconds("ts")} AS timeout_seconds,
    st.retries AS retries,
    st.estimatedProgressRate AS estimated_progress_rate,
    inp.prompt AS prompt,
    inp.negativePrompt AS negative_prompt,
    inp.model AS model,
    inp.engine AS engine,
    inp.width AS width,
    inp.height AS height,
    inp.quantity AS quantity,
    inp.seed AS seed,
    len(st.jobs) AS job_count,
    CAST(st.input AS VARCHAR) AS input_json,
    CAST(st.output AS VARCHAR) AS output_json,
    CAST(st.metadata AS VARCHAR) AS step_metadata_json,
    {_step_extra("step_doc")} AS step_extra_json,
    jobs,
    -- A blob without jobId in a single-job step can only come from that job.
    CASE WHEN len(jobs) = 1 THEN jobs[1].job.id END AS single_job_id,
    {_blobs("outmap", "st.output")} AS blobs
FROM wf
{order}"""


# --- Arrow side: one DuckDB batch of step rows -> rows of the five tables -------------------

_STEP_COLUMNS = {  # lake column -> query column
    "workflow_id": "workflow_id",
    "step_name": "step_name",
    "step_index": "step_index",
    "step_type": "step_type",
    "status": "step_status",
    "priority": "priority",
    "started_at": "step_started_at",
    "completed_at": "step_completed_at",
    "timeout_seconds": "timeout_seconds",
    "retries": "retries",
    "estimated_progress_rate": "estimated_progress_rate",
    "prompt": "prompt",
    "negative_prompt": "negative_prompt",
    "model": "model",
    "engine": "engine",
    "width": "width",
    "height": "height",
    "quantity": "quantity",
    "seed": "seed",
    "job_count": "job_count",
    "input_json": "input_json",
    "output_json": "output_json",
    "metadata_json": "step_metadata_json",
    "extra_json": "step_extra_json",
}
_JOB_FIELDS = {  # lake column -> path inside a `jobs` element
    "job_id": ("job", "id"),
    "job_index": ("job_index",),
    "status": ("job", "status"),
    "cost": ("job", "cost"),
    "started_at": ("job", "startedAt"),
    "completed_at": ("job", "completedAt"),
    "estimated_progress_rate": ("job", "estimatedProgressRate"),
    "queue_support": ("job", "queuePosition", "support"),
    "queue_preceding_jobs": ("job", "queuePosition", "precedingJobs"),
    "queue_start_at": ("job", "queuePosition", "startAt"),
    "queue_complete_at": ("job", "queuePosition", "completeAt"),
    "extra_json": ("extra_json",),
}
_BLOB_FIELDS = {  # lake column -> path inside a `blobs` element
    "blob_id": ("blob", "id"),
    "output_key": ("output_key",),
    "item_index": ("item_index",),
    "blob_type": ("blob", "type"),
    "available": ("blob", "available"),
    "nsfw_level": ("blob", "nsfwLevel"),
    "blocked_reason": ("blob", "blockedReason"),
    "width": ("blob", "width"),
    "height": ("blob", "height"),
    "duration": ("blob", "duration"),
    "url_expires_at": ("blob", "urlExpiresAt"),
}


def _fields(array: pa.Array, paths: Mapping[str, Sequence[str]]) -> dict[str, pa.Array]:
    """The members at `paths` inside a struct array, by lake column.

    Each struct level is split once with `flatten()` (one call for all its children, each
    carrying the struct's own nulls) rather than with a `struct_field` call per member: a
    batch's Arrow work is a fixed number of calls, so their count is its cost.
    """
    found: dict[tuple[str, ...], pa.Array] = {(): array}

    def member(path: tuple[str, ...]) -> pa.Array:
        if path not in found:
            parent = member(path[:-1])
            names = [field.name for field in parent.type]
            children = zip(names, parent.flatten(), strict=True)
            found.update(((*path[:-1], name), child) for name, child in children)
        return found[path]

    return {lake: member(tuple(path)) for lake, path in paths.items()}


def _table(schema: pa.Schema, columns: dict[str, pa.Array], num_rows: int, day: Any) -> pa.Table:
    """Arrays cast to the lake schema, in its column order; `window_date` is the constant day."""
    arrays = []
    for column in schema:
        if column.name == "window_date":
            arrays.append(pa.repeat(pa.scalar(day, pa.date32()), num_rows))
        else:
            array = columns[column.name]
            arrays.append(array if array.type == column.type else array.cast(column.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _children(parent: pa.Table | pa.RecordBatch, column: str) -> tuple[pa.Array, pa.Array]:
    """(flattened elements of a list column, index of each element's parent row)."""
    lists = parent.column(column)
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    return pc.list_flatten(lists), pc.list_parent_indices(lists)


_WORKFLOW_QUERY_COLUMNS = [
    *(c for c in schemas.WORKFLOWS.names if c != "window_date"),
    "transactions",
]
_STEP_QUERY_COLUMNS = [*_STEP_COLUMNS.values(), "jobs", "blobs", "single_job_id"]
_TXN_FIELDS = {
    name: (name,) for name in ("txn_index", "txn_type", "amount", "account_type", "transaction_id")
}


def split_batch(batch: pa.RecordBatch, window: Window) -> dict[str, pa.Table]:
    """One batch of query rows -> a table for each of the five lake tables."""
    day = window.day
    out: dict[str, pa.Table] = {}

    first = pc.equal(batch.column("step_pos"), 1)
    wf = batch.select(_WORKFLOW_QUERY_COLUMNS).filter(first)
    wf_columns = {name: wf.column(name) for name in wf.schema.names}
    out["workflows"] = _table(schemas.WORKFLOWS, wf_columns, wf.num_rows, day)

    txns, txn_parent = _children(wf, "transactions")
    txn_columns = _fields(txns, _TXN_FIELDS)
    txn_columns["workflow_id"] = pc.take(wf.column("workflow_id"), txn_parent)
    out["transactions"] = _table(schemas.TRANSACTIONS, txn_columns, len(txns), day)

    steps = batch.select(_STEP_QUERY_COLUMNS).filter(batch.column("has_step"))
    step_columns = {lake: steps.column(query) for lake, query in _STEP_COLUMNS.items()}
    out["steps"] = _table(schemas.STEPS, step_columns, steps.num_rows, day)

    jobs, job_parent = _children(steps, "jobs")
    job_columns = _fields(jobs, _JOB_FIELDS)
    job_columns["workflow_id"] = pc.take(steps.column("workflow_id"), job_parent)
    job_columns["step_name"] = pc.take(steps.column("step_name"), job_parent)
    out["jobs"] = _table(schemas.JOBS, job_columns, len(jobs), day)

    blobs, blob_parent = _children(steps, "blobs")
    blob_columns = _fields(blobs, {**_BLOB_FIELDS, "job_id": ("blob", "jobId")})
    blob_columns["workflow_id"] = pc.take(steps.column("workflow_id"), blob_parent)
    blob_columns["step_name"] = pc.take(steps.column("step_name"), blob_parent)
    blob_columns["job_id"] = pc.coalesce(
        blob_columns["job_id"], pc.take(steps.column("single_job_id"), blob_parent)
    )
    out["blobs"] = _table(schemas.BLOBS, blob_columns, len(blobs), day)
    return out


# --- Running it ------------------------------------------------------------------------------

# A Parquet row group is flushed at this many rows or bytes of Arrow data, whichever first:
# big enough for good compression and fast scans, small enough to bound memory.
ROW_GROUP_ROWS = 64_000
ROW_GROUP_BYTES = 4 * 2**20
DUCKDB_MEMORY_LIMIT = "256MB"
DUCKDB_THREADS = 2


@dataclass
class FlattenResult:
    rows: dict[str, int]
    # Rows left out per table because their key was already there (a workflow listed twice
    # keeps its last copy; a repeated child key keeps its first row).
    duplicates: dict[str, int] = field(default_factory=dict)


class _PartitionWriter:
    """Appends Arrow tables to one Parquet file in bounded row groups, then fsyncs it.

    Row groups are encoded and compressed on `encoder`'s thread while the flattening goes
    on. A writer hands over its next row group only once the previous one is written, so its
    file keeps their order and at most one of its row groups waits there. A failed write (a
    full disk) is raised by the next `add()` or by `close()`.
    """

    def __init__(self, path: Path, schema: pa.Schema, encoder: ThreadPoolExecutor) -> None:
        self.path = path
        self.schema = schema
        self.rows = 0
        self._file = open(path, "wb")  # noqa: SIM115 - closed in close()/abort()
        self._writer = pq.ParquetWriter(
            self._file,
            schema,
            compression=PARQUET_COMPRESSION,
            use_dictionary=schemas.dictionary_columns(schema),
        )
        self._buffer: list[pa.Table] = []
        self._buffered_rows = 0
        self._buffered_bytes = 0
        self._encoder = encoder
        self._encoding: Future[None] | None = None

    def add(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self._buffer.append(table)
        self._buffered_rows += table.num_rows
        self._buffered_bytes += table.nbytes
        if self._buffered_rows >= ROW_GROUP_ROWS or self._buffered_bytes >= ROW_GROUP_BYTES:
            self.flush()

    def flush(self, *, here: bool = False) -> None:
        """Hand what is buffered to the encoding thread as one row group (`here`: write it on
        this thread instead, once the previous one is written)."""
        self._wait()
        if self._buffer:
            tables, rows = self._buffer, self._buffered_rows
            if here:
                self._write(tables, rows)
            else:
                self._encoding = self._encoder.submit(self._write, tables, rows)
        self._buffer, self._buffered_rows, self._buffered_bytes = [], 0, 0

    def _write(self, tables: list[pa.Table], rows: int) -> None:
        self._writer.write_table(pa.concat_tables(tables))
        self.rows += rows

    def _wait(self) -> None:
        encoding, self._encoding = self._encoding, None
        if encoding is not None:
            encoding.result()

    def close(self) -> int:
        self.flush(here=True)
        self._writer.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return self.rows

    def abort(self) -> None:
        try:
            with contextlib.suppress(Exception):
                self._wait()
            self._writer.close()
        finally:
            self._file.close()
            self.path.unlink(missing_ok=True)


def close_writers(writers: Mapping[str, _PartitionWriter]) -> dict[str, int]:
    """Close every writer; rows written per table.

    The last row groups are shared between the encoding thread and this one, which would
    otherwise only wait: every other table's goes to the encoder, the rest are written here.
    """
    names = list(writers)
    for name in names[::2]:
        writers[name].flush()
    rows = {name: writers[name].close() for name in [*names[1::2], *names[::2]]}
    _stop_encoders(writers)
    return {name: rows[name] for name in names}


def abort_writers(writers: Mapping[str, _PartitionWriter]) -> None:
    """Abort every writer and delete its file (also after a close_writers that failed)."""
    try:
        for writer in writers.values():
            writer.abort()
    finally:
        _stop_encoders(writers)


def _stop_encoders(writers: Mapping[str, _PartitionWriter]) -> None:
    for encoder in {writer._encoder for writer in writers.values()}:
        encoder.shutdown(wait=False)


def connect(
    work_dir: Path, *, memory_limit: str = DUCKDB_MEMORY_LIMIT, threads: int = DUCKDB_THREADS
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with bounded memory that spills under `work_dir`."""
    work_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(":memory:")
    con.execute(f"SET memory_limit = {_lit(memory_limit)}")
    con.execute(f"SET threads = {int(threads)}")
    con.execute(f"SET temp_directory = {_lit(str(work_dir))}")
    con.execute("SET enable_progress_bar = false")
    # Pushing the window filter into the scan would make DuckDB parse each document three
    # more times (once per predicate); filtering after the parse is cheaper.
    con.execute("SET disabled_optimizers = 'filter_pushdown'")
    return session(con)


def session(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Per-connection settings, for `connect()` and for each `cursor()` of it: a cursor shares
    the database (memory limit, threads) but not the session, whose time zone decides how
    TIMESTAMPTZ values reach Arrow."""
    con.execute("SET TimeZone = 'UTC'")
    return con


def _scalar(con: duckdb.DuckDBPyConnection, query: str) -> int:
    # fetchall, not fetchone: a result left half-read blocks the connection's next query.
    rows = con.execute(query).fetchall()
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def _losers(
    con: duckdb.DuckDBPyConnection,
    files: Sequence[Path],
    max_object_size: int,
    window: Window,
    page_bounds: Mapping[int, Bounds] | None = None,
) -> int:
    """Record the (page_no, item_no) of every kept copy of a workflow but its last, in
    `_losers`. Only copies inside their page's bounds count: a copy another chain owns is
    dropped anyway, and must not outrank the one that is kept."""
    file_list = "[" + ", ".join(_lit(str(f)) for f in files) + "]"
    page_lo, page_hi = _page_bounds_sql(page_bounds, "p.page_no")
    lo, hi = _window_sql(window, page_lo, page_hi)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _losers AS
        WITH pages AS (
            SELECT CAST(regexp_extract(filename, 'page-([0-9]+)', 1) AS INTEGER) AS page_no, items
            FROM read_json({file_list},
                           columns = {{'next': 'VARCHAR',
                                      'items': 'STRUCT(id VARCHAR, createdAt TIMESTAMPTZ)[]'}},
                           filename = true, format = 'unstructured',
                           maximum_object_size = {max_object_size})
        ), copies AS (
            SELECT page_no, unnest(items) AS item, generate_subscripts(items, 1) AS item_no
            FROM pages
        )
        SELECT page_no, item_no FROM (
            SELECT p.page_no, p.item_no, row_number() OVER (
                PARTITION BY p.item.id ORDER BY p.page_no DESC, p.item_no DESC) AS copy_no
            FROM copies p
            WHERE p.item.createdAt >= {lo} AND p.item.createdAt < {hi}
        ) WHERE copy_no > 1
    """)
    return _scalar(con, "SELECT count(*) FROM _losers")


def _batches(reader: pa.RecordBatchReader, rows: int) -> Iterator[pa.RecordBatch]:
    """Regroup DuckDB's output (about one page per batch) into batches of at least `rows`, so
    the per-batch cost of the Arrow calls is paid a few times per day, not once per page."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in reader:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]
            pending, count = [], 0
    if pending:
        yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]


class _Prefetcher:
    """Pulls DuckDB's batches on a worker thread, a couple ahead of the consumer.

    DuckDB computes the next batch (without the GIL) while this thread's caller splits and
    writes the previous one, so the engine and the Parquet writers overlap instead of taking
    turns. At most `depth` batches wait in the queue, which bounds the memory it adds.
    """

    _END = object()

    def __init__(self, reader: pa.RecordBatchReader, rows: int, depth: int = 2) -> None:
        self._reader = reader
        self._rows = rows
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flatten-prefetch", daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for batch in _batches(self._reader, self._rows):
                if not self._put(batch):
                    return
            self._put(self._END)
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(exc)

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def open_writers(outputs: Mapping[str, Path]) -> dict[str, _PartitionWriter]:
    """One Parquet writer per workflow table, at `outputs[table]`, sharing one encoding
    thread: a thread per table was no faster on two cores, and each thread's own malloc
    arena raised the peak memory of a big day by a sixth."""
    encoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-encode")
    return {
        name: _PartitionWriter(outputs[name], schema, encoder)
        for name, schema in schemas.WORKFLOW_TABLES.items()
    }


def max_object_size(files: Sequence[Path]) -> int:
    """read_json's `maximum_object_size` for these pages: a page is one JSON object."""
    return max([16 * 2**20, *(archive.uncompressed_size(path) + 2**20 for path in files)])


def _repeated_sql(path: Path, table: str) -> str:
    keys = ", ".join(schemas.KEYS[table])
    return f"SELECT count(*) - count(DISTINCT ({keys})) AS n FROM read_parquet({_lit(str(path))})"


def repeated_keys(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> int:
    """Rows of a table's Parquet file whose key an earlier row already has."""
    return _scalar(con, _repeated_sql(path, table))


def any_repeated_keys(con: duckdb.DuckDBPyConnection, outputs: Mapping[str, Path]) -> bool:
    """Whether any of the five tables' files has a key more than once: one query for all."""
    counts = " UNION ALL ".join(
        _repeated_sql(outputs[name], name) for name in schemas.WORKFLOW_TABLES
    )
    return _scalar(con, f"SELECT sum(n) FROM ({counts})") > 0


def stream_into(
    con: duckdb.DuckDBPyConnection,
    query: str,
    window: Window,
    writers: dict[str, _PartitionWriter],
    lock: threading.Lock | None = None,
) -> None:
    """Run `query` and append its rows to the writers; `lock` guards writers shared by
    several queries at once (each batch is split outside it)."""
    reader = con.sql(query).to_arrow_reader(BATCH_ROWS)
    prefetch = _Prefetcher(reader, BATCH_ROWS)
    try:
        for batch in prefetch:
            tables = split_batch(batch, window)
            with lock or contextlib.nullcontext():
                for name, table in tables.items():
                    writers[name].add(table)
    except BaseException:
        prefetch.close()
        # Stopping half way leaves a pending result on the connection; drop it so the
        # connection can run the next query.
        reader.close()
        with contextlib.suppress(duckdb.Error):
            con.abort()
        raise
    prefetch.close()
    reader.close()


def _has_duplicates(con: duckdb.DuckDBPyConnection, path: Path, key: str) -> bool:
    source = f"read_parquet({_lit(str(path))})"
    return _scalar(con, f"SELECT count({key}) - count(DISTINCT {key}) FROM {source}") > 0


def _dedupe_children(con: duckdb.DuckDBPyConnection, name: str, path: Path) -> int:
    """Keep the first row of each key of a child table (rare: the API repeated an id)."""
    keys = ", ".join(schemas.KEYS[name])
    source = f"read_parquet({_lit(str(path))}, file_row_number = true)"
    extra = repeated_keys(con, path, name)
    if extra == 0:
        return 0
    keep = (
        con.sql(
            f"SELECT file_row_number FROM {source} QUALIFY row_number() OVER "
            f"(PARTITION BY {keys} ORDER BY file_row_number) = 1 ORDER BY file_row_number"
        )
        .to_arrow_table()
        .column(0)
    )
    table = pq.read_table(path, schema=schemas.WORKFLOW_TABLES[name]).take(keep)
    pq.write_table(table, path, compression=PARQUET_COMPRESSION)
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())
    return extra


def flatten_pages(
    page_files: Sequence[Path],
    window: Window,
    outputs: dict[str, Path],
    *,
    synced_at: datetime | None = None,
    work_dir: Path,
    memory_limit: str = DUCKDB_MEMORY_LIMIT,
    threads: int = DUCKDB_THREADS,
    page_bounds: Mapping[int, Bounds] | None = None,
) -> FlattenResult:
    """Flatten a window's archived pages into one Parquet file per table at `outputs[table]`.

    `page_bounds` (from the extraction's sub-window chains) narrows pages to their own bounds.

    Every table gets a file, empty when the window has no rows for it, so that "synced, no
    rows" is distinguishable from "never synced". Raises duckdb.Error on unreadable pages.
    """
    synced_at = synced_at or datetime.now(UTC)
    files = sorted(page_files)
    con = connect(work_dir, memory_limit=memory_limit, threads=threads)
    try:
        max_object = max_object_size(files)

        def run(exclude_table: str | None) -> dict[str, int]:
            writers = open_writers(outputs)
            try:
                if files:
                    query = build_query(
                        files,
                        window,
                        synced_at,
                        max_object_size=max_object,
                        exclude_table=exclude_table,
                        page_bounds=page_bounds,
                    )
                    stream_into(con, query, window, writers)
                return close_writers(writers)
            except BaseException:
                abort_writers(writers)
                raise

        duplicates: dict[str, int] = {}
        rows = run(None)
        if _has_duplicates(con, outputs["workflows"], "workflow_id"):
            # A workflow listed twice (the list moved under the cursor): write the window
            # again without the older copies. Rare, so the common case pays one cheap check.
            duplicates["workflows"] = _losers(con, files, max_object, window, page_bounds)
            rows = run("_losers")
        for name in ("steps", "jobs", "blobs"):
            removed = _dedupe_children(con, name, outputs[name])
            if removed:
                rows[name] -= removed
                duplicates[name] = removed
        return FlattenResult(rows=rows, duplicates=duplicates)
    finally:
        con.close()


def temp_output_paths(directory: Path) -> dict[str, Path]:
    """Fresh file names for each table under `directory` (used by tests and benchmarks)."""
    token = uuid.uuid4().hex
    return {name: directory / f"{name}-{token}.parquet" for name in schemas.WORKFLOW_TABLES}
