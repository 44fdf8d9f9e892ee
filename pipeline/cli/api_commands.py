"""Debugging commands that talk to the live API: test, workflows, user, workflow, step, job,
results, blob.

They mirror the commands of civitai's own debugging script (same names, same options) so that
someone used to it finds the same answers here, but every request goes through the pipeline's
client: the same retries, error messages and token redaction as the sync.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel, ValidationError
from rich.console import Console, Group
from rich.text import Text

from pipeline.api.client import OrchestrationClient, RawResponse
from pipeline.api.models import (
    JobStatus,
    Workflow,
    WorkflowStep,
    iter_output_blobs,
    parse_datetime,
    parse_step,
    timespan_seconds,
)
from pipeline.cli.output import (
    clean,
    counts_text,
    data_table,
    emit_json,
    emit_raw_json,
    format_seconds,
    format_when,
    key_values,
    status_text,
    stdout_console,
    text,
    truncate,
)
from pipeline.core import settings as settings_module
from pipeline.core.errors import ApiError, ConfigError, ResponseValidationError
from pipeline.core.settings import Settings
from pipeline.enrich.scan_scores import percent_scores, split_items
from pipeline.flatten.users import workflow_user_id

NO_TOKEN_MESSAGE = "No API token: set CIVITAI_API_TOKEN (or put it in .env)."
DEFAULT_TAKE = 20  # the original script's default page size
DEFAULT_DOWNLOAD_DIR = "downloads"
# The context keys civitai's own tooling prints first: the moderation verdicts.
IMPORTANT_CONTEXT_KEYS = ("hive_csam_score", "hive_vlm_summary", "blocked_reason", "nsfwLevel")
# The blob endpoint's nsfwLevel is a ceiling; the highest level lets mature content through.
NSFW_ALLOW_ALL = "xxx"
_PROMPT_CHARS = 200
_NEGATIVE_PROMPT_CHARS = 100
_CONTEXT_VALUE_CHARS = 120
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def register(group: click.Group) -> None:
    """Attach this family's commands to the root group."""
    for command in (test, workflows, user, workflow, step, job, results, blob):
        group.add_command(command)


# ---------------------------------------------------------------------------------------------
# Shared plumbing
# ---------------------------------------------------------------------------------------------


class UtcDateTime(click.ParamType):
    """`YYYY-MM-DD` or an ISO-8601 datetime; without an offset it is UTC.

    A bare day means its first instant, or its last millisecond when `end_of_day` (so
    `--to 2026-11-01` includes the whole day, as in the original script).
    """

    name = "DATE"

    def __init__(self, *, end_of_day: bool = False) -> None:
        self.end_of_day = end_of_day

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return parse_datetime(value)
        raw = str(value).strip()
        if _DAY.match(raw):
            try:
                day = date.fromisoformat(raw)
            except ValueError:
                self.fail(f"{value!r} is not a valid day (YYYY-MM-DD).", param, ctx)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            if self.end_of_day:
                return start + timedelta(days=1) - timedelta(milliseconds=1)
            return start
        try:
            return parse_datetime(raw)
        except ValueError:
            self.fail(
                f"{value!r} is neither a day (YYYY-MM-DD) nor an ISO-8601 datetime "
                "(e.g. 2026-11-01T08:30:00Z).",
                param,
                ctx,
            )


@contextmanager
def api_client() -> Iterator[OrchestrationClient]:
    """A client configured from the environment (and `.env`); a token is required."""
    settings = Settings.from_env()
    if not settings.token:
        raise ConfigError(NO_TOKEN_MESSAGE)
    with OrchestrationClient(base_url=settings.api_url, token=settings.token) as client:
        yield client


def _parse_body(model: type[BaseModel], raw: RawResponse, what: str, endpoint: str) -> Any:
    try:
        if model is WorkflowStep:
            return parse_step(raw.json())
        return model.model_validate_json(raw.content)
    except (ValidationError, ValueError, AttributeError) as exc:
        count = exc.error_count() if isinstance(exc, ValidationError) else 1
        raise ResponseValidationError(
            f"The API's answer for {what} does not have the expected shape "
            f"({count} problem(s)); run the command with --json to see it as sent.",
            endpoint=endpoint,
        ) from None


def _duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "-"
    return format_seconds((end - start).total_seconds())


# ---------------------------------------------------------------------------------------------
# Safe download paths
# ---------------------------------------------------------------------------------------------


class UnsafeFileNameError(ValueError):
    """A blob id that cannot be used as a file name inside the download directory."""


_MAX_NAME_BYTES = 255


def safe_blob_path(directory: Path, blob_id: str) -> Path:
    """The file a blob is downloaded to: `directory/<blob_id>`, never anywhere else.

    Blob ids come from the API, so they are treated as hostile: anything that is not one plain
    file name (path separators of any OS, `..`, a drive or stream colon, NUL and other control
    characters, a leading dot, an over-long name) is refused rather than rewritten, because a
    rewritten name could silently overwrite another blob's file. The resolved target must
    still sit directly in the resolved directory (this also refuses a pre-existing symlink).

    Raises:
        UnsafeFileNameError: the id is not usable as a file name.
    """
    if not isinstance(blob_id, str) or not blob_id:
        raise UnsafeFileNameError("empty blob id")
    problems = []
    if any(sep in blob_id for sep in ("/", "\\")) or (os.altsep and os.altsep in blob_id):
        problems.append("path separator")
    if ".." in blob_id:
        problems.append("'..'")
    if blob_id.startswith("."):
        problems.append("leading dot")
    if ":" in blob_id:
        problems.append("colon")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in blob_id):
        problems.append("control character")
    if blob_id != blob_id.strip():
        problems.append("surrounding whitespace")
    if len(blob_id.encode("utf-8", errors="surrogatepass")) > _MAX_NAME_BYTES:
        problems.append("too long")
    if os.path.isabs(blob_id) or Path(blob_id).name != blob_id:
        problems.append("not a plain file name")
    if problems:
        raise UnsafeFileNameError(f"{blob_id!r} is not a safe file name ({', '.join(problems)})")
    root = directory.resolve()
    target = (root / blob_id).resolve()
    if target.parent != root or target.name != blob_id:
        raise UnsafeFileNameError(f"{blob_id!r} would resolve outside {root}")
    return target


def _download_blob(
    client: OrchestrationClient,
    console: Console,
    blob_id: str,
    directory: Path,
    *,
    workflow_id: str | None,
    nsfw: bool,
) -> bool:
    """Fetch one blob into `directory`; False (and a printed reason) when it failed."""
    try:
        dest = safe_blob_path(directory, blob_id)
    except UnsafeFileNameError as exc:
        console.print(Text(clean(f"  skipped: {exc}"), style="red"))
        return False
    try:
        url = client.get_blob_url(
            blob_id, workflow_id=workflow_id, nsfw_level=NSFW_ALLOW_ALL if nsfw else None
        )
        size = client.download(url, dest)
    except ApiError as exc:
        console.print(Text(clean(f"  failed {blob_id!r}: {exc}"), style="red"))
        return False
    console.print(Text(clean(f"  downloaded {dest} ({size} bytes)")))
    return True


# ---------------------------------------------------------------------------------------------
# test
# ---------------------------------------------------------------------------------------------


@click.command()
def test() -> None:
    """Check that the API answers and accepts the token (one workflow query, take=1)."""
    settings = Settings.from_env()
    console = stdout_console()
    console.print(Text(f"API URL: {settings.api_url}"))
    if not settings.token:
        raise ConfigError(NO_TOKEN_MESSAGE)
    console.print(Text("Token:   set (not shown)"))
    with api_client() as client:
        page = client.fetch_workflow_page(take=1)
    console.print(
        Text.assemble(
            ("OK", "bold green"),
            f": the API answered and accepted the token ({len(page.items)} workflow(s) "
            "in a take=1 query).",
        )
    )


# ---------------------------------------------------------------------------------------------
# workflows / user
# ---------------------------------------------------------------------------------------------


def _step_types(wf: dict[str, Any]) -> str:
    steps = wf.get("steps") or []
    return ", ".join(str(s.get("$type") or "?") for s in steps if isinstance(s, dict)) or "-"


def _cost_total(wf: dict[str, Any]) -> object:
    cost = wf.get("cost")
    return cost.get("total") if isinstance(cost, dict) else None


@click.command()
@click.option(
    "--take",
    type=click.IntRange(min=1),
    default=DEFAULT_TAKE,
    show_default=True,
    help="Workflows per page.",
)
@click.option("--tag", "tags", multiple=True, help="Only workflows with this tag; repeat to AND.")
@click.option("--query", default=None, help="Free-text match on workflow metadata.")
@click.option(
    "--excludeFailed",
    "--exclude-failed",
    "exclude_failed",
    is_flag=True,
    help="Leave out failed, expired and canceled workflows.",
)
@click.option(
    "--oldest", "--ascending", "oldest", is_flag=True, help="Oldest first (default: newest first)."
)
@click.option("--cursor", default=None, help="Continue from a previous page's next cursor.")
@click.option(
    "--from", "date_from", type=UtcDateTime(), help="Created at or after (YYYY-MM-DD or ISO, UTC)."
)
@click.option(
    "--to",
    "date_to",
    type=UtcDateTime(end_of_day=True),
    help="Created at or before (a bare day means its end), UTC.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the page exactly as the API sent it.")
def workflows(
    take: int,
    tags: tuple[str, ...],
    query: str | None,
    exclude_failed: bool,
    oldest: bool,
    cursor: str | None,
    date_from: datetime | None,
    date_to: datetime | None,
    as_json: bool,
) -> None:
    """List the token's own workflows, one page (newest first)."""
    if date_from and date_to and date_from > date_to:
        raise click.BadParameter("must not be before --from.", param_hint="'--to'")
    with api_client() as client:
        page = client.fetch_workflow_page(
            take=take,
            cursor=cursor,
            tags=tags,
            query=query,
            ascending=True if oldest else None,
            from_date=date_from,
            to_date=date_to,
            exclude_failed=True if exclude_failed else None,
        )
    if as_json:
        emit_raw_json(page.content)
        return
    console = stdout_console()
    filters = [f"tag {t}" for t in tags]
    if query:
        filters.append(f"query {query!r}")
    if date_from:
        filters.append(f"from {format_when(date_from)}")
    if date_to:
        filters.append(f"to {format_when(date_to)}")
    if exclude_failed:
        filters.append("excluding failed")
    if filters:
        console.print(Text(clean("Filters: " + " | ".join(filters)), style="dim"))
    table = data_table(
        f"{len(page.items)} workflow(s)",
        ["id", "created", "status", "step types", "tags", "cost"],
        no_wrap=["id", "created"],
    )
    for wf in page.items:
        tags_of = wf.get("tags") or []
        table.add_row(
            text(wf.get("id")),
            text(format_when(wf.get("createdAt"))),
            status_text(wf.get("status")),
            text(_step_types(wf)),
            text(", ".join(map(str, tags_of)) if tags_of else None),
            text(_cost_total(wf)),
        )
    console.print(table)
    if page.next:
        console.print(Text.assemble(("Next cursor: ", "bold"), clean(page.next)))
    else:
        console.print(Text("Last page (no next cursor).", style="dim"))


@click.command()
@click.option(
    "--pages",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="How many of the newest pages to read.",
)
@click.option(
    "--take",
    type=click.IntRange(min=1),
    default=settings_module.PAGE_SIZE,
    show_default=True,
    help="Workflows per page.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def user(pages: int, take: int, as_json: bool) -> None:
    """Who the token's workflows belong to: user ids and workflow counts per status.

    A consumer token sees only its own workflows and the API has no user field, so this reads
    the newest page(s) and takes the user id from each workflow id's numeric prefix
    (`{userId}-{timestamp}`) or a `user:N` tag. Workflows with neither are counted as
    "unknown". It is a summary of what was read, not an account lookup.
    """
    per_user: dict[int | None, Counter[str]] = {}
    scanned = 0
    read_pages = 0
    oldest: str | None = None
    newest: str | None = None
    with api_client() as client:
        for page in client.iter_workflow_pages(take=take, max_pages=pages):
            read_pages += 1
            for wf in page.items:
                scanned += 1
                created = wf.get("createdAt")
                if isinstance(created, str):
                    newest = created if newest is None or created > newest else newest
                    oldest = created if oldest is None or created < oldest else oldest
                uid = workflow_user_id(wf.get("id"), wf.get("tags") or [])
                per_user.setdefault(uid, Counter())[str(wf.get("status") or "unknown")] += 1
    ordered = sorted(per_user.items(), key=lambda kv: (kv[0] is None, -sum(kv[1].values())))
    if as_json:
        emit_json(
            {
                "workflows_read": scanned,
                "pages_read": read_pages,
                "created_from": oldest,
                "created_to": newest,
                "users": [
                    {"user_id": uid, "workflows": sum(c.values()), "statuses": dict(c)}
                    for uid, c in ordered
                ],
            }
        )
        return
    console = stdout_console()
    console.print(
        Text(
            f"Read {scanned} workflow(s) in {read_pages} page(s), newest first"
            + (f", created {format_when(oldest)} .. {format_when(newest)}" if scanned else "")
            + "."
        )
    )
    if not scanned:
        console.print(Text("No workflows: nothing to summarise.", style="dim"))
        return
    table = data_table(None, ["user id", "workflows", "by status"], no_wrap=["user id"])
    for uid, counts in ordered:
        table.add_row(
            text(str(uid)) if uid is not None else Text("unknown", style="dim"),
            text(sum(counts.values())),
            counts_text(counts),
        )
    console.print(table)


# ---------------------------------------------------------------------------------------------
# workflow / step
# ---------------------------------------------------------------------------------------------


def _transactions_block(wf: Workflow) -> list[Any]:
    txns = wf.transactions.items if wf.transactions else []
    if not txns:
        return [Text("  Transactions: none", style="dim")]
    table = data_table(None, ["type", "amount", "account", "id"], no_wrap=["id"])
    net: dict[str, int] = {}
    for txn in txns:
        table.add_row(text(txn.type), text(txn.amount), text(txn.account_type), text(txn.id))
        sign = {"debit": 1, "credit": -1}.get(txn.type or "", 0)
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
        f" ({_duration(step.started_at, step.completed_at)})",
    )
    parts.append(header)
    data = step.input_data()
    rows: list[tuple[str, object]] = []
    if detailed:
        rows += [
            ("Priority", step.priority),
            ("Timeout", step.timeout),
            ("Retries", step.retries),
        ]
        for key, label in (("model", "Model"), ("engine", "Engine"), ("quantity", "Quantity")):
            if data.get(key) is not None:
                rows.append((label, data[key]))
        if data.get("width") is not None and data.get("height") is not None:
            rows.append(("Size", f"{data['width']} x {data['height']}"))
    if isinstance(data.get("prompt"), str):
        rows.append(("Prompt", truncate(data["prompt"], _PROMPT_CHARS)))
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
        parts.append(
            _blobs_table(f"  output blobs ({len(blobs)})", [(step.name, b) for b in blobs])
        )
    errors = step.output_data().get("errors")
    if isinstance(errors, list) and errors:
        for error in errors:
            parts.append(Text(clean(f"  error: {error}"), style="red"))
    return parts


def _blobs_table(title: str | None, blobs: list[tuple[str, tuple[str, int, Any]]]) -> Any:
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
                ("Duration", _duration(wf.started_at, wf.completed_at)),
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
@click.argument("workflow_id")
@click.option(
    "--wait",
    type=click.IntRange(min=0),
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
    wf = _parse_body(
        Workflow, raw, f"workflow {workflow_id!r}", "GET /v2/consumer/workflows/{workflowId}"
    )
    stdout_console().print(Group(*_workflow_block(wf, raw.status_code)))


@click.command()
@click.argument("workflow_id")
@click.argument("step_name")
@click.option("--json", "as_json", is_flag=True, help="Print the step exactly as the API sent it.")
def step(workflow_id: str, step_name: str, as_json: bool) -> None:
    """Show one step of a workflow: input summary, jobs and output blobs."""
    with api_client() as client:
        raw = client.get_step_raw(workflow_id, step_name)
    if as_json:
        emit_raw_json(raw.content)
        return
    parsed = _parse_body(
        WorkflowStep,
        raw,
        f"step {step_name!r} of workflow {workflow_id!r}",
        "GET /v2/consumer/workflows/{workflowId}/steps/{stepName}",
    )
    console = stdout_console()
    console.print(Text.assemble(("Workflow ", "bold"), (clean(workflow_id), "bold cyan")))
    console.print(Group(*_step_block(parsed, detailed=True)))


# ---------------------------------------------------------------------------------------------
# job
# ---------------------------------------------------------------------------------------------


def classification_flags(classification: object) -> list[str]:
    """The truthy members of `promptClassificationResult` (`sexual`, `young`, `cr`, `scan`, ...)."""
    if not isinstance(classification, dict):
        return []
    return [str(name) for name, value in classification.items() if value]


def score_text(value: object, threshold: float = settings_module.DEFAULT_CSAM_THRESHOLD) -> Text:
    """A `*_score` value with each part coloured: at or above `threshold` percent in red."""
    out = Text()
    items = split_items(value)
    scores, _ = percent_scores(items)
    for index, (item, score) in enumerate(zip(items, scores, strict=True)):
        if index:
            out.append(", ")
        shown = item if isinstance(item, str) else text(item).plain
        if score is None:
            out.append(clean(shown))
        elif score >= threshold:
            out.append(clean(shown), style="bold red")
        else:
            out.append(clean(shown), style="green")
    return out


def _context_value(key: str, value: object, *, limit: int | None) -> Text:
    if key.lower().endswith("_score"):
        return score_text(value)
    shown = value if isinstance(value, str) else text(value).plain
    return Text(clean(truncate(shown, limit) if limit else shown))


def _context_block(context: object) -> list[Any]:
    if context is None:
        return [Text("Event context: none", style="dim")]
    parts: list[Any] = [Text("Event context (scan results, metrics)", style="bold")]
    if not isinstance(context, dict):
        parts.append(Text(f"  {text(context).plain}"))
        return parts
    styles = {
        "hive_vlm_summary": "yellow",
        "blocked_reason": "bold red",
        "nsfwLevel": "magenta",
    }
    for key in IMPORTANT_CONTEXT_KEYS:
        value = context.get(key)
        if value is None or value == "":
            continue
        line = Text.assemble(("  ** ", "bold"), (f"{clean(key)}: ", "bold"))
        rendered = _context_value(key, value, limit=None)
        if key in styles:
            rendered.stylize(styles[key])
        line.append_text(rendered)
        parts.append(line)
    others = [k for k in context if k not in IMPORTANT_CONTEXT_KEYS]
    if others:
        parts.append(Text("  Other context:"))
        for key in others:
            line = Text(clean(f"    {key}: "))
            line.append_text(_context_value(str(key), context[key], limit=_CONTEXT_VALUE_CHARS))
            parts.append(line)
    return parts


def _job_block(status: JobStatus, job_id: str) -> list[Any]:
    definition = status.job
    extra = (definition.model_extra or {}) if definition else {}
    cost = status.cost if status.cost is not None else extra.get("cost")
    rows: list[tuple[str, object]] = [
        ("Job id", (definition.id if definition else None) or status.job_id or job_id),
        ("Type", definition.type if definition else None),
        ("Workflow id", status.workflow_id),
        ("Created", format_when(definition.created_at) if definition else None),
        ("Cost", cost),
    ]
    parts: list[Any] = [Text("Job summary", style="bold"), key_values(rows)]
    params = (definition.params if definition else None) or {}
    prompt_rows: list[tuple[str, object]] = []
    if isinstance(params.get("prompt"), str):
        prompt_rows.append(("Prompt", truncate(params["prompt"], _PROMPT_CHARS)))
    if isinstance(params.get("negativePrompt"), str):
        prompt_rows.append(("Negative", truncate(params["negativePrompt"], _NEGATIVE_PROMPT_CHARS)))
    if definition is not None and definition.prompt_classification_result is not None:
        flags = classification_flags(definition.prompt_classification_result)
        prompt_rows.append(
            (
                "Prompt classification",
                Text(", ".join(flags), style="bold yellow") if flags else Text("none"),
            )
        )
    if prompt_rows:
        parts.append(key_values(prompt_rows))

    result = status.result
    if isinstance(result, list) and result:
        parts.append(Text(f"Results ({len(result)} blob(s))", style="bold"))
        for item in result:
            if isinstance(item, dict):
                available = item.get("available")
                parts.append(
                    Text.assemble(
                        "  - ",
                        clean(str(item.get("blobKey", text(item).plain))),
                        " (available: ",
                        text(
                            available,
                            style="green" if available else "red" if available is False else "",
                        ),
                        ")",
                    )
                )
            else:
                parts.append(Text(f"  - {text(item).plain}"))
    elif result not in (None, [], {}):
        parts.append(Text(f"Result: {truncate(text(result).plain, 300)}"))

    event = status.last_event
    if event is None:
        parts.append(Text("Last event: none", style="dim"))
        return parts
    parts.append(Text("Last event", style="bold"))
    parts.append(
        key_values(
            [
                ("Type", status_text(event.type)),
                ("Provider", event.provider),
                ("Worker", event.worker_id),
                ("Time", format_when(event.date_time)),
                ("Job duration", _timespan(event.job_duration)),
                ("Claim duration", _timespan(event.claim_duration)),
                ("Retry attempt", event.retry_attempt),
            ]
        )
    )
    parts.extend(_context_block(event.context))
    return parts


def _timespan(value: object) -> object:
    seconds = timespan_seconds(value)
    if seconds is None:
        return None if value is None else text(value).plain
    return (
        f"{format_seconds(seconds)} ({value})"
        if isinstance(value, str)
        else format_seconds(seconds)
    )


@click.command()
@click.argument("job_id")
@click.option("--raw", "raw_out", is_flag=True, help="Print the job exactly as the API sent it.")
@click.option("--json", "as_json", is_flag=True, help="Same as --raw.")
def job(job_id: str, raw_out: bool, as_json: bool) -> None:
    """Show a job with its scan context (v1 job endpoint, detailed).

    Shows the type, workflow, prompt classification, result blobs, the last event (type,
    provider, worker, durations, retry) and the event context, with the moderation keys
    (hive_csam_score, hive_vlm_summary, blocked_reason, nsfwLevel) first; scores at or above
    50 % are red.
    """
    with api_client() as client:
        raw = client.get_job_raw(job_id, detailed=True)
    if raw_out or as_json:
        emit_raw_json(raw.content)
        return
    status = _parse_body(JobStatus, raw, f"job {job_id!r}", "GET /v1/consumer/jobs/{jobId}")
    stdout_console().print(Group(*_job_block(status, job_id)))


# ---------------------------------------------------------------------------------------------
# results / blob
# ---------------------------------------------------------------------------------------------

_DIR_OPTION = click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DOWNLOAD_DIR,
    show_default=True,
    help="Where downloads go (created if missing).",
)
_NSFW_OPTION = click.option(
    "--nsfw", is_flag=True, help="Allow mature content (asks the blob endpoint for nsfwLevel=xxx)."
)


@click.command()
@click.argument("workflow_id")
@click.option("--download", is_flag=True, help="Download every available output blob.")
@_DIR_OPTION
@_NSFW_OPTION
def results(workflow_id: str, download: bool, directory: Path, nsfw: bool) -> None:
    """List the output blobs of every step of a workflow; optionally download them."""
    console = stdout_console()
    with api_client() as client:
        raw = client.get_workflow_raw(workflow_id, hide_mature_content=False)
        wf = _parse_body(
            Workflow, raw, f"workflow {workflow_id!r}", "GET /v2/consumer/workflows/{workflowId}"
        )
        found = [(s.name, blob) for s in wf.steps for blob in iter_output_blobs(s.output_data())]
        console.print(
            Text.assemble(
                ("Workflow ", "bold"),
                (clean(wf.id), "bold cyan"),
                "  ",
                status_text(wf.status),
                f"  {len(wf.steps)} step(s), {len(found)} output blob(s)",
            )
        )
        if found:
            console.print(_blobs_table(None, found))
        if not download:
            return
        available = [(name, b) for name, b in found if b[2].get("available")]
        skipped = len(found) - len(available)
        console.print(
            Text(
                f"Downloading {len(available)} available blob(s) to {directory}"
                + (f" ({skipped} unavailable, skipped)" if skipped else "")
            )
        )
        failed = 0
        for _name, (_key, _index, blob) in available:
            if not _download_blob(
                client, console, str(blob.get("id")), directory, workflow_id=wf.id, nsfw=nsfw
            ):
                failed += 1
    if failed:
        raise click.ClickException(f"{failed} of {len(available)} download(s) failed.")


@click.command()
@click.argument("blob_id")
@click.option("--download", is_flag=True, help="Download the blob into --dir.")
@_NSFW_OPTION
@_DIR_OPTION
@click.option("--workflow", "workflow_id", default=None, help="The workflow the blob belongs to.")
def blob(
    blob_id: str, download: bool, nsfw: bool, directory: Path, workflow_id: str | None
) -> None:
    """Print a blob's content URL (the blob endpoint's redirect), or download the blob.

    The URL is signed: anyone holding it can fetch the content until it expires.
    """
    console = stdout_console()
    with api_client() as client:
        if download:
            if not _download_blob(
                client, console, blob_id, directory, workflow_id=workflow_id, nsfw=nsfw
            ):
                raise click.ClickException(f"Could not download blob {blob_id!r}.")
            return
        url = client.get_blob_url(
            blob_id, workflow_id=workflow_id, nsfw_level=NSFW_ALLOW_ALL if nsfw else None
        )
    console.print(Text.assemble(("Blob URL: ", "bold"), clean(url)), soft_wrap=True)
