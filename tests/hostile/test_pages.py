"""One day's workflow list misbehaves (cursors, bodies, redirects, echoes of the token) while the
other days pass through: `civitai-sync sync` over the three days fails that day alone with a
message about what the server did, completes the others, and keeps the day's previous data
exactly (it was synced well before). Nothing secret is written anywhere."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from pipeline.fetch import paging
from tests.hostile.conftest import (
    TOKEN,
    Synced,
    assert_no_secret_at_rest,
    assert_window_failed_alone,
    run_cli,
    sync_args,
)
from tests.hostile.proxy import Fault, HostileProxy, body_of, json_answer
from tests.support.scripted_server import Answer, ScriptedServer, Seen


def run_through(synced: Synced, fault: Fault, **proxy: Any) -> tuple[Any, HostileProxy]:
    """`sync` of every day through a proxy that applies `fault` to the middle day's pages."""
    with HostileProxy(synced.server.url, day=synced.days[1], fault=fault, **proxy) as hostile:
        result = run_cli(sync_args(synced.days), {**synced.env, "CIVITAI_API_URL": hostile.url})
    assert hostile.faulted, "the fault was never served"
    return result, hostile


def cursor_of(seen: Seen) -> str | None:
    return seen.query.get("cursor", [None])[0]


def with_body(answer: Answer, **changes: Any) -> Answer:
    doc = body_of(answer)
    doc.update(changes)
    return json_answer(doc)


# --------------------------------------------------------------------------- cursors


def repeated_next(seen: Seen, upstream: Answer, proxy: HostileProxy) -> Answer:
    """From the second page on, `next` is the cursor the page was asked with."""
    cursor = cursor_of(seen)
    return with_body(upstream, next=cursor) if cursor else upstream


class CursorCycle:
    """Page 3's `next` leads back to page 2: A -> B -> A -> ... (each a real page)."""

    def __init__(self) -> None:
        self.real: dict[str, str] = {}

    def __call__(self, seen: Seen, upstream: Answer, proxy: HostileProxy) -> Answer:
        cursor = cursor_of(seen)
        doc = body_of(upstream)
        if cursor is None:
            self.real["cyc-A"] = doc["next"]
            return with_body(upstream, next="cyc-A")
        real = self.real[cursor]
        doc = body_of(proxy.forward(seen, cursor=real))
        if cursor == "cyc-A":
            self.real["cyc-B"] = doc["next"]
            doc["next"] = "cyc-B"
        else:
            doc["next"] = "cyc-A"
        return json_answer(doc)


def fresh_cursor_same_items(seen: Seen, upstream: Answer, proxy: HostileProxy) -> Answer:
    """Every page is the first page again, with a cursor never seen before."""
    first = body_of(proxy.forward(seen, cursor=None))
    first["next"] = f"fresh-{next(_FRESH)}"
    return json_answer(first)


_FRESH = itertools.count(1)


def empty_pages_forever(seen: Seen, upstream: Answer, proxy: HostileProxy) -> Answer:
    return json_answer({"items": [], "next": f"empty-{next(_FRESH)}"})


def endless_new_items(seen: Seen, upstream: Answer, proxy: HostileProxy) -> Answer:
    """A server that never ends: every page holds new workflows of the day and a new cursor."""
    n = next(_FRESH)
    day = seen.query["fromDate"][0][:10]
    items = [
        {"id": f"endless-{n}-{i}", "createdAt": f"{day}T12:00:00Z", "status": "succeeded"}
        for i in range(3)
    ]
    return json_answer({"items": items, "next": f"endless-{n}"})


# --------------------------------------------------------------------------- bodies


def on_second_page(change: Callable[[Answer], Answer]) -> Fault:
    def fault(seen: Seen, upstream: Answer, proxy: HostileProxy) -> Answer:
        return change(upstream) if cursor_of(seen) else upstream

    return fault


def malformed_json(upstream: Answer) -> Answer:
    return Answer(
        200, b'{"items": [{"id": "x", "createdAt": ', {"Content-Type": "application/json"}
    )


def truncated_body(upstream: Answer) -> Answer:
    return Answer(200, upstream.body[: len(upstream.body) // 2], upstream.headers)


def huge_body(upstream: Answer) -> Answer:
    # A valid page padded past the client's 64 MiB cap, sent without a Content-Length so that
    # the cap is met while reading, not from the header.
    padding = b" " * (65 * 1024 * 1024)
    return Answer(200, upstream.body[:-1] + padding + b"}", upstream.headers, chunked=True)


def html_200(upstream: Answer) -> Answer:
    page = b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body></body></html>"
    return Answer(200, page, {"Content-Type": "text/html; charset=UTF-8"})


def items_not_objects(upstream: Answer) -> Answer:
    doc = body_of(upstream)
    return json_answer({**doc, "items": [*doc["items"], 42, "wf", None, ["x"]]})


def missing_id(upstream: Answer) -> Answer:
    doc = body_of(upstream)
    doc["items"][0].pop("id")
    return json_answer(doc)


def items_not_a_list(upstream: Answer) -> Answer:
    return json_answer({**body_of(upstream), "items": {"id": "x"}})


FAILURES: dict[str, tuple[Fault | Callable[[], Fault], tuple[str, ...]]] = {
    "repeated-next": (repeated_next, ("page 2", "cursor")),
    "cursor-cycle": (CursorCycle, ("page 3", "cursor")),
    "fresh-cursor-same-items": (fresh_cursor_same_items, ("page 11", "brought no workflow")),
    "empty-pages-with-next-forever": (
        empty_pages_forever,
        ("pages in a row", "brought no workflow"),
    ),
    "malformed-json": (on_second_page(malformed_json), ("page 2", "JSON")),
    "truncated-body": (on_second_page(truncated_body), ("page 2", "JSON")),
    "huge-body": (on_second_page(huge_body), ("page 2", "larger than 64 MiB")),
    "200-with-html": (on_second_page(html_200), ("page 2", "HTML")),
    "items-not-objects": (on_second_page(items_not_objects), ("page 2",)),
    "item-without-id": (on_second_page(missing_id), ("page 2", "id")),
    "items-not-a-list": (on_second_page(items_not_a_list), ("page 2", "items")),
}


@pytest.mark.parametrize("name", list(FAILURES))
def test_a_hostile_list_fails_its_day_alone_and_keeps_its_data(synced: Synced, name: str) -> None:
    make, words = FAILURES[name]
    fault = make() if isinstance(make, type) else make
    result, _ = run_through(synced, fault)
    assert_window_failed_alone(synced, result, synced.days[1], *words)


def test_more_pages_than_the_cap_fail_the_day(synced: Synced, monkeypatch: Any) -> None:
    # The cap is 20,000 pages; a server that never ends meets a lower one here (the same
    # bound, set through extract_window's default, which the sync relies on).
    monkeypatch.setitem(paging.extract_window.__kwdefaults__, "max_pages", 25)
    result, hostile = run_through(synced, endless_new_items)
    assert_window_failed_alone(synced, result, synced.days[1], "25 pages")
    assert 25 <= hostile.faulted <= 30


# --------------------------------------------------------------------------- followed, not failed


def test_empty_pages_that_carry_next_are_followed(synced: Synced) -> None:
    """Before each real page comes an empty one whose `next` leads to it (a server that
    filtered a page's items out): the day is still complete and exact."""

    def empty_between(seen: Seen, upstream: Answer, proxy: HostileProxy) -> Answer:
        cursor = cursor_of(seen)
        if cursor and cursor.startswith("empty:"):
            real = proxy.forward(seen, cursor=cursor.removeprefix("empty:") or None)
            return with_body(real, items=[], next=cursor.removeprefix("empty:"))
        doc = body_of(upstream)
        if doc.get("next"):
            doc["next"] = "empty:" + doc["next"]
        return json_answer(doc)

    result, hostile = run_through(synced, empty_between)
    assert result.exit_code == 0, result.output
    assert len([s for s in hostile.requests if hostile.is_target(s)]) == 5  # 3 real, 2 empty
    status = synced.ledger_status()
    assert all(status[d][0] == "complete" for d in synced.days), status
    synced.assert_intact()


def test_a_json_page_with_a_wrong_content_type_is_read_as_json(synced: Synced) -> None:
    def text_plain(seen: Seen, upstream: Answer, proxy: HostileProxy) -> Answer:
        return Answer(200, upstream.body, {"Content-Type": "text/plain"})

    result, _ = run_through(synced, text_plain)
    assert result.exit_code == 0, result.output
    synced.assert_intact()


# --------------------------------------------------------------------------- redirects and echoes


def test_a_redirect_to_another_host_never_carries_the_token(synced: Synced) -> None:
    with ScriptedServer(lambda seen: json_answer({"items": []}), host="localhost") as other:

        def elsewhere(seen: Seen, upstream: Answer, proxy: HostileProxy) -> Answer:
            return Answer(302, b"", {"Location": other.url + seen.target})

        result, _ = run_through(synced, elsewhere)
    assert all("authorization" not in s.headers for s in other.requests)
    assert other.requests == []  # API calls do not follow redirects at all
    assert_window_failed_alone(synced, result, synced.days[1], "redirect")


def test_a_server_echoing_the_token_in_pages_and_headers_stores_none(synced: Synced) -> None:
    def echo(seen: Seen, upstream: Answer, proxy: HostileProxy) -> Answer:
        doc = body_of(upstream)
        for item in doc["items"]:
            item["metadata"] = {"echo": seen.headers.get("authorization", ""), "t": TOKEN}
        return json_answer(doc, **{"X-Echo": f"Bearer {TOKEN}"})

    result, _ = run_through(synced, echo)
    assert result.exit_code == 0, result.output
    assert synced.ledger_status()[synced.days[1]][0] == "complete"
    assert_no_secret_at_rest(synced.data_dir, result.output)


def test_an_error_that_echoes_the_token_fails_the_day_without_storing_it(synced: Synced) -> None:
    def error_echo(seen: Seen, upstream: Answer, proxy: HostileProxy) -> Answer:
        body = orjson.dumps({"title": "Bad", "status": 400, "detail": f"token {TOKEN} refused"})
        return Answer(400, body, {"Content-Type": "application/problem+json", "X-T": TOKEN})

    result, _ = run_through(synced, error_echo)
    error = assert_window_failed_alone(synced, result, synced.days[1], "400")
    assert TOKEN not in error
