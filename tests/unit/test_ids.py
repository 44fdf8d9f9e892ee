"""The one id rule: an id becomes a request path segment only if it is a single, non-dot
segment, and then it is fully percent-encoded. Checked before any request."""

from __future__ import annotations

import pytest

from pipeline.api.client import OrchestrationClient
from pipeline.api.endpoints import check_id, path_segment
from pipeline.core import errors
from tests.support.scripted_server import ScriptedServer, reply
from tests.unit.test_client import TOKEN

# (id, the segment sent) for ids that are used; None for ids that are refused.
ID_RULE = [
    ("8484131-20260121222126332", "8484131-20260121222126332"),
    ("$0", "%240"),
    ("a b", "a%20b"),
    ("50%", "50%25"),
    ("%41", "%2541"),
    ("%2F", None),  # a gateway decoding twice would see a separator
    ("a%5Cb", None),
    ("%2e%2e", None),
    ("%2E", None),
    ("..a", "..a"),
    ("a..", "a.."),
    ("JNFD.jpeg", "JNFD.jpeg"),
    ("é", "%C3%A9"),
    ("a?b#c", "a%3Fb%23c"),
    ("", None),
    (".", None),
    ("..", None),
    ("a/b", None),
    ("/etc/passwd", None),
    ("a\\b", None),
    ("..\\x", None),
    ("nul\x00", None),
    ("line\nbreak", None),
    ("tab\t", None),
    ("del\x7f", None),
]


@pytest.mark.parametrize(("value", "segment"), ID_RULE)
def test_the_id_rule(value: str, segment: str | None) -> None:
    if segment is None:
        with pytest.raises(errors.UsageError) as info:
            check_id(value, "workflow id")
        assert "workflow id" in str(info.value) and "\n" not in str(info.value)
    else:
        assert check_id(value) == value
        assert path_segment(value) == segment


@pytest.mark.parametrize(("value", "segment"), ID_RULE)
def test_every_endpoint_applies_it_before_any_request(value: str, segment: str | None) -> None:
    with (
        ScriptedServer(reply(200, json={"jobId": "j", "name": "$0"})) as server,
        OrchestrationClient(base_url=server.url, token=TOKEN) as client,
    ):
        calls = [
            lambda: client.get_job_raw(value),
            lambda: client.get_workflow_raw(value),
            lambda: client.get_step_raw("wf-1", value),
        ]
        for call in calls:
            if segment is None:
                with pytest.raises(errors.UsageError):
                    call()
            else:
                call()
    if segment is None:
        assert server.requests == []
    else:
        assert [s.target.split("?")[0].rsplit("/", 1)[1] for s in server.requests] == [segment] * 3
