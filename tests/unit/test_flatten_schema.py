"""Workflows built from the OpenAPI document with every member of every schema filled (plus a
member no schema knows in every object), flattened for real: nothing is dropped, every blob
the schema allows becomes a row, and the moderation steps' verdicts are read member by member.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from pipeline.core.timefmt import parse_datetime
from pipeline.fetch.windows import Window
from pipeline.flatten.window import flatten_pages, temp_output_paths
from tests.support.openapi_instances import UNKNOWN, InstanceBuilder, Placed, load_spec
from tests.unit.test_flatten import write_pages

DAY = date(2026, 8, 20)


class Flattened:
    def __init__(self, tmp: Path) -> None:
        builder = InstanceBuilder(load_spec())
        self.docs: list[dict[str, Any]] = []
        self.placed: dict[str, list[Placed]] = {}  # workflow id -> blobs put in its step
        self.step_types: dict[str, str] = {}
        n = 0
        for step_type in sorted(builder.step_types()):
            for step, placed in builder.steps(step_type):
                n += 1
                wid = f"{n}-20260820{n:09d}"
                created = f"2026-08-20T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z"
                self.docs.append(builder.workflow(wid, created, [step]))
                self.placed[wid] = placed
                self.step_types[wid] = step_type
        pages = [self.docs[i : i + 50] for i in range(0, len(self.docs), 50)]
        files = write_pages(tmp / "pages", pages)
        paths = temp_output_paths(tmp)
        synced = datetime(2026, 8, 21, tzinfo=UTC)
        self.result = flatten_pages(files, Window(DAY), paths, synced_at=synced, work_dir=tmp / "w")
        self.tables = {name: pq.read_table(path).to_pylist() for name, path in paths.items()}


@pytest.fixture(scope="module")
def flat(tmp_path_factory: pytest.TempPathFactory) -> Flattened:
    return Flattened(tmp_path_factory.mktemp("schema"))


def leaves(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """(member name, scalar) of every leaf of a JSON value."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from leaves(v, key)
    elif value is not None:
        yield key, value


def snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def test_every_workflow_and_step_was_flattened(flat: Flattened) -> None:
    assert flat.result.rows["workflows"] == len(flat.docs) > 45
    assert flat.result.duplicates == {}
    step_types = {row["step_type"] for row in flat.tables["steps"]}
    assert step_types == set(flat.step_types.values())


def test_no_member_and_no_unknown_member_is_dropped(flat: Flattened) -> None:
    kept_text: set[str] = set()
    kept_numbers: set[float] = set()
    kept_times: set[datetime] = set()
    kept_flags: set[tuple[str, bool]] = set()
    for table in flat.tables.values():
        for row in table:
            for column, value in row.items():
                if column.endswith("_json") and value is not None:
                    for key, leaf in leaves(json.loads(value)):
                        _keep(key, leaf, kept_text, kept_numbers, kept_flags)
                elif isinstance(value, datetime):
                    kept_times.add(value)
                else:
                    for _, leaf in leaves(value):
                        _keep(column, leaf, kept_text, kept_numbers, kept_flags)
    missing = []
    for doc in flat.docs:
        for key, leaf in leaves(doc):
            if isinstance(leaf, bool):
                found = (key, leaf) in kept_flags or (snake(key), leaf) in kept_flags
            elif isinstance(leaf, int | float):
                found = float(leaf) in kept_numbers
            else:
                found = leaf in kept_text or _as_time(leaf) in kept_times
            if not found:
                missing.append((doc["id"], key, leaf))
    assert missing == []
    # The unknown members really were there to be lost.
    assert sum(1 for doc in flat.docs for k, _ in leaves(doc) if k == UNKNOWN) > 1000


def _keep(key: str, leaf: Any, text: set, numbers: set, flags: set) -> None:
    if isinstance(leaf, bool):
        flags.add((key, leaf))
    elif isinstance(leaf, int | float):
        numbers.add(float(leaf))
    else:
        text.add(leaf)


def _as_time(value: Any) -> datetime | None:
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def test_every_blob_the_schema_allows_is_a_row_with_its_members(flat: Flattened) -> None:
    rows = {(b["workflow_id"], b["json_path"]): b for b in flat.tables["blobs"]}
    expected = {(wid, p.path) for wid, placed in flat.placed.items() for p in placed}
    assert set(rows) == expected
    by_id = {d["id"]: d for d in flat.docs}
    for (wid, path), row in rows.items():
        blob = _at(by_id[wid]["steps"][0]["output"], path)
        assert row["blob_id"] == blob["id"]
        assert row["blob_type"] == blob.get("type")
        assert row["job_id"] == blob.get("jobId")
        assert (row["nsfw_level"], row["blocked_reason"]) == (
            blob.get("nsfwLevel"),
            blob.get("blockedReason"),
        )
        assert (row["available"], row["width"], row["height"]) == (
            blob.get("available"),
            blob.get("width"),
            blob.get("height"),
        )
        assert row["duration_seconds"] == blob.get("duration") and row["format"] == blob.get(
            "format"
        )
        assert row["url_expires_at"] == parse_datetime(blob["urlExpiresAt"])
        extra = json.loads(row["extra_json"])
        assert extra[UNKNOWN] == blob[UNKNOWN] and extra.get("tier") == blob.get("tier")
        assert "url" not in extra and "previewUrl" not in extra
    types = {row["blob_type"] for row in rows.values()}
    assert types == {"image", "video", "audio", "model3d", None}  # None: the transcode output


def _at(value: Any, path: str) -> Any:
    for part in path.removeprefix("$").replace("[", ".[").split("."):
        if not part:
            continue
        value = value[int(part[1:-1])] if part.startswith("[") else value[part]
    return value


def test_moderation_verdicts_read_each_member(flat: Flattened) -> None:
    verdicts: dict[str, list[dict[str, Any]]] = {}
    for row in flat.tables["moderation_verdicts"]:
        verdicts.setdefault(row["workflow_id"], []).append(row)
    by_id = {d["id"]: d for d in flat.docs}
    seen = set()
    for wid, step_type in flat.step_types.items():
        output = by_id[wid]["steps"][0]["output"]
        rows = sorted(verdicts.get(wid, []), key=lambda r: r["verdict_index"])
        assert all(r["step_type"] == step_type for r in rows)
        assert all(r["job_id"] == by_id[wid]["steps"][0]["jobs"][0]["id"] for r in rows)
        if step_type == "mediaRating":
            (row,) = rows
            assert (row["is_blocked"], row["blocked_reason"], row["nsfw_level"]) == (
                output["isBlocked"],
                output["blockedReason"],
                output["nsfwLevel"],
            )
            assert (row["labels"], row["csam"]) == (output["labels"], output["csam"])
            ages = [output["ageClassification"], output["bodyAgeClassification"]]
            assert row["has_minor"] == any(a["minorDetected"] for a in ages)
            assert UNKNOWN in json.loads(row["detail_json"])
        elif step_type in ("xGuardModeration", "shieldstralModeration"):
            name = "label" if step_type == "xGuardModeration" else "policy"
            assert [(r["category"], r["score"], r["is_blocked"]) for r in rows] == [
                (result[name], result["score"], result["triggered"]) for result in output["results"]
            ]
            assert (
                json.loads(rows[0]["detail_json"])["threshold"] == output["results"][0]["threshold"]
            )
        elif step_type == "ageClassification":
            detections = [
                (image, d)
                for image, ds in output["labels"].items()
                if isinstance(ds, list)  # (the unknown member of the map is not a list)
                for d in ds
            ]
            assert [(r["category"], r["has_minor"]) for r in rows] == [
                (d["age"], d["isMinor"]) for _, d in detections
            ]
            assert [json.loads(r["detail_json"])["image"] for r in rows] == [
                image for image, _ in detections
            ]
        else:
            assert rows == []
            continue
        seen.add(step_type)
    assert seen == {"mediaRating", "xGuardModeration", "shieldstralModeration", "ageClassification"}
