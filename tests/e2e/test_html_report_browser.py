"""`civitai-sync report html`: the page as a real browser (headless Chromium) opens it.

Each page is loaded from a file:// URL over the DevTools protocol, which records every request
the page makes, every console message and error; the figures the page shows are read from the
DOM and compared with the report tables queried directly from the warehouse file.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from pipeline.core.settings import Settings
from pipeline.reports.html import write_html_report
from tests.support.chromium import Chromium, PageLoad, find_chromium
from tests.support.handmade_warehouse import DAY1, DAY2
from tests.support.report_pages import (
    CHART_NAMES,
    HANDMADE_DAY1_TEXT,
    HOSTILE_LABEL,
    HOSTILE_STEP,
    assert_figures_match,
    handmade_settings,
    page_of_every_day,
    simulated_settings,
    sql_figures,
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    binary = find_chromium()
    if binary is None:
        pytest.skip("Chromium is not installed: run `make e2e-deps` (apt-get install chromium)")
    with Chromium(binary) as chromium:
        yield chromium


@pytest.fixture(scope="module")
def handmade(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return handmade_settings(tmp_path_factory.mktemp("handmade"))


@pytest.fixture(scope="module")
def handmade_page(handmade: Settings) -> Path:
    return page_of_every_day(handmade)


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


def shown_figures(browser: Chromium, loaded: PageLoad, day: object) -> dict[str, dict[str, str]]:
    """The daily table's cells of `day`: metric -> {value: data-value, text: what is shown}."""
    cells = browser.evaluate(
        loaded.session_id,
        f"[...document.querySelectorAll('td[data-metric][data-day=\"{day}\"]')]"
        ".map(td => [td.dataset.metric, td.dataset.value, td.textContent])",
    )
    return {metric: {"value": value, "text": text} for metric, value, text in cells}


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
    for day in (DAY1, DAY2):
        assert_figures_match(
            shown_figures(browser, loaded, day), *sql_figures(handmade.warehouse_path, day)
        )
    shown = shown_figures(browser, loaded, DAY1)
    assert {m: shown[m]["text"] for m in HANDMADE_DAY1_TEXT} == HANDMADE_DAY1_TEXT


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
    browser: Chromium, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    simulated = simulated_settings(tmp_path_factory.mktemp("simulated"))
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
    usage, moderation = sql_figures(warehouse, day)
    assert usage["workflows"] > 0 and moderation["jobs_scanned"] > 0
    assert_figures_match(shown_figures(browser, loaded, day), usage, moderation)
