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


def job_truth(synced: Synced) -> Iterator[tuple[date, str, str | None, list[float] | None]]:
    """(day, job id, provider, csam scores or None when not scanned) of every job."""
    for day, workflow in workflows(synced):
        for step in workflow.get("steps") or []:
            for job in step.get("jobs") or []:
                doc = synced.account.job(job["id"]) or {}
                event = doc.get("lastEvent") or {}
                context = event.get("context") or {}
                raw = context.get("hive_csam_score")
                yield (
                    day,
                    job["id"],
                    event.get("provider"),
                    (None if raw is None else csam_scores(raw)),
                )


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


def test_daily_success_rate(synced: Synced, con: duckdb.DuckDBPyConnection) -> None:
    truth = {}
    for day in synced.days:
        statuses = [w["status"].lower() for d, w in workflows(synced) if d == day]
        finished = sum(s in FINISHED for s in statuses)
        truth[day] = statuses.count("succeeded") / finished
    got = dict(con.execute("select day, success_rate from rpt_usage_daily").fetchall())
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
