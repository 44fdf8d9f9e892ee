"""`job`: one v1 job with its scan context: type, workflow, prompt classification, result
blobs, the last event, and the moderation keys first (scores at or above the threshold red).
"""

from __future__ import annotations

from typing import Any

import click
from rich.console import Group
from rich.text import Text

from pipeline.api.models import JobStatus
from pipeline.cli.api_common import JOB_ID, api_client, duration_text, parse_body
from pipeline.cli.output import (
    clean,
    emit_raw_json,
    format_when,
    key_values,
    status_text,
    stdout_console,
    text,
    truncate,
)
from pipeline.core import settings as settings_module
from pipeline.enrich.scan_scores import percent_scores, split_items

# The context keys civitai's own tooling prints first: the moderation verdicts.
IMPORTANT_CONTEXT_KEYS = ("hive_csam_score", "hive_vlm_summary", "blocked_reason", "nsfwLevel")
_PROMPT_CHARS = 200
_NEGATIVE_PROMPT_CHARS = 100
_CONTEXT_VALUE_CHARS = 120


def classification_flags(classification: object) -> list[str]:
    """The truthy members of `promptClassificationResult` (`sexual`, `young`, `cr`, `scan`, ...)."""
    if not isinstance(classification, dict):
        return []
    return [str(name) for name, value in classification.items() if value]


def score_text(value: object, threshold: float = settings_module.DEFAULT_CSAM_THRESHOLD) -> Text:
    """A `*_score` value with each part coloured: at or above `threshold` percent in red (the
    parts read by the lake's one scan-score rule, `pipeline.enrich.scan_scores`)."""
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
                ("Job duration", duration_text(event.job_duration)),
                ("Claim duration", duration_text(event.claim_duration)),
                ("Retry attempt", event.retry_attempt),
            ]
        )
    )
    parts.extend(_context_block(event.context))
    return parts


@click.command()
@click.argument("job_id", type=JOB_ID)
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
    status = parse_body(JobStatus, raw, f"job {job_id!r}", "GET /v1/consumer/jobs/{jobId}")
    stdout_console().print(Group(*_job_block(status, job_id)))
