"""Pydantic models: the real sample parses, unknown things are kept, .NET formats are read."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from pipeline.api.models import (
    Blob,
    ComfyStep,
    ImageGenStep,
    JobStatus,
    TextToImageStep,
    VideoStep,
    Workflow,
    WorkflowPage,
    WorkflowStatus,
    WorkflowStep,
    format_datetime,
    iter_output_blobs,
    parse_datetime,
    parse_step,
    timespan_seconds,
)
from pipeline.core.timefmt import (
    parse_duration,
)

FIXTURE = Path(__file__).parent.parent / "fixtures" / "failed_workflow_redacted.json"


def sample() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


def dump(model: Any) -> dict[str, Any]:
    return model.model_dump(by_alias=True, exclude_unset=True, mode="json")


# ##### the real GetWorkflow sample


def test_the_real_sample_parses() -> None:
    wf = Workflow.model_validate(sample())
    assert wf.id == "redacted-20260810223715659"
    assert wf.created_at == datetime(2026, 8, 10, 22, 37, 15, 659000, tzinfo=UTC)
    assert wf.status == WorkflowStatus.FAILED
    assert wf.is_terminal
    assert wf.tags[:2] == ["civitai", "NanoBanana"]
    assert (
        wf.cost is not None
        and wf.cost.total == 0
        and wf.cost.factors == {"base": 60, "quantity": 1}
    )
    assert wf.transactions is not None
    assert [(t.type, t.amount, t.account_type) for t in wf.transactions.items] == [
        ("debit", 60, "blue"),
        ("credit", 60, "blue"),
    ]
    assert wf.callbacks[0].type == ["step:*"]
    assert wf.currencies == ["blue", "green"]
    assert wf.force_refunded is False
    assert wf.nsfw_level is None  # absent in the sample


def test_the_sample_step_job_and_blob() -> None:
    step = Workflow.model_validate(sample()).steps[0]
    assert isinstance(step, ImageGenStep)
    assert (step.type, step.name, step.priority, step.status) == ("imageGen", "$0", "low", "failed")
    assert step.timeout_seconds == 1200.0
    assert step.input_data()["engine"] == "gemini"
    assert step.jobs is not None
    job = step.jobs[0]
    assert (job.id, job.status, job.cost) == ("redacted-job", "failed", 60)
    [(key, index, blob)] = step.blobs()
    assert (key, index) == ("$.images[0]", 0)
    # Real image blobs lack type, nsfwLevel and jobId.
    assert (blob.id, blob.type, blob.nsfw_level, blob.job_id) == (
        "redacted-0.jpg",
        None,
        None,
        None,
    )
    assert blob.available is False
    # 7 fractional digits: the 7th is dropped.
    assert blob.url_expires_at == datetime(2027, 8, 11, 0, 15, 34, 184985, tzinfo=UTC)
    assert step.output is not None and step.output.errors


def test_the_sample_round_trips_to_the_same_json() -> None:
    original = sample()
    dumped = dump(Workflow.model_validate(original))
    expected = copy.deepcopy(original)
    # The only change: Python keeps microseconds, so a 7th fractional digit is lost.
    expected["steps"][0]["output"]["images"][0]["urlExpiresAt"] = "2027-08-11T00:15:34.184985Z"
    assert dumped == expected
    assert Workflow.model_validate(dumped) == Workflow.model_validate(original)


def test_unknown_fields_are_kept_at_every_level_and_dumped_back() -> None:
    data = sample()
    data["brandNew"] = {"x": 1}
    data["steps"][0]["newStepField"] = [1, 2]
    data["steps"][0]["jobs"][0]["newJobField"] = "j"
    data["steps"][0]["output"]["images"][0]["newBlobField"] = True
    data["cost"]["newCostField"] = 5
    data["transactions"]["list"][0]["newTxnField"] = "t"
    wf = Workflow.model_validate(data)
    assert wf.model_extra == {"brandNew": {"x": 1}}
    out = dump(wf)
    assert out["brandNew"] == {"x": 1}
    assert out["steps"][0]["newStepField"] == [1, 2]
    assert out["steps"][0]["jobs"][0]["newJobField"] == "j"
    assert out["steps"][0]["output"]["images"][0]["newBlobField"] is True
    assert out["cost"]["newCostField"] == 5
    assert out["transactions"]["list"][0]["newTxnField"] == "t"


def test_unknown_statuses_and_enum_values_are_kept_as_strings() -> None:
    data = sample()
    data["status"] = "deleted"
    data["nsfwLevel"] = "PG"
    data["upgradeMode"] = "someday"
    data["steps"][0]["priority"] = "urgent"
    data["steps"][0]["jobs"][0]["status"] = "reticulating"
    wf = Workflow.model_validate(data)
    assert (wf.status, wf.nsfw_level, wf.upgrade_mode) == ("deleted", "PG", "someday")
    assert wf.steps[0].priority == "urgent"
    assert wf.steps[0].jobs is not None and wf.steps[0].jobs[0].status == "reticulating"


# ##### step polymorphism


def test_an_unknown_step_type_is_kept_with_its_input_and_output() -> None:
    raw = {
        "$type": "holoDeck",
        "name": "0",
        "status": "succeeded",
        "input": {"scene": "beach"},
        "output": {"render": {"id": "B1.glb", "available": True, "type": "model3d"}, "n": 3},
        "futureField": 1,
    }
    step = parse_step(raw)
    assert type(step) is WorkflowStep
    assert step.type == "holoDeck"
    assert step.input == {"scene": "beach"}
    assert [(k, i, b.id, b.type) for k, i, b in step.blobs()] == [
        ("$.render", 0, "B1.glb", "model3d")
    ]
    assert dump(step) == raw


@pytest.mark.parametrize(
    ("raw", "cls"),
    [
        (
            {"$type": "textToImage", "name": "$0", "input": {"prompt": "p", "width": 832}},
            TextToImageStep,
        ),
        ({"$type": "imageGen", "name": "$0", "output": {"images": []}}, ImageGenStep),
        (
            {
                "$type": "videoGen",
                "name": "$0",
                "output": {"video": {"id": "v.mp4", "available": True}},
            },
            VideoStep,
        ),
        (
            {
                "$type": "comfy",
                "name": "$0",
                "output": {"blobs": [{"id": "a.png", "available": True}]},
            },
            ComfyStep,
        ),
    ],
)
def test_known_step_types_get_their_class(raw: dict[str, Any], cls: type[WorkflowStep]) -> None:
    step = parse_step(raw)
    assert type(step) is cls
    assert dump(step) == raw


def test_a_known_type_with_an_unexpected_shape_falls_back_instead_of_failing() -> None:
    raw = {"$type": "imageGen", "name": "$0", "output": {"images": "not a list"}}
    step = parse_step(raw)
    assert type(step) is WorkflowStep
    assert step.output == {"images": "not a list"}
    assert step.blobs() == []


def test_text_to_image_input_is_typed() -> None:
    step = parse_step(
        {
            "$type": "textToImage",
            "name": "$0",
            "input": {"prompt": "p", "negativePrompt": "n", "model": "urn:air:x", "seed": 2**40},
        }
    )
    assert isinstance(step, TextToImageStep)
    assert step.input is not None
    assert (step.input.prompt, step.input.negative_prompt, step.input.seed) == ("p", "n", 2**40)
    assert step.input_data() == {
        "prompt": "p",
        "negativePrompt": "n",
        "model": "urn:air:x",
        "seed": 2**40,
    }


def test_a_step_without_type_still_parses() -> None:
    assert parse_step({"name": "x"}).type is None


def test_iter_output_blobs_covers_single_listed_and_self_blobs() -> None:
    video = {
        "video": {"id": "v.mp4", "available": True, "type": "video"},
        "additionalVideos": [
            {"id": "w.mp4", "available": False},
            "junk",
            {"id": "x.mp4", "available": True},
        ],
        "draftCache": None,
        "totalFramesExtracted": 3,
    }
    assert [(k, i, b["id"]) for k, i, b in iter_output_blobs(video)] == [
        ("$.video", 0, "v.mp4"),
        ("$.additionalVideos[0]", 0, "w.mp4"),
        ("$.additionalVideos[2]", 2, "x.mp4"),
    ]
    transcode = {"id": "t.mp4", "available": True, "jobId": "j"}
    assert [(k, i) for k, i, _ in iter_output_blobs(transcode)] == [("$", 0)]
    assert list(iter_output_blobs(None)) == []
    assert list(iter_output_blobs({"choices": [{"id": "c"}]})) == []  # an id alone is not a blob


def test_workflow_without_id_or_created_at_is_invalid() -> None:
    with pytest.raises(ValidationError):
        Workflow.model_validate({"id": "x"})
    with pytest.raises(ValidationError):
        Workflow.model_validate({"createdAt": "2026-01-01T00:00:00Z"})


def test_blob_audio_and_3d_fields() -> None:
    audio = Blob.model_validate(
        {"id": "a.mp3", "type": "audio", "available": True, "duration": 3.5}
    )
    model = Blob.model_validate(
        {"id": "m.glb", "type": "model3d", "available": True, "format": "glb"}
    )
    assert (audio.duration, model.format) == (3.5, "glb")


# ##### pages and v1 jobs


@pytest.mark.parametrize("extra", [{}, {"next": None}, {"next": ""}, {"next": "abc"}])
def test_workflow_page_next_is_optional(extra: dict[str, Any]) -> None:
    page = WorkflowPage.model_validate({"items": [sample()], **extra})
    assert len(page.items) == 1
    assert page.next == extra.get("next")


JOB = {
    "jobId": "58de87d7-d594-4d71-ae43-dd8fc1bcbd23",
    "cost": 2,
    "job": {
        "id": "58de87d7-d594-4d71-ae43-dd8fc1bcbd23",
        "type": "TextToImageV2",
        "createdAt": "2026-01-21T22:21:26.4Z",
        "properties": {"workflowId": "8484131-20260121222126332"},
        "params": {"prompt": "…", "negativePrompt": "…"},
        "promptClassificationResult": {"sexual": True, "young": True, "cr": False, "scan": True},
        "maxRetryAttempt": 3,
    },
    "result": [{"blobKey": "JNFDW54JNTATNW42HACYCWSQP0.jpeg", "available": True}],
    "lastEvent": {
        "jobId": "58de87d7-d594-4d71-ae43-dd8fc1bcbd23",
        "type": "Succeeded",
        "dateTime": "2026-01-21T22:21:39.4000000Z",
        "provider": "ValdiAI",
        "workerId": "w-1",
        "jobDuration": "00:00:12.3900000",
        "claimDuration": "00:00:00.5",
        "retryAttempt": 0,
        "context": {"hive_csam_score": "0.00 %, 0.00 %", "hive_vlm_summary": "X, No_Child", "n": 1},
    },
    "serviceProviders": {},
    "scheduled": True,
}


def test_v1_job_status_parses_and_round_trips() -> None:
    job = JobStatus.model_validate(JOB)
    assert job.is_final
    assert job.workflow_id == "8484131-20260121222126332"
    assert job.job is not None and job.job.type == "TextToImageV2"
    assert job.job.prompt_classification_result == {
        "sexual": True,
        "young": True,
        "cr": False,
        "scan": True,
    }
    assert job.job.model_extra == {"maxRetryAttempt": 3}
    event = job.last_event
    assert event is not None
    assert event.date_time == datetime(2026, 1, 21, 22, 21, 39, 400000, tzinfo=UTC)
    assert (event.job_duration_seconds, event.claim_duration_seconds) == (12.39, 0.5)
    assert event.context is not None and event.context["hive_vlm_summary"] == "X, No_Child"
    out = dump(job)
    assert out["lastEvent"]["dateTime"] == "2026-01-21T22:21:39.4Z"
    out["lastEvent"]["dateTime"] = JOB["lastEvent"]["dateTime"]  # type: ignore[index]
    assert out == JOB


def test_job_definition_accepts_pascal_case_type() -> None:
    job = JobStatus.model_validate({"jobId": "j", "job": {"Type": "ComfyJob"}})
    assert job.job is not None and job.job.type == "ComfyJob"


@pytest.mark.parametrize(
    ("event_type", "final"),
    [
        ("Succeeded", True),
        ("Failed", True),
        ("Expired", True),
        ("Deleted", True),
        ("Canceled", True),
        ("Claimed", False),
        ("Updated", False),
        ("Rejected", False),
        ("SomethingNew", False),
    ],
)
def test_job_is_final_by_last_event_type(event_type: str, final: bool) -> None:
    assert JobStatus.model_validate({"lastEvent": {"type": event_type}}).is_final is final


def test_a_job_without_last_event_is_not_final() -> None:
    job = JobStatus.model_validate({"jobId": "j"})
    assert not job.is_final
    assert job.workflow_id is None


# ##### .NET timestamps and TimeSpans


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-08-10T22:37:15Z", datetime(2026, 8, 10, 22, 37, 15, tzinfo=UTC)),
        ("2026-08-10T22:37:15.6Z", datetime(2026, 8, 10, 22, 37, 15, 600000, tzinfo=UTC)),
        ("2026-08-10T22:37:15.659Z", datetime(2026, 8, 10, 22, 37, 15, 659000, tzinfo=UTC)),
        ("2026-08-10T22:37:15.18504Z", datetime(2026, 8, 10, 22, 37, 15, 185040, tzinfo=UTC)),
        ("2026-08-10T22:37:15.123456Z", datetime(2026, 8, 10, 22, 37, 15, 123456, tzinfo=UTC)),
        # 7 digits: truncated, not rounded (.3423519 -> .342351).
        ("2027-08-11T20:24:40.3423519Z", datetime(2027, 8, 11, 20, 24, 40, 342351, tzinfo=UTC)),
        ("2026-08-10T22:37:15.1234567890Z", datetime(2026, 8, 10, 22, 37, 15, 123456, tzinfo=UTC)),
        ("2026-08-10T22:37:15z", datetime(2026, 8, 10, 22, 37, 15, tzinfo=UTC)),
        # No offset: the service means UTC.
        ("2026-08-10T22:37:15.5", datetime(2026, 8, 10, 22, 37, 15, 500000, tzinfo=UTC)),
        ("2026-08-10 22:37", datetime(2026, 8, 10, 22, 37, tzinfo=UTC)),
        ("2026-08-11T00:37:15+02:00", datetime(2026, 8, 10, 22, 37, 15, tzinfo=UTC)),
        ("2026-08-10T20:07:15.25-0230", datetime(2026, 8, 10, 22, 37, 15, 250000, tzinfo=UTC)),
        ("0001-01-01T00:00:00", datetime(1, 1, 1, tzinfo=UTC)),
    ],
)
def test_parse_datetime(text: str, expected: datetime) -> None:
    parsed = parse_datetime(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text", ["", "yesterday", "2026-13-01T00:00:00Z", "2026-08-10", "1700000000"]
)
def test_parse_datetime_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError):
        parse_datetime(text)


def test_parse_datetime_normalises_datetimes() -> None:
    aware = datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))
    assert parse_datetime(aware) == datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_datetime(datetime(2026, 1, 1)).tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 11, 1, tzinfo=UTC), "2026-11-01T00:00:00Z"),
        (datetime(2026, 11, 1, 0, 0, 0, 659000, tzinfo=UTC), "2026-11-01T00:00:00.659Z"),
        (datetime(2026, 11, 1, 0, 0, 0, 1, tzinfo=UTC), "2026-11-01T00:00:00.000001Z"),
        (datetime(2026, 11, 1, 1, tzinfo=timezone(timedelta(hours=1))), "2026-11-01T00:00:00Z"),
        (datetime(2026, 11, 1), "2026-11-01T00:00:00Z"),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00Z"),
    ],
)
def test_format_datetime(value: datetime, expected: str) -> None:
    assert format_datetime(value) == expected
    assert parse_datetime(expected) == parse_datetime(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("00:20:00", 1200.0),
        ("00:00:12.3900000", 12.39),
        ("01:02:03", 3723.0),
        ("1.02:03:04", 93784.0),
        ("1.02:03:04.5", 93784.5),
        ("1:02:03:04", 93784.0),
        ("-00:00:01.5", -1.5),
        ("48:00:00", 172800.0),
        ("PT20M", 1200.0),
        ("P1DT1H", 90000.0),
        ("PT0.5S", 0.5),
        (90, 90.0),
        (1.5, 1.5),
        ({"ticks": 123_900_000}, 12.39),
        ({"totalSeconds": 7.0}, 7.0),
    ],
)
def test_timespan_seconds(value: object, expected: float) -> None:
    assert timespan_seconds(value) == pytest.approx(expected)
    assert timespan_seconds(value, strict=True) == pytest.approx(expected)


def test_timespan_of_none_is_none() -> None:
    assert timespan_seconds(None) is None
    assert timespan_seconds(None, strict=True) is None


@pytest.mark.parametrize("value", ["soon", "P", "PT", "12", "", True, [1], {"days": 1}])
def test_timespan_seconds_unrecognised(value: object) -> None:
    assert timespan_seconds(value) is None
    with pytest.raises(ValueError):
        timespan_seconds(value, strict=True)


@pytest.mark.parametrize(
    ("value", "seconds", "text"),
    [
        ("PT20M", 1200.0, "PT20M"),
        ("00:20:00", 1200.0, "00:20:00"),
        ("1.02:03:04.5", 93784.5, "1.02:03:04.5"),
        (" P2W ", 1209600.0, " P2W "),
        ("pt1h30m", 5400.0, "pt1h30m"),
        ("PT0,5S", 0.5, "PT0,5S"),
        (600, 600.0, "600"),
    ],
)
def test_parse_duration_keeps_the_text_as_written(value: object, seconds: float, text: str) -> None:
    duration = parse_duration(value)
    assert duration is not None
    assert duration.seconds == pytest.approx(seconds)
    assert duration.text == text


@pytest.mark.parametrize("value", ["00:61:00", "P1M", "P1Y", "PT", "-P", "1e3", float("nan")])
def test_parse_duration_refuses_what_is_not_a_fixed_duration(value: object) -> None:
    assert parse_duration(value) is None


def test_an_image_upload_step_with_a_string_input_parses() -> None:
    step = parse_step(
        {
            "$type": "imageUpload",
            "name": "upload",
            "input": "https://example.invalid/in.png",
            "output": {"blob": {"id": "up.png", "available": True, "type": "image"}},
            "timeout": "PT20M",
        }
    )
    assert step.input_text() == "https://example.invalid/in.png"
    assert step.input_data() == {}
    assert [(k, i, b.id) for k, i, b in step.blobs()] == [("$.blob", 0, "up.png")]
    assert step.timeout_seconds == 1200.0
    assert step.timeout_duration is not None and step.timeout_duration.text == "PT20M"


def test_null_lists_in_a_workflow_are_empty_lists() -> None:
    wf = Workflow.model_validate(
        {
            "id": "1-x",
            "createdAt": "2026-11-01T00:00:00Z",
            "tags": None,
            "steps": [{"$type": "echo", "name": "$0", "jobs": None}],
            "callbacks": None,
            "currencies": None,
        }
    )
    assert (wf.tags, wf.callbacks, wf.currencies) == ([], [], [])
    assert wf.steps[0].jobs is None  # a step without jobs yet


def test_blobs_are_found_at_any_depth_of_an_output() -> None:
    training = {
        "epochs": [
            {
                "epochNumber": 1,
                "model": {"id": "m1.safetensors", "available": True},
                "samples": [
                    {"id": "s1.jpg", "available": True},
                    {"id": "s2.jpg", "available": False},
                ],
            },
            {"model": {"id": "m2.safetensors", "type": "model3d", "format": "glb"}},
        ],
        "grid": [
            [{"id": "g00.png", "available": True}],
            [{"note": 1}, {"id": "g11.png", "available": True}],
        ],
        "choices": [{"id": "not-a-blob"}],
    }
    assert [(path, index, blob["id"]) for path, index, blob in iter_output_blobs(training)] == [
        ("$.epochs[0].model", 0, "m1.safetensors"),
        ("$.epochs[0].samples[0]", 0, "s1.jpg"),
        ("$.epochs[0].samples[1]", 1, "s2.jpg"),
        ("$.epochs[1].model", 1, "m2.safetensors"),
        ("$.grid[0][0]", 0, "g00.png"),
        ("$.grid[1][1]", 1, "g11.png"),
    ]
