"""One batch of the SQL pass's step rows -> a table for each workflow table of the lake.

Workflows, steps, jobs and transactions are cut from the batch with a fixed number of Arrow
calls; the few per-row rules that have a Python home are applied here, where each runs once
per row or once per distinct value: the user id (`pipeline.flatten.users`), the step timeout
(`pipeline.core.timefmt`, once per distinct text), blobs (`pipeline.flatten.blobs`) and
moderation verdicts (`pipeline.flatten.verdicts`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.core.timefmt import timespan_seconds
from pipeline.fetch.windows import Window
from pipeline.flatten import schemas
from pipeline.flatten.blobs import blob_table
from pipeline.flatten.users import user_id_column
from pipeline.flatten.verdicts import verdict_table

_STEP_COLUMNS = {  # lake column -> query column
    "workflow_id": "workflow_id",
    "step_name": "step_name",
    "step_index": "step_index",
    "step_type": "step_type",
    "status": "step_status",
    "priority": "priority",
    "started_at": "step_started_at",
    "completed_at": "step_completed_at",
    "timeout": "timeout",
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
    "reason": ("job", "reason"),
    "blocked_reason": ("job", "blockedReason"),
    "extra_json": ("extra_json",),
}
_TXN_FIELDS = {
    name: (name,) for name in ("txn_index", "txn_type", "amount", "account_type", "transaction_id")
}
_COMPUTED = {"window_date", "user_id"}
_WORKFLOW_QUERY_COLUMNS = [
    *(c for c in schemas.WORKFLOWS.names if c not in _COMPUTED),
    "transactions",
]
_STEP_QUERY_COLUMNS = [*_STEP_COLUMNS.values(), "jobs", "single_job_id"]


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


def _table(schema: pa.Schema, columns: dict[str, Any], num_rows: int, day: Any) -> pa.Table:
    """Arrays cast to the lake schema, in its column order; `window_date` is the constant day."""
    arrays = []
    for column in schema:
        if column.name == "window_date":
            arrays.append(pa.repeat(pa.scalar(day, pa.date32()), num_rows))
        else:
            array = columns[column.name]
            arrays.append(array if array.type == column.type else array.cast(column.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _children(parent: pa.Table, column: str) -> tuple[pa.Array, pa.Array]:
    """(flattened elements of a list column, index of each element's parent row)."""
    lists = parent.column(column).combine_chunks()
    return pc.list_flatten(lists), pc.list_parent_indices(lists)


def _timeout_seconds(timeouts: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Seconds of each step timeout, parsed once per distinct text (a handful per day)."""
    distinct = pc.unique(timeouts)
    seconds = pa.array([timespan_seconds(t) for t in distinct.to_pylist()], pa.float64())
    return pc.take(seconds, pc.index_in(timeouts, value_set=distinct))


def _workflows(batch: pa.Table, day: Any) -> tuple[pa.Table, pa.Table]:
    """(workflows, transactions) of the batch: from each workflow's first row."""
    wf = batch.select(_WORKFLOW_QUERY_COLUMNS).filter(pc.equal(batch.column("step_pos"), 1))
    columns = {name: wf.column(name) for name in wf.schema.names}
    columns["user_id"] = user_id_column(wf.column("workflow_id"), wf.column("tags"))
    workflows = _table(schemas.WORKFLOWS, columns, wf.num_rows, day)

    txns, parent = _children(wf, "transactions")
    txn_columns = _fields(txns, _TXN_FIELDS)
    txn_columns["workflow_id"] = pc.take(wf.column("workflow_id"), parent)
    return workflows, _table(schemas.TRANSACTIONS, txn_columns, len(txns), day)


def _jobs(steps: pa.Table, day: Any) -> pa.Table:
    jobs, parent = _children(steps, "jobs")
    columns = _fields(jobs, _JOB_FIELDS)
    columns["workflow_id"] = pc.take(steps.column("workflow_id"), parent)
    columns["step_name"] = pc.take(steps.column("step_name"), parent)
    return _table(schemas.JOBS, columns, len(jobs), day)


def split_batch(batch: pa.RecordBatch | pa.Table, window: Window) -> dict[str, pa.Table]:
    """One batch of query rows -> a table for each of `schemas.WORKFLOW_TABLES`."""
    day = window.day
    batch = pa.table(batch) if isinstance(batch, pa.RecordBatch) else batch
    workflows, transactions = _workflows(batch, day)
    steps = batch.select(_STEP_QUERY_COLUMNS).filter(batch.column("has_step"))
    step_columns = {lake: steps.column(query) for lake, query in _STEP_COLUMNS.items()}
    step_columns["timeout_seconds"] = _timeout_seconds(steps.column("timeout"))
    return {
        "workflows": workflows,
        "steps": _table(schemas.STEPS, step_columns, steps.num_rows, day),
        "jobs": _jobs(steps, day),
        "blobs": blob_table(steps, day),
        "transactions": transactions,
        "moderation_verdicts": verdict_table(steps, day),
    }
