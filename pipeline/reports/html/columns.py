"""The columns of the page's tables, and how each kind of value is shown in a cell.

A missing value shows as an en dash; `raw` is what a `data-value` attribute carries (every digit of
a float) so a test or a script reads the exact number behind the formatted text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Formatter = Callable[[Any], str]

NONE = "\u2013"  # an en dash stands for a missing value


def integer(value: Any) -> str:
    return NONE if value is None else f"{int(value):,}"


def rate(value: Any) -> str:
    return NONE if value is None else f"{float(value):.1%}"


def seconds(value: Any) -> str:
    return NONE if value is None else f"{float(value):,.1f}"


def score(value: Any) -> str:
    return NONE if value is None else f"{float(value):.2f}"


def text(value: Any) -> str:
    if value is None:
        return NONE
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def timestamp(value: datetime | None) -> str:
    return NONE if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def scores(values: list[Any] | None) -> str:
    return ", ".join(score(v) for v in values or [])


def labels(values: list[Any] | None) -> str:
    return ", ".join(str(v) for v in values or [] if v is not None)


def raw(value: Any) -> Any:
    """A data-value attribute: the exact number (repr keeps every digit of a float)."""
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else value


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    css: str = ""
    fmt: Formatter = text
    source: str = ""  # daily table only: "usage" or "moderation"


TOTALS: tuple[tuple[str, str, Formatter], ...] = (
    ("workflows", "Workflows", integer),
    ("success_ratio", "Success rate", rate),
    ("users", "Users", integer),
    ("buzz_net", "Buzz net of refunds", integer),
    ("jobs_scanned", "Jobs scanned", integer),
    ("jobs_flagged", "Jobs flagged", integer),
    ("flag_ratio", "Flag rate", rate),
    ("outputs_blocked", "Outputs blocked", integer),
)
PROVIDER_COLUMNS = (
    Column("provider", "provider"),
    Column("jobs", "jobs", "num", integer),
    Column("jobs_scanned", "scanned", "num", integer),
    Column("jobs_flagged", "flagged", "num", integer),
    Column("flag_ratio", "flag rate", "num", rate),
    Column("csam_score_max_pct", "max CSAM score %", "num", score),
)
FLAGGED_COLUMNS = (
    Column("created_at", "created (UTC)", "nowrap", timestamp),
    Column("csam_score_max_pct", "max CSAM score %", "num flag", score),
    Column("csam_scores_pct", "CSAM score % per output", "", scores),
    Column("vlm_labels", "VLM labels", "", labels),
    Column("prompt_classification", "prompt classified"),
    Column("user_id", "user", "id"),
    Column("step_type", "step type"),
    Column("provider", "provider"),
    Column("status", "status"),
    Column("job_id", "job", "id"),
    Column("workflow_id", "workflow", "id"),
)
TOP_USER_COLUMNS = (
    Column("user_id", "user", "id"),
    *(
        Column(key, label, "num", integer)
        for key, label in (
            ("workflows", "workflows"),
            ("succeeded", "succeeded"),
            ("failed", "failed"),
            ("jobs", "jobs"),
            ("buzz_net", "Buzz net"),
            ("active_days", "active days"),
        )
    ),
)
DAILY_COLUMNS = tuple(
    Column(key, label, "num", fmt, source)
    for source, key, label, fmt in (
        ("usage", "workflows", "workflows", integer),
        ("usage", "succeeded", "succeeded", integer),
        ("usage", "failed", "failed", integer),
        ("usage", "success_ratio", "success rate", rate),
        ("usage", "users", "users", integer),
        ("usage", "buzz_net", "Buzz net", integer),
        ("usage", "latency_p50_seconds", "latency p50 s", seconds),
        ("usage", "latency_p95_seconds", "latency p95 s", seconds),
        ("usage", "queue_p50_seconds", "queue p50 s", seconds),
        ("usage", "queue_p95_seconds", "queue p95 s", seconds),
        ("moderation", "jobs_scanned", "jobs scanned", integer),
        ("moderation", "jobs_flagged", "jobs flagged", integer),
        ("moderation", "flag_ratio", "flag rate", rate),
        ("moderation", "outputs_blocked", "outputs blocked", integer),
    )
)
