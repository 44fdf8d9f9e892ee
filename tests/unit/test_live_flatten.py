"""Flattening pages as they arrive gives exactly what flattening the finished archive gives."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline import live_flatten
from pipeline.flatten import flatten_pages, temp_output_paths
from pipeline.live_flatten import LiveFlattener
from pipeline.windows import Window
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
    return {
        name: sorted(pq.read_table(path).to_pylist(), key=repr) for name, path in paths.items()
    }


@pytest.mark.parametrize("repeat", [False, True])
def test_pages_trickling_in_match_the_archive_flattened_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, repeat: bool
) -> None:
    # Small batches and a short wait, so that both ways of starting a batch (enough pages,
    # the oldest page waited long enough) happen within one window.
    monkeypatch.setattr(live_flatten, "MIN_BATCH_PAGES", 3)
    monkeypatch.setattr(live_flatten, "MAX_BATCH_WAIT_SECONDS", 0.02)
    files = write_pages(tmp_path / "pages", pages_of(9, repeat=repeat))
    window = Window(SAMPLE_DAY)

    live_paths = temp_output_paths(tmp_path / "live")
    (tmp_path / "live").mkdir()
    live = LiveFlattener(window, live_paths, synced_at=SYNCED, work_dir=tmp_path / "w1")
    for number, path in enumerate(files):
        live.add(path)
        if number % 4 == 0:
            time.sleep(0.05)  # a slow page: the worker starts on what it has
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
