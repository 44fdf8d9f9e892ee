"""Request building, pages, blobs and downloads of the client, against a real local HTTP
server (tests/support/scripted_server.py): what is checked is what went over the wire.

Retries and error mapping are pinned in test_client_retry.py, URL and redirect rules in
test_transport_rules.py.
"""

from __future__ import annotations

import gzip
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from pipeline.api.client import OrchestrationClient
from pipeline.api.models import ImageGenStep, JobStatus, Workflow, WorkflowPage
from pipeline.api.responses import RawResponse, WorkflowPageRaw
from pipeline.core import errors, settings
from tests.support.scripted_server import Answer, ScriptedServer, Seen, page, reply, workflow

FIXTURE = Path(__file__).parent.parent / "fixtures" / "failed_workflow_redacted.json"
TOKEN = "sk-test-9f8e7d6c5b4a-SECRET"


class Sleeps(list[float]):
    """Records the delays the client asked to sleep, without sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_client(server: ScriptedServer, **kwargs: object) -> OrchestrationClient:
    kwargs.setdefault("sleep", Sleeps())
    return OrchestrationClient(base_url=server.url, token=TOKEN, **kwargs)  # type: ignore[arg-type]


# ##### request building


def test_sends_bearer_token_json_accept_and_compression() -> None:
    with ScriptedServer(page([])) as server, make_client(server) as client:
        client.fetch_workflow_page()
    seen = server.requests[0]
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["accept"] == "application/json"
    assert "gzip" in seen.headers["accept-encoding"]
    assert seen.headers["user-agent"].startswith("civitai-orchestration-sync")
    assert seen.path == "/v2/consumer/workflows"


def test_without_token_sends_no_authorization_header() -> None:
    with (
        ScriptedServer(page([])) as server,
        OrchestrationClient(base_url=server.url, token=None) as client,
    ):
        client.fetch_workflow_page()
    assert "authorization" not in server.requests[0].headers


@pytest.mark.parametrize("raw", [f"  {TOKEN}\n", f"\t{TOKEN}\r\n"])
def test_the_token_is_sent_without_surrounding_whitespace(raw: str) -> None:
    with (
        ScriptedServer(page([])) as server,
        OrchestrationClient(base_url=server.url, token=raw) as client,
    ):
        client.fetch_workflow_page()
    assert server.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_a_token_with_a_control_character_is_refused_before_any_request() -> None:
    with (
        ScriptedServer(page([])) as server,
        pytest.raises(errors.ConfigError, match="control character") as info,
    ):
        OrchestrationClient(base_url=server.url, token="abc\ndef")
    assert "abc" not in str(info.value)
    assert server.requests == []


def test_repr_does_not_show_the_token() -> None:
    with ScriptedServer(page([])) as server, make_client(server) as client:
        assert TOKEN not in repr(client)


def test_repeated_tags_are_sent_as_repeated_query_params() -> None:
    with ScriptedServer(page([])) as server, make_client(server) as client:
        result = client.fetch_workflow_page(tags=["civitai", "img"], take=50)
    assert server.requests[0].query == {"take": ["50"], "tags": ["civitai", "img"]}
    assert result.request_params == {"take": "50", "tags": ["civitai", "img"]}


def test_a_single_string_for_tags_is_refused() -> None:
    # "img" would otherwise be sent as three tags: i, m, g.
    with (
        ScriptedServer(page([])) as server,
        make_client(server) as client,
        pytest.raises(TypeError),
    ):
        client.fetch_workflow_page(tags="img")
    assert server.requests == []


def test_dates_are_sent_as_utc_iso_with_z_and_booleans_lowercase() -> None:
    with ScriptedServer(page([])) as server, make_client(server) as client:
        client.fetch_workflow_page(
            from_date=datetime(2026, 11, 1, tzinfo=UTC),
            # 02:30 at +02:00 is 00:30 UTC.
            to_date=datetime(2026, 11, 2, 2, 30, 0, 250000, tzinfo=timezone(timedelta(hours=2))),
            ascending=True,
            hide_mature_content=False,
            exclude_failed=False,
            query="sunset",
        )
    assert server.requests[0].query == {
        "take": [str(settings.PAGE_SIZE)],
        "fromDate": ["2026-11-01T00:00:00Z"],
        "toDate": ["2026-11-02T00:30:00.25Z"],
        "ascending": ["true"],
        "hideMatureContent": ["false"],
        "excludeFailed": ["false"],
        "query": ["sunset"],
    }


def test_naive_datetimes_are_taken_as_utc_and_unset_filters_are_not_sent() -> None:
    with ScriptedServer(page([])) as server, make_client(server) as client:
        client.fetch_workflow_page(from_date=datetime(2026, 11, 1, 12, 0), take=None)
        client.fetch_workflow_page(take=None)
    assert server.requests[0].query == {"fromDate": ["2026-11-01T12:00:00Z"]}
    assert server.requests[1].raw_query == ""


@pytest.mark.parametrize(
    "cursor",
    [
        "abc+def/ghi==",
        "a%2Fb%2B",  # already looks percent-encoded: must come back as these very characters
        "eyJwIjoxfQ== with space&and=amp#hash?q",
        "ünïcødé+",
    ],
)
def test_the_next_cursor_is_sent_back_byte_for_byte(cursor: str) -> None:
    def check(seen: Seen) -> Answer:
        sent = seen.query.get("cursor")
        return page([], None) if sent == [cursor] else reply(400, content=f"got {sent!r}")

    with ScriptedServer(page([workflow(1)], cursor), check) as server, make_client(server) as c:
        first = c.fetch_workflow_page()
        assert first.next == cursor
        c.fetch_workflow_page(cursor=first.next)  # a 400 (wrong cursor) would raise
    sent = server.requests[1].raw_query.split("cursor=")[1].split("&")[0]
    # A literal "+" would read as a space; "/" and "=" are escaped too.
    assert sent.count("%2B") == cursor.count("+")
    assert "/" not in sent and sent.count("%3D") == cursor.count("=")


def test_base_url_with_a_path_prefix_is_kept() -> None:
    with (
        ScriptedServer(reply(200, json={"jobId": "j1"})) as server,
        OrchestrationClient(base_url=server.url + "/prefix/", token=TOKEN) as client,
    ):
        client.get_job("j1")
    assert server.requests[0].path == "/prefix/v1/consumer/jobs/j1"


# ##### workflows, steps, jobs


def test_get_workflow_parses_the_real_sample() -> None:
    with (
        ScriptedServer(reply(200, content=FIXTURE.read_bytes())) as server,
        make_client(server) as client,
    ):
        wf = client.get_workflow("redacted-20260810223715659", hide_mature_content=False)
    assert isinstance(wf, Workflow)
    assert wf.status == "failed"
    assert isinstance(wf.steps[0], ImageGenStep)
    assert server.requests[0].query["hideMatureContent"] == ["false"]


def test_get_workflow_raw_accepts_202_and_outwaits_the_servers_wait() -> None:
    # The server holds the answer longer than the client's usual read timeout; `wait`
    # must extend it (wait=1 s plus a margin against a 0.3 s read timeout).
    slow = reply(202, content=FIXTURE.read_bytes(), delay=0.6)
    with (
        ScriptedServer(slow) as server,
        make_client(server, timeout=httpx.Timeout(0.3), max_retries=0) as client,
    ):
        raw = client.get_workflow_raw("wf-1", wait=1)
    assert isinstance(raw, RawResponse)
    assert raw.status_code == 202
    assert raw.json()["id"] == "redacted-20260810223715659"
    assert server.requests[0].query["wait"] == ["1"]


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
    with ScriptedServer(reply(200, json=body)) as server, make_client(server) as client:
        job = client.get_job("58de87d7")
        raw = client.get_job_raw("58de87d7", detailed=False)
    assert isinstance(job, JobStatus)
    assert job.is_final
    assert job.last_event is not None
    assert job.last_event.context == {"hive_csam_score": "0.00 %, 0.00 %"}
    assert [s.query["detailed"] for s in server.requests] == [["true"], ["false"]]
    assert raw.json()["jobId"] == "58de87d7"


def test_gzip_answers_are_decoded_once() -> None:
    answer = reply(200, json={"jobId": "gz"}, gzip_body=True)
    with ScriptedServer(answer) as server, make_client(server) as client:
        assert client.get_job_raw("gz").json() == {"jobId": "gz"}


def test_a_body_of_the_wrong_shape_is_a_response_validation_error() -> None:
    with (
        ScriptedServer(reply(200, json={"id": "wf-1"})) as server,  # createdAt is missing
        make_client(server) as client,
        pytest.raises(errors.ResponseValidationError) as info,
    ):
        client.get_workflow("wf-1")
    assert "createdAt" in str(info.value)
    assert info.value.endpoint == "GET /v2/consumer/workflows/{workflowId}"


def test_query_workflows_returns_models() -> None:
    with (
        ScriptedServer(page([workflow(1), workflow(2)], "c1")) as server,
        make_client(server) as client,
    ):
        result = client.query_workflows(take=2)
    assert isinstance(result, WorkflowPage)
    assert [w.id for w in result.items] == ["1-20261101000000000", "2-20261101000000000"]
    assert result.next == "c1"
    assert server.requests[0].query["take"] == ["2"]


# ##### pages


def test_fetch_page_keeps_the_exact_bytes() -> None:
    body = b'{"next":"abc","items":[{"id":"1-x","createdAt":"2026-11-01T00:00:00Z"}],"extra":1}'
    with ScriptedServer(reply(200, content=body)) as server, make_client(server) as client:
        result = client.fetch_workflow_page()
    assert isinstance(result, WorkflowPageRaw)
    assert result.content == body
    assert result.items == [{"id": "1-x", "createdAt": "2026-11-01T00:00:00Z"}]
    assert result.next == "abc"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"items": [', id="truncated JSON"),
        pytest.param(b"<html>502</html>", id="HTML with status 200"),
        pytest.param(b"[]", id="array instead of object"),
        pytest.param(b'{"next": "x"}', id="no items"),
        pytest.param(b'{"items": {"a": 1}}', id="items not a list"),
        pytest.param(b'{"items": [1, 2]}', id="items not objects"),
    ],
)
def test_a_malformed_page_is_a_response_validation_error(body: bytes) -> None:
    with (
        ScriptedServer(reply(200, content=body)) as server,
        make_client(server) as client,
        pytest.raises(errors.ResponseValidationError) as info,
    ):
        client.fetch_workflow_page()
    assert info.value.endpoint == "GET /v2/consumer/workflows"
    assert len(server.requests) == 1  # not retried: the same bytes would come back


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(reply(200, content=b'{"items": []}' + b" " * 5000), id="declared length"),
        pytest.param(
            reply(200, content=b'{"items": []}' + b" " * 5000, chunked=True), id="chunked"
        ),
        pytest.param(
            reply(200, content=b'{"items": []}' + b" " * 500_000, gzip_body=True),
            id="small when compressed",
        ),
    ],
)
def test_a_body_over_the_cap_fails_with_a_clear_message(answer: object) -> None:
    with (
        ScriptedServer(answer) as server,
        make_client(server, max_body_bytes=4096) as client,
        pytest.raises(errors.ResponseValidationError) as info,
    ):
        client.fetch_workflow_page()
    assert "larger than 4096 bytes" in str(info.value)
    assert "MAX_RESPONSE_BYTES" in str(info.value)
    assert len(server.requests) == 1


def test_a_body_just_under_the_cap_is_read() -> None:
    body = b'{"items": []}' + b" " * (4096 - 13)
    with (
        ScriptedServer(reply(200, content=body, gzip_body=True)) as server,
        make_client(server, max_body_bytes=4096) as client,
    ):
        assert client.fetch_workflow_page().content == body


def test_empty_string_next_is_normalised_to_none() -> None:
    with ScriptedServer(page([workflow(1)], "")) as server, make_client(server) as client:
        assert client.fetch_workflow_page().next is None


# ##### blobs and downloads


def test_blob_url_returns_the_308_location_without_following_it() -> None:
    answers = [
        reply(308, headers={"Location": "/v2/consumer/blobs/content/ENC123?sig=abc"}),
        reply(200, content=b"should never be fetched"),
    ]
    with ScriptedServer(*answers) as server, make_client(server) as client:
        url = client.get_blob_url(
            "JNFD.jpeg", workflow_id="wf-1", nsfw_level="x", download=True, filename="a.jpg"
        )
    assert url == f"{server.url}/v2/consumer/blobs/content/ENC123?sig=abc"
    assert len(server.requests) == 1
    assert server.requests[0].query == {
        "workflowId": ["wf-1"],
        "nsfwLevel": ["x"],
        "download": ["true"],
        "filename": ["a.jpg"],
    }


def test_blob_url_keeps_an_absolute_location() -> None:
    answer = reply(308, headers={"Location": "https://cdn.example.invalid/b/1.jpeg"})
    with ScriptedServer(answer) as server, make_client(server) as client:
        assert client.get_blob_url("1.jpeg") == "https://cdn.example.invalid/b/1.jpeg"


def test_blob_redirect_without_location_is_a_response_validation_error() -> None:
    with (
        ScriptedServer(reply(308)) as server,
        make_client(server) as client,
        pytest.raises(errors.ResponseValidationError, match="Location"),
    ):
        client.get_blob_url("1.jpeg")


def test_blob_answered_200_instead_of_redirect_is_an_error() -> None:
    with (
        ScriptedServer(reply(200, content=b"x")) as server,
        make_client(server) as client,
        pytest.raises(errors.ApiError),
    ):
        client.get_blob_url("1.jpeg")


def test_download_streams_to_dest_without_the_token_and_leaves_no_temp_file(
    tmp_path: Path,
) -> None:
    payload = bytes(range(256)) * 1000
    dest = tmp_path / "out" / "blob.jpeg"
    with ScriptedServer(reply(200, content=payload)) as server, make_client(server) as client:
        written = client.download(f"{server.url}/v2/consumer/blobs/content/ENC?sig=s", dest)
    assert written == len(payload)
    assert dest.read_bytes() == payload
    assert [p.name for p in dest.parent.iterdir()] == ["blob.jpeg"]
    # Content URLs are signed: the token stays home even on the API's own host.
    assert "authorization" not in server.requests[0].headers


def test_download_is_not_decoded_twice(tmp_path: Path) -> None:
    payload = gzip.compress(b"a real .gz file")
    answer = reply(200, content=payload, headers={"Content-Type": "application/gzip"})
    with ScriptedServer(answer) as server, make_client(server) as client:
        client.download(f"{server.url}/f.gz", tmp_path / "f.gz")
    assert (tmp_path / "f.gz").read_bytes() == payload


def test_download_retries_and_a_failed_download_leaves_nothing_behind(tmp_path: Path) -> None:
    dest = tmp_path / "x.jpeg"
    with (
        ScriptedServer(reply(503, content="down")) as server,
        make_client(server, max_retries=2) as client,
        pytest.raises(errors.ServerError),
    ):
        client.download(f"{server.url}/v2/consumer/blobs/content/E", dest)
    assert len(server.requests) == 3
    assert list(tmp_path.iterdir()) == []


def test_download_of_an_expired_url_says_to_fetch_a_fresh_one(tmp_path: Path) -> None:
    with (
        ScriptedServer(reply(404)) as server,
        make_client(server) as client,
        pytest.raises(errors.NotFoundError, match="get_blob_url"),
    ):
        client.download(f"{server.url}/v2/consumer/blobs/content/E", tmp_path / "x")


# ##### stats


def test_stats_are_counted_safely_from_many_threads() -> None:
    with (
        ScriptedServer(reply(200, json={"jobId": "j"})) as server,
        make_client(server, max_connections=8) as client,
    ):

        def work(i: int) -> None:
            for _ in range(25):
                client.get_job_raw(f"job-{i}")

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(work, range(8)))
    assert client.stats.requests == 200
    assert len(server.requests) == 200
    rate = client.stats.effective_rate
    assert rate is not None and rate > 0


def test_stats_count_every_attempt() -> None:
    with (
        ScriptedServer(reply(500), page([workflow(1)])) as server,
        make_client(server, jitter=lambda: 0.5) as client,
    ):
        client.fetch_workflow_page()
        figures = client.stats.as_dict()
    assert {k: figures[k] for k in ("requests", "retries", "status_5xx", "status_429")} == {
        "requests": 2,
        "retries": 1,
        "status_5xx": 1,
        "status_429": 0,
    }
    assert figures["transport_errors"] == 0


def test_the_client_can_be_used_after_an_error() -> None:
    answers = [reply(404), reply(200, json={"jobId": "j"})]
    with ScriptedServer(*answers) as server, make_client(server) as client:
        with pytest.raises(errors.NotFoundError):
            client.get_job("missing")
        assert client.get_job("j").job_id == "j"


def test_the_client_cannot_be_used_after_close() -> None:
    with ScriptedServer(page([])) as server:
        client = make_client(server)
        client.close()
        with pytest.raises(RuntimeError):
            client.fetch_workflow_page()
    assert server.requests == []


def test_a_slow_answer_is_a_timeout_error() -> None:
    with (
        ScriptedServer(reply(200, json={}, delay=1.0)) as server,
        make_client(server, timeout=httpx.Timeout(0.2), max_retries=1) as client,
        pytest.raises(errors.ApiTimeoutError, match="did not answer in time"),
    ):
        client.get_job_raw("slow")
    assert len(server.requests) == 2


def test_connections_are_kept_alive_and_capped_at_max_connections() -> None:
    with (
        ScriptedServer(reply(200, json={"jobId": "j"}, delay=0.01)) as server,
        make_client(server, max_connections=3) as client,
    ):
        for _ in range(20):
            client.get_job_raw("one-after-another")
        assert len(server.connections) == 1
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(client.get_job_raw, [f"j{i}" for i in range(60)]))
    assert len(server.requests) == 80
    assert len(server.connections) == 3
