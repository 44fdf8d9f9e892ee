"""Paging a window is bounded and honest (pipeline/fetch): a cursor loop, pages that bring
nothing new, too many pages, malformed or huge pages each fail the window with the page
number; an empty page with `next` is followed; pages are archived without secrets.

The API is a real local server answering from a script; the client and the archive are the
real ones.
"""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import orjson
import pytest

from pipeline.api.client import OrchestrationClient
from pipeline.core import settings
from pipeline.fetch import archive
from pipeline.fetch.cursors import CursorGuard, PageError, cursor_hash, iter_pages
from pipeline.fetch.paging import extract_window
from pipeline.fetch.windows import Window
from tests.support.scripted_server import Answer, ScriptedServer, Seen, page, reply, workflow
from tests.unit.test_client import TOKEN, Sleeps

WINDOW = Window(date(2026, 11, 1))


def wf(n: int) -> dict[str, object]:
    return workflow(n, created_at=f"2026-11-01T{n % 24:02d}:00:00Z")


def extract(server: ScriptedServer, tmp_path: Path, **kwargs: object) -> object:
    with OrchestrationClient(base_url=server.url, token=TOKEN, sleep=Sleeps()) as client:
        return extract_window(client, WINDOW, tmp_path, chains=1, **kwargs)  # type: ignore[arg-type]


def archived(tmp_path: Path) -> list[dict[str, object]]:
    return [orjson.loads(archive.read_page(p)) for p in archive.page_files(tmp_path)]


def test_an_empty_page_that_still_carries_next_is_followed(tmp_path: Path) -> None:
    answers = [page([wf(1)], "c1"), page([], "c2"), page([], "c3"), page([wf(2)])]
    with ScriptedServer(*answers) as server:
        result = extract(server, tmp_path)
    assert result.pages == 4  # type: ignore[attr-defined]
    assert result.items_in_window == 2  # type: ignore[attr-defined]
    assert [s.query.get("cursor") for s in server.requests] == [None, ["c1"], ["c2"], ["c3"]]


@pytest.mark.parametrize(
    ("answers", "failing_page", "repeated", "says"),
    [
        pytest.param(
            [page([wf(1)], "c1"), page([wf(2)], "c1")], 2, "c1", "after page 1", id="same cursor"
        ),
        pytest.param(
            [page([wf(1)], "c1"), page([wf(2)], "c2"), page([wf(3)], "c3"), page([wf(4)], "c1")],
            4,
            "c1",
            "after page 1",
            id="cycle of three",
        ),
    ],
)
def test_a_cursor_that_comes_back_fails_the_window(
    tmp_path: Path, answers: list[Answer], failing_page: int, repeated: str, says: str
) -> None:
    answers.append(page([wf(99)]))  # served only if the loop went unnoticed
    with ScriptedServer(*answers) as server, pytest.raises(PageError) as info:
        extract(server, tmp_path)
    assert info.value.page == failing_page
    message = str(info.value)
    assert cursor_hash(repeated) in message and says in message and "loops" in message
    assert len(server.requests) == failing_page


def test_fresh_cursors_over_the_same_items_fail_after_the_documented_number_of_pages(
    tmp_path: Path,
) -> None:
    counter = itertools.count(1)

    def same_items_new_cursor(seen: Seen) -> Answer:
        return page([wf(1), wf(2)], f"fresh-{next(counter)}")

    with ScriptedServer(same_items_new_cursor) as server, pytest.raises(PageError) as info:
        extract(server, tmp_path)
    limit = settings.MAX_PAGES_WITHOUT_NEW_ITEMS
    # Page 1 brings the two items; the next `limit` pages bring nothing new.
    assert info.value.page == limit + 1
    assert f"{limit} pages in a row" in str(info.value)
    assert len(server.requests) == limit + 1


def test_more_pages_than_the_cap_fail_the_window(tmp_path: Path) -> None:
    counter = itertools.count(1)

    def endless(seen: Seen) -> Answer:
        n = next(counter)
        return page([wf(n)], f"c{n}")

    with ScriptedServer(endless) as server, pytest.raises(PageError) as info:
        extract(server, tmp_path, max_pages=5)
    assert info.value.page == 6
    assert "more than 5 pages" in str(info.value)
    assert len(server.requests) == 5


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        pytest.param(reply(200, content=b'{"items": [{"id": "x"'), "not valid JSON", id="cut"),
        pytest.param(reply(200, content=b"[1, 2]"), "not a JSON object", id="not a page"),
        pytest.param(
            reply(200, content=b'{"items": [' + b" " * 2000 + b"]}", chunked=True),
            "larger than",
            id="huge",
        ),
    ],
)
def test_a_malformed_or_huge_page_fails_the_window_naming_it(
    tmp_path: Path, bad: Answer, says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "MAX_RESPONSE_BYTES", 1024)
    with (
        ScriptedServer(page([wf(1)], "c1"), bad) as server,
        OrchestrationClient(
            base_url=server.url, token=TOKEN, sleep=Sleeps(), max_body_bytes=1024
        ) as client,
        pytest.raises(PageError) as info,
    ):
        extract_window(client, WINDOW, tmp_path, chains=1)
    assert info.value.page == 2
    assert says in str(info.value)


def test_pages_are_archived_without_signed_url_queries_or_token_echoes(tmp_path: Path) -> None:
    item = {
        **wf(1),
        "steps": [
            {
                "name": "$0",
                "output": {"images": [{"id": "b.jpeg", "url": "https://b.example/b.jpeg?sig=S1"}]},
            }
        ],
        "metadata": {"echo": f"Bearer {TOKEN}"},
    }
    with ScriptedServer(page([item])) as server:
        extract(server, tmp_path)
    raw = b"".join(archive.read_page(p) for p in archive.page_files(tmp_path))
    assert b"sig=" not in raw and TOKEN.encode() not in raw
    (stored,) = archived(tmp_path)[0]["items"]  # type: ignore[misc]
    assert stored["steps"][0]["output"]["images"][0]["url"] == "https://b.example/b.jpeg"
    assert stored["metadata"] == {"echo": "Bearer [REDACTED]"}


def test_the_cli_paging_follows_the_same_rules() -> None:
    answers = [page([wf(1)], "c1"), page([], "c2"), page([wf(2)], "c1")]
    with (
        ScriptedServer(*answers) as server,
        OrchestrationClient(base_url=server.url, token=TOKEN, sleep=Sleeps()) as client,
    ):
        pages = iter_pages(client, take=1)
        assert [p.heads[0].id for p in itertools.islice(pages, 1)] == [wf(1)["id"]]
        assert next(pages).heads == []
        assert next(pages).heads[0].id == wf(2)["id"]  # shown, then its `next` is refused
        with pytest.raises(PageError, match="loops") as info:
            next(pages)
    assert info.value.page == 3


def test_a_starting_cursor_returned_again_is_a_loop() -> None:
    guard = CursorGuard(start="c0")
    with pytest.raises(PageError, match="the cursor the chain started from"):
        guard.after_page(1, ["a"], "c0")


def test_the_cursor_itself_never_appears_in_a_message() -> None:
    secret_cursor = "eyJ0b2tlbiI6InNrLXNlY3JldCJ9"
    guard = CursorGuard()
    guard.after_page(1, ["a"], secret_cursor)
    with pytest.raises(PageError) as info:
        guard.after_page(2, ["b"], secret_cursor)
    assert secret_cursor not in str(info.value)
