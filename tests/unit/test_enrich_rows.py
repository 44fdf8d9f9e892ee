"""A v1 job document -> job_details + scan_scores rows (no I/O)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pytest

from pipeline.enrich.job_details import (
    JOB_DETAILS_SCHEMA,
    SCAN_SCORES_SCHEMA,
    job_rows,
    not_found_row,
)

WINDOW = date(2026, 1, 21)
FETCHED = datetime(2026, 1, 22, 3, 0, tzinfo=UTC)


def _doc() -> dict[str, Any]:
    # The assembled example of the research notes (section 13.3), plus a signed result URL.
    return {
        "jobId": "58de87d7-d594-4d71-ae43-dd8fc1bcbd23",
        "cost": 2,
        "job": {
            "id": "58de87d7-d594-4d71-ae43-dd8fc1bcbd23",
            "type": "TextToImageV2",
            "properties": {"workflowId": "8484131-20260121222126332"},
            "promptClassificationResult": {
                "sexual": True,
                "young": True,
                "cr": False,
                "scan": True,
            },
        },
        "result": [
            {
                "blobKey": "JNFDW54JNTATNW42HACYCWSQP0.jpeg",
                "available": True,
                "url": "https://blobs.example/JN.jpeg?sig=SIGNED",
            },
            {"blobKey": "SECOND.jpeg", "available": True},
        ],
        "lastEvent": {
            "type": "Succeeded",
            "dateTime": "2026-01-21T22:21:39.4000000Z",
            "provider": "ValdiAI",
            "workerId": "worker-1",
            "jobDuration": "00:00:12.3900000",
            "claimDuration": "00:01:00",
            "retryAttempt": 1,
            "context": {"hive_csam_score": "0.00 %, 61.50 %", "hive_vlm_summary": "X, No_Child"},
        },
    }


def _rows(doc: Any, workflow_id: str | None = "wf-1") -> Any:
    return job_rows(
        doc, job_id="job-1", workflow_id=workflow_id, window_date=WINDOW, fetched_at=FETCHED
    )


def test_found_job_row() -> None:
    rows = _rows(_doc())
    d = rows.details
    assert d["found"] is True and d["is_final"] is True
    assert (d["job_type"], d["provider"], d["worker_id"]) == (
        "TextToImageV2",
        "ValdiAI",
        "worker-1",
    )
    assert d["last_event_type"] == "Succeeded"
    assert d["last_event_at"] == datetime(2026, 1, 21, 22, 21, 39, 400000, tzinfo=UTC)
    assert d["retry_attempt"] == 1
    assert d["job_duration_seconds"] == pytest.approx(12.39)
    assert d["claim_duration_seconds"] == 60.0
    assert d["cost"] == 2.0
    assert (d["prompt_sexual"], d["prompt_young"], d["prompt_cr"], d["prompt_scan"]) == (
        True,
        True,
        False,
        True,
    )
    assert d["csam_score_max_pct"] == 61.5
    assert "SIGNED" not in d["result_json"] and "url" not in d["result_json"]
    assert [(r["score_name"], r["item_index"], r["blob_id"]) for r in rows.scan_scores] == [
        ("hive_csam_score", 0, "JNFDW54JNTATNW42HACYCWSQP0.jpeg"),
        ("hive_csam_score", 1, "SECOND.jpeg"),
        ("hive_vlm_summary", 0, "JNFDW54JNTATNW42HACYCWSQP0.jpeg"),
        ("hive_vlm_summary", 1, "SECOND.jpeg"),
    ]
    # No priority, providers, params or reasons in this document: nothing invented.
    assert (d["priority"], d["priority_json"], d["service_providers"]) == (None, None, None)
    assert (d["params_json"], d["reason"], d["blocked_reason"]) == (None, None, None)
    # The rows fit the lake schemas exactly.
    pa.Table.from_pylist([d], schema=JOB_DETAILS_SCHEMA)
    pa.Table.from_pylist(rows.scan_scores, schema=SCAN_SCORES_SCHEMA)


def test_priority_providers_params_and_reasons() -> None:
    doc = _doc()
    doc["job"]["params"] = {
        "prompt": "a cat",
        "image": "https://blobs.example/in.png?sig=SIGNED",
        "steps": 30,
    }
    doc["job"]["priority"] = {"min": 5, "max": 10}
    doc["lastEvent"]["jobPriority"] = 5
    doc["lastEvent"]["type"] = "Failed"
    doc["lastEvent"]["context"] = {"reason": "Blocked", "blockedReason": "ChildReference"}
    doc["serviceProviders"] = {"ValdiAI": {"support": "Available"}, "OctoML": {"support": "x"}}
    d = _rows(doc).details
    assert (d["priority"], json.loads(d["priority_json"])) == (5.0, {"min": 5, "max": 10})
    assert d["service_providers"] == ["ValdiAI", "OctoML"]
    params = json.loads(d["params_json"])
    assert params["prompt"] == "a cat" and params["steps"] == 30
    assert "SIGNED" not in d["params_json"]
    assert (d["reason"], d["blocked_reason"]) == ("Blocked", "ChildReference")
    pa.Table.from_pylist([d], schema=JOB_DETAILS_SCHEMA)

    # Without an event priority the definition's fixed value is used; `{}` is no provider.
    doc["job"]["priority"] = {"value": 1}
    del doc["lastEvent"]["jobPriority"]
    doc["serviceProviders"] = {}
    doc["lastEvent"]["context"] = {"blocked_reason": "Bestiality"}
    d = _rows(doc).details
    assert (d["priority"], d["service_providers"], d["blocked_reason"]) == (1.0, [], "Bestiality")


@pytest.mark.parametrize(
    ("event_type", "final"),
    [
        ("Succeeded", True),  # terminal
        ("Failed", True),  # terminal
        ("Canceled", True),  # terminal
        ("Claimed", False),  # still running: asked for again next run
        ("Rejected", False),  # re-queued after a rejection
        ("succeeded", True),  # casing is not stable in the v1 API
        (None, False),  # no event yet
    ],
)
def test_is_final(event_type: str | None, final: bool) -> None:
    doc = _doc()
    doc["lastEvent"]["type"] = event_type
    assert _rows(doc).details["is_final"] is final


def test_type_casing_and_workflow_fallback() -> None:
    doc = _doc()
    doc["job"]["Type"] = doc["job"].pop("type")
    rows = _rows(doc, workflow_id=None)
    assert rows.details["job_type"] == "TextToImageV2"
    # Without a lake workflow id, the job's own properties name its workflow.
    assert rows.details["workflow_id"] == "8484131-20260121222126332"


@pytest.mark.parametrize(
    "doc",
    [
        {},  # an empty object
        {"lastEvent": None, "job": None},  # explicit nulls
        {
            "lastEvent": {
                "context": "junk",
                "jobDuration": "soon",
                "retryAttempt": "x",
                "dateTime": "yesterday",
            }
        },  # wrong member types
        ["not", "an", "object"],  # not an object at all
    ],
)
def test_odd_documents_never_crash(doc: Any) -> None:
    rows = _rows(doc)
    pa.Table.from_pylist([rows.details], schema=JOB_DETAILS_SCHEMA)
    assert rows.details["found"] is True
    assert rows.details["is_final"] is False
    assert rows.details["prompt_scan"] is None  # not classified, not "false"


def test_not_found_row_is_final() -> None:
    row = not_found_row(job_id="gone", workflow_id="wf", window_date=WINDOW, fetched_at=FETCHED)
    assert row["found"] is False and row["is_final"] is True
    pa.Table.from_pylist([row], schema=JOB_DETAILS_SCHEMA)
