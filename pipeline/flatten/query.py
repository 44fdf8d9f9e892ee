"""The SQL pass: a window's pages -> one typed row per step of every in-window workflow.

DuckDB streams over the compressed pages and parses each workflow once. Each row carries the
step's columns, its jobs as a nested list, and on a workflow's first row the workflow's own
columns and its transactions; `pipeline.flatten.split` cuts the rows into the lake tables.
Steps are rows rather than a nested list because DuckDB evaluates plain column expressions far
faster than lambdas over lists.

Rules that hold for every row:

* Only workflows whose createdAt falls in the window (and in their page's own bounds) are
  kept: the server's date filter is not trusted (the API says it "may have limited support").
* Signed URL query strings are removed from the whole document before any column is cut from
  it, so no JSON text column can carry a `?sig=`.
* Known members become typed columns; everything else stays as JSON text (`*_json`,
  `extra_json`), so a new API field is kept, never a crash.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.core import duck
from pipeline.core.redact import SIGNED_URL_PATTERN
from pipeline.fetch.windows import Bounds, Window
from pipeline.flatten.members import (
    COST_TYPE,
    INPUT_TYPE,
    JOB_MAPPED,
    JOB_TYPE,
    QUEUE_MAPPED,
    STEP_MAPPED,
    STEP_TYPE,
    TXN_TYPE,
    WORKFLOW_CAPTURED,
    WORKFLOW_MAPPED,
    WORKFLOW_TYPE,
)


def lit(value: Any) -> str:
    """A SQL string literal (JSON type descriptions, patterns, paths)."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return duck.literal(text)


def _list(keys: Sequence[str]) -> str:
    return "[" + ", ".join(lit(key) for key in keys) + "]"


def minus(json_expr: str, keys: Sequence[str]) -> str:
    """SQL for "the JSON object minus `keys`", NULL when nothing is left.

    json_keys is a cheap check; the merge-patch rewrite only runs for objects that do carry
    members without a column.
    """
    patch = lit(dict.fromkeys(keys))
    return (
        # json_keys of anything but an object is [], which has no unknown members.
        f"CASE WHEN NOT list_has_all({_list(keys)}, json_keys({json_expr})) "
        f"THEN nullif(CAST(json_merge_patch({json_expr}, {patch}) AS VARCHAR), '{{}}') END"
    )


def _workflow_extra(doc: str) -> str:
    """Members of the workflow without a column of their own, as one JSON object.

    The common case (only documented members) is assembled from members already parsed
    (`to_json` embeds JSON values as they are; an absent member shows as null); the full
    object rewrite runs only for documents that carry members nobody knows yet.
    """
    known = _list((*WORKFLOW_MAPPED, *WORKFLOW_CAPTURED))
    patch = lit(dict.fromkeys(WORKFLOW_MAPPED))
    assembled = "to_json({" + ", ".join(f"{lit(k)}: w.{k}" for k in WORKFLOW_CAPTURED) + "})"
    return (
        f"CAST(CASE WHEN list_has_all({known}, json_keys({doc})) THEN {assembled} "
        f"ELSE json_merge_patch({doc}, {patch}) END AS VARCHAR)"
    )


def _job_extra(job: str) -> str:
    """The job's members without a column; `queuePosition` too when it carries a member
    without a column (it is then kept whole, so nothing of it is lost)."""
    queue_known = f"list_has_all({_list(QUEUE_MAPPED)}, json_keys({job} -> 'queuePosition'))"
    return (
        f"CASE WHEN {queue_known} THEN {minus(job, (*JOB_MAPPED, 'queuePosition'))} "
        f"ELSE {minus(job, JOB_MAPPED)} END"
    )


def _json_text(expr: str) -> str:
    """A JSON value as text; NULL for SQL NULL and JSON null alike."""
    return f"nullif(CAST({expr} AS VARCHAR), 'null')"


def page_bounds_sql(page_bounds: Mapping[int, Bounds] | None, page_no: str) -> tuple[str, str]:
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
        values = ", ".join(f"TIMESTAMPTZ {lit(bounds[side].isoformat())}" for _, bounds in pages)
        return f"map_extract_value(MAP({keys}, [{values}]), {page_no})"

    return lookup(0), lookup(1)


def window_sql(window: Window, lo: str, hi: str) -> tuple[str, str]:
    """(lower, upper) SQL: a page's bounds, never reaching outside the window."""
    start = f"TIMESTAMPTZ {lit(window.start.isoformat())}"
    end = f"TIMESTAMPTZ {lit(window.end.isoformat())}"
    return f"greatest(coalesce({lo}, {start}), {start})", f"least(coalesce({hi}, {end}), {end})"


def file_list(files: Sequence[Path]) -> str:
    return "[" + ", ".join(lit(str(f)) for f in files) + "]"


def _pages_sql(
    files: Sequence[Path],
    page_bounds: Mapping[int, Bounds] | None,
    max_object_size: int,
    stream: str | None = None,
) -> str:
    """(page_no, items, lo, hi) per archived page, or per row of a registered Arrow stream of
    (page_no, lo, hi, body) pages (see pipeline.flatten.while_fetching)."""
    if stream is not None:
        return f"""
    SELECT page_no, from_json(body, '{{"items": "JSON[]"}}').items AS items, lo, hi
    FROM {stream}"""
    page_lo, page_hi = page_bounds_sql(page_bounds, "page_no")
    return f"""
    SELECT CAST(regexp_extract(filename, 'page-([0-9]+)', 1) AS INTEGER) AS page_no, items,
           {page_lo} AS lo, {page_hi} AS hi
    FROM read_json({file_list(files)}, columns = {{'next': 'VARCHAR', 'items': 'JSON[]'}},
                   filename = true, format = 'unstructured', maximum_object_size = {max_object_size})"""


def _ctes(pages: str, window: Window, exclude_table: str | None) -> str:
    """From pages to `wf`: one row per step (or per step-less workflow), parsed."""
    lo, hi = window_sql(window, "p.lo", "p.hi")
    exclude = (
        f"AND (p.page_no, p.item_no) NOT IN (SELECT (page_no, item_no) FROM {exclude_table})"
        if exclude_table
        else ""
    )
    steps = "CASE WHEN len(w.steps) > 0 THEN w.steps ELSE [NULL::JSON] END"
    jobs = (
        "list_transform(st.jobs, lambda j, ji: {"
        f"'job': from_json(j, {lit(JOB_TYPE)}), 'job_index': ji - 1, "
        f"'extra_json': {_job_extra('j')}}})"
    )
    first_row = "CASE WHEN step_pos = 1 THEN {} END"
    return f"""
WITH pages AS ({pages}
), raw_items AS (
    SELECT page_no, lo, hi, unnest(items) AS item, generate_subscripts(items, 1) AS item_no
    FROM pages
), docs AS (
    SELECT page_no, item_no, lo, hi,
           regexp_replace(CAST(item AS VARCHAR), {lit(SIGNED_URL_PATTERN)}, '\\1', 'g') AS doc
    FROM raw_items
), parsed AS (
    SELECT page_no, item_no, lo, hi, doc, from_json(doc, {lit(WORKFLOW_TYPE)}) AS w FROM docs
), kept AS (
    SELECT p.page_no, p.item_no, p.doc, p.w FROM parsed p
    WHERE p.w.id IS NOT NULL
      AND p.w.createdAt >= {lo}
      AND p.w.createdAt < {hi}
      {exclude}
), step_rows AS (
    SELECT page_no, item_no, doc, w, unnest({steps}) AS step_doc,
           generate_subscripts({steps}, 1) AS step_pos
    FROM kept
), steps_a AS (
    SELECT *, from_json(step_doc, {lit(STEP_TYPE)}) AS st FROM step_rows
), steps_b AS (
    SELECT *, from_json(st.input, {lit(INPUT_TYPE)}) AS inp, {jobs} AS jobs FROM steps_a
), wf AS (
    SELECT *,
           {first_row.format(f"from_json(w.cost, {lit(COST_TYPE)})")} AS cost,
           {first_row.format(f"from_json(w.transactions, {lit(TXN_TYPE)}).list")} AS txns
    FROM steps_b
)"""


def _buzz_sum(kind: str) -> str:
    """Sum of the amounts of one transaction type (NULL without a transaction list)."""
    return (
        "CASE WHEN txns IS NOT NULL THEN coalesce(list_sum(list_transform(list_filter(txns, "
        f"lambda t: lower(t.type) = '{kind}'), lambda t: t.amount)), 0) END"
    )


def _workflow_columns(synced_at: datetime) -> list[str]:
    """The workflow's own columns, filled on its first step row only."""

    def first(expr: str, name: str) -> str:
        return f"CASE WHEN step_pos = 1 THEN {expr} END AS {name}"

    plain = {
        "created_at": "w.createdAt",
        "started_at": "w.startedAt",
        "completed_at": "w.completedAt",
        "deleted_at": "w.deletedAt",
        "status": "w.status",
        "nsfw_level": "w.nsfwLevel",
        "tags": "w.tags",
        "currencies": "w.currencies",
        "cost_factors_json": _json_text("cost.factors"),
        "cost_fees_json": _json_text("cost.fees"),
        "lost_blobs_refund_buzz": "w.lostBlobsRefund",
        "upgrade_mode": "w.upgradeMode",
        "external_id": "w.externalId",
        "experimental": "w.experimental",
        "allow_mature_content": "w.allowMatureContent",
        "force_refunded": "w.forceRefunded",
        "step_count": "len(w.steps)",
        "metadata_json": "CAST(w.metadata AS VARCHAR)",
        "arguments_json": "CAST(w.arguments AS VARCHAR)",
        "extra_json": _workflow_extra("doc"),
    }
    return [
        "w.id AS workflow_id",
        *(first(expr, name) for name, expr in plain.items()),
        "cost.base AS cost_base",
        "cost.total AS cost_total",
        "cost.tips.civitai AS cost_tips_civitai_buzz",
        "cost.tips.creators AS cost_tips_creators_buzz",
        f"{_buzz_sum('debit')} AS buzz_debit",
        f"{_buzz_sum('credit')} AS buzz_credit",
        f"TIMESTAMPTZ {lit(synced_at.isoformat())} AS synced_at",
        "list_transform(txns, lambda t, ti: {'txn_index': ti - 1, 'txn_type': t.type, "
        "'amount': t.amount, 'account_type': t.accountType, 'transaction_id': t.id}) "
        "AS transactions",
    ]


# Step columns: output name -> SQL over `st` (the parsed step) and `inp` (its parsed input).
STEP_COLUMNS = {
    "step_name": "st.name",
    "step_index": "step_pos - 1",
    "step_type": 'st."$type"',
    "step_status": "st.status",
    "priority": "st.priority",
    "step_started_at": "st.startedAt",
    "step_completed_at": "st.completedAt",
    "timeout": "st.timeout",
    "retries": "st.retries",
    "estimated_progress_rate": "st.estimatedProgressRate",
    "prompt": "inp.prompt",
    "negative_prompt": "inp.negativePrompt",
    "model": "inp.model",
    "engine": "inp.engine",
    "width": "inp.width",
    "height": "inp.height",
    "quantity": "inp.quantity",
    "seed": "inp.seed",
    "job_count": "len(st.jobs)",
    "input_json": "CAST(st.input AS VARCHAR)",
    "output_json": "CAST(st.output AS VARCHAR)",
    "step_metadata_json": "CAST(st.metadata AS VARCHAR)",
    "step_extra_json": minus("step_doc", STEP_MAPPED),
    "jobs": "jobs",
    # A blob without jobId in a single-job step can only come from that job.
    "single_job_id": "CASE WHEN len(jobs) = 1 THEN jobs[1].job.id END",
}


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

    `exclude_table` names a table of (page_no, item_no) to leave out: the older copies of a
    workflow that was listed twice. `page_bounds` gives pages of parallel sub-window chains
    their own [lo, hi): an item outside them is another chain's (see pipeline.fetch.paging).
    `stream` names a registered Arrow stream of pages to read instead of `files` (each page
    then carries its own bounds).
    """
    pages = _pages_sql(files, page_bounds, max_object_size, stream)
    columns = [
        "page_no",
        "item_no",
        "step_pos",
        "step_doc IS NOT NULL AS has_step",
        *_workflow_columns(synced_at),
        *(f"{expr} AS {name}" for name, expr in STEP_COLUMNS.items()),
    ]
    # Leaving the older copies out is a join, which may emit rows out of page order; the
    # order decides which row of a repeated child key is kept, so restore it (a rare path).
    order = "ORDER BY page_no, item_no, step_pos" if exclude_table else ""
    select = ",\n    ".join(columns)
    return f"{_ctes(pages, window, exclude_table)}\nSELECT\n    {select}\nFROM wf\n{order}"
