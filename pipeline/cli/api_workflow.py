"""`workflow` and `step`: one workflow (status, times, cost, transactions, steps, jobs, output
blobs) or one of its steps, for any step type the API sends (unknown ones included).
"""

from __future__ import annotations

from typing import Any

import click
from rich.console import Group
from rich.text import Text

from pipeline.api.models import Workflow, WorkflowStep, iter_output_blobs
from pipeline.api.vocabulary import buzz_sign
from pipeline.cli.api_common import (
    STEP_NAME,
    WORKFLOW_ID,
    api_client,
    duration_text,
    elapsed,
    parse_body,
)
from pipeline.cli.output import (
    clean,
    data_table,
    emit_raw_json,
    format_when,
    key_values,
    status_text,
    stdout_console,
    text,
    truncate,
)
from pipeline.core.numbers import count
from pipeline.core.redact import strip_url_queries
from pipeline.flatten.users import workflow_user_id

_PROMPT_CHARS = 200
_NEGATIVE_PROMPT_CHARS = 100
_INPUT_TEXT_CHARS = 200


def _transactions_block(wf: Workflow) -> list[Any]:
    txns = wf.transactions.items if wf.transactions else []
    if not txns:
        return [Text("  Transactions: none", style="dim")]
    table = data_table(None, ["type", "amount", "account", "id"], no_wrap=["id"])
    net: dict[str, int] = {}
    for txn in txns:
        table.add_row(text(txn.type), text(txn.amount), text(txn.account_type), text(txn.id))
        sign = buzz_sign(txn.type)
        account = txn.account_type or "?"
        net[account] = net.get(account, 0) + sign * (txn.amount or 0)
    spent = ", ".join(f"{account} {amount}" for account, amount in sorted(net.items()))
    lines: list[Any] = [Text(f"  Transactions ({len(txns)}), net spend: {spent}", style="bold")]
    lines.append(table)
    if wf.transactions and wf.transactions.insufficient_buzz:
        lines.append(Text("  insufficient Buzz", style="red"))
    return lines


def _step_block(step: WorkflowStep, *, detailed: bool = False) -> list[Any]:
    """One step: header, prompt, jobs, output blobs and errors."""
    parts: list[Any] = []
    header = Text.assemble(
        ("Step ", "bold"),
        (clean(step.name), "bold"),
        "  ",
        (clean(step.type or "?"), "magenta"),
        "  ",
        status_text(step.status),
        f"  {format_when(step.started_at)} -> {format_when(step.completed_at)}"
        f" ({elapsed(step.started_at, step.completed_at)})",
    )
    parts.append(header)
    data = step.input_data()
    rows: list[tuple[str, object]] = []
    if detailed:
        rows += [
            ("Priority", step.priority),
            ("Timeout", duration_text(step.timeout)),
            ("Retries", step.retries),
        ]
        for key, label in (("model", "Model"), ("engine", "Engine"), ("quantity", "Quantity")):
            if data.get(key) is not None:
                rows.append((label, data[key]))
        if data.get("width") is not None and data.get("height") is not None:
            rows.append(("Size", f"{data['width']} x {data['height']}"))
    if isinstance(data.get("prompt"), str):
        rows.append(("Prompt", truncate(data["prompt"], _PROMPT_CHARS)))
    input_text = step.input_text()
    if input_text is not None:
        # An imageUpload step's input: often a URL, shown without its signature.
        rows.append(("Input", truncate(strip_url_queries(input_text), _INPUT_TEXT_CHARS)))
    if detailed and isinstance(data.get("negativePrompt"), str):
        rows.append(("Negative", truncate(data["negativePrompt"], _NEGATIVE_PROMPT_CHARS)))
    if rows:
        parts.append(key_values(rows, indent=2))
    if step.jobs:
        jobs_table = data_table(
            f"  jobs ({len(step.jobs)})",
            ["job id", "status", "cost", "started", "completed", "queue"],
            no_wrap=["job id"],
        )
        for j in step.jobs:
            queue = j.queue_position
            jobs_table.add_row(
                text(j.id),
                status_text(j.status),
                text(j.cost),
                text(format_when(j.started_at)),
                text(format_when(j.completed_at)),
                text(
                    None
                    if queue is None
                    else f"{queue.support or '?'}"
                    + (
                        f", {queue.preceding_jobs} ahead"
                        if queue.preceding_jobs is not None
                        else ""
                    )
                ),
            )
        parts.append(jobs_table)
    blobs = list(iter_output_blobs(step.output_data()))
    if blobs:
        parts.append(blobs_table(f"  output blobs ({len(blobs)})", [(step.name, b) for b in blobs]))
    errors = step.output_data().get("errors")
    if isinstance(errors, list) and errors:
        for error in errors:
            parts.append(Text(clean(f"  error: {error}"), style="red"))
    return parts


def blobs_table(title: str | None, blobs: list[tuple[str, tuple[str, int, Any]]]) -> Any:
    table = data_table(
        title,
        ["step", "output", "blob id", "type", "available", "nsfwLevel", "blockedReason", "job id"],
        no_wrap=["blob id"],
    )
    for step_name, (key, index, blob) in blobs:
        available = blob.get("available")
        table.add_row(
            text(step_name),
            text(f"{key}[{index}]"),
            text(blob.get("id")),
            text(blob.get("type")),
            text(available, style="green" if available else "red" if available is False else ""),
            text(blob.get("nsfwLevel")),
            text(blob.get("blockedReason"), style="red"),
            text(blob.get("jobId")),
        )
    return table


def _workflow_block(wf: Workflow, status_code: int) -> list[Any]:
    parts: list[Any] = [Text.assemble(("Workflow ", "bold"), (clean(wf.id), "bold cyan"))]
    cost = wf.cost
    cost_line: object = None
    if cost is not None:
        tips = cost.tips
        cost_line = (
            f"total {cost.total if cost.total is not None else '-'}"
            f" (base {cost.base if cost.base is not None else '-'}"
            + (
                f", tips civitai {tips.civitai or 0} / creators {tips.creators or 0}"
                if tips
                else ""
            )
            + ")"
        )
    uid = workflow_user_id(wf.id, wf.tags)
    status = status_text(wf.status)
    if status_code == 202:
        status.append("  (still running: the API answered 202)", style="yellow")
    parts.append(
        key_values(
            [
                ("Status", status),
                ("Created", format_when(wf.created_at)),
                ("Started", format_when(wf.started_at)),
                ("Completed", format_when(wf.completed_at)),
                ("Duration", elapsed(wf.started_at, wf.completed_at)),
                ("User id", uid if uid is not None else None),
                ("Tags", ", ".join(wf.tags) if wf.tags else None),
                ("NSFW level", wf.nsfw_level),
                ("Cost", cost_line),
                ("Currencies", ", ".join(wf.currencies) if wf.currencies else None),
            ]
            + ([("Deleted", format_when(wf.deleted_at))] if wf.deleted_at else [])
        )
    )
    parts.extend(_transactions_block(wf))
    parts.append(Text(f"Steps ({len(wf.steps)})", style="bold"))
    for step_model in wf.steps:
        parts.extend(_step_block(step_model))
    return parts


@click.command()
@click.argument("workflow_id", type=WORKFLOW_ID)
@click.option(
    "--wait",
    type=count(0, 3600),
    default=None,
    metavar="SECONDS",
    help="Let the API wait up to SECONDS for the workflow to finish (about 100 s at most).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the workflow exactly as the API sent it."
)
def workflow(workflow_id: str, wait: int | None, as_json: bool) -> None:
    """Show one workflow: status, times, cost, transactions, steps, jobs and output blobs."""
    with api_client() as client:
        raw = client.get_workflow_raw(workflow_id, wait=wait)
    if as_json:
        emit_raw_json(raw.content)
        return
    wf = parse_body(
        Workflow, raw, f"workflow {workflow_id!r}", "GET /v2/consumer/workflows/{workflowId}"
    )
    stdout_console().print(Group(*_workflow_block(wf, raw.status_code)))


@click.command()
@click.argument("workflow_id", type=WORKFLOW_ID)
@click.argument("step_name", type=STEP_NAME)
@click.option("--json", "as_json", is_flag=True, help="Print the step exactly as the API sent it.")
def step(workflow_id: str, step_name: str, as_json: bool) -> None:
    """Show one step of a workflow: input summary, jobs and output blobs."""
    with api_client() as client:
        raw = client.get_step_raw(workflow_id, step_name)
    if as_json:
        emit_raw_json(raw.content)
        return
    parsed = parse_body(
        WorkflowStep,
        raw,
        f"step {step_name!r} of workflow {workflow_id!r}",
        "GET /v2/consumer/workflows/{workflowId}/steps/{stepName}",
    )
    console = stdout_console()
    console.print(Text.assemble(("Workflow ", "bold"), (clean(workflow_id), "bold cyan")))
    console.print(Group(*_step_block(parsed, detailed=True)))
