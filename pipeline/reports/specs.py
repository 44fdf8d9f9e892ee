"""The reports the CLI offers: which report tables (`rpt_*`) make up each, in which order,
and which of their columns and rows a terminal shows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SectionSpec:
    """One report table in a report.

    `columns` picks what a terminal table shows (csv and json carry every column); `where`
    narrows the terminal table too (e.g. only the all-provider rollup rows).
    """

    table: str
    title: str
    order_by: str
    columns: tuple[str, ...] = ()
    where: str | None = None
    key_columns: int = 1


@dataclass(frozen=True)
class ReportSpec:
    kind: str
    title: str
    sections: tuple[SectionSpec, ...]
    uses_threshold: bool = False


REPORTS: dict[str, ReportSpec] = {
    spec.kind: spec
    for spec in (
        ReportSpec(
            "moderation",
            "Moderation",
            (
                SectionSpec(
                    "rpt_moderation_daily",
                    "Jobs scanned and flagged, by day and provider",
                    "day, provider",
                    (
                        "day",
                        "provider",
                        "jobs",
                        "jobs_scanned",
                        "jobs_flagged",
                        "flag_ratio",
                        "csam_score_max_pct",
                        "prompts_sexual",
                        "prompts_young",
                        "prompts_sexual_and_young",
                        "prompts_cr",
                        "prompts_scan",
                        "outputs",
                        "outputs_blocked",
                    ),
                    key_columns=2,
                ),
                SectionSpec(
                    "rpt_moderation_labels_daily",
                    "VLM summary labels, blocked reasons and NSFW levels (all providers)",
                    "day, provider, category, items desc, label",
                    ("day", "category", "label", "items", "jobs"),
                    where="provider = '(all)'",
                ),
                SectionSpec(
                    "rpt_blocked_reasons_daily",
                    "Blocked, by where it was recorded and why",
                    "day, source, items desc, blocked_reason",
                    ("day", "source", "blocked_reason", "items", "workflows", "users"),
                    key_columns=3,
                ),
                SectionSpec(
                    "rpt_moderation_verdicts_daily",
                    "Moderation step verdicts (blocked, minors, CSAM signals)",
                    "day, step_type, verdicts desc, verdict",
                    (
                        "day",
                        "step_type",
                        "verdict",
                        "verdicts",
                        "blocked",
                        "minors",
                        "csam",
                        "users",
                    ),
                    key_columns=3,
                ),
            ),
            uses_threshold=True,
        ),
        ReportSpec(
            "usage",
            "Usage",
            (
                SectionSpec(
                    "rpt_usage_daily",
                    "Workflows, success ratio, Buzz and latency by day",
                    "day",
                    (
                        "day",
                        "workflows",
                        "succeeded",
                        "failed",
                        "expired",
                        "canceled",
                        "in_progress",
                        "success_ratio",
                        "users",
                        "buzz_net",
                        "latency_p50_seconds",
                        "latency_p95_seconds",
                        "queue_p50_seconds",
                        "queue_p95_seconds",
                    ),
                ),
                SectionSpec(
                    "rpt_failure_reasons_daily",
                    "Failed and expired jobs by step type and reason",
                    "day, jobs desc, step_type, reason",
                    ("day", "step_type", "reason", "jobs", "failed", "expired", "blocked", "users"),
                    key_columns=3,
                ),
                SectionSpec(
                    "rpt_buzz_daily",
                    "Buzz spent net of refunds, by account type",
                    "day, account_type",
                    (
                        "day",
                        "account_type",
                        "transactions",
                        "buzz_debit",
                        "buzz_credit",
                        "buzz_net",
                    ),
                    key_columns=2,
                ),
                SectionSpec(
                    "rpt_workflows_by_status_daily",
                    "Workflows by status and step types",
                    "day, status, step_types",
                    ("day", "status", "step_types", "workflows", "users"),
                ),
                SectionSpec(
                    "rpt_top_users_daily",
                    "Top users by workflows and by Buzz",
                    "day, rank_by_workflows",
                    (
                        "day",
                        "user_id",
                        "workflows",
                        "workflows_succeeded",
                        "buzz_net",
                        "rank_by_workflows",
                        "rank_by_buzz_net",
                    ),
                    key_columns=2,
                ),
            ),
        ),
        ReportSpec(
            "flagged",
            "Flagged jobs",
            (
                SectionSpec(
                    "rpt_flagged_jobs",
                    "Jobs to review, newest first",
                    "created_at desc, job_id",
                    (
                        "created_at",
                        "job_id",
                        "workflow_id",
                        "user_id",
                        "step_type",
                        "provider",
                        "csam_scores_pct",
                        "csam_score_max_pct",
                        "prompt_classification",
                    ),
                    key_columns=2,
                ),
            ),
            uses_threshold=True,
        ),
    )
}
