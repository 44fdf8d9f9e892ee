"""Job enrichment against the simulator on 127.0.0.1, checked against its ground truth.

The expected scores are parsed here from `SimulatedAccount.job(id)` with a few lines of plain
Python, never with `pipeline.enrich.scan_scores`.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from pipeline.api.client import OrchestrationClient
from pipeline.cli.app import cli
from pipeline.core.errors import AuthenticationError
from pipeline.core.settings import Settings
from pipeline.enrich.archive import ARCHIVE_NAME, iter_archive
from pipeline.enrich.archive import archive_dir as job_archive_dir
from pipeline.fetch import archive
from pipeline.flatten import schemas
from pipeline.lake.ledger import Ledger
from pipeline.lake.store import Lake
from pipeline.runs.enrich import EnrichResult, enrich_window, job_client, rebuild_enrichment
from pipeline.runs.sync import sync_range, sync_window
from simulator import Faults, SimulatorConfig, SimulatorServer

TOKEN = "sim-secret-7f3c9a1e-enrich"
THRESHOLD = 50.0
FINAL_TYPES = {"Succeeded", "Failed", "Expired", "Deleted", "Canceled"}


# --------------------------------------------------------------------------- ground truth


def truth_max(value: Any) -> float | None:
    """Highest hive_csam_score of one context value, parsed the simplest possible way."""
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, list):
        items = value
    else:
        items = [value]
    numbers = []
    for item in items:
        with contextlib.suppress(ValueError):  # "n/a": no score
            numbers.append(float(str(item).replace("%", "").strip()))
    return max(numbers) if numbers else None


def window_job_ids(server: SimulatorServer, day: date) -> set[str]:
    return {
        job["id"]
        for wf in server.account.workflows(day)
        for step in wf.get("steps") or []
        for job in step.get("jobs") or []
    }


def truth_flagged(
    server: SimulatorServer, days: list[date], threshold: float = THRESHOLD
) -> dict[str, float]:
    """job id -> highest hive_csam_score, for jobs at or above the threshold: as the simulator
    planned the scores (0-100) when it keeps that record, else parsed from its documents."""
    scan_truth = getattr(server.account, "scan_truth", None)
    if scan_truth is not None:
        best: dict[str, float] = {}
        for day in days:
            for row in scan_truth(day):
                if row.score_name == "hive_csam_score" and row.score is not None:
                    best[row.job_id] = max(best.get(row.job_id, row.score), row.score)
        return {job_id: top for job_id, top in best.items() if top >= threshold}
    flagged = {}
    for day in days:
        for job_id in window_job_ids(server, day):
            doc = server.account.job(job_id)
            context = ((doc or {}).get("lastEvent") or {}).get("context") or {}
            top = truth_max(context["hive_csam_score"]) if "hive_csam_score" in context else None
            if top is not None and top >= threshold:
                flagged[job_id] = top
    return flagged


# --------------------------------------------------------------------------- lake reads


def read_all(settings: Settings, table: str, days: list[date]) -> list[dict[str, Any]]:
    return Lake.from_settings(settings).read(table, days).to_pylist()


def lake_flagged(
    settings: Settings, days: list[date], threshold: float = THRESHOLD
) -> dict[str, float]:
    return {
        row["job_id"]: row["csam_score_max_pct"]
        for row in read_all(settings, "job_details", days)
        if row["csam_score_max_pct"] is not None and row["csam_score_max_pct"] >= threshold
    }


def scan_flagged(settings: Settings, days: list[date]) -> dict[str, float]:
    """The same set computed from the long scan_scores rows instead of job_details."""
    best: dict[str, float] = {}
    for row in read_all(settings, "scan_scores", days):
        if row["score_name"] == "hive_csam_score" and row["score"] is not None:
            best[row["job_id"]] = max(best.get(row["job_id"], row["score"]), row["score"])
    return {job_id: score for job_id, score in best.items() if score >= THRESHOLD}


def files_containing(root: Path, secret: bytes) -> list[str]:
    """Every file under `root` whose bytes, decompressed bytes or Parquet values hold `secret`."""
    hits = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.suffix == ".gz":
            data += gzip.decompress(data)
        if path.suffix == ".zst":
            data += archive.read_page(path)
        if path.suffix == ".parquet":
            data += repr(pq.read_table(path).to_pylist()).encode()
        if secret in data:
            hits.append(str(path))
    return hits


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


# --------------------------------------------------------------------------- the 3-day scenario


@dataclass
class Scenario:
    server: SimulatorServer
    settings: Settings
    days: list[date]
    first: list[EnrichResult] = field(default_factory=list)
    second: list[EnrichResult] = field(default_factory=list)
    third: list[EnrichResult] = field(default_factory=list)
    flagged_truth_before: dict[str, float] = field(default_factory=dict)
    flagged_lake_before: dict[str, float] = field(default_factory=dict)
    flagged_scan_before: dict[str, float] = field(default_factory=dict)
    details_before: list[dict[str, Any]] = field(default_factory=list)
    not_final_before: set[str] = field(default_factory=set)
    # Jobs that only appear once their running workflow finishes (later steps, retries).
    new_after_advance: set[str] = field(default_factory=set)
    faults_served: dict[str, int] = field(default_factory=dict)
    job_requests_second: int = 0
    job_requests_third: int = 0
    log_lines: list[str] = field(default_factory=list)


def _sync_and_enrich(
    scenario: Scenario,
    client: OrchestrationClient,
    jobs_client: Any,
    into: list[EnrichResult],
    flip_retry_after: bool = False,
) -> None:
    """sync_range with the pipeline's enrichment seam; between windows the 429s switch between
    carrying `Retry-After: 0` and no Retry-After at all."""

    def enricher(settings: Settings, day: date) -> None:
        into.append(enrich_window(settings, day, client=jobs_client))
        if flip_retry_after:
            faults = scenario.server.faults
            faults.retry_after = None if faults.retry_after is not None else "0"

    results = sync_range(scenario.settings, client, scenario.days, enricher=enricher)
    assert [r.status for r in results] == ["complete"] * len(scenario.days)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    config = SimulatorConfig(
        # A seed with flagged jobs, 404s, running jobs and several context value forms.
        seed=46,
        days=3,
        workflows_per_day=40,
        token=TOKEN,
        running_share=0.15,
        faults=Faults(rate_429=0.10, retry_after="0", rate_5xx=0.05),
    )
    capture = _Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        with SimulatorServer(config) as server:
            settings = Settings(
                api_url=server.url, token=TOKEN, data_dir=tmp_path_factory.mktemp("enrich") / "data"
            )
            sc = Scenario(server=server, settings=settings, days=list(server.account.days))
            with (
                OrchestrationClient(base_url=server.url, token=TOKEN) as client,
                job_client(settings, concurrency=8, rate=400) as jobs_client,
            ):
                # Run 1: everything new, under 429s and 5xx.
                _sync_and_enrich(sc, client, jobs_client, sc.first, flip_retry_after=True)
                sc.faults_served = {
                    "429": server.stats.status_429,
                    "5xx": server.stats.status_5xx,
                }
                sc.flagged_truth_before = truth_flagged(server, sc.days)
                sc.flagged_lake_before = lake_flagged(settings, sc.days)
                sc.flagged_scan_before = scan_flagged(settings, sc.days)
                sc.details_before = read_all(settings, "job_details", sc.days)
                sc.not_final_before = {r["job_id"] for r in sc.details_before if not r["is_final"]}

                # Run 2: the running workflows finish; no faults, so requests can be counted.
                server.faults.rate_429 = server.faults.rate_5xx = 0
                jobs_before = {j for day in sc.days for j in window_job_ids(server, day)}
                server.account.advance()
                sc.new_after_advance = {
                    j for day in sc.days for j in window_job_ids(server, day)
                } - jobs_before
                before = server.stats.requests["jobs.get"]
                _sync_and_enrich(sc, client, jobs_client, sc.second)
                sc.job_requests_second = server.stats.requests["jobs.get"] - before

                # Run 3: everything is final now, so not one job is asked for.
                before = server.stats.requests["jobs.get"]
                _sync_and_enrich(sc, client, jobs_client, sc.third)
                sc.job_requests_third = server.stats.requests["jobs.get"] - before
            sc.log_lines = capture.lines
            yield sc
    finally:
        root.removeHandler(capture)
        root.setLevel(old_level)


def test_faults_were_really_served(scenario: Scenario) -> None:
    # Without these the run below proves nothing about politeness under pressure.
    assert scenario.faults_served["429"] > 0
    assert scenario.faults_served["5xx"] > 0
    assert sum(r.rate_limited for r in scenario.first) > 0


def test_every_job_enriched_despite_faults(scenario: Scenario) -> None:
    assert sum(r.failed for r in scenario.first) == 0
    for day in scenario.days:
        expected = window_job_ids(scenario.server, day)
        rows = read_all(scenario.settings, "job_details", [day])
        assert {r["job_id"] for r in rows} == expected
        # found=false exactly for the jobs the API answers 404 for
        missing = {j for j in expected if scenario.server.account.job(j) is None}
        assert {r["job_id"] for r in rows if not r["found"]} == missing


def test_flagged_jobs_match_ground_truth(scenario: Scenario) -> None:
    assert scenario.flagged_truth_before, "the seed must produce flagged jobs"
    assert scenario.flagged_lake_before == scenario.flagged_truth_before
    assert scenario.flagged_scan_before == scenario.flagged_truth_before


def test_every_score_maximum_matches_ground_truth(scenario: Scenario) -> None:
    # Threshold -inf: every job with a readable score, not only the few flagged ones.
    truth = truth_flagged(scenario.server, scenario.days, threshold=float("-inf"))
    assert len(truth) > 50
    assert lake_flagged(scenario.settings, scenario.days, threshold=float("-inf")) == truth


def test_flagged_jobs_match_ground_truth_after_advance(scenario: Scenario) -> None:
    truth = truth_flagged(scenario.server, scenario.days)
    assert lake_flagged(scenario.settings, scenario.days) == truth
    assert scan_flagged(scenario.settings, scenario.days) == truth


def test_second_run_looks_up_only_jobs_not_final_before(scenario: Scenario) -> None:
    assert scenario.not_final_before, "the seed must leave running jobs"
    expected = scenario.not_final_before | scenario.new_after_advance
    assert scenario.job_requests_second == len(expected)
    assert sum(r.looked_up for r in scenario.second) == len(expected)
    total = sum(r.jobs for r in scenario.second)
    assert sum(r.skipped for r in scenario.second) == total - len(expected)
    details = read_all(scenario.settings, "job_details", scenario.days)
    assert all(r["is_final"] for r in details)
    # Jobs that were final before kept their rows untouched (same fetch time).
    before = {r["job_id"]: r for r in scenario.details_before}
    for row in details:
        if row["job_id"] not in expected:
            assert row == before[row["job_id"]]


def test_third_run_asks_for_nothing(scenario: Scenario) -> None:
    assert scenario.job_requests_third == 0
    assert sum(r.looked_up for r in scenario.third) == 0


def test_ledger_counts(scenario: Scenario) -> None:
    ledger = Ledger(Lake.from_settings(scenario.settings))
    for day in scenario.days:
        row = ledger.get(day)
        assert row is not None
        details = read_all(scenario.settings, "job_details", [day])
        assert row.jobs_enriched == sum(1 for r in details if r["found"])
        assert row.jobs_not_found == sum(1 for r in details if not r["found"])
        assert row.jobs_enrich_failed == 0


def test_archive_holds_one_answer_per_job(scenario: Scenario) -> None:
    for day in scenario.days:
        lines = list(iter_archive(job_archive_dir(scenario.settings.raw_dir, day) / ARCHIVE_NAME))
        details = read_all(scenario.settings, "job_details", [day])
        assert sorted(line["job_id"] for line in lines) == sorted(r["job_id"] for r in details)
        assert not list(job_archive_dir(scenario.settings.raw_dir, day).glob(".attempt-*"))


def test_token_never_written_logged_or_returned(scenario: Scenario) -> None:
    secret = TOKEN.encode()
    assert files_containing(scenario.settings.data_dir, secret) == []
    assert scenario.log_lines, "logging must have been captured"
    assert not [line for line in scenario.log_lines if TOKEN in line]
    results = scenario.first + scenario.second + scenario.third
    assert TOKEN not in repr(results)


def test_the_token_check_can_fail(tmp_path: Path) -> None:
    # The grep above must see through gzip, zstd and Parquet, or it would prove nothing.
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(TOKEN.encode()))
    # A page-sized body, so that zstd entropy-codes its text instead of storing it as is.
    items = [{"id": f"wf-{n}", "note": TOKEN if n == 500 else ""} for n in range(1000)]
    page = archive.write_page(tmp_path, 1, json.dumps({"items": items}).encode())
    assert TOKEN.encode() not in page.read_bytes()
    assert sorted(files_containing(tmp_path, TOKEN.encode())) == [
        str(tmp_path / "a.jsonl.gz"),
        str(page),
    ]


# --------------------------------------------------------------------------- failures, rebuild


@pytest.fixture
def one_day(make_simulator: Any, tmp_path: Path) -> tuple[SimulatorServer, Settings, date]:
    server = make_simulator(seed=5, days=1, workflows_per_day=30, token=TOKEN, running_share=0.1)
    settings = Settings(api_url=server.url, token=TOKEN, data_dir=tmp_path / "data")
    day = server.account.days[0]
    with OrchestrationClient(base_url=server.url, token=TOKEN) as client:
        sync_window(settings, client, day)
    return server, settings, day


def _enrich_with(settings: Settings, day: date, **client_kwargs: Any) -> EnrichResult:
    with job_client(settings, concurrency=4, rate=1000, **client_kwargs) as client:
        return enrich_window(settings, day, client=client)


def test_failed_lookups_are_retried_next_run(
    one_day: tuple[SimulatorServer, Settings, date],
) -> None:
    server, settings, day = one_day
    jobs = window_job_ids(server, day)
    server.faults.update({"rate_5xx": 0.5, "routes": ["jobs.get"]})
    first = _enrich_with(settings, day, max_retries=0)
    assert 0 < first.failed < len(jobs)
    # What succeeded is published; the failed jobs have no row yet.
    rows = read_all(settings, "job_details", [day])
    assert len(rows) == first.looked_up - first.failed
    assert Ledger(Lake.from_settings(settings)).get(day).jobs_enrich_failed == first.failed  # type: ignore[union-attr]
    not_final = {r["job_id"] for r in rows if not r["is_final"]}

    server.faults.update({"rate_5xx": 0})
    before = server.stats.requests["jobs.get"]
    second = _enrich_with(settings, day)
    assert second.failed == 0
    assert server.stats.requests["jobs.get"] - before == first.failed + len(not_final)
    assert {r["job_id"] for r in read_all(settings, "job_details", [day])} == jobs


def _row_key(row: dict[str, Any]) -> tuple[str, str, int]:
    return (row["job_id"], row.get("score_name") or "", row.get("item_index") or 0)


def test_rebuild_from_archive_matches_the_lake(
    one_day: tuple[SimulatorServer, Settings, date],
) -> None:
    _server, settings, day = one_day
    _enrich_with(settings, day)
    tables = ("job_details", "scan_scores")
    before = {t: read_all(settings, t, [day]) for t in tables}
    for table in tables:
        Lake.from_settings(settings).drop_window(table, day)
        assert not read_all(settings, table, [day])
    rebuild_enrichment(settings, day)
    for table in tables:
        after = read_all(settings, table, [day])
        assert sorted(after, key=_row_key) == sorted(before[table], key=_row_key)
    assert before["scan_scores"], "the window must have scan scores to compare"


def test_bad_token_fails_fast_and_publishes_nothing(
    one_day: tuple[SimulatorServer, Settings, date],
) -> None:
    server, settings, day = one_day
    bad = Settings(api_url=server.url, token="not-the-token", data_dir=settings.data_dir)
    with pytest.raises(AuthenticationError) as info:
        _enrich_with(bad, day)
    assert "not-the-token" not in str(info.value)
    assert not Lake.from_settings(settings).window_files("job_details", day)
    assert not list(job_archive_dir(settings.raw_dir, day).glob("*"))


def test_window_without_jobs_partition_is_a_no_op(tmp_path: Path) -> None:
    settings = Settings(api_url="http://127.0.0.1:9", token=TOKEN, data_dir=tmp_path)
    with job_client(settings) as client:
        result = enrich_window(settings, date(2026, 1, 1), client=client)
    assert (result.jobs, result.looked_up) == (0, 0)
    assert not Lake.from_settings(settings).exists("job_details")


def test_status_shows_enrichment_coverage(scenario: Scenario) -> None:
    env = {"CIVITAI_SYNC_DATA_DIR": str(scenario.settings.data_dir), "COLUMNS": "200"}
    output = CliRunner().invoke(cli, ["status"], env=env).output
    ledger = Ledger(Lake.from_settings(scenario.settings))
    for day in scenario.days:
        row = ledger.get(day)
        assert row is not None
        assert f"{row.jobs_enriched}/{row.jobs}" in output


def test_unreachable_api_counts_failures_and_still_publishes(tmp_path: Path) -> None:
    settings = Settings(api_url="http://127.0.0.1:9", token=TOKEN, data_dir=tmp_path)
    day = date(2026, 1, 1)
    rows = [{"job_id": f"job-{i}", "workflow_id": "wf", "window_date": day} for i in range(3)]
    Lake.from_settings(settings).replace_window(
        "jobs", day, pa.Table.from_pylist(rows, schema=schemas.JOBS)
    )
    result = _enrich_with(settings, day, max_retries=0)
    assert (result.looked_up, result.failed, result.enriched) == (3, 3, 0)
    # An empty, typed partition: "looked, nothing yet" differs from "never enriched".
    assert Lake.from_settings(settings).read("job_details", [day]).num_rows == 0
    assert Ledger(Lake.from_settings(settings)).get(day).jobs_enrich_failed == 3  # type: ignore[union-attr]
