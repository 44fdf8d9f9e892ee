"""Flattening pages as they arrive gives exactly what flattening the finished archive gives."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.fetch.windows import Window
from pipeline.flatten.live import LiveFlattener
from pipeline.flatten.window import flatten_pages, temp_output_paths
from tests.unit.test_flatten import SAMPLE_DAY, workflow, write_pages

SYNCED = datetime(2026, 8, 11, 3, 0, tzinfo=UTC)


def pages_of(count: int, *, repeat: bool) -> list[list[dict]]:
    pages = []
    for p in range(count):
        items = [
            workflow(f"{1000 + p}-2026081012{p:02d}{i:02d}000", f"2026-08-10T12:{p:02d}:{i:02d}Z")
            for i in range(3)
        ]
        pages.append(items)
    if repeat:
        # The list moved under the cursor: the first page's first workflow is listed again.
        pages[-1].append(pages[0][0])
    return pages


def tables(paths: dict[str, Path]) -> dict[str, list[dict]]:
    return {name: sorted(pq.read_table(path).to_pylist(), key=repr) for name, path in paths.items()}


@pytest.mark.parametrize("repeat", [False, True])
def test_pages_trickling_in_match_the_archive_flattened_at_once(
    tmp_path: Path, repeat: bool
) -> None:
    files = write_pages(tmp_path / "pages", pages_of(9, repeat=repeat))
    window = Window(SAMPLE_DAY)

    live_paths = temp_output_paths(tmp_path / "live")
    (tmp_path / "live").mkdir()
    live = LiveFlattener(window, live_paths, synced_at=SYNCED, work_dir=tmp_path / "w1")
    for number, path in enumerate(files):
        live.add(path)
        if number % 4 == 0:
            time.sleep(0.05)  # a slow page: the query waits for it mid-stream
    result = live.finish(files, None)

    (tmp_path / "whole").mkdir()
    whole_paths = temp_output_paths(tmp_path / "whole")
    whole = flatten_pages(files, window, whole_paths, synced_at=SYNCED, work_dir=tmp_path / "w2")

    assert result.rows == whole.rows
    assert result.rows["workflows"] == 27
    assert result.duplicates == whole.duplicates
    # Every workflow is the redacted sample, so its job and blob ids repeat across workflows:
    # both ways keep the same (first, in page order) row of each.
    assert result.duplicates["jobs"] == 26
    assert result.duplicates.get("workflows", 0) == (1 if repeat else 0)
    assert tables(live_paths) == tables(whole_paths)


def test_an_abandoned_window_stops_its_query_and_leaves_no_files(tmp_path: Path) -> None:
    files = write_pages(tmp_path / "pages", pages_of(3, repeat=False))
    (tmp_path / "live").mkdir()
    paths = temp_output_paths(tmp_path / "live")
    live = LiveFlattener(Window(SAMPLE_DAY), paths, synced_at=SYNCED, work_dir=tmp_path / "w")
    live.add(files[0])
    live.restart()  # the server ignored the date filter: the fetch starts over
    for path in files:
        live.add(path)
    result = live.finish(files, None)
    assert result.rows["workflows"] == 9

    (tmp_path / "stopped").mkdir()
    stopped_paths = temp_output_paths(tmp_path / "stopped")
    stopped = LiveFlattener(
        Window(SAMPLE_DAY), stopped_paths, synced_at=SYNCED, work_dir=tmp_path / "w2"
    )
    stopped.add(files[0])
    stopped.abort()  # the run stopped mid-window
    assert not any(path.exists() for path in stopped_paths.values())
