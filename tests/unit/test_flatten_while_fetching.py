"""Flattening pages as they are archived writes what flattening the finished archive writes.

Each comparison also asserts which pass wrote the files (`FlattenResult.source`): a stream
that got something wrong cannot hide behind the re-flatten from the archive, and a window
with a repeated key must take that re-flatten.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from pipeline.fetch import archive
from pipeline.fetch.windows import Window
from pipeline.flatten import schemas
from pipeline.flatten.while_fetching import FlattenWhileFetching
from pipeline.flatten.window import flatten_pages, temp_output_paths
from tests.unit.test_flatten import SAMPLE_DAY, workflow, write_pages

SYNCED = datetime(2026, 8, 11, 3, 0, tzinfo=UTC)
WINDOW = Window(SAMPLE_DAY)
NOON = datetime(2026, 8, 10, 12, tzinfo=UTC)


def distinct(wid: str, created: str, **extra: Any) -> dict[str, Any]:
    """The redacted sample with its own job id, so that no key repeats between workflows."""
    text = json.dumps(workflow(wid, created, **extra)).replace("redacted-job", f"job-{wid}")
    return json.loads(text)


def chain_pages() -> tuple[list[list[dict[str, Any]]], dict[int, tuple[datetime, datetime]]]:
    """Six pages of two sub-window chains ([00:00, 12:00) odd pages, [12:00, 24:00) even ones),
    as a parallel fetch numbers them. Each chain also returns an item outside its own bounds
    (its neighbour's, or the next day's), which only its neighbour may keep."""
    pages, bounds = [], {}
    for number in range(1, 7):
        morning = number % 2 == 1
        hour = (number if morning else 12 + number) % 24
        items = [
            distinct(f"{number}-{i}", f"2026-08-10T{hour:02d}:{10 * i:02d}:00Z") for i in range(3)
        ]
        pages.append(items)
        bounds[number] = (WINDOW.start, NOON) if morning else (NOON, WINDOW.end)
    pages[0].append(distinct("stray-noon", "2026-08-10T12:00:00Z"))  # chain 2's: dropped here
    pages[1].append(distinct("stray-morning", "2026-08-10T11:00:00Z"))  # chain 1's: dropped
    pages[3].append(distinct("next-day", "2026-08-11T00:00:00Z"))  # no chain's
    return pages, bounds


def archive_flatten(tmp_path: Path, files: list[Path], bounds: Any = None):
    out = tmp_path / "from-archive"
    out.mkdir()
    paths = temp_output_paths(out)
    result = flatten_pages(
        files, WINDOW, paths, synced_at=SYNCED, work_dir=tmp_path / "w-archive", page_bounds=bounds
    )
    return result, paths


def new_flattener(tmp_path: Path, name: str = "stream") -> tuple[FlattenWhileFetching, dict]:
    out = tmp_path / name
    out.mkdir()
    paths = temp_output_paths(out)
    flattener = FlattenWhileFetching(
        WINDOW, paths, synced_at=SYNCED, work_dir=tmp_path / f"w-{name}"
    )
    return flattener, paths


def sorted_rows(paths: dict[str, Path]) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows in key order (the stream writes them in arrival order)."""
    out = {}
    for name, path in paths.items():
        keys = schemas.KEYS[name]
        rows = pq.read_table(path).to_pylist()
        out[name] = sorted(rows, key=lambda row: tuple(str(row[k]) for k in keys))
    return out


def in_order(paths: dict[str, Path]) -> dict[str, list[dict[str, Any]]]:
    return {name: pq.read_table(path).to_pylist() for name, path in paths.items()}


def test_pages_of_parallel_chains_arriving_out_of_order_give_the_archives_rows(
    tmp_path: Path,
) -> None:
    pages, bounds = chain_pages()
    files = write_pages(tmp_path / "pages", pages)
    flattener, paths = new_flattener(tmp_path)
    for number in (2, 1, 4, 3, 6, 5):  # the chains' pages land in the archive interleaved
        flattener.add(files[number - 1], bounds[number])
    result = flattener.finish(files, bounds)

    expected, expected_paths = archive_flatten(tmp_path, files, bounds)
    assert result.source == "stream"
    assert expected.source == "archive"
    assert result.rows == expected.rows
    assert result.duplicates == expected.duplicates == {}
    assert sorted_rows(paths) == sorted_rows(expected_paths)
    # Independently of either pass: 18 workflows, none of the strays.
    ids = set(pq.read_table(paths["workflows"]).column("workflow_id").to_pylist())
    assert len(ids) == 18 and not ids & {"stray-noon", "stray-morning", "next-day"}
    assert pq.read_table(paths["jobs"]).num_rows == 18


def test_a_workflow_that_moved_between_pages_is_flattened_again_in_page_order(
    tmp_path: Path,
) -> None:
    # The list moved under the cursor: a workflow listed on page 1 shows again, finished, on
    # page 3. The copy from the later page is kept, whatever order the pages arrived in.
    moved = "moved-1"
    pages = [
        [distinct(moved, "2026-08-10T05:00:00Z", status="processing"), distinct("a", "2026-08-10T04:00:00Z")],
        [distinct("b", "2026-08-10T03:00:00Z")],
        [distinct(moved, "2026-08-10T05:00:00Z", status="succeeded"), distinct("c", "2026-08-10T02:00:00Z")],
    ]  # fmt: skip
    files = write_pages(tmp_path / "pages", pages)
    flattener, paths = new_flattener(tmp_path)
    for path in (files[2], files[0], files[1]):
        flattener.add(path)
    result = flattener.finish(files, None)

    expected, expected_paths = archive_flatten(tmp_path, files)
    assert result.source == "archive"
    assert result.rows == expected.rows
    assert result.duplicates == expected.duplicates == {"workflows": 1}
    assert in_order(paths) == in_order(expected_paths)
    statuses = {
        row["workflow_id"]: row["status"] for row in pq.read_table(paths["workflows"]).to_pylist()
    }
    assert statuses == {moved: "succeeded", "a": "failed", "b": "failed", "c": "failed"}


def test_a_child_key_the_api_repeated_keeps_its_first_row_in_page_order(tmp_path: Path) -> None:
    # Two workflows share a job id: the one on the earlier page keeps the job row, although
    # the later page arrived first.
    first = distinct("first", "2026-08-10T05:00:00Z")
    second = distinct("second", "2026-08-10T06:00:00Z")
    second["steps"][0]["jobs"][0]["id"] = first["steps"][0]["jobs"][0]["id"]
    files = write_pages(tmp_path / "pages", [[first], [second]])
    flattener, paths = new_flattener(tmp_path)
    flattener.add(files[1])
    flattener.add(files[0])
    result = flattener.finish(files, None)

    expected, expected_paths = archive_flatten(tmp_path, files)
    assert result.source == "archive"
    assert result.duplicates == expected.duplicates == {"jobs": 1}
    assert in_order(paths) == in_order(expected_paths)
    (job,) = pq.read_table(paths["jobs"]).to_pylist()
    assert job["workflow_id"] == "first"


def test_a_restarted_fetch_keeps_only_the_pages_after_the_restart(tmp_path: Path) -> None:
    # The server ignored the date filter: the first attempt's pages (other workflows) are
    # thrown away and the window is fetched again newest-first.
    thrown = write_pages(
        tmp_path / "first-attempt",
        [[distinct("old-1", "2026-08-10T01:00:00Z"), distinct("old-2", "2026-08-10T02:00:00Z")]],
    )
    files = write_pages(
        tmp_path / "pages",
        [[distinct(f"new-{i}", f"2026-08-10T{20 - i:02d}:00:00Z") for i in range(4)],
         [distinct(f"new-{i}", f"2026-08-10T{20 - i:02d}:00:00Z") for i in range(4, 8)]],
    )  # fmt: skip
    flattener, paths = new_flattener(tmp_path)
    flattener.add(thrown[0])
    flattener.restart()
    for path in files:
        flattener.add(path)
    result = flattener.finish(files, None)

    expected, expected_paths = archive_flatten(tmp_path, files)
    assert result.source == "stream"
    assert result.rows == expected.rows
    assert in_order(paths) == in_order(expected_paths)  # one chain: arrival is page order
    ids = sorted(pq.read_table(paths["workflows"]).column("workflow_id").to_pylist())
    assert ids == [f"new-{i}" for i in range(8)]


def test_a_window_without_pages_gets_typed_empty_files(tmp_path: Path) -> None:
    flattener, paths = new_flattener(tmp_path)
    result = flattener.finish([], None)
    assert result.source == "stream"
    assert all(pq.read_table(path).num_rows == 0 for path in paths.values())
    assert pq.read_table(paths["jobs"]).schema.names == schemas.WORKFLOW_TABLES["jobs"].names


def test_an_abandoned_window_leaves_no_files_and_a_finished_one_keeps_them(tmp_path: Path) -> None:
    files = write_pages(tmp_path / "pages", [[distinct("x", "2026-08-10T01:00:00Z")]])
    stopped, stopped_paths = new_flattener(tmp_path, "stopped")
    stopped.add(files[0])
    stopped.abort()  # the run stopped mid-window
    stopped.abort()
    assert not any(path.exists() for path in stopped_paths.values())

    done, done_paths = new_flattener(tmp_path, "done")
    done.add(files[0])
    assert done.finish(files, None).rows["workflows"] == 1
    done.abort()  # the window's stack closes after the commit: the files are the lake's now
    assert all(path.exists() for path in done_paths.values())


def test_an_unreadable_page_fails_the_finish_and_deletes_the_files(tmp_path: Path) -> None:
    (tmp_path / "pages").mkdir()
    bad = archive.write_page(tmp_path / "pages", 1, b'{"next": null, "items": [{"id": ')
    flattener, paths = new_flattener(tmp_path)
    flattener.add(bad)
    with pytest.raises(duckdb.Error):
        flattener.finish([bad], None)
    assert not any(path.exists() for path in paths.values())
