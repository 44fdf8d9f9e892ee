"""Flattening archived pages into the five workflow tables (real DuckDB, real Parquet files)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

from pipeline.core.timefmt import timespan_seconds
from pipeline.fetch import archive
from pipeline.fetch.windows import Window
from pipeline.flatten import schemas
from pipeline.flatten.users import workflow_user_id
from pipeline.flatten.window import flatten_pages, temp_output_paths

FIXTURE = Path(__file__).parent.parent / "fixtures" / "failed_workflow_redacted.json"
SAMPLE_DAY = date(2026, 8, 10)


def sample() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


def write_pages(directory: Path, pages: list[list[dict[str, Any]]]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    for number, items in enumerate(pages, start=1):
        nxt = None if number == len(pages) else f"cursor-{number}"
        archive.write_page(directory, number, orjson.dumps({"next": nxt, "items": items}))
    return archive.page_files(directory)


def flatten(tmp_path: Path, pages: list[list[dict[str, Any]]], day: date = SAMPLE_DAY):
    files = write_pages(tmp_path / "pages", pages)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    paths = temp_output_paths(out)
    synced = datetime(2026, 8, 11, 3, 0, tzinfo=UTC)
    result = flatten_pages(files, Window(day), paths, synced_at=synced, work_dir=tmp_path / "w")
    tables = {name: pq.read_table(path) for name, path in paths.items()}
    return result, tables, paths


def rows(table) -> list[dict[str, Any]]:
    return table.to_pylist()


def workflow(wid: str, created: str, **extra: Any) -> dict[str, Any]:
    base = sample()
    base["id"] = wid
    base["createdAt"] = created
    base.update(extra)
    return base


def test_real_sample_flattens_to_exact_values(tmp_path: Path) -> None:
    result, tables, paths = flatten(tmp_path, [[sample()]])
    assert result.rows == {
        "workflows": 1,
        "steps": 1,
        "jobs": 1,
        "blobs": 1,
        "transactions": 2,
        "moderation_verdicts": 0,
    }

    (wf,) = rows(tables["workflows"])
    assert wf["workflow_id"] == "redacted-20260810223715659"
    assert wf["window_date"] == SAMPLE_DAY
    assert wf["created_at"] == datetime(2026, 8, 10, 22, 37, 15, 659000, tzinfo=UTC)
    assert wf["started_at"] == datetime(2026, 8, 10, 22, 37, 16, 732000, tzinfo=UTC)
    assert wf["deleted_at"] is None
    assert wf["status"] == "failed"
    assert wf["user_id"] is None  # prefix "redacted" is not a user id, and no user:N tag
    assert wf["tags"] == ["civitai", "NanoBanana", "gen", "green", "img2img:edit", "img"]
    assert wf["currencies"] == ["blue", "green"]
    assert (wf["cost_base"], wf["cost_total"]) == (0, 0)
    assert (wf["cost_tips_civitai_buzz"], wf["cost_tips_creators_buzz"]) == (0, 0)
    assert json.loads(wf["cost_factors_json"]) == {"base": 60, "quantity": 1}
    assert wf["cost_fees_json"] is None and wf["lost_blobs_refund_buzz"] is None
    assert (wf["buzz_debit"], wf["buzz_credit"]) == (60, 60)
    assert wf["upgrade_mode"] == "manual"
    assert wf["external_id"] == "redacted-00000000-0000-0000-0000-00000000extl"
    assert (wf["experimental"], wf["allow_mature_content"], wf["force_refunded"]) == (
        True,
        False,
        False,
    )
    assert wf["step_count"] == 1
    assert json.loads(wf["metadata_json"]) == sample()["metadata"]
    assert json.loads(wf["arguments_json"]) == {}
    extra = json.loads(wf["extra_json"])
    assert extra["cost"]["factors"] == {"base": 60, "quantity": 1}
    assert extra["callbacks"][0]["type"] == ["step:*"]
    assert "steps" not in extra and "id" not in extra
    assert wf["synced_at"] == datetime(2026, 8, 11, 3, 0, tzinfo=UTC)

    (step,) = rows(tables["steps"])
    assert step["workflow_id"] == wf["workflow_id"]
    assert (step["step_name"], step["step_index"], step["step_type"]) == ("$0", 0, "imageGen")
    assert (step["status"], step["priority"]) == ("failed", "low")
    assert (step["timeout"], step["timeout_seconds"]) == ("00:20:00", 1200.0)
    assert step["prompt"] == "make the background solid white"
    assert (step["engine"], step["quantity"], step["job_count"]) == ("gemini", 1, 1)
    assert step["negative_prompt"] is None and step["width"] is None
    assert step["extra_json"] is None
    step_input = json.loads(step["input_json"])
    assert step_input["images"] == [
        "https://blobs.example.invalid/v2/consumer/blobs/redacted-input.png"
    ]
    # A JSON document held in a string survives the URL stripping intact.
    assert json.loads(step_input["imageMetadata"])["seed"] == 1105986134
    assert json.loads(step["output_json"])["errors"][0].startswith("Could not generate")

    (job,) = rows(tables["jobs"])
    assert (job["job_id"], job["workflow_id"], job["step_name"]) == (
        "redacted-job",
        wf["workflow_id"],
        "$0",
    )
    assert (job["status"], job["cost"], job["job_index"]) == ("failed", 60.0, 0)
    assert job["completed_at"] == datetime(2026, 8, 10, 22, 37, 17, 156000, tzinfo=UTC)
    assert job["estimated_progress_rate"] == pytest.approx(0.0007575944444444444)
    assert job["queue_support"] is None and job["extra_json"] is None
    assert job["reason"] is None and job["blocked_reason"] is None

    (blob,) = rows(tables["blobs"])
    assert blob["blob_id"] == "redacted-0.jpg"
    assert blob["blob_type"] is None  # the real sample's blobs carry no `type`
    assert blob["available"] is False
    assert (blob["width"], blob["height"]) == (1024, 1024)
    assert blob["json_path"] == "$.images[0]"
    assert blob["workflow_id"] == wf["workflow_id"]
    # Members without a column are kept; the signed URLs are not.
    assert json.loads(blob["extra_json"]) == {"previewUrlExpiresAt": "2027-08-11T00:15:34.18504Z"}
    # Seven fractional digits (.NET) are read, truncated to microseconds.
    assert blob["url_expires_at"] == datetime(2027, 8, 11, 0, 15, 34, 184985, tzinfo=UTC)
    # No jobId on the blob; its step ran exactly one job, so that job made it.
    assert blob["job_id"] == "redacted-job"

    txns = rows(tables["transactions"])
    assert [(t["txn_index"], t["txn_type"], t["amount"], t["account_type"]) for t in txns] == [
        (0, "debit", 60, "blue"),
        (1, "credit", 60, "blue"),
    ]
    assert txns[0]["transaction_id"] == "00000000-0000-0000-0000-00000000debi"

    for name, path in paths.items():
        assert pq.read_schema(path).equals(schemas.WORKFLOW_TABLES[name]), name
        assert b"sig=" not in Path(path).read_bytes()
        assert "sig=" not in json.dumps(rows(tables[name]), default=str)
    assert "url" not in schemas.BLOBS.names and "preview_url" not in schemas.BLOBS.names


def test_only_workflows_created_inside_the_half_open_day_are_kept(tmp_path: Path) -> None:
    items = [
        workflow("1-a", "2026-08-09T23:59:59.9999999Z"),
        workflow("1-b", "2026-08-10T00:00:00Z"),
        workflow("1-c", "2026-08-10T23:59:59.999Z"),
        workflow("1-d", "2026-08-11T00:00:00Z"),
        workflow("1-e", "2026-08-10T12:00:00+02:00"),
    ]
    _, tables, _ = flatten(tmp_path, [items])
    assert sorted(tables["workflows"].column("workflow_id").to_pylist()) == ["1-b", "1-c", "1-e"]
    assert set(tables["steps"].column("workflow_id").to_pylist()) == {"1-b", "1-c", "1-e"}


def test_a_workflow_listed_twice_keeps_the_copy_from_the_last_page(tmp_path: Path) -> None:
    first = workflow("5-x", "2026-08-10T10:00:00Z", status="processing")
    second = workflow("5-x", "2026-08-10T10:00:00Z", status="succeeded")
    other = workflow("5-y", "2026-08-10T11:00:00Z")
    result, tables, _ = flatten(tmp_path, [[first, other], [second]])
    statuses = dict(
        zip(
            tables["workflows"].column("workflow_id").to_pylist(),
            tables["workflows"].column("status").to_pylist(),
            strict=True,
        )
    )
    assert statuses == {"5-x": "succeeded", "5-y": "failed"}
    assert result.rows["steps"] == 2 and result.rows["transactions"] == 4
    # The fixture's job id repeats in the other workflow and is kept once; its blob id is a
    # row in each workflow (as a result served from the output cache would be).
    assert result.duplicates == {"workflows": 1, "jobs": 1}
    assert tables["jobs"].num_rows == 1
    assert sorted(tables["blobs"].column("workflow_id").to_pylist()) == ["5-x", "5-y"]


@pytest.mark.parametrize(
    ("wid", "tags", "expected"),
    [
        ("8484131-20260810101010101", [], 8484131),
        ("0-019be44b-181e-7a7e-ab1b-b58dc7610dca", ["gen", "user:42"], 42),
        ("0-019be44b-181e-7a7e-ab1b-b58dc7610dca", ["gen"], None),
        ("redacted-20260810223715659", ["user:7"], 7),
        ("abc", ["user:x"], None),
        ("-5-20260810", [], None),
        ("0-019be44b", ["user:0", "user:9"], 9),  # user:0 is nobody; the next tag decides
        ("99999999999999999999-x", [], None),  # beyond a BIGINT
    ],
)
def test_user_id_rule(tmp_path: Path, wid: str, tags: list[str], expected: int | None) -> None:
    # One rule, read by the CLI directly and by the flattening for the lake.
    assert workflow_user_id(wid, tags) == expected
    _, tables, _ = flatten(tmp_path, [[workflow(wid, "2026-08-10T01:00:00Z", tags=tags)]])
    assert tables["workflows"].column("user_id").to_pylist() == [expected]


def test_blobs_are_found_by_shape_at_any_depth_of_any_output(tmp_path: Path) -> None:
    base = workflow("9-1", "2026-08-10T05:00:00Z")
    template = base["steps"][0]

    def step(name: str, output: Any, jobs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        s = copy.deepcopy(template)
        s.update(name=name, output=output, jobs=jobs or [], **{"$type": "somethingNew"})
        return s

    video = {"type": "video", "id": "V1.mp4", "available": True, "jobId": "j-v", "width": 640}
    two_jobs = [
        {"id": "j-f1", "status": "succeeded", "cost": 1},
        {"id": "j-f2", "status": "succeeded", "cost": 1},
    ]
    base["steps"] = [
        step("video", {"video": video, "additionalVideos": None, "note": {"id": "not-a-blob"}}),
        step(
            "frames",
            {
                "frames": [
                    {"id": "F0.jpg", "available": True},
                    "text",
                    {"id": "F2.jpg", "available": False},
                ],
                "totalFramesExtracted": 3,
            },
            jobs=two_jobs,
        ),
        step(
            "transcode",
            {
                "id": "T.mp4",
                "available": True,
                "url": "https://x.invalid/T.mp4?sig=1",
                "jobId": "j-t",
            },
        ),
        step(
            "audio",
            {"futureKey": [{"type": "audio", "id": "A.mp3", "available": True, "duration": 2.5}]},
        ),
        step(
            "training",
            {
                "epochs": [
                    {
                        "epochNumber": 1,
                        "model": {"type": "model3d", "id": "M1.glb", "format": "glb"},
                        "samples": [[], [{"id": "S1.png", "available": True, "tier": "cold"}]],
                    }
                ],
                "byName": {"final-model": {"id": "FM.safetensors", "available": True}},
            },
            jobs=[{"id": "j-train", "status": "succeeded", "cost": 1}],
        ),
        step("none", None),
        step("list", ["x"]),
    ]
    _, tables, _ = flatten(tmp_path, [[base]])
    found = {
        b["blob_id"]: (b["step_name"], b["json_path"], b["job_id"]) for b in rows(tables["blobs"])
    }
    assert found == {
        "V1.mp4": ("video", "$.video", "j-v"),
        "F0.jpg": ("frames", "$.frames[0]", None),  # two jobs: which one made it is unknown
        "F2.jpg": ("frames", "$.frames[2]", None),
        "T.mp4": ("transcode", "$", "j-t"),
        "A.mp3": ("audio", "$.futureKey[0]", None),
        "M1.glb": ("training", "$.epochs[0].model", "j-train"),
        "S1.png": ("training", "$.epochs[0].samples[1][0]", "j-train"),
        "FM.safetensors": ("training", '$.byName["final-model"]', "j-train"),
    }
    by_id = {b["blob_id"]: b for b in rows(tables["blobs"])}
    assert (by_id["A.mp3"]["blob_type"], by_id["A.mp3"]["duration_seconds"]) == ("audio", 2.5)
    assert (by_id["M1.glb"]["format"], by_id["M1.glb"]["available"]) == ("glb", None)
    assert json.loads(by_id["S1.png"]["extra_json"]) == {"tier": "cold"}
    assert by_id["T.mp4"]["extra_json"] is None  # its url is signed: never kept
    assert tables["steps"].column("step_type").to_pylist() == ["somethingNew"] * 7


def test_a_blob_id_repeated_in_one_workflow_keeps_its_first_row(tmp_path: Path) -> None:
    item = workflow("9-2", "2026-08-10T05:00:00Z")
    first = copy.deepcopy(item["steps"][0])
    second = copy.deepcopy(first)
    second["name"] = "$1"
    second["output"] = {"again": {"id": "redacted-0.jpg", "available": True}}
    item["steps"] = [first, second]
    result, tables, _ = flatten(tmp_path, [[item]])
    (blob,) = rows(tables["blobs"])
    assert (blob["step_name"], blob["json_path"], blob["available"]) == ("$0", "$.images[0]", False)
    assert result.duplicates == {"blobs": 1, "jobs": 1}


def test_unknown_members_are_kept_as_json_text(tmp_path: Path) -> None:
    item = workflow("3-1", "2026-08-10T05:00:00Z", brandNew={"a": [1, 2]}, nsfwLevel="r")
    item["steps"][0]["preparation"] = {"resource": "urn:air:x", "queuePosition": 3}
    item["steps"][0]["jobs"][0]["reason"] = "blocked"
    item["steps"][0]["jobs"][0]["queuePosition"] = {
        "support": "available",
        "precedingJobs": 4,
        "startAt": "2026-08-10T05:00:01.1234567Z",
    }
    _, tables, _ = flatten(tmp_path, [[item]])
    (wf,) = rows(tables["workflows"])
    assert json.loads(wf["extra_json"])["brandNew"] == {"a": [1, 2]}
    assert wf["nsfw_level"] == "r"
    (step,) = rows(tables["steps"])
    assert json.loads(step["extra_json"]) == {
        "preparation": {"resource": "urn:air:x", "queuePosition": 3}
    }
    (job,) = rows(tables["jobs"])
    assert job["reason"] == "blocked" and job["extra_json"] is None
    assert (job["queue_support"], job["queue_preceding_jobs"]) == ("available", 4)
    assert job["queue_start_at"] == datetime(2026, 8, 10, 5, 0, 1, 123456, tzinfo=UTC)


def test_odd_shapes_become_nulls_not_errors(tmp_path: Path) -> None:
    item = workflow("4-1", "2026-08-10T05:00:00Z", status={"weird": 1}, tags="notalist", cost=None)
    item["steps"][0]["timeout"] = "1.02:03:04.5"
    item["steps"][0]["input"] = "just text https://x.invalid/a.png?token=secret"
    no_steps = workflow("4-2", "2026-08-10T06:00:00Z", steps=[], transactions=None)
    _, tables, _ = flatten(tmp_path, [[item, no_steps]])
    wfs = {w["workflow_id"]: w for w in rows(tables["workflows"])}
    assert wfs["4-1"]["tags"] is None and wfs["4-1"]["cost_total"] is None
    assert wfs["4-2"]["step_count"] == 0
    assert (wfs["4-2"]["buzz_debit"], wfs["4-2"]["buzz_credit"]) == (None, None)
    (step,) = rows(tables["steps"])
    assert step["timeout_seconds"] == pytest.approx(86400 + 2 * 3600 + 3 * 60 + 4.5)
    assert json.loads(step["input_json"]) == "just text https://x.invalid/a.png"


def test_a_window_without_rows_still_gets_typed_empty_files(tmp_path: Path) -> None:
    result, _tables, paths = flatten(tmp_path, [[workflow("1-z", "2026-08-12T00:00:00Z")], []])
    assert result.rows == dict.fromkeys(schemas.WORKFLOW_TABLES, 0)
    for name, path in paths.items():
        assert Path(path).exists()
        assert pq.read_schema(path).equals(schemas.WORKFLOW_TABLES[name])

    out = tmp_path / "none"
    out.mkdir()
    empty = temp_output_paths(out)
    flatten_pages([], Window(SAMPLE_DAY), empty, work_dir=tmp_path / "w")
    assert all(pq.read_table(p).num_rows == 0 for p in empty.values())


def test_pages_of_parallel_chains_keep_only_their_own_bounds(tmp_path: Path) -> None:
    # Two sub-window chains asked the server for [00:00, 12:00] and [12:00, 24:00] ("on or
    # before" both ends), so the workflow created at exactly 12:00 came back in both.
    noon = "2026-08-10T12:00:00Z"
    early = workflow("1-20260810010000000", "2026-08-10T01:00:00Z")
    boundary = workflow("2-20260810120000000", noon)
    late = workflow("3-20260810230000000", "2026-08-10T23:00:00Z")
    files = write_pages(tmp_path / "pages", [[boundary, early], [late, boundary]])
    midday = datetime(2026, 8, 10, 12, tzinfo=UTC)
    bounds = {1: (Window(SAMPLE_DAY).start, midday), 2: (midday, Window(SAMPLE_DAY).end)}
    paths = temp_output_paths(tmp_path)
    result = flatten_pages(
        files, Window(SAMPLE_DAY), paths, work_dir=tmp_path / "w", page_bounds=bounds
    )
    ids = sorted(pq.read_table(paths["workflows"]).column("workflow_id").to_pylist())
    assert ids == ["1-20260810010000000", "2-20260810120000000", "3-20260810230000000"]
    # (The fixture's job and blob ids repeat across these copies; only workflows matter here.)
    assert result.rows["workflows"] == 3 and "workflows" not in result.duplicates
    # Without the bounds the same pages hold the boundary workflow twice (kept once, last copy).
    (tmp_path / "p").mkdir()
    plain = flatten_pages(files, Window(SAMPLE_DAY), temp_output_paths(tmp_path / "p"),
                          work_dir=tmp_path / "w2")  # fmt: skip
    assert plain.duplicates["workflows"] == 1


def test_a_copy_outside_its_chain_never_outranks_the_kept_one(tmp_path: Path) -> None:
    # A workflow listed twice by chain 1 (the list moved under its cursor) and also seen,
    # out of bounds, on a later page of chain 2: the newest in-bounds copy wins.
    noon = datetime(2026, 8, 10, 12, tzinfo=UTC)
    first = workflow("2-20260810120000000", "2026-08-10T12:00:00Z", status="processing")
    second = workflow("2-20260810120000000", "2026-08-10T12:00:00Z", status="succeeded")
    stray = workflow("2-20260810120000000", "2026-08-10T12:00:00Z", status="canceled")
    files = write_pages(tmp_path / "pages", [[first], [second], [stray]])
    day = Window(SAMPLE_DAY)
    bounds = {1: (noon, day.end), 2: (noon, day.end), 3: (day.start, noon)}
    paths = temp_output_paths(tmp_path)
    result = flatten_pages(files, day, paths, work_dir=tmp_path / "w", page_bounds=bounds)
    (row,) = pq.read_table(paths["workflows"]).to_pylist()
    assert row["status"] == "succeeded"
    assert result.duplicates["workflows"] == 1


# One table for the one timespan rule (pipeline.core.timefmt): read directly, and as the
# flattening reads a step's `timeout`, which also keeps the text as sent.
TIMEOUTS = [
    ("00:20:00", 1200.0),  # .NET TimeSpan, what the service sends
    ("1.02:03:04.5", 93784.5),  # d.hh:mm:ss.f
    ("00:00:00.1234567", 0.1234567),  # seven fractional digits
    ("-00:00:01", -1.0),
    ("PT20M", 1200.0),  # ISO-8601, what the developer docs describe
    ("P1DT2H", 93600.0),
    ("PT1.5S", 1.5),
    ("P2D", 172800.0),
    ("PT", None),
    ("twenty minutes", None),
    ("", None),
]


def test_step_timeouts_in_both_forms_parse_by_one_rule(tmp_path: Path) -> None:
    item = workflow("6-1", "2026-08-10T05:00:00Z")
    template = item["steps"][0]
    item["steps"] = []
    for index, (text, _) in enumerate(TIMEOUTS):
        step = copy.deepcopy(template)
        step.update(name=f"s{index}", timeout=text, jobs=[])
        item["steps"].append(step)
    _, tables, _ = flatten(tmp_path, [[item]])
    got = {s["step_name"]: (s["timeout"], s["timeout_seconds"]) for s in rows(tables["steps"])}
    for index, (text, seconds) in enumerate(TIMEOUTS):
        expected = None if seconds is None else pytest.approx(seconds)
        assert timespan_seconds(text) == expected, text
        assert got[f"s{index}"] == (text, expected), text
