"""Sync simulator data end to end, build every model, and check the report figures against
numbers worked out independently in Python from the simulator's ground truth."""

from __future__ import annotations

import shutil
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipeline.api.client import OrchestrationClient
from pipeline.core.errors import ModelBuildError
from pipeline.core.settings import Settings
from pipeline.reports.checks import check_flagged_jobs_over_threshold, checks_for
from pipeline.reports.report import load_report
from pipeline.runs.sync import sync_range
from pipeline.warehouse.models import SQL_DIR, discover_models
from pipeline.warehouse.publish import publish_warehouse
from simulator import SimulatedAccount, SimulatorConfig, SimulatorServer

FINISHED = ("succeeded", "failed", "expired", "canceled")
# Low enough that the simulator's scores flag a handful of jobs at this volume.
BUILD_THRESHOLD = 10.0


@dataclass
class Synced:
    settings: Settings
    account: SimulatedAccount
    days: list[date]


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    config = SimulatorConfig(seed=23, start=date(2026, 11, 1), days=2, workflows_per_day=90)
    data_dir = tmp_path_factory.mktemp("sim") / "data"
    with SimulatorServer(config) as server:
        settings = Settings(api_url=server.url, token=config.token, data_dir=data_dir)
        with OrchestrationClient(base_url=server.url, token=config.token) as client:
            results = sync_range(settings, client, server.account.days)
        assert [r.status for r in results] == ["complete", "complete"]
        publish_warehouse(settings, params={"csam_threshold": BUILD_THRESHOLD})
        yield Synced(settings, server.account, list(server.account.days))


@pytest.fixture()
def con(synced: Synced) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(synced.settings.warehouse_path), read_only=True)
    yield connection
    connection.close()


# --- ground truth, straight from the simulator's API documents -------------------------------


def workflows(synced: Synced) -> Iterator[tuple[date, dict[str, Any]]]:
    for day in synced.days:
        for workflow in synced.account.workflows(day):
            yield day, workflow


def csam_scores(value: Any) -> list[float]:
    """hive_csam_score as the API gives it ("0.00 %, 12.50 %", a number, or a list)."""
    if value is None:
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, list):
        return [s for item in value for s in csam_scores(item)]
    scores = []
    for part in str(value).split(","):
        text = part.strip().removesuffix("%").strip()
        try:
            scores.append(float(text))
        except ValueError:
            continue
    return scores


def planned_csam_scores(synced: Synced) -> dict[str, list[float]] | None:
    """hive_csam_score items per scanned job (0-100, "n/a" items left out), as the simulator
    planned them; None for a simulator without that record (it then only writes forms the
    document parser below reads the same way)."""
    scan_truth = getattr(synced.account, "scan_truth", None)
    if scan_truth is None:
        return None
    plan: dict[str, list[tuple[int, float | None]]] = defaultdict(list)
    for day in synced.days:
        for row in scan_truth(day):
            if row.score_name == "hive_csam_score":
                plan[row.job_id].append((row.item_index, row.score))
    return {job: [s for _, s in sorted(items) if s is not None] for job, items in plan.items()}


def job_truth(synced: Synced) -> Iterator[tuple[date, str, str | None, list[float] | None]]:
    """(day, job id, provider, csam scores or None when not scanned) of every job."""
    planned = planned_csam_scores(synced)
    for day, workflow in workflows(synced):
        for step in workflow.get("steps") or []:
            for job in step.get("jobs") or []:
                doc = synced.account.job(job["id"]) or {}
                event = doc.get("lastEvent") or {}
                context = event.get("context") or {}
                raw = context.get("hive_csam_score")
                if planned is not None:
                    scores = planned.get(job["id"])
                else:
                    scores = None if raw is None else csam_scores(raw)
                yield day, job["id"], event.get("provider"), scores


def flagged_truth(synced: Synced, threshold: float) -> set[str]:
    return {
        job_id for _, job_id, _, scores in job_truth(synced) if scores and max(scores) >= threshold
    }


# --- the comparisons --------------------------------------------------------------------------


def test_workflow_counts_by_status_per_day(synced: Synced, con: duckdb.DuckDBPyConnection) -> None:
    truth = Counter((day, w["status"].lower()) for day, w in workflows(synced))
    by_status = con.execute(
        "select day, status, sum(workflows) from rpt_workflows_by_status_daily group by all"
    ).fetchall()
    assert {(d, s): n for d, s, n in by_status} == dict(truth)
    usage = con.execute(
        "select day, succeeded, failed, expired, canceled, in_progress, workflows "
        "from rpt_usage_daily order by day"
    ).fetchall()
    expected = []
    for day in synced.days:
        counts = [truth[(day, s)] for s in FINISHED]
        total = sum(n for (d, _), n in truth.items() if d == day)
        expected.append((day, *counts, total - sum(counts), total))
    assert usage == expected


def test_daily_success_ratio(synced: Synced, con: duckdb.DuckDBPyConnection) -> None:
    truth = {}
    for day in synced.days:
        statuses = [w["status"].lower() for d, w in workflows(synced) if d == day]
        finished = sum(s in FINISHED for s in statuses)
        truth[day] = statuses.count("succeeded") / finished
    got = dict(con.execute("select day, success_ratio from rpt_usage_daily").fetchall())
    assert got == truth
    assert all(0 < rate < 1 for rate in got.values())  # the data has both outcomes


def test_net_buzz_per_account_type(synced: Synced, con: duckdb.DuckDBPyConnection) -> None:
    truth: dict[tuple[date, str], int] = defaultdict(int)
    for day, workflow in workflows(synced):
        for txn in (workflow.get("transactions") or {}).get("list") or []:
            sign = {"debit": 1, "credit": -1}[txn["type"]]
            truth[(day, txn["accountType"])] += sign * txn["amount"]
    got = con.execute("select day, account_type, buzz_net from rpt_buzz_daily").fetchall()
    assert {(d, a): n for d, a, n in got} == dict(truth)
    assert any(n < 0 for n in truth.values()) or any(
        t["type"] == "credit"
        for _, w in workflows(synced)
        for t in (w.get("transactions") or {}).get("list") or []
    )
    totals = dict(con.execute("select day, buzz_net from rpt_usage_daily").fetchall())
    assert totals == {d: sum(n for (dd, _), n in truth.items() if dd == d) for d in synced.days}


def test_flagged_job_ids_at_the_build_threshold(
    synced: Synced, con: duckdb.DuckDBPyConnection
) -> None:
    truth = flagged_truth(synced, BUILD_THRESHOLD)
    assert truth, "the simulator should produce jobs over the test threshold"
    got = {row[0] for row in con.execute("select job_id from rpt_flagged_jobs").fetchall()}
    assert got == truth
    assert check_flagged_jobs_over_threshold(con)[0]


@pytest.mark.parametrize("threshold", [0.5, 5.0, 50.0])
def test_flagged_job_ids_at_another_threshold(
    synced: Synced, con: duckdb.DuckDBPyConnection, threshold: float
) -> None:
    report = load_report(con, "flagged", threshold=threshold)
    records = report.sections[0].records()
    assert {r["job_id"] for r in records} == flagged_truth(synced, threshold)
    created = [r["created_at"] for r in records]
    assert created == sorted(created, reverse=True)


def test_scanned_and_flagged_per_day_and_provider(
    synced: Synced, con: duckdb.DuckDBPyConnection
) -> None:
    truth: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for day, _, provider, scores in job_truth(synced):
        for key in ((day, provider or "(unknown)"), (day, "(all)")):
            truth[key][0] += 1
            truth[key][1] += scores is not None
            truth[key][2] += bool(scores) and max(scores or [0]) >= BUILD_THRESHOLD
    got = con.execute(
        "select day, provider, jobs, jobs_scanned, jobs_flagged from rpt_moderation_daily "
        "where jobs > 0"
    ).fetchall()
    assert {(d, p): [j, s, f] for d, p, j, s, f in got} == dict(truth)


def test_latency_percentiles(synced: Synced, con: duckdb.DuckDBPyConnection) -> None:
    def parse(text: str) -> datetime:
        head, _, frac = text.rstrip("Z").partition(".")
        return datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}+00:00")

    def quantile(values: list[float], q: float) -> float:
        values = sorted(values)
        pos = (len(values) - 1) * q
        low = int(pos)
        high = min(low + 1, len(values) - 1)
        return values[low] + (values[high] - values[low]) * (pos - low)

    got = {
        row[0]: row[1:]
        for row in con.execute(
            "select day, latency_p50_seconds, latency_p95_seconds from rpt_usage_daily"
        ).fetchall()
    }
    for day in synced.days:
        latencies = [
            (parse(w["completedAt"]) - parse(w["createdAt"])).total_seconds()
            for d, w in workflows(synced)
            if d == day and w.get("completedAt")
        ]
        expected = (quantile(latencies, 0.5), quantile(latencies, 0.95))
        assert got[day] == pytest.approx(expected, abs=1e-6)


def test_every_model_passes_its_checks_on_synced_data(
    synced: Synced, con: duckdb.DuckDBPyConnection
) -> None:
    models = discover_models()
    assert con.execute("select count(*) from rpt_moderation_labels_daily").fetchone()[0] > 0
    for model in models:
        for name, check in checks_for(model).items():
            passed, details = check(con)
            assert passed, (model.name, name, details)


def test_a_broken_model_fails_the_publish_and_keeps_the_published_file(
    synced: Synced, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "sql"
    shutil.copytree(SQL_DIR, broken)
    fct_jobs = broken / "marts" / "fct_jobs.sql"
    fct_jobs.write_text(
        fct_jobs.read_text().replace("jobs.provider,", "jobs.providr,", 1), encoding="utf-8"
    )
    monkeypatch.setattr("pipeline.warehouse.models.SQL_DIR", broken)
    published = synced.settings.warehouse_path
    before = published.read_bytes()
    with pytest.raises(ModelBuildError) as info:
        publish_warehouse(synced.settings, params={"csam_threshold": BUILD_THRESHOLD})
    assert "sql/marts/fct_jobs.sql failed to build" in str(info.value)
    assert "providr" in str(info.value) and "Binder Error" in str(info.value)
    assert published.read_bytes() == before
    assert not list(published.parent.glob(".warehouse-*"))


# --- the lake against the simulator's own records (what the generator decided) ----------------


def truth_of(synced: Synced, name: str) -> list[Any]:
    """Rows of one of the simulator's ground-truth records for every synced day."""
    records = getattr(synced.account, name, None)
    if records is None:
        pytest.skip(f"this simulator keeps no {name} record")
    return [row for day in synced.days for row in records(day)]


def test_blobs_at_any_depth_match_where_the_simulator_put_them(
    synced: Synced, con: duckdb.DuckDBPyConnection
) -> None:
    truth: dict[tuple[str, str], Any] = {}
    for row in truth_of(synced, "blob_truth"):
        truth.setdefault((row.workflow_id, row.blob_id), row)
    got = {
        (r[0], r[1]): r[2:]
        for r in con.execute(
            "select workflow_id, blob_id, step_name, json_path, blob_type, available, "
            "nsfw_level, blocked_reason, width, height, job_id from stg_blobs"
        ).fetchall()
    }
    assert set(got) == set(truth)
    step_jobs = {
        (w["id"], s["name"]): [j["id"] for j in s.get("jobs") or []]
        for _, w in workflows(synced)
        for s in w.get("steps") or []
    }
    for key, row in truth.items():
        step, path, blob_type, available, nsfw, blocked, width, height, job_id = got[key]
        assert (step, path) == (row.step_name, row.json_path), key
        assert blob_type == (row.served_type and row.served_type.lower()), key
        assert (available, width, height) == (row.available, row.width, row.height), key
        assert nsfw == (row.nsfw_level and row.nsfw_level.lower()), key
        assert blocked == row.blocked_reason, key
        if row.legacy:
            # Served without jobId: the lake names the step's job when it ran exactly one
            # (for a cached result that is the job that served it here), else none.
            jobs = step_jobs[(row.workflow_id, row.step_name)]
            assert job_id == (jobs[0] if len(jobs) == 1 else None), key
        else:
            assert job_id == row.job_id, key


def test_moderation_verdicts_match_the_simulators(
    synced: Synced, con: duckdb.DuckDBPyConnection
) -> None:
    truth = truth_of(synced, "verdict_truth")
    assert truth, "the simulator should run moderation steps at this volume"
    got = {
        (r[0], r[1], r[2]): r[3:]
        for r in con.execute(
            "select workflow_id, step_name, verdict_index, step_type, is_blocked, "
            "blocked_reason, nsfw_level, category, has_minor, score_ratio "
            "from stg_moderation_verdicts"
        ).fetchall()
    }
    # ageClassification: the simulator records one verdict per step (hasMinor); the lake has
    # one per detection, so the step's verdict is whether any detection is a minor.
    age_steps: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for key, row in got.items():
        if row[0] == "ageClassification":
            age_steps[key[:2]].append(row[5])
    for v in truth:
        if v.step_type == "ageClassification":
            minors = age_steps[(v.workflow_id, v.step_name)]
            assert minors and any(m is True for m in minors) == bool(v.has_minor), v
            continue
        row = got[(v.workflow_id, v.step_name, v.verdict_index)]
        step_type, blocked, reason, nsfw, category, minor, score = row
        assert (step_type, blocked, reason, category, minor) == (
            v.step_type,
            v.is_blocked,
            v.blocked_reason,
            v.category,
            v.has_minor,
        ), v
        assert nsfw == (v.nsfw_level and v.nsfw_level.lower()), v
        assert score == (None if v.score is None else pytest.approx(v.score)), v
    expected_rows = {(v.workflow_id, v.step_name, v.verdict_index) for v in truth
                     if v.step_type != "ageClassification"}  # fmt: skip
    assert expected_rows <= set(got)


def test_scan_scores_on_the_0_100_scale_match_the_simulators_plan(
    synced: Synced, con: duckdb.DuckDBPyConnection
) -> None:
    truth = truth_of(synced, "scan_truth")
    forms = Counter(row.form for row in truth)
    got = {
        (r[0], r[1], r[2]): r[3]
        for r in con.execute(
            "select job_id, score_name, item_index, score_pct from stg_scan_scores"
        ).fetchall()
    }
    for row in truth:
        key = (row.job_id, row.score_name, row.item_index)
        assert key in got, row
        expected = None if row.score is None else pytest.approx(row.score, abs=1e-6)
        assert got[key] == expected, (row, got[key])
    assert len(forms) > 1, forms  # more than one written form was read


def test_job_reasons_and_priority_match_the_simulators(
    synced: Synced, con: duckdb.DuckDBPyConnection
) -> None:
    truth = [row for row in truth_of(synced, "job_truth") if row.served]
    got = {
        r[0]: r[1:]
        for r in con.execute(
            "select job_id, reason, blocked_reason, priority from fct_jobs "
            "where enrichment_status = 'enriched'"
        ).fetchall()
    }
    for row in truth:
        assert got[row.job_id] == (row.reason, row.blocked_reason, row.priority), row
    assert any(row.reason for row in truth)


def test_every_column_holding_a_null_says_what_null_means(con: duckdb.DuckDBPyConnection) -> None:
    # Real synced data: wherever a NULL turns up, the column's comment must say what it means.
    columns = con.execute(
        "select schema_name, table_name, column_name, comment from duckdb_columns() "
        "where not internal and not starts_with(table_name, '_') "
        "order by schema_name, table_name, column_index"
    ).fetchall()
    assert len(columns) > 500 and all(comment for *_, comment in columns)
    unexplained = []
    holding_null = 0
    for schema, table, column, comment in columns:
        (nulls,) = con.execute(
            f'select count(*) from "{schema}"."{table}" where "{column}" is null'
        ).fetchone() or (0,)
        if nulls:
            holding_null += 1
            if "NULL" not in comment:
                unexplained.append(f"{schema}.{table}.{column}")
    assert holding_null > 100  # the check looked at many columns that do hold NULLs
    assert not unexplained, f"NULL without a meaning in: {', '.join(unexplained)}"
