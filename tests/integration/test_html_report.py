"""`civitai-sync report html`: the page as written, read as parsed HTML.

The figures the page shows are read from its markup and compared with the report tables queried
directly from the warehouse file; the page is checked to be self-contained (nothing to fetch) and
to show hostile text as text. tests/e2e/test_html_report_browser.py opens the same pages in a real
browser.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from click.testing import CliRunner

from assets.html_report import html_report
from assets.resources import DataDirResource
from pipeline.cli.app import cli
from pipeline.core.settings import Settings
from pipeline.reports.html import write_html_report
from pipeline.reports.html.data import resolve_range
from pipeline.warehouse.build import build_models
from tests.support.core_tables import create_core_tables
from tests.support.handmade_warehouse import DAY1, DAY2, build_handmade_warehouse
from tests.support.report_pages import (
    CHART_NAMES,
    HANDMADE_DAY1_TEXT,
    HOSTILE_LABEL,
    HOSTILE_STEP,
    assert_figures_match,
    handmade_settings,
    page_of_every_day,
    sql_figures,
)


@pytest.fixture(scope="module")
def handmade(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return handmade_settings(tmp_path_factory.mktemp("handmade"))


@pytest.fixture(scope="module")
def handmade_page(handmade: Settings) -> Path:
    return page_of_every_day(handmade)


class Page(HTMLParser):
    """One pass over a page: its elements, its text, each chart's size and the daily cells."""

    def __init__(self, path: Path) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.charts: dict[str, int] = {}
        self.chart_text: dict[str, str] = {}
        self.cells: dict[str, dict[str, dict[str, str]]] = {}
        self._chart: str | None = None
        self._svg_depth = 0
        self._cell: tuple[str, str, str] | None = None
        self.feed(path.read_text(encoding="utf-8"))
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        self.elements.append((tag, found))
        if self._chart is not None:
            self.charts[self._chart] += 1
            self._svg_depth += tag == "svg"
        elif tag == "svg" and "data-chart" in found:
            self._chart, self._svg_depth = found["data-chart"], 1
            self.charts[self._chart] = 0
            self.chart_text[self._chart] = ""
        if tag == "td" and "data-metric" in found:
            self._cell = (found["data-day"], found["data-metric"], found["data-value"])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        if self._chart is not None:
            self.charts[self._chart] += 1

    def handle_endtag(self, tag: str) -> None:
        if self._chart is not None and tag == "svg":
            self._svg_depth -= 1
            if self._svg_depth == 0:
                self._chart = None
        if tag == "td":
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._chart is not None:
            self.chart_text[self._chart] += data
        if self._cell is not None:
            day, metric, value = self._cell
            cell = self.cells.setdefault(day, {}).setdefault(metric, {"value": value, "text": ""})
            cell["text"] += data


def test_handmade_page_is_self_contained_and_every_chart_is_drawn(handmade_page: Path) -> None:
    page = Page(handmade_page)
    tags = {tag for tag, _ in page.elements}
    assert not tags & {"script", "img", "iframe", "object", "embed"}
    # Nothing to fetch: every address in the page is a data: URI or a fragment of the page.
    addresses = [
        (tag, key, value)
        for tag, attrs in page.elements
        for key, value in attrs.items()
        if key in ("src", "href", "xlink:href", "action", "srcset", "poster")
    ]
    assert addresses and all(v.startswith(("data:", "#")) for _, _, v in addresses), addresses
    [csp] = [a for t, a in page.elements if a.get("http-equiv") == "Content-Security-Policy"]
    assert csp["content"].startswith("default-src 'none';")
    assert set(page.charts) == CHART_NAMES
    assert all(count > 20 for count in page.charts.values()), page.charts


def test_hostile_labels_are_escaped_as_text(handmade_page: Path) -> None:
    page = Page(handmade_page)
    assert not [tag for tag, _ in page.elements if tag in ("img", "script")]
    text = "".join(page.text)
    assert HOSTILE_STEP in text  # the flagged job's step type, shown as text
    assert HOSTILE_LABEL[:20] in page.chart_text["vlm_labels"]


def test_handmade_daily_figures_are_the_sql_reports_figures(
    handmade: Settings, handmade_page: Path
) -> None:
    page = Page(handmade_page)
    assert set(page.cells) == {DAY1.isoformat(), DAY2.isoformat()}
    for day in (DAY1, DAY2):
        assert_figures_match(
            page.cells[day.isoformat()], *sql_figures(handmade.warehouse_path, day)
        )
    shown = page.cells[DAY1.isoformat()]
    assert {m: shown[m]["text"] for m in HANDMADE_DAY1_TEXT} == HANDMADE_DAY1_TEXT


def test_header_says_which_days_which_data_dir_and_when_published(
    handmade: Settings, handmade_page: Path
) -> None:
    page = Page(handmade_page)
    keys = [a["data-meta"] for t, a in page.elements if t == "dd" and "data-meta" in a]
    assert keys == [
        "days",
        "warehouse_days",
        "data_dir",
        "published_at",
        "generated_at",
        "csam_threshold",
    ]
    text = "".join(page.text)
    assert "2026-11-01 to 2026-11-02 (2 days, UTC)" in text
    assert str(handmade.data_dir.resolve()) in text
    mtime = datetime.fromtimestamp(handmade.warehouse_path.stat().st_mtime, UTC)
    assert f"{mtime:%Y-%m-%d %H:%M:%S} UTC (file modification time)" in text
    assert "50 % (highest hive_csam_score per job)" in text


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
            "select day, bucket, score_from_pct, score_to_pct, jobs from rpt_csam_score_histogram "
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
