"""Which URLs may receive the token, redirects, and failing fast on an unreachable host,
against real local servers (127.0.0.1 and localhost are two origins)."""

from __future__ import annotations

import socket

import httpx
import pytest

from pipeline.api.client import OrchestrationClient
from pipeline.api.transport import check_api_url, is_loopback
from pipeline.core import errors, settings
from tests.support.scripted_server import ScriptedServer, page, reply
from tests.unit.test_client import TOKEN, Sleeps


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://orchestration.civitai.com", "https://orchestration.civitai.com"),
        ("https://orchestration.civitai.com/", "https://orchestration.civitai.com"),
        ("  HTTPS://Example.COM/prefix/ ", "https://example.com/prefix"),
        ("http://localhost:8787", "http://localhost:8787"),
        ("http://127.0.0.1:9", "http://127.0.0.1:9"),
        ("http://127.10.20.30", "http://127.10.20.30"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_urls_that_may_receive_the_token(url: str, expected: str) -> None:
    assert check_api_url(url) == expected


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "No API URL given"),
        ("orchestration.civitai.com", "has no scheme; write it as https://orchestration"),
        ("localhost:8787", "has no scheme"),
        ("ftp://orchestration.civitai.com", "starts with ftp://"),
        ("htps://orchestration.civitai.com", "starts with htps://"),
        ("file:///etc/passwd", "starts with file://"),
        ("https://", "no host"),
        ("http://orchestration.civitai.com", "unencrypted"),
        ("http://10.0.0.5:8080", "CIVITAI_SYNC_ALLOW_INSECURE_HTTP=1"),
        ("http://127.0.0.1.example.com", "unencrypted"),
        ("https://user:secret@orchestration.civitai.com", "user name or password"),
        ("https://orchestration.civitai.com/?token=x", "query"),
    ],
)
def test_urls_refused_before_any_request(url: str, says: str) -> None:
    with pytest.raises(errors.ConfigError) as info:
        OrchestrationClient(base_url=url, token=TOKEN, allow_insecure_http=False)
    message = str(info.value)
    assert says in message
    assert "\n" not in message
    assert "secret" not in message and "token=x" not in message


def test_plain_http_to_a_private_host_only_with_the_opt_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = "http://10.0.0.5:8080"
    monkeypatch.delenv(settings.ENV_ALLOW_INSECURE_HTTP, raising=False)
    with pytest.raises(errors.ConfigError):
        OrchestrationClient(base_url=url, token=TOKEN)
    assert check_api_url(url, allow_insecure_http=True) == url
    monkeypatch.setenv(settings.ENV_ALLOW_INSECURE_HTTP, "1")
    with OrchestrationClient(base_url=url, token=TOKEN) as client:
        assert client.base_url == url


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST.", True),
        ("127.0.0.1", True),
        ("127.255.0.9", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("128.0.0.1", False),
        ("10.0.0.1", False),
        ("localhost.example.com", False),
        ("::2", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


# ##### redirects


def test_an_api_call_is_never_redirected_to_another_host() -> None:
    with ScriptedServer(page([]), host="localhost") as other:
        target = f"{other.url}/v2/consumer/workflows"
        with (
            ScriptedServer(reply(307, headers={"Location": target})) as api,
            OrchestrationClient(base_url=api.url, token=TOKEN, sleep=Sleeps()) as client,
            pytest.raises(errors.ApiStatusError) as info,
        ):
            client.fetch_workflow_page()
    assert other.requests == []
    assert api.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert "redirected" in str(info.value) and "CIVITAI_API_URL" in str(info.value)


def test_a_download_follows_redirects_across_hosts_without_the_token(tmp_path: object) -> None:
    with ScriptedServer(reply(200, content=b"jpeg bytes"), host="localhost") as cdn:
        location = f"{cdn.url}/b/x.jpeg?sig=SIGNED"
        with (
            ScriptedServer(reply(302, headers={"Location": location})) as api,
            OrchestrationClient(base_url=api.url, token=TOKEN, sleep=Sleeps()) as client,
        ):
            written = client.download(
                f"{api.url}/v2/consumer/blobs/content/E?sig=S", tmp_path / "x"
            )  # type: ignore[operator]
    assert written == len(b"jpeg bytes")
    assert [s.headers.get("authorization") for s in api.requests + cdn.requests] == [None, None]
    assert cdn.requests[0].query == {"sig": ["SIGNED"]}


def test_httpx_drops_the_authorization_header_on_a_redirect_to_another_origin() -> None:
    # What the download path would rely on if it ever sent the token: httpx keeps the header
    # only within one origin (scheme, host, port) or for an http -> https upgrade of it.
    with ScriptedServer(reply(200), host="localhost") as other:
        answers = [
            reply(302, headers={"Location": "/same"}),
            reply(302, headers={"Location": other.url + "/x"}),
            reply(200),
        ]
        with ScriptedServer(*answers) as origin, httpx.Client(follow_redirects=True) as plain:
            plain.get(origin.url + "/start", headers={"Authorization": "Bearer t"})
    assert [s.headers.get("authorization") for s in origin.requests] == ["Bearer t", "Bearer t"]
    assert other.requests[0].headers.get("authorization") is None


# ##### failing fast, retrying mid-run


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_on_the_first_request_fails_at_once() -> None:
    sleeps = Sleeps()
    url = f"http://127.0.0.1:{_closed_port()}"
    with (
        OrchestrationClient(base_url=url, token=TOKEN, sleep=sleeps) as client,
        pytest.raises(errors.ApiConnectionError) as info,
    ):
        client.fetch_workflow_page()
    assert "connection refused" in str(info.value)
    assert "CIVITAI_API_URL" in str(info.value)
    assert sleeps == []
    assert client.stats.requests == 1


def test_an_unresolvable_host_fails_at_once() -> None:
    sleeps = Sleeps()
    with (
        OrchestrationClient(
            base_url="https://api.nonexistent.invalid", token=TOKEN, sleep=sleeps
        ) as client,
        pytest.raises(errors.ApiConnectionError, match="Cannot resolve the host") as info,
    ):
        client.get_job_raw("j1")
    assert "api.nonexistent.invalid" in str(info.value)
    assert TOKEN not in str(info.value)
    assert sleeps == []


def test_a_server_that_goes_away_mid_run_is_retried_with_backoff() -> None:
    sleeps = Sleeps()
    server = ScriptedServer(reply(200, json={"jobId": "j1"}))
    with (
        server,
        OrchestrationClient(
            base_url=server.url, token=TOKEN, sleep=sleeps, max_retries=3, jitter=lambda: 1.0
        ) as client,
    ):
        assert client.get_job("j1").job_id == "j1"
        server.stop()
        with pytest.raises(errors.ApiConnectionError, match="after 4 attempts"):
            client.get_job("j1")
    d0 = settings.INITIAL_RETRY_DELAY
    assert sleeps == [d0, d0 * 2, d0 * 4]
