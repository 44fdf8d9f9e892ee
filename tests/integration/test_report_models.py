"""Every SQL model built over a hand-made warehouse, its figures checked against paper sums."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from pipeline.core.settings import DEFAULT_CSAM_THRESHOLD
from pipeline.enrich.job_details import job_rows
from pipeline.lake import tables
from pipeline.reports.checks import (
    check_flagged_jobs_over_threshold,
    check_no_null_keys,
    check_percents_in_range,
    check_ratios_in_unit_interval,
    check_unique_grain,
    checks_for,
)
from pipeline.reports.report import load_report
from pipeline.warehouse.build import build_models, built_models
from pipeline.warehouse.models import CORE_LAYER, SQL_DIR, discover_models
from tests.support.core_tables import insert
from tests.support.handmade_warehouse import (
    DAY1,
    DAY2,
    build_handmade_warehouse,
    load_core_tables,
)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_handmade_warehouse(tmp_path_factory.mktemp("wh") / "warehouse.duckdb")


@pytest.fixture()
def con(warehouse: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(warehouse), read_only=True)
    yield connection
    connection.close()


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def test_staging_keeps_the_latest_copy_of_a_workflow(con: duckdb.DuckDBPyConnection) -> None:
    assert rows(con, "select status from stg_workflows where workflow_id = '101-a'") == [
        ("succeeded",)
    ]
    assert rows(con, "select count(*) from stg_workflows") == [(6,)]


def test_moderation_daily(con: duckdb.DuckDBPyConnection) -> None:
    got = rows(
        con,
        """
        select day, provider, jobs, jobs_enriched, jobs_scanned, jobs_flagged, flag_ratio,
               csam_score_max_pct, jobs_prompt_classified, prompts_sexual, prompts_young,
               prompts_sexual_and_young, prompts_cr, prompts_scan, outputs, outputs_available,
               outputs_blocked, csam_threshold_pct
        from rpt_moderation_daily order by day, provider
    """,
    )
    # jobs_prompt_classified: the enriched jobs (jc3 is gone, jd never looked up)
    assert got == [
        (DAY1, "(all)", 6, 4, 3, 2, 2 / 3, 99.5, 4, 1, 1, 1, 0, 1, 5, 4, 2, 50.0),
        (DAY1, "(unknown)", 2, 0, 0, 0, None, None, 0, 0, 0, 0, 0, 0, 3, 3, 1, 50.0),
        (DAY1, "RunPods", 2, 2, 1, 1, 1.0, 99.5, 2, 0, 0, 0, 0, 0, 0, 0, 0, 50.0),
        (DAY1, "ValdiAI", 2, 2, 2, 1, 0.5, 50.0, 2, 1, 1, 1, 0, 1, 2, 1, 1, 50.0),
        (DAY2, "(all)", 1, 1, 1, 1, 1.0, 80.0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 50.0),
        (DAY2, "ValdiAI", 1, 1, 1, 1, 1.0, 80.0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 50.0),
    ]


def test_moderation_labels_daily_for_all_providers(con: duckdb.DuckDBPyConnection) -> None:
    got = rows(
        con,
        """
        select day, category, label, items, jobs from rpt_moderation_labels_daily
        where provider = '(all)' order by day, category, label
    """,
    )
    assert got == [
        (DAY1, "blocked_reason", "ChildReference", 1, 1),
        (DAY1, "blocked_reason", "csam", 1, 1),
        (DAY1, "nsfw_level", "(none)", 1, 1),
        (DAY1, "nsfw_level", "pg", 1, 0),  # made by a job that cannot be told apart
        (DAY1, "nsfw_level", "r", 1, 1),
        # A0.jpeg in 101-a (by ja) and, served from the cache, in 202-c (by jc3)
        (DAY1, "nsfw_level", "x", 2, 2),
        (DAY1, "vlm_summary", "No_Child", 1, 1),
        (DAY1, "vlm_summary", "X", 2, 2),
    ]


def test_flagged_jobs_newest_first_with_per_output_scores(con: duckdb.DuckDBPyConnection) -> None:
    got = rows(
        con,
        """
        select job_id, workflow_id, user_id, step_type, provider, csam_scores_pct,
               csam_score_max_pct, prompt_classification, vlm_labels
        from rpt_flagged_jobs order by created_at desc, job_id
    """,
    )
    # jf and jc1 were classified with no flag set: '(none)', not NULL (NULL: not classified)
    assert got == [
        ("jf", "303-f", 303, "textToImage", "ValdiAI", [80.0, 10.0], 80.0, "(none)", None),
        ("jc1", "202-c", 202, "imageGen", "RunPods", [99.5], 99.5, "(none)", ["X"]),
        # exactly at the threshold is flagged; jb at 49.99 is not
        (
            "ja",
            "101-a",
            101,
            "textToImage",
            "ValdiAI",
            [0.0, 50.0],
            50.0,
            "sexual, young",
            ["X", "No_Child"],
        ),
    ]


def test_usage_daily(con: duckdb.DuckDBPyConnection) -> None:
    got = rows(
        con,
        """
        select day, workflows, succeeded, failed, expired, canceled, in_progress, finished,
               success_ratio, users, steps, jobs, buzz_debit, buzz_credit, buzz_net,
               latency_p50_seconds, latency_p95_seconds, queue_p50_seconds, queue_p95_seconds
        from rpt_usage_daily order by day
    """,
    )
    assert got[0][:15] == (DAY1, 4, 2, 1, 0, 0, 1, 3, 2 / 3, 2, 5, 6, 155, 60, 95)
    assert got[0][15:] == pytest.approx((120.0, 174.0, 10.0, 28.0))
    assert got[1][:15] == (DAY2, 2, 0, 0, 1, 1, 0, 2, 0.0, 2, 1, 1, 40, 40, 0)
    assert got[1][15:] == pytest.approx((309.5, 570.05, 1.0, 1.0))


def test_buzz_daily_nets_refunds_per_account_type(con: duckdb.DuckDBPyConnection) -> None:
    got = rows(
        con,
        """
        select day, account_type, transactions, workflows, buzz_debit, buzz_credit, buzz_net
        from rpt_buzz_daily order by day, account_type
    """,
    )
    assert got == [
        (DAY1, "blue", 1, 1, 25, 0, 25),
        (DAY1, "yellow", 4, 3, 130, 60, 70),
        (DAY2, "green", 2, 1, 40, 40, 0),
    ]


def test_workflows_by_status_and_step_types(con: duckdb.DuckDBPyConnection) -> None:
    got = rows(
        con,
        "select day, status, step_types, workflows from rpt_workflows_by_status_daily order by all",
    )
    assert got == [
        (DAY1, "failed", "textToImage", 1),
        (DAY1, "processing", "videoGen", 1),
        (DAY1, "succeeded", "imageGen+imageUpscaler", 1),
        (DAY1, "succeeded", "textToImage", 1),
        (DAY2, "canceled", "(no steps)", 1),
        (DAY2, "expired", "textToImage", 1),
    ]


def test_top_users_daily(con: duckdb.DuckDBPyConnection) -> None:
    got = rows(
        con,
        """
        select day, user_id, workflows, buzz_net, rank_by_workflows, rank_by_buzz_net
        from rpt_top_users_daily order by day, rank_by_workflows
    """,
    )
    assert got == [
        (DAY1, 101, 2, 60, 1, 1),
        (DAY1, 202, 1, 35, 2, 2),
        (DAY2, 202, 1, 0, 1, 1),  # a tie breaks on user_id
        (DAY2, 303, 1, 0, 2, 2),
    ]


def test_top_users_limit_is_a_parameter(tmp_path: Path) -> None:
    path = build_handmade_warehouse(tmp_path / "w.duckdb", params={"top_users": 1})
    with duckdb.connect(str(path), read_only=True) as con:
        assert rows(con, "select day, user_id from rpt_top_users_daily order by day") == [
            (DAY1, 101),
            (DAY2, 202),
        ]


def test_provider_reliability_and_step_types(con: duckdb.DuckDBPyConnection) -> None:
    assert rows(
        con,
        """
        select provider, jobs, succeeded, failed, failure_ratio from rpt_provider_reliability
        order by provider
    """,
    ) == [
        ("(unknown)", 2, 1, 0, 0.0),
        ("RunPods", 2, 2, 0, 0.0),
        ("ValdiAI", 3, 1, 2, 2 / 3),
    ]
    assert rows(
        con,
        """
        select step_type, steps, workflows, succeeded, failed, failure_ratio
        from rpt_step_type_performance order by step_type
    """,
    ) == [
        ("imageGen", 1, 1, 1, 0, 0.0),
        ("imageUpscaler", 1, 1, 1, 0, 0.0),
        ("textToImage", 3, 3, 1, 2, 2 / 3),
        ("videoGen", 1, 1, 0, 0, None),
    ]


def test_users_dimension_and_history(con: duckdb.DuckDBPyConnection) -> None:
    assert rows(
        con, "select user_id, workflows, active_days, buzz_net from dim_users order by 1"
    ) == [
        (101, 2, 1, 60),
        (202, 2, 2, 35),
        (303, 1, 1, 0),
    ]
    assert rows(
        con,
        """
        select day, workflows, jobs_flagged, workflows_to_date, buzz_net_to_date, jobs_flagged_to_date
        from rpt_user_history where user_id = 202 order by day
    """,
    ) == [(DAY1, 1, 1, 1, 35, 1), (DAY2, 1, 0, 2, 35, 1)]


def test_every_model_passes_its_checks(con: duckdb.DuckDBPyConnection) -> None:
    for model in discover_models():
        for name, check in checks_for(model).items():
            passed, details = check(con)
            assert passed, (model.name, name, details)
    assert check_flagged_jobs_over_threshold(con) == (
        True,
        {
            "table": "rpt_flagged_jobs",
            "threshold": 50.0,
            "below_threshold_rows": 0,
            "missing_flagged_jobs": 0,
            "sample": [],
        },
    )


def test_checks_catch_what_they_guard_against() -> None:
    con = duckdb.connect()
    con.execute("create table t (k integer, x_ratio double, y_pct double, z_pct double[])")
    con.execute(
        "insert into t values (1, 0.5, 50.0, [1.0, 100.0]), (1, 1.5, 99.0, [0.0]), "
        "(null, -0.1, 100.5, [3.0, 101.0]), (2, 0.0, null, null)"
    )
    ok, details = check_no_null_keys(con, "t", ["k"])
    assert not ok and details["null_key_rows"] == 1
    ok, details = check_unique_grain(con, "t", ["k"])
    assert (
        not ok and details["duplicated_keys"] == 1 and details["sample"] == [{"k": 1, "copies": 2}]
    )
    ok, details = check_ratios_in_unit_interval(con, "t")
    assert not ok and details["out_of_range_rows"] == 2 and details["columns"] == ["x_ratio"]
    # a percent of 1.5 is fine (it is not a ratio); 100.5 and a list item of 101 are not
    ok, details = check_percents_in_range(con, "t")
    assert not ok and details["out_of_range_rows"] == 1
    assert details["columns"] == ["y_pct", "z_pct"]
    ok, details = check_percents_in_range(con, "t", ["z_pct"])
    assert not ok and details["sample"] == [
        {"k": None, "x_ratio": -0.1, "y_pct": 100.5, "z_pct": "[3.0, 101.0]"}
    ]
    con.execute("delete from t where k is null")
    assert (
        check_percents_in_range(con, "t")[0]
        and check_ratios_in_unit_interval(con, "t")[1]["out_of_range_rows"] == 1
    )


def test_flagged_check_catches_a_job_below_or_missing(tmp_path: Path) -> None:
    path = build_handmade_warehouse(tmp_path / "w.duckdb")
    with duckdb.connect(str(path)) as con:
        # A lower threshold than the one built with: jb (49.99) is now missing from the list.
        ok, details = check_flagged_jobs_over_threshold(con, 40.0)
        assert not ok and details["missing_flagged_jobs"] == 1
        con.execute("insert into rpt_flagged_jobs (job_id, csam_score_max_pct) values ('zz', 3.0)")
        ok, details = check_flagged_jobs_over_threshold(con)
        assert not ok and details["below_threshold_rows"] == 1


def test_another_threshold_recomputes_reports_without_writing(warehouse: Path) -> None:
    before = warehouse.read_bytes()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        report = load_report(con, "flagged", threshold=60)
        assert report.csam_threshold == 60.0
        assert [r["job_id"] for r in report.sections[0].records()] == ["jf", "jc1"]
        moderation = load_report(con, "moderation", threshold=99.6, date_from=DAY1, date_to=DAY1)
        daily = moderation.sections[0].records()
        assert [(r["provider"], r["jobs_flagged"]) for r in daily] == [
            ("(all)", 0),
            ("(unknown)", 0),
            ("RunPods", 0),
            ("ValdiAI", 0),
        ]
        # Back to the published threshold on the same connection: no stale recomputed table.
        assert len(load_report(con, "flagged", threshold=50).sections[0].rows) == 3
        assert len(load_report(con, "flagged").sections[0].rows) == 3
    assert warehouse.read_bytes() == before


def test_date_range_filters_every_section(con: duckdb.DuckDBPyConnection) -> None:
    report = load_report(con, "usage", date_from=DAY2, date_to=date(2026, 11, 30))
    for section in report.sections:
        assert {r["day"] for r in section.records()} == {DAY2}, section.table


def test_the_warehouse_records_the_sql_each_table_was_built_from(
    con: duckdb.DuckDBPyConnection,
) -> None:
    recorded = {m.name: m for m in built_models(con)}
    for model in discover_models():
        assert recorded[model.name].sql == model.sql
        assert recorded[model.name].model_deps == model.model_deps
        assert recorded[model.name].params == model.params


def test_jobs_carry_the_workflows_reason_else_the_events(con: duckdb.DuckDBPyConnection) -> None:
    got = rows(
        con,
        "select job_id, reason, blocked_reason, is_blocked, enrichment_status from fct_jobs "
        "where job_id in ('ja', 'jb', 'jc3', 'jd', 'jf') order by job_id",
    )
    assert got == [
        ("ja", None, None, False, "enriched"),
        ("jb", "Blocked", "ChildReference", True, "enriched"),
        ("jc3", None, None, False, "not_found"),
        ("jd", None, None, False, "pending"),
        ("jf", "Timeout", None, False, "enriched"),
    ]


def test_the_core_jobs_view_says_why_a_prompt_flag_is_null() -> None:
    # NULL prompt flags mean "no classification"; enrichment_status and is_prompt_classified
    # tell a job not looked up, one the API no longer knows and one sent unclassified apart.
    day = DAY1
    lake_jobs = pa.Table.from_pylist(
        [{"job_id": j, "workflow_id": "w", "window_date": day} for j in ("j1", "j2", "j3", "j4")],
        schema=tables.SCHEMAS["jobs"],
    )
    lake_details = pa.Table.from_pylist(
        [
            {"job_id": "j1", "window_date": day, "found": True, "prompt_sexual": True,
             "prompt_young": False, "prompt_cr": False, "prompt_scan": False,
             "prompt_classification_json": '{"sexual":true}'},
            {"job_id": "j2", "window_date": day, "found": True},
            {"job_id": "j3", "window_date": day, "found": False, "is_final": True},
        ],
        schema=tables.SCHEMAS["job_details"],
    )  # fmt: skip
    con = duckdb.connect()
    con.execute("create schema lake")
    con.register("lake_jobs", lake_jobs)
    con.register("lake_details", lake_details)
    con.execute("create table lake.jobs as select * from lake_jobs")
    con.execute("create table lake.job_details as select * from lake_details")
    view = (SQL_DIR / CORE_LAYER / "jobs.sql").read_text(encoding="utf-8")
    got = con.execute(
        "select job_id, enrichment_status, is_prompt_classified, prompt_sexual, prompt_young "
        f"from ({view}) order by job_id"
    ).fetchall()
    assert got == [
        ("j1", "enriched", True, True, False),
        ("j2", "enriched", False, None, None),  # looked up, the API sent no classification
        ("j3", "not_found", False, None, None),
        ("j4", "pending", False, None, None),
    ]


def test_the_core_jobs_view_prefers_the_workflows_reason_to_the_events() -> None:
    # sql/core/jobs.sql over the lake tables with their real schemas.
    day = DAY1
    lake_jobs = pa.Table.from_pylist(
        [
            {"job_id": "j1", "workflow_id": "w", "window_date": day, "reason": "Blocked",
             "blocked_reason": "ChildReference"},
            {"job_id": "j2", "workflow_id": "w", "window_date": day},
            {"job_id": "j3", "workflow_id": "w", "window_date": day},
        ],
        schema=tables.SCHEMAS["jobs"],
    )  # fmt: skip
    lake_details = pa.Table.from_pylist(
        [
            {"job_id": "j1", "window_date": day, "reason": "GenerationFailed",
             "blocked_reason": "Other", "priority": 5.0, "service_providers": ["ValdiAI"]},
            {"job_id": "j2", "window_date": day, "reason": "Timeout",
             "blocked_reason": "Bestiality", "provider": "RunPods"},
        ],
        schema=tables.SCHEMAS["job_details"],
    )  # fmt: skip
    con = duckdb.connect()
    con.execute("create schema lake")
    con.register("lake_jobs", lake_jobs)
    con.register("lake_details", lake_details)
    con.execute("create table lake.jobs as select * from lake_jobs")
    con.execute("create table lake.job_details as select * from lake_details")
    view = (SQL_DIR / CORE_LAYER / "jobs.sql").read_text(encoding="utf-8")
    got = con.execute(
        "select job_id, reason, blocked_reason, provider, priority, service_providers "
        f"from ({view}) order by job_id"
    ).fetchall()
    assert got == [
        ("j1", "Blocked", "ChildReference", None, 5.0, ["ValdiAI"]),  # the workflow's word
        ("j2", "Timeout", "Bestiality", "RunPods", None, None),  # only the v1 event said why
        ("j3", None, None, None, None, None),  # not looked up yet
    ]


def test_failure_reasons_daily(con: duckdb.DuckDBPyConnection) -> None:
    got = rows(
        con,
        "select day, step_type, reason, jobs, failed, expired, blocked, workflows, users "
        "from rpt_failure_reasons_daily order by day, step_type, reason",
    )
    assert got == [
        (DAY1, "textToImage", "Blocked", 1, 1, 0, 1, 1, 1),
        (DAY2, "textToImage", "Timeout", 1, 0, 1, 0, 1, 1),
    ]


def test_moderation_verdicts_daily(con: duckdb.DuckDBPyConnection) -> None:
    got = rows(
        con,
        "select day, step_type, verdict, verdicts, blocked, minors, csam, steps, users, "
        "score_max_ratio from rpt_moderation_verdicts_daily order by day, step_type, verdict",
    )
    assert got == [
        (DAY1, "mediaRating", "ChildReference", 1, 1, 1, 0, 1, 1, None),
        (DAY1, "xGuardModeration", "minor", 1, 1, 0, 0, 1, 1, 0.91),
        (DAY1, "xGuardModeration", "violence", 1, 0, 0, 0, 1, 1, 0.12),
        (DAY2, "mediaRating", "(not blocked)", 1, 0, 0, 0, 1, 1, None),
    ]


def test_blocked_reasons_daily_by_source(con: duckdb.DuckDBPyConnection) -> None:
    got = rows(
        con,
        "select day, source, blocked_reason, items, workflows, users "
        "from rpt_blocked_reasons_daily order by day, source, blocked_reason",
    )
    assert got == [
        (DAY1, "job", "ChildReference", 1, 1, 1),
        (DAY1, "moderation_step", "(no reason)", 1, 1, 1),  # the xGuard label that fired
        (DAY1, "moderation_step", "ChildReference", 1, 1, 1),
        (DAY1, "output", "ChildReference", 1, 1, 1),  # the cached copy in 202-c
        (DAY1, "output", "csam", 1, 1, 1),
    ]


def test_reports_show_the_new_sections(con: duckdb.DuckDBPyConnection) -> None:
    usage = {s.table for s in load_report(con, "usage").sections}
    moderation = {s.table for s in load_report(con, "moderation").sections}
    assert "rpt_failure_reasons_daily" in usage
    assert {"rpt_moderation_verdicts_daily", "rpt_blocked_reasons_daily"} <= moderation


def test_a_probability_score_of_097_is_flagged_at_the_default_threshold(tmp_path: Path) -> None:
    # The v1 context gives the CSAM score as a bare 0-1 probability: 0.97 is 97 %.
    details = job_rows(
        {
            "job": {"type": "TextToImageV2"},
            "lastEvent": {"type": "Succeeded", "context": {"hive_csam_score": 0.97}},
        },
        job_id="jp",
        workflow_id="101-a",
        window_date=DAY1,
        fetched_at=datetime(2026, 11, 2, tzinfo=UTC),
    )
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:
        load_core_tables(con)
        insert(con, "jobs", [{"job_id": "jp", "workflow_id": "101-a", "step_name": "$0",
                              "window_date": DAY1, "status": "succeeded"}])  # fmt: skip
        insert(con, "job_details", [details.details])
        insert(con, "scan_scores", details.scan_scores)
        build_models(con)
        flagged = rows(con, "select job_id, csam_score_max_pct from rpt_flagged_jobs")
        threshold = rows(con, "select distinct csam_threshold_pct from rpt_flagged_jobs")
    finally:
        con.close()
    assert ("jp", pytest.approx(97.0)) in flagged
    assert threshold == [(DEFAULT_CSAM_THRESHOLD,)]
