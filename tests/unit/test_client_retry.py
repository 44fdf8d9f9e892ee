"""Retry policy, error mapping and token redaction of the client.

Every case runs the real client against a real local server answering from a script
(tests/support/scripted_server.py); `sleep` is recorded instead of slept, so the delays the
policy chose can be asserted exactly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate

import httpx
import pytest

from pipeline.api.client import OrchestrationClient
from pipeline.api.failures import parse_retry_after
from pipeline.api.ratelimit import RateLimiter
from pipeline.core import errors, settings
from tests.support.scripted_server import DROP, ScriptedServer, reply
from tests.unit.test_client import TOKEN, Sleeps


class Script:
    """A scripted server and a client pointed at it, as one context manager."""

    def __init__(self, *answers: object) -> None:
        self.server = ScriptedServer(*answers)

    @property
    def requests(self) -> list[object]:
        return self.server.requests  # type: ignore[return-value]


@contextmanager
def make_client(script: Script, sleeps: Sleeps, **kwargs: object) -> Iterator[OrchestrationClient]:
    with (
        script.server,
        OrchestrationClient(
            base_url=script.server.url,
            token=TOKEN,
            sleep=sleeps,
            **kwargs,  # type: ignore[arg-type]
        ) as client,
    ):
        yield client


OK = reply(200, json={"jobId": "j1"})


# ##### what is retried, and how long the client waits


def test_429_with_retry_after_seconds_waits_that_long_then_succeeds() -> None:
    script, sleeps = Script(reply(429, headers={"retry-after": "3"}), OK), Sleeps()
    with make_client(script, sleeps) as client:
        assert client.get_job("j1").job_id == "j1"
        assert client.stats.status_429 == 1
        assert client.stats.retries == 1
    assert sleeps == [3.0]
    assert len(script.requests) == 2


def test_retry_after_zero_on_429_is_floored() -> None:
    script, sleeps = Script(reply(429, headers={"retry-after": "0"}), OK), Sleeps()
    with make_client(script, sleeps) as client:
        client.get_job("j1")
    assert sleeps == [settings.RETRY_AFTER_FLOOR]


def test_429_without_retry_after_backs_off_but_never_below_the_floor() -> None:
    script, sleeps = Script(reply(429), reply(429), OK), Sleeps()
    with make_client(script, sleeps, jitter=lambda: 0.0) as client:
        client.get_job("j1")
    assert sleeps == [settings.RETRY_AFTER_FLOOR, settings.RETRY_AFTER_FLOOR]


def test_retry_after_as_http_date_is_honoured() -> None:
    when = formatdate(time.time() + 20, usegmt=True)
    script, sleeps = Script(reply(503, headers={"retry-after": when}), OK), Sleeps()
    with make_client(script, sleeps) as client:
        client.get_job("j1")
    # HTTP-dates have one-second resolution, and some time passes before the header is read.
    assert len(sleeps) == 1
    assert 15.0 < sleeps[0] <= 20.0


def test_a_huge_retry_after_is_capped() -> None:
    script, sleeps = Script(reply(429, headers={"retry-after": "86400"}), OK), Sleeps()
    with make_client(script, sleeps) as client:
        client.get_job("j1")
    assert sleeps == [settings.MAX_RETRY_DELAY]


def test_backoff_is_exponential_and_capped_then_gives_up_with_server_error() -> None:
    script, sleeps = Script(reply(503)), Sleeps()
    with (
        make_client(script, sleeps, max_retries=8, jitter=lambda: 1.0) as client,
        pytest.raises(errors.ServerError) as info,
    ):
        client.get_job("j1")
    d0, cap = settings.INITIAL_RETRY_DELAY, settings.MAX_RETRY_DELAY
    assert sleeps == [min(cap, d0 * 2**n) for n in range(8)]
    assert sleeps[-1] == cap
    assert len(script.requests) == 9
    assert info.value.status_code == 503
    assert "after 9 attempts" in str(info.value)


def test_backoff_uses_full_jitter() -> None:
    script, sleeps = Script(reply(500), reply(500), OK), Sleeps()
    with make_client(script, sleeps, jitter=lambda: 0.25) as client:
        client.get_job("j1")
    d0 = settings.INITIAL_RETRY_DELAY
    assert sleeps == [0.25 * d0, 0.25 * d0 * 2]


def test_502_html_page_then_success() -> None:
    html = (
        "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    )
    script = Script(reply(502, content=html, headers={"content-type": "text/html"}), OK)
    sleeps = Sleeps()
    with make_client(script, sleeps) as client:
        assert client.get_job("j1").job_id == "j1"
        assert client.stats.status_5xx == 1
    assert len(sleeps) == 1


def test_a_dropped_connection_is_retried() -> None:
    script, sleeps = Script(DROP, OK), Sleeps()
    with make_client(script, sleeps) as client:
        assert client.get_job("j1").job_id == "j1"
        assert client.stats.transport_errors == 1
        assert client.stats.retries == 1
    assert len(script.requests) == 2


def test_408_is_retried() -> None:
    script, sleeps = Script(reply(408), OK), Sleeps()
    with make_client(script, sleeps) as client:
        client.get_job("j1")
    assert len(script.requests) == 2


def test_retries_exhausted_on_429_is_a_rate_limit_error_that_says_what_to_do() -> None:
    script, sleeps = Script(reply(429, headers={"retry-after": "1"})), Sleeps()
    with (
        make_client(script, sleeps, max_retries=2) as client,
        pytest.raises(errors.RateLimitError) as info,
    ):
        client.get_job("j1")
    assert len(script.requests) == 3
    assert sleeps == [1.0, 1.0]
    assert str(info.value) == (
        "Rate limited by the API (429) after 3 attempts; "
        "lower the job concurrency/rate or try later."
    )


def test_max_retries_zero_fails_on_the_first_429() -> None:
    script, sleeps = Script(reply(429)), Sleeps()
    with (
        make_client(script, sleeps, max_retries=0) as client,
        pytest.raises(errors.RateLimitError, match="after 1 attempt;"),
    ):
        client.get_job("j1")
    assert sleeps == []


def test_dropped_connections_exhausted_become_api_connection_error() -> None:
    script, sleeps = Script(DROP), Sleeps()
    with (
        make_client(script, sleeps, max_retries=2) as client,
        pytest.raises(errors.ApiConnectionError) as info,
    ):
        client.get_job("j1")
    assert not isinstance(info.value, errors.ApiTimeoutError)
    assert "CIVITAI_API_URL" in str(info.value)
    assert len(script.requests) == 3
    assert len(sleeps) == 2


def test_timeouts_exhausted_become_api_timeout_error() -> None:
    script, sleeps = Script(reply(200, json={}, delay=0.5)), Sleeps()
    with (
        make_client(script, sleeps, max_retries=1, timeout=httpx.Timeout(0.1)) as client,
        pytest.raises(errors.ApiTimeoutError, match="did not answer in time"),
    ):
        client.get_job("j1")
    assert len(script.requests) == 2


def test_a_429_pauses_the_shared_rate_limiter() -> None:
    clock = [1000.0]
    limiter_sleeps: list[float] = []

    def limiter_sleep(seconds: float) -> None:
        limiter_sleeps.append(seconds)
        clock[0] += seconds

    limiter = RateLimiter(1000.0, clock=lambda: clock[0], sleep=limiter_sleep)
    script, sleeps = Script(reply(429, headers={"retry-after": "5"}), OK), Sleeps()
    with make_client(script, sleeps, rate_limiter=limiter) as client:
        client.get_job("j1")
    # The client's own sleep is a recorder and did not move the limiter's clock, so the
    # retry had to wait out the penalty inside the limiter.
    assert sleeps == [5.0]
    assert limiter_sleeps == [pytest.approx(5.0)]


# ##### what fails at once


@pytest.mark.parametrize(
    ("status", "exc_type"),
    [
        (400, errors.BadRequestError),
        (401, errors.AuthenticationError),
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
        (422, errors.UnprocessableError),
    ],
)
def test_client_errors_fail_at_once_without_retry(
    status: int, exc_type: type[errors.ApiStatusError]
) -> None:
    script, sleeps = Script(reply(status), OK), Sleeps()
    with make_client(script, sleeps) as client, pytest.raises(exc_type) as info:
        client.get_job("j1")
    assert len(script.requests) == 1
    assert sleeps == []
    assert client.stats.retries == 0
    assert info.value.status_code == status


def test_401_message_says_how_to_fix_the_token() -> None:
    with (
        make_client(Script(reply(401)), Sleeps()) as client,
        pytest.raises(errors.AuthenticationError) as info,
    ):
        client.fetch_workflow_page()
    assert str(info.value) == (
        "The API refused the token (401). Set CIVITAI_API_TOKEN to a valid Orchestration API token."
    )


def test_404_message_names_the_workflow_and_the_likely_cause() -> None:
    with (
        make_client(Script(reply(404)), Sleeps()) as client,
        pytest.raises(errors.NotFoundError) as info,
    ):
        client.get_workflow("8484131-20260121222126332")
    assert str(info.value) == (
        "Not found: workflow '8484131-20260121222126332' (404). "
        "Check the id; a consumer token only sees its own workflows."
    )


def test_problem_json_title_detail_and_field_errors_are_used() -> None:
    problem = {
        "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        "title": "One or more validation errors occurred.",
        "status": 400,
        "errors": {"take": ["The field take must be between 1 and 100."]},
    }
    script = Script(reply(400, json=problem, headers={"content-type": "application/problem+json"}))
    with make_client(script, Sleeps()) as client, pytest.raises(errors.BadRequestError) as info:
        client.fetch_workflow_page(take=1000)
    message = str(info.value)
    assert "One or more validation errors occurred." in message
    assert "take: The field take must be between 1 and 100." in message
    assert "Check the option values" in message


def test_problem_details_sent_as_plain_json_are_read_too() -> None:
    problem = {"title": "Forbidden", "detail": "Mature content is not allowed for this token"}
    with (
        make_client(Script(reply(403, json=problem)), Sleeps()) as client,
        pytest.raises(errors.PermissionDeniedError) as info,
    ):
        client.get_job("j1")
    assert "Forbidden: Mature content is not allowed for this token" in str(info.value)


def test_a_bare_json_string_body_is_used_as_the_detail() -> None:
    script = Script(
        reply(422, content='"Invalid nsfwLevel"', headers={"content-type": "application/json"})
    )
    with make_client(script, Sleeps()) as client, pytest.raises(errors.UnprocessableError) as info:
        client.get_job("j1")
    assert "Invalid nsfwLevel" in str(info.value)
    assert '"' not in str(info.value).split(":", 1)[1].split(".")[0]


def test_an_html_error_page_gives_a_readable_message() -> None:
    html = "<!DOCTYPE html>\n<html><head><title>503 Service Unavailable</title></head></html>"
    script = Script(reply(503, content=html))  # no content-type: detected from the body
    with (
        make_client(script, Sleeps(), max_retries=1) as client,
        pytest.raises(errors.ServerError) as info,
    ):
        client.get_job("j1")
    message = str(info.value)
    assert "the service returned an HTML error page (gateway/outage)" in message
    assert "503 Service Unavailable" in message
    assert "<" not in message


def test_error_carries_status_method_url_request_id_and_body() -> None:
    script = Script(reply(404, content="nope", headers={"x-request-id": "req-42"}))
    with make_client(script, Sleeps()) as client, pytest.raises(errors.NotFoundError) as info:
        client.get_job("j1")
    err = info.value
    assert (err.status_code, err.method, err.request_id, err.body) == (404, "GET", "req-42", "nope")
    # The URL of an error is shown without its query string (signatures live there).
    assert err.url == f"{script.server.url}/v1/consumer/jobs/j1"


def test_an_unexpected_status_is_a_plain_api_status_error() -> None:
    with (
        make_client(Script(reply(409, content="conflict")), Sleeps()) as client,
        pytest.raises(errors.ApiStatusError) as info,
    ):
        client.get_job("j1")
    assert type(info.value) is errors.ApiStatusError
    assert "409" in str(info.value)


# ##### the token never leaks


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param(
            [reply(401, json={"title": "Unauthorized", "detail": f"Bearer {TOKEN} is invalid"})],
            id="401 echoing the header",
        ),
        pytest.param(
            [reply(403, content=f"token {TOKEN} may not read this")], id="403 echoing the token"
        ),
        pytest.param(
            [reply(500, content=f"<!DOCTYPE html><title>{TOKEN}</title>")], id="5xx HTML page"
        ),
        pytest.param([reply(429, content=TOKEN)], id="429 body"),
        pytest.param(
            [reply(502, content=f"proxy refused Authorization: Bearer {TOKEN}")], id="proxy"
        ),
        pytest.param([reply(400, json={"errors": {TOKEN: [TOKEN]}})], id="problem field errors"),
    ],
)
def test_the_token_appears_in_no_exception_and_no_log_record(
    answers: list[object], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    script = Script(*answers)  # type: ignore[arg-type]
    with (
        make_client(script, Sleeps(), max_retries=2) as client,
        pytest.raises(errors.ApiError) as info,
    ):
        client.get_job("j1")
    err = info.value
    seen = [str(err), repr(err), *(str(v) for v in vars(err).values())]
    assert all(TOKEN not in text for text in seen)
    # The client did log about this failure (so the check below is not vacuous).
    assert any(r.name == "pipeline.api.client" for r in caplog.records)
    for record in caplog.records:
        assert TOKEN not in record.getMessage()


def test_retries_are_logged_on_pipeline_client_with_signatures_redacted(
    caplog: pytest.LogCaptureFixture, tmp_path: object
) -> None:
    caplog.set_level(logging.DEBUG, logger="pipeline.api.client")
    script = Script(reply(503), reply(200, content=b"x"))
    with make_client(script, Sleeps()) as client:
        url = f"{script.server.url}/v2/consumer/blobs/content/E?sig=SIGNATURE123"
        client.download(url, tmp_path / "f")  # type: ignore[operator]
    retries = [r for r in caplog.records if r.name == "pipeline.api.client"]
    assert len(retries) == 1
    message = retries[0].getMessage()
    assert "Retrying GET" in message and "status 503" in message
    assert "SIGNATURE123" not in message


# ##### Retry-After parsing


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("soon", None),
        ("5", 5.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("-3", 0.0),
        ("Thu, 01 Jan 1970 00:01:40 GMT", 60.0),  # now = 40
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),  # in the past
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=40.0) == expected
