"""`civitai-sync report html`: the page as a real browser (headless Chromium) opens it.

Each page is loaded from a file:// URL over the DevTools protocol, which records every request
the page makes, every console message and error; the figures the page shows are read from the
DOM and compared with the report tables queried directly from the warehouse file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
from click.testing import CliRunner

from assets.html_report import html_report
from assets.resources import DataDirResource
from pipeline.api.client import OrchestrationClient
from pipeline.cli.app import cli
from pipeline.core.settings import Settings
from pipeline.reports.html import write_html_report
from pipeline.reports.html.data import resolve_range
from pipeline.runs.sync import sync_range
from pipeline.warehouse.models import build_models
from pipeline.warehouse.publish import publish_warehouse
from simulator import SimulatorConfig, SimulatorServer
from tests.support.chromium import Chromium, PageLoad, find_chromium
from tests.support.core_tables import create_core_tables, insert
from tests.support.handmade_warehouse import DAY1, DAY2, build_handmade_warehouse, load_core_tables

# The first test may have to install Chromium with apt-get.
pytestmark = pytest.mark.timeout(1200)

CHART_NAMES = {
    "flagged_per_day",
    "csam_score_histogram",
    "vlm_labels",
    "prompt_classification",
    "blocked_reasons",
    "nsfw_levels",
    "workflows_by_status",
    "buzz_by_account",
    "latency",
    "step_types",
    "top_users",
}
USAGE_METRICS = (
    "workflows",
    "succeeded",
    "failed",
    "success_rate",
    "users",
    "buzz_net",
    "latency_p50_seconds",
    "latency_p95_seconds",
    "queue_p50_seconds",
    "queue_p95_seconds",
)
MODERATION_METRICS = ("jobs_scanned", "jobs_flagged", "flag_rate", "outputs_blocked")
HOSTILE_LABEL = "<img src=x onerror=\"console.error('xss')\">"
HOSTILE_STEP = "<script>console.error('xss')</script>"

# -- browser ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium_binary() -> str:
    """Debian's chromium; installed with apt-get when missing and we are root."""
    found = find_chromium()
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(
            "Chromium is not installed and cannot be installed here (needs root and apt-get): "
            "run `apt-get install -y chromium` to enable the browser tests."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1100)
        if result.returncode != 0:
            pytest.skip(
                f"Chromium could not be installed: `{' '.join(command)}` failed: "
                f"{result.stderr.strip()[-400:]}"
            )
    found = find_chromium()
    if not found:
        pytest.skip("apt-get installed chromium but no chromium binary was found")
    return found


@pytest.fixture(scope="session")
def browser(chromium_binary: str) -> Iterator[Chromium]:
    with Chromium(chromium_binary) as chromium:
        yield chromium


def load(browser: Chromium, page: Path) -> PageLoad:
    return browser.load(page.resolve().as_uri())


def assert_offline_and_clean(loaded: PageLoad) -> None:
    """The page fetched nothing but itself (and data: URIs) and logged no error."""
    others = [u for u in loaded.requests if u != loaded.url and not u.startswith("data:")]
    assert others == []
    assert loaded.url in loaded.requests
    assert loaded.errors == []


def charts(browser: Chromium, loaded: PageLoad) -> dict[str, int]:
    """Each chart's name and how many SVG elements it holds."""
    pairs = browser.evaluate(
        loaded.session_id,
        "[...document.querySelectorAll('svg[data-chart]')]"
        ".map(s => [s.dataset.chart, s.querySelectorAll('*').length])",
    )
    return dict(pairs)


def shown_figures(browser: Chromium, loaded: PageLoad, day: date) -> dict[str, dict[str, str]]:
    """The daily table's cells of `day`: metric -> {value: data-value, text: what is shown}."""
    cells = browser.evaluate(
        loaded.session_id,
        f"[...document.querySelectorAll('td[data-metric][data-day=\"{day.isoformat()}\"]')]"
        ".map(td => [td.dataset.metric, td.dataset.value, td.textContent])",
    )
    return {metric: {"value": value, "text": text} for metric, value, text in cells}


def sql_row(warehouse: Path, table: str, day: date, where: str = "true") -> dict[str, Any]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute(f"select * from {table} where day = ? and {where}", [day])
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    assert len(rows) == 1, (table, day, rows)
    return dict(zip(columns, rows[0], strict=True))


def assert_figures_match(shown: dict[str, dict[str, str]], usage: dict, moderation: dict) -> None:
    expected = {
        **{m: usage[m] for m in USAGE_METRICS},
        **{m: moderation[m] for m in MODERATION_METRICS},
    }
    assert set(shown) == set(expected)
    for metric, value in expected.items():
        cell = shown[metric]
        if value is None:
            assert cell["value"] == "" and cell["text"] == "\u2013", metric
        elif isinstance(value, float):
            assert float(cell["value"]) == value, metric
            if metric.endswith("_rate"):
                assert cell["text"] == f"{value:.1%}", metric
            else:
                assert cell["text"] == f"{value:,.1f}", metric
        else:
            assert int(cell["value"]) == value, metric
            assert cell["text"] == f"{value:,}", metric


# -- warehouses ---------------------------------------------------------------------------------


def handmade_with_hostile_labels(path: Path) -> Path:
    """The hand-made warehouse plus a VLM label and a step type that are HTML."""
    con = duckdb.connect(str(path))
    try:
        load_core_tables(con)
        insert(
            con,
            "scan_scores",
            [
                {
                    "job_id": "jc1",
                    "workflow_id": "202-c",
                    "window_date": DAY1,
                    "score_name": "hive_vlm_summary",
                    "item_index": 1,
                    "label": HOSTILE_LABEL,
                    "value_text": HOSTILE_LABEL,
                },
            ],
        )
        con.execute(
            "update steps set step_type = ? where workflow_id = '202-c' and step_name = '$0'",
            [HOSTILE_STEP],
        )
        build_models(con)
    finally:
        con.close()
    return path


@pytest.fixture(scope="module")
def handmade(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir = tmp_path_factory.mktemp("handmade")
    handmade_with_hostile_labels(data_dir / "warehouse.duckdb")
    return Settings(data_dir=data_dir)


@pytest.fixture(scope="module")
def handmade_page(handmade: Settings) -> Path:
    return write_html_report(handmade, days=None, out=handmade.data_dir / "report.html")


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Three days synced from the simulator through the real sync and warehouse publish."""
    data_dir = tmp_path_factory.mktemp("simulated")
    config = SimulatorConfig(seed=11, start=date(2026, 11, 1), days=3, workflows_per_day=120)
    with SimulatorServer(config) as server:
        settings = Settings(api_url=server.url, token=config.token, data_dir=data_dir)
        with OrchestrationClient(base_url=server.url, token=config.token) as client:
            results = sync_range(settings, client, server.account.days, enrich=True)
    assert [r.status for r in results] == ["complete"] * 3
    publish_warehouse(settings)
    return Settings(data_dir=data_dir)


# -- the page in a browser ----------------------------------------------------------------------


def test_handmade_page_is_offline_and_every_chart_is_drawn(
    browser: Chromium, handmade_page: Path
) -> None:
    loaded = load(browser, handmade_page)
    assert_offline_and_clean(loaded)
    drawn = charts(browser, loaded)
    assert set(drawn) == CHART_NAMES
    assert all(count > 20 for count in drawn.values()), drawn
    assert loaded.load_ms is not None and loaded.load_ms > 0


def test_hostile_labels_are_shown_as_text_never_run(browser: Chromium, handmade_page: Path) -> None:
    loaded = load(browser, handmade_page)
    assert_offline_and_clean(loaded)  # an <img src=x> would have been requested
    found = browser.evaluate(
        loaded.session_id,
        "({img: document.querySelectorAll('img').length,"
        " script: document.querySelectorAll('script').length,"
        " text: document.body.textContent})",
    )
    assert found["img"] == 0 and found["script"] == 0
    assert HOSTILE_STEP in found["text"]  # the flagged job's step type, as text
    svg_text = browser.evaluate(
        loaded.session_id,
        "document.querySelector('svg[data-chart=\"vlm_labels\"]').textContent",
    )
    assert HOSTILE_LABEL[:20] in svg_text


def test_handmade_daily_figures_are_the_sql_reports_figures(
    browser: Chromium, handmade: Settings, handmade_page: Path
) -> None:
    loaded = load(browser, handmade_page)
    warehouse = handmade.warehouse_path
    for day in (DAY1, DAY2):
        assert_figures_match(
            shown_figures(browser, loaded, day),
            sql_row(warehouse, "rpt_usage_daily", day),
            sql_row(warehouse, "rpt_moderation_daily", day, "provider = '(all)'"),
        )
    # Paper figures of the hand-made day 1, so a wrong column read by both sides still fails.
    shown = shown_figures(browser, loaded, DAY1)
    assert {
        m: shown[m]["text"] for m in ("workflows", "jobs_flagged", "buzz_net", "flag_rate")
    } == {
        "workflows": "4",
        "jobs_flagged": "2",
        "buzz_net": "95",
        "flag_rate": "66.7%",
    }


def test_header_says_which_days_which_data_dir_and_when_published(
    browser: Chromium, handmade: Settings, handmade_page: Path
) -> None:
    loaded = load(browser, handmade_page)
    meta = dict(
        browser.evaluate(
            loaded.session_id,
            "[...document.querySelectorAll('dd[data-meta]')].map(d => [d.dataset.meta, d.textContent])",
        )
    )
    assert meta["days"] == "2026-11-01 to 2026-11-02 (2 days, UTC)"
    assert meta["data_dir"] == str(handmade.data_dir.resolve())
    mtime = datetime.fromtimestamp(handmade.warehouse_path.stat().st_mtime, UTC)
    assert meta["published_at"] == f"{mtime:%Y-%m-%d %H:%M:%S} UTC (file modification time)"
    assert meta["csam_threshold"].startswith("50 %")


def test_simulated_page_shows_the_sql_figures_of_a_day(
    browser: Chromium, simulated: Settings, tmp_path: Path
) -> None:
    page = write_html_report(simulated, days=None, out=tmp_path / "report.html")
    loaded = load(browser, page)
    assert_offline_and_clean(loaded)
    drawn = charts(browser, loaded)
    assert {"workflows_by_status", "latency", "buzz_by_account", "step_types"} <= set(drawn)
    assert all(count > 20 for count in drawn.values()), drawn
    warehouse = simulated.warehouse_path
    with duckdb.connect(str(warehouse), read_only=True) as con:
        day = con.execute(
            "select day from rpt_moderation_daily where provider = '(all)' "
            "order by jobs_flagged desc, jobs_scanned desc, day limit 1"
        ).fetchone()[0]
    usage = sql_row(warehouse, "rpt_usage_daily", day)
    moderation = sql_row(warehouse, "rpt_moderation_daily", day, "provider = '(all)'")
    assert usage["workflows"] > 0 and moderation["jobs_scanned"] > 0
    assert_figures_match(shown_figures(browser, loaded, day), usage, moderation)


# -- empty states, range and threshold ------------------------------------------------------------


def test_a_day_without_flagged_jobs_or_workflows_says_so(
    handmade: Settings, tmp_path: Path
) -> None:
    # At 90 %, day 2's only scanned job (80 %) is not flagged; day 3 has no workflows at all.
    page = write_html_report(
        handmade,
        days=None,
        out=tmp_path / "r.html",
        date_from=DAY1,
        date_to=date(2026, 11, 3),
        threshold=90,
    ).read_text()
    assert (
        '<p class="empty" data-empty="no_flagged_jobs" data-day="2026-11-02">'
        "2026-11-02: no flagged jobs.</p>"
    ) in page
    assert (
        '<p class="empty" data-empty="no_workflows" data-day="2026-11-03">'
        "2026-11-03: no workflows in the warehouse for this day.</p>"
    ) in page
    assert '<span class="day">2026-11-01: 1 flagged job</span>' in page
    assert "2026-11-01 to 2026-11-03 (3 days, UTC)" in page
    assert "90 % (highest hive_csam_score per job)" in page


def test_default_range_is_the_latest_30_days(handmade: Settings, tmp_path: Path) -> None:
    page = write_html_report(handmade, days=1, out=tmp_path / "r.html").read_text()
    assert "2026-11-02 to 2026-11-02 (1 day, UTC)" in page
    assert 'data-day="2026-11-01"' not in page


def test_which_days_the_page_covers() -> None:
    span = (date(2026, 1, 1), date(2026, 3, 31))
    assert resolve_range(span, None, None, 30) == (date(2026, 3, 2), date(2026, 3, 31))
    assert resolve_range(span, None, None, None) == span
    assert resolve_range((date(2026, 3, 20), date(2026, 3, 31)), None, None, 30) == (
        date(2026, 3, 20),
        date(2026, 3, 31),
    )
    # One open end takes the warehouse's edge (or the 30-day window before --to).
    assert resolve_range(span, date(2026, 2, 1), None, 30) == (date(2026, 2, 1), date(2026, 3, 31))
    assert resolve_range(span, None, date(2026, 1, 10), 30) == (date(2026, 1, 1), date(2026, 1, 10))
    assert resolve_range(None, None, None, 30) == (None, None)
    assert resolve_range(None, date(2026, 5, 1), None, 30) == (date(2026, 5, 1), date(2026, 5, 1))


def test_an_empty_warehouse_says_there_is_nothing_yet(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    create_core_tables(con)
    build_models(con)
    con.close()
    page = write_html_report(Settings(data_dir=tmp_path), days=30, out=tmp_path / "r.html")
    text = page.read_text()
    assert 'data-empty="warehouse"' in text
    assert "<svg" not in text


def test_csam_score_histogram_buckets(handmade: Settings) -> None:
    with duckdb.connect(str(handmade.warehouse_path), read_only=True) as con:
        rows = con.execute(
            "select day, bucket, score_from, score_to, jobs from rpt_csam_score_histogram "
            "where jobs > 0 order by day, bucket"
        ).fetchall()
        per_day = con.execute(
            "select day, count(*), sum(jobs) from rpt_csam_score_histogram group by day order by day"
        ).fetchall()
    # 49.99 -> [45, 50); exactly 50 -> [50, 55); 99.5 -> the top bucket; 80 -> [80, 85)
    assert rows == [
        (DAY1, 9, 45.0, 50.0, 1),
        (DAY1, 10, 50.0, 55.0, 1),
        (DAY1, 19, 95.0, 100.0, 1),
        (DAY2, 16, 80.0, 85.0, 1),
    ]
    assert per_day == [(DAY1, 20, 3), (DAY2, 20, 1)]


# -- the command and the Dagster asset ----------------------------------------------------------


def test_cli_writes_the_page_and_reports_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    monkeypatch.setenv("CIVITAI_SYNC_DATA_DIR", str(data_dir))
    runner = CliRunner()

    missing = runner.invoke(cli, ["report", "html"])
    assert missing.exit_code == 1
    assert missing.stderr.startswith(f"Error: No warehouse at {data_dir / 'warehouse.duckdb'}.")

    build_handmade_warehouse(data_dir / "warehouse.duckdb")
    default = runner.invoke(cli, ["report", "html"])
    assert default.exit_code == 0, default.output
    assert (data_dir / "report.html").is_file()
    assert default.stdout.startswith(f"Wrote {data_dir / 'report.html'} (")

    out = tmp_path / "mail" / "day1.html"
    ranged = runner.invoke(
        cli, ["report", "html", "--from", "2026-11-01", "--to", "2026-11-01", "--out", str(out)]
    )
    assert ranged.exit_code == 0, ranged.output
    assert "2026-11-01 to 2026-11-01 (1 day, UTC)" in out.read_text()

    backwards = runner.invoke(cli, ["report", "html", "--from", "2026-11-02", "--to", "2026-11-01"])
    assert backwards.exit_code == 2
    assert "--from" in backwards.stderr


def test_dagster_asset_writes_the_page_with_its_path_in_metadata(handmade: Settings) -> None:
    result = dg.materialize(
        [html_report], resources={"data": DataDirResource(data_dir=str(handmade.data_dir))}
    )
    assert result.success
    [event] = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    path = Path(metadata["path"].value)
    assert path == (handmade.data_dir / "report.html").resolve()
    assert "Civitai orchestration report" in path.read_text()
