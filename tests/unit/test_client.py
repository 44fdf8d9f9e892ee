"""Request building, pagination, blobs and downloads of the sync client.

Retries and error mapping are pinned in test_client_retry.py, the asyncio client in
test_client_async.py.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from pipeline.api.client import OrchestrationClient, RawResponse, WorkflowPageRaw
from pipeline.api.models import ImageGenStep, JobStatus, Workflow, WorkflowPage
from pipeline.core import errors, settings
from tests.unit.client_fakes import BASE_URL, TOKEN, Script, Sleeps, page, reply, workflow

FIXTURE = Path(__file__).parent.parent / "fixtures" / "failed_workflow_redacted.json"


def make_client(script: Script, **kwargs: object) -> OrchestrationClient:
    kwargs.setdefault("sleep", Sleeps())
    return OrchestrationClient(
        base_url=BASE_URL,
        token=TOKEN,
        transport=script.transport,
        **kwargs,  # type: ignore[arg-type]
    )


# ##### request building


def test_sends_bearer_token_and_json_accept() -> None:
    script = Script(page([]))
    with make_client(script) as client:
        client.fetch_workflow_page()
    request = script.requests[0]
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["accept"] == "application/json"
    assert request.url.path == "/v2/consumer/workflows"


def test_without_token_sends_no_authorization_header() -> None:
    script = Script(page([]))
    with OrchestrationClient(base_url=BASE_URL, token=None, transport=script.transport) as client:
        client.fetch_workflow_page()
    assert "authorization" not in script.requests[0].headers


def test_repr_does_not_show_the_token() -> None:
    with make_client(Script(page([]))) as client:
        assert TOKEN not in repr(client)


def test_repeated_tags_are_sent_as_repeated_query_params() -> None:
    script = Script(page([]))
    with make_client(script) as client:
        result = client.fetch_workflow_page(tags=["civitai", "img"], take=50)
    params = script.requests[0].url.params
    assert params.get_list("tags") == ["civitai", "img"]
    assert params["take"] == "50"
    assert result.request_params == {"take": "50", "tags": ["civitai", "img"]}


def test_a_single_string_for_tags_is_refused() -> None:
    # "img" would otherwise be sent as three tags: i, m, g.
    with make_client(Script(page([]))) as client, pytest.raises(TypeError):
        client.fetch_workflow_page(tags="img")


def test_dates_are_sent_as_utc_iso_with_z_and_booleans_lowercase() -> None:
    script = Script(page([]))
    with make_client(script) as client:
        client.fetch_workflow_page(
            from_date=datetime(2026, 11, 1, tzinfo=UTC),
            # 02:30 at +02:00 is 00:30 UTC.
            to_date=datetime(2026, 11, 2, 2, 30, 0, 250000, tzinfo=timezone(timedelta(hours=2))),
            ascending=True,
            hide_mature_content=False,
            exclude_failed=False,
            query="sunset",
        )
    params = script.requests[0].url.params
    assert params["fromDate"] == "2026-11-01T00:00:00Z"
    assert params["toDate"] == "2026-11-02T00:30:00.25Z"
    assert params["ascending"] == "true"
    assert params["hideMatureContent"] == "false"
    assert params["excludeFailed"] == "false"
    assert params["query"] == "sunset"
    assert params["take"] == str(settings.PAGE_SIZE)


def test_naive_datetimes_are_taken_as_utc() -> None:
    script = Script(page([]))
    with make_client(script) as client:
        client.fetch_workflow_page(from_date=datetime(2026, 11, 1, 12, 0))
    assert script.requests[0].url.params["fromDate"] == "2026-11-01T12:00:00Z"


def test_unset_filters_are_not_sent() -> None:
    script = Script(page([]))
    with make_client(script) as client:
        client.fetch_workflow_page(take=None)
    assert dict(script.requests[0].url.params) == {}


def test_path_segments_are_escaped_but_step_names_stay_readable() -> None:
    script = Script(reply(200, json={"$type": "echo", "name": "$0"}))
    with make_client(script) as client:
        step = client.get_step("a/b c", "$0")
    assert script.requests[0].url.raw_path == b"/v2/consumer/workflows/a%2Fb%20c/steps/$0"
    assert step.type == "echo"
    assert step.name == "$0"


def test_base_url_with_a_path_prefix_is_kept() -> None:
    script = Script(reply(200, json={"jobId": "j1"}))
    with OrchestrationClient(
        base_url="http://api.test/prefix/", token=TOKEN, transport=script.transport
    ) as client:
        client.get_job("j1")
    assert script.requests[0].url.path == "/prefix/v1/consumer/jobs/j1"


def test_empty_base_url_is_a_config_error() -> None:
    with pytest.raises(errors.ConfigError, match="CIVITAI_API_URL"):
        OrchestrationClient(base_url="", token=TOKEN)


# ##### workflows, steps, jobs


def test_get_workflow_parses_the_real_sample() -> None:
    script = Script(reply(200, content=FIXTURE.read_bytes()))
    with make_client(script) as client:
        wf = client.get_workflow("redacted-20260810223715659", hide_mature_content=False)
    assert isinstance(wf, Workflow)
    assert wf.status == "failed"
    assert isinstance(wf.steps[0], ImageGenStep)
    assert script.requests[0].url.params["hideMatureContent"] == "false"


def test_get_workflow_raw_accepts_202_while_running_and_extends_the_read_timeout() -> None:
    script = Script(reply(202, content=FIXTURE.read_bytes()))
    with make_client(script) as client:
        raw = client.get_workflow_raw("wf-1", wait=90)
    assert isinstance(raw, RawResponse)
    assert raw.status_code == 202
    assert raw.json()["id"] == "redacted-20260810223715659"
    request = script.requests[0]
    assert request.url.params["wait"] == "90"
    # The server may hold the request for `wait` seconds; the read timeout must outlast it.
    assert request.extensions["timeout"]["read"] >= 90


def test_get_job_sends_detailed_and_parses_the_v1_shape() -> None:
    body = {
        "jobId": "58de87d7",
        "cost": 2,
        "lastEvent": {
            "type": "Succeeded",
            "dateTime": "2026-01-21T22:21:39.4Z",
            "context": {"hive_csam_score": "0.00 %, 0.00 %"},
        },
        "scheduled": True,
    }
    script = Script(reply(200, json=body))
    with make_client(script) as client:
        job = client.get_job("58de87d7")
        raw = client.get_job_raw("58de87d7", detailed=False)
    assert isinstance(job, JobStatus)
    assert job.is_final
    assert job.last_event is not None
    assert job.last_event.context == {"hive_csam_score": "0.00 %, 0.00 %"}
    assert [r.url.params["detailed"] for r in script.requests] == ["true", "false"]
    assert raw.json()["jobId"] == "58de87d7"


def test_a_body_of_the_wrong_shape_is_a_response_validation_error() -> None:
    script = Script(reply(200, json={"id": "wf-1"}))  # createdAt is missing
    with make_client(script) as client, pytest.raises(errors.ResponseValidationError) as info:
        client.get_workflow("wf-1")
    assert "createdAt" in str(info.value)
    assert info.value.endpoint == "GET /v2/consumer/workflows/{workflowId}"


def test_query_workflows_returns_models() -> None:
    script = Script(page([workflow(1), workflow(2)], "c1"))
    with make_client(script) as client:
        result = client.query_workflows()
    assert isinstance(result, WorkflowPage)
    assert [w.id for w in result.items] == ["1-20261101000000000", "2-20261101000000000"]
    assert result.next == "c1"


# ##### pages and pagination


def test_fetch_page_keeps_the_exact_bytes_for_archiving() -> None:
    body = b'{"next":"abc","items":[{"id":"1-x","createdAt":"2026-11-01T00:00:00Z"}],"extra":1}'
    script = Script(reply(200, content=body))
    with make_client(script) as client:
        result = client.fetch_workflow_page()
    assert isinstance(result, WorkflowPageRaw)
    assert result.content == body
    assert result.items == [{"id": "1-x", "createdAt": "2026-11-01T00:00:00Z"}]
    assert result.next == "abc"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"items": [', id="truncated JSON"),
        pytest.param(b"[]", id="array instead of object"),
        pytest.param(b'{"next": "x"}', id="no items"),
        pytest.param(b'{"items": {"a": 1}}', id="items not a list"),
        pytest.param(b'{"items": [1, 2]}', id="items not objects"),
    ],
)
def test_a_malformed_page_is_a_response_validation_error(body: bytes) -> None:
    with (
        make_client(Script(reply(200, content=body))) as client,
        pytest.raises(errors.ResponseValidationError) as info,
    ):
        client.fetch_workflow_page()
    assert info.value.endpoint == "GET /v2/consumer/workflows"


def test_pagination_follows_next_with_the_same_filters() -> None:
    script = Script(
        page([workflow(1)], "c1"),
        page([workflow(2)], "c2"),
        page([workflow(3)]),  # no `next`: last page
    )
    with make_client(script) as client:
        pages = list(client.iter_workflow_pages(tags=["gen"], take=1, exclude_failed=True))
    assert [p.items[0]["id"][0] for p in pages] == ["1", "2", "3"]
    sent = [r.url.params for r in script.requests]
    assert [p.get("cursor") for p in sent] == [None, "c1", "c2"]
    assert all(p.get_list("tags") == ["gen"] and p["excludeFailed"] == "true" for p in sent)
    assert pages[1].request_params["cursor"] == "c1"


@pytest.mark.parametrize(
    ("second_page", "expected_requests"),
    [
        pytest.param(page([], "c2"), 2, id="empty items stop even with a next"),
        pytest.param(page([workflow(2)]), 2, id="missing next"),
        pytest.param(page([workflow(2)], None), 2, id="null next"),
        pytest.param(page([workflow(2)], ""), 2, id="empty-string next"),
        pytest.param(page([workflow(2)], "c1"), 2, id="next repeats the cursor just sent"),
    ],
)
def test_pagination_stop_rules(second_page: object, expected_requests: int) -> None:
    # The third answer would be served if the client did not stop.
    script = Script(page([workflow(1)], "c1"), second_page, page([workflow(3)], "c3"))  # type: ignore[arg-type]
    with make_client(script) as client:
        pages = list(client.iter_workflow_pages())
    assert len(script.requests) == expected_requests
    assert len(pages) == expected_requests
    assert pages[-1].next in (None, "c1", "c2")


def test_pagination_stops_on_a_cursor_seen_earlier_in_the_chain() -> None:
    script = Script(
        page([workflow(1)], "c1"),
        page([workflow(2)], "c2"),
        page([workflow(3)], "c1"),  # loops back
        page([workflow(4)], "c9"),
    )
    with make_client(script) as client:
        pages = list(client.iter_workflow_pages())
    assert len(pages) == 3


def test_empty_string_next_is_normalised_to_none() -> None:
    with make_client(Script(page([workflow(1)], ""))) as client:
        assert client.fetch_workflow_page().next is None


def test_max_pages_and_a_starting_cursor() -> None:
    script = Script(page([workflow(1)], "c2"), page([workflow(2)], "c3"), page([workflow(3)], "c4"))
    with make_client(script) as client:
        pages = list(client.iter_workflow_pages(cursor="c1", max_pages=2))
    assert len(pages) == 2
    assert [r.url.params["cursor"] for r in script.requests] == ["c1", "c2"]


def test_a_first_empty_page_is_still_yielded() -> None:
    script = Script(page([], "c1"))
    with make_client(script) as client:
        pages = list(client.iter_workflow_pages())
    assert len(pages) == 1
    assert pages[0].items == []


# ##### blobs and downloads


def test_blob_url_returns_the_308_location_without_following_it() -> None:
    script = Script(
        reply(308, headers={"location": "/v2/consumer/blobs/content/ENC123?sig=abc"}),
        reply(200, content=b"should never be fetched"),
    )
    with make_client(script) as client:
        url = client.get_blob_url(
            "JNFD.jpeg", workflow_id="wf-1", nsfw_level="x", download=True, filename="a.jpg"
        )
    assert url == f"{BASE_URL}/v2/consumer/blobs/content/ENC123?sig=abc"
    assert len(script.requests) == 1
    assert dict(script.requests[0].url.params) == {
        "workflowId": "wf-1",
        "nsfwLevel": "x",
        "download": "true",
        "filename": "a.jpg",
    }


def test_blob_url_keeps_an_absolute_location() -> None:
    script = Script(reply(308, headers={"location": "https://cdn.example.invalid/b/1.jpeg"}))
    with make_client(script) as client:
        assert client.get_blob_url("1.jpeg") == "https://cdn.example.invalid/b/1.jpeg"


def test_blob_redirect_without_location_is_a_response_validation_error() -> None:
    with (
        make_client(Script(reply(308))) as client,
        pytest.raises(errors.ResponseValidationError, match="Location"),
    ):
        client.get_blob_url("1.jpeg")


def test_blob_answered_200_instead_of_redirect_is_an_error() -> None:
    with make_client(Script(reply(200, content=b"x"))) as client, pytest.raises(errors.ApiError):
        client.get_blob_url("1.jpeg")


def test_download_streams_to_dest_and_leaves_no_temp_file(tmp_path: Path) -> None:
    payload = bytes(range(256)) * 1000
    script = Script(reply(200, content=payload))
    dest = tmp_path / "out" / "blob.jpeg"
    with make_client(script) as client:
        written = client.download(f"{BASE_URL}/v2/consumer/blobs/content/ENC", dest)
    assert written == len(payload)
    assert dest.read_bytes() == payload
    assert [p.name for p in dest.parent.iterdir()] == ["blob.jpeg"]
    # Same origin as the API: the token is sent.
    assert script.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_download_never_sends_the_token_to_another_host(tmp_path: Path) -> None:
    script = Script(reply(200, content=b"abc"))
    with make_client(script) as client:
        client.download("https://cdn.example.invalid/x.jpeg?sig=s", tmp_path / "x.jpeg")
    assert "authorization" not in script.requests[0].headers


def test_download_retries_and_a_failed_download_leaves_nothing_behind(tmp_path: Path) -> None:
    dest = tmp_path / "x.jpeg"
    sleeps = Sleeps()
    script = Script(reply(503, content="down"))
    with (
        make_client(script, max_retries=2, sleep=sleeps) as client,
        pytest.raises(errors.ServerError),
    ):
        client.download(f"{BASE_URL}/v2/consumer/blobs/content/E", dest)
    assert len(script.requests) == 3
    assert list(tmp_path.iterdir()) == []


def test_download_of_an_expired_url_says_to_fetch_a_fresh_one(tmp_path: Path) -> None:
    with (
        make_client(Script(reply(404))) as client,
        pytest.raises(errors.NotFoundError, match="get_blob_url"),
    ):
        client.download(f"{BASE_URL}/v2/consumer/blobs/content/E", tmp_path / "x")


# ##### stats


def test_stats_are_counted_safely_from_many_threads() -> None:
    script = Script(reply(200, json={"jobId": "j"}))
    with make_client(script) as client:

        def work(i: int) -> None:
            for _ in range(25):
                client.get_job_raw(f"job-{i}")

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(work, range(8)))
    assert client.stats.requests == 200
    assert len(script.requests) == 200


def test_stats_count_every_attempt() -> None:
    script = Script(reply(500), page([workflow(1)]))
    sleeps = Sleeps()
    with make_client(script, sleep=sleeps, jitter=lambda: 0.5) as client:
        client.fetch_workflow_page()
        assert client.stats.as_dict() == {
            "requests": 2,
            "retries": 1,
            "status_429": 0,
            "status_5xx": 1,
            "transport_errors": 0,
        }


def test_the_client_can_be_used_after_an_error() -> None:
    script = Script(reply(404), reply(200, json={"jobId": "j"}))
    with make_client(script) as client:
        with pytest.raises(errors.NotFoundError):
            client.get_job("missing")
        assert client.get_job("j").job_id == "j"


def test_httpx_transport_is_not_left_open_after_close() -> None:
    client = make_client(Script(page([])))
    client.close()
    with pytest.raises(RuntimeError):
        client.fetch_workflow_page()


def test_default_timeout_comes_from_settings() -> None:
    script = Script(page([]))
    with make_client(script) as client:
        client.fetch_workflow_page()
    timeout = script.requests[0].extensions["timeout"]
    assert timeout["read"] == settings.READ_TIMEOUT
    assert timeout["connect"] == settings.CONNECT_TIMEOUT


def test_custom_timeout_is_used() -> None:
    script = Script(page([]))
    with make_client(script, timeout=httpx.Timeout(3.0)) as client:
        client.fetch_workflow_page()
    assert script.requests[0].extensions["timeout"]["read"] == 3.0
