"""A small hand-made warehouse whose every report figure can be worked out on paper.

Two days. Day 1: four workflows (a success with two scanned outputs, a refunded failure
blocked as ChildReference, a two-step success with a job the v1 endpoint no longer knows and a
cached output, one still running with no user); day 2: a canceled workflow without steps and
an expired one. Moderation verdicts: a blocking mediaRating and an xGuard scan on day 1, a
clean mediaRating on day 2. A stale duplicate of workflow
101-a checks that staging keeps the latest copy. The expected figures live in the tests.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from pipeline.warehouse.build import build_models
from tests.support.core_tables import create_core_tables, insert

DAY1 = date(2026, 11, 1)
DAY2 = date(2026, 11, 2)


def at(day: date, seconds: float) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=seconds)


def rows(columns: str, *values: tuple[object, ...]) -> list[dict[str, object]]:
    names = columns.split()
    return [dict(zip(names, row, strict=True)) for row in values]


def timed(day: date, created: float, started: float | None, done: float | None) -> tuple:
    return tuple(None if s is None else at(day, s) for s in (created, started, done))


def load_core_tables(con: duckdb.DuckDBPyConnection) -> None:
    create_core_tables(con)
    wf = "workflow_id window_date user_id status created_at started_at completed_at synced_at"
    late, early = at(DAY2, 90_000), at(DAY1, 100)
    insert(con, "workflows", rows(
        wf,
        ("101-a", DAY1, 101, "succeeded", *timed(DAY1, 0, 10, 60), late),
        ("101-a", DAY1, 101, "processing", *timed(DAY1, 0, 10, None), early),  # stale copy
        ("101-b", DAY1, 101, "failed", *timed(DAY1, 3600, 3630, 3720), late),
        ("202-c", DAY1, 202, "succeeded", *timed(DAY1, 7200, 7205, 7380), late),
        ("abc-d", DAY1, None, "processing", *timed(DAY1, 10800, None, None), late),
        ("202-e", DAY2, 202, "canceled", *timed(DAY2, 0, None, 20), late),
        ("303-f", DAY2, 303, "expired", *timed(DAY2, 3600, 3601, 4199), late),
    ))  # fmt: skip
    insert(con, "steps", rows(
        "workflow_id step_name window_date step_index step_type status prompt",
        ("101-a", "$0", DAY1, 0, "textToImage", "succeeded", "a lighthouse"),
        ("101-b", "$0", DAY1, 0, "textToImage", "failed", None),
        ("202-c", "$0", DAY1, 0, "imageGen", "succeeded", None),
        ("202-c", "$1", DAY1, 1, "imageUpscaler", "succeeded", None),
        ("abc-d", "$0", DAY1, 0, "videoGen", "processing", None),
        ("303-f", "$0", DAY2, 0, "textToImage", "expired", None),
    ))  # fmt: skip
    fetched = at(DAY2, 80_000)
    # `jobs` as the warehouse presents it: the embedded jobs with their v1 enrichment, and the
    # reason the workflow gives, else the one of the v1 event (sql/core/jobs.sql).
    jobs = rows(
        "job_id workflow_id step_name window_date status reason blocked_reason provider"
        " csam_score_max_pct prompt_sexual prompt_young prompt_scan prompt_cr enriched_at"
        " enrichment_status is_prompt_classified",
        ("ja", "101-a", "$0", DAY1, "succeeded", None, None, "ValdiAI", 50.0, True, True, False, False, fetched, "enriched", True),
        ("jb", "101-b", "$0", DAY1, "failed", "Blocked", "ChildReference", "ValdiAI", 49.99, False, False, True, False, fetched, "enriched", True),
        ("jc1", "202-c", "$0", DAY1, "succeeded", None, None, "RunPods", 99.5, False, False, False, False, fetched, "enriched", True),
        ("jc2", "202-c", "$0", DAY1, "succeeded", None, None, "RunPods", None, False, False, False, False, fetched, "enriched", True),
        # the v1 endpoint answered 404 for jc3; jd was never looked up
        ("jc3", "202-c", "$1", DAY1, "succeeded", None, None, None, None, None, None, None, None, fetched, "not_found", False),
        ("jd", "abc-d", "$0", DAY1, "processing", None, None, None, None, None, None, None, None, None, "pending", False),
        ("jf", "303-f", "$0", DAY2, "expired", "Timeout", None, "ValdiAI", 80.0, False, False, False, False, fetched, "enriched", True),
    )  # fmt: skip
    insert(con, "jobs", jobs)
    insert(con, "job_details", [
        {"job_id": j["job_id"], "workflow_id": j["workflow_id"], "window_date": j["window_date"],
         "found": j["job_id"] != "jc3", "provider": j["provider"], "fetched_at": fetched}
        for j in jobs if j["job_id"] != "jd"
    ])  # fmt: skip
    insert(con, "scan_scores", rows(
        "job_id workflow_id window_date score_name item_index score label value_text",
        ("ja", "101-a", DAY1, "hive_csam_score", 0, 0.0, None, "0.00 %"),
        ("ja", "101-a", DAY1, "hive_csam_score", 1, 50.0, None, "50.00 %"),
        ("ja", "101-a", DAY1, "hive_vlm_summary", 0, None, "X", "X"),
        ("ja", "101-a", DAY1, "hive_vlm_summary", 1, None, "No_Child", "No_Child"),
        ("jb", "101-b", DAY1, "hive_csam_score", 0, 49.99, None, "49.99 %"),
        ("jc1", "202-c", DAY1, "hive_csam_score", 0, 99.5, None, "99.50 %"),
        ("jc1", "202-c", DAY1, "hive_vlm_summary", 0, None, "X", "X"),
        ("jf", "303-f", DAY2, "hive_csam_score", 0, 80.0, None, "80.00 %"),
        ("jf", "303-f", DAY2, "hive_csam_score", 1, 10.0, None, "10.00 %"),
    ))  # fmt: skip
    insert(con, "blobs", rows(
        "blob_id workflow_id step_name job_id window_date json_path available nsfw_level"
        " blocked_reason",
        # no jobId on the blob and its step ran one job (ja): the flattening set ja
        ("A0.jpeg", "101-a", "$0", "ja", DAY1, "$.images[0]", True, "X", None),
        ("A1.jpeg", "101-a", "$0", "ja", DAY1, "$.images[1]", False, None, "csam"),
        # no jobId and two jobs in the step: the provider stays unknown
        ("C0.jpeg", "202-c", "$0", None, DAY1, "$.images[0]", True, "pg", None),
        ("C1.jpeg", "202-c", "$1", "jc3", DAY1, "$.blob", True, "r", None),
        # 202-c's upscaler was served A0.jpeg from the output cache: a row of its own
        ("A0.jpeg", "202-c", "$1", "jc3", DAY1, "$.blob", True, "x", "ChildReference"),
    ))  # fmt: skip
    insert(con, "moderation_verdicts", rows(
        "workflow_id step_name verdict_index window_date step_type job_id is_blocked"
        " blocked_reason nsfw_level category has_minor csam score",
        ("101-a", "$1", 0, DAY1, "mediaRating", "ja", True, "ChildReference", "x", None, True,
         False, None),
        ("202-c", "$2", 0, DAY1, "xGuardModeration", None, True, None, None, "minor", None,
         None, 0.91),
        ("202-c", "$2", 1, DAY1, "xGuardModeration", None, False, None, None, "violence", None,
         None, 0.12),
        ("303-f", "$1", 0, DAY2, "mediaRating", None, False, None, "pg", None, False, None, None),
    ))  # fmt: skip
    insert(con, "transactions", rows(
        "workflow_id txn_index window_date txn_type amount account_type",
        ("101-a", 0, DAY1, "debit", 60, "yellow"),
        ("101-b", 0, DAY1, "debit", 60, "yellow"),
        ("101-b", 1, DAY1, "credit", 60, "yellow"),
        ("202-c", 0, DAY1, "debit", 25, "blue"),
        ("202-c", 1, DAY1, "debit", 10, "yellow"),
        ("303-f", 0, DAY2, "debit", 40, "green"),
        ("303-f", 1, DAY2, "credit", 40, "green"),
    ))  # fmt: skip


def build_handmade_warehouse(path: Path, params: dict | None = None) -> Path:
    """Write the hand-made core tables and every SQL model into a DuckDB file at `path`."""
    con = duckdb.connect(str(path))
    try:
        load_core_tables(con)
        build_models(con, params=params)
    finally:
        con.close()
    return path
