"""Fetch one window's workflow pages from the API into an archive attempt directory.

The API's `fromDate`/`toDate` filter "may have limited support", so the pages are asked for
with the window's bounds, and every item's `createdAt` is checked too. As soon as an item
falls outside the bounds the server has ignored the filter: the pages fetched so far are
thrown away and the window is fetched again newest-first, without filters, until the pages
are older than the window (`filter_mode='client'`). Either way the flattening keeps only
items inside the window, so both modes give the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pipeline import archive, settings
from pipeline.errors import PipelineError, ResponseValidationError
from pipeline.windows import Window

SERVER = "server"
CLIENT = "client"


class PageSource(Protocol):
    """The part of OrchestrationClient the extraction uses."""

    def fetch_workflow_page(
        self,
        *,
        take: int | None = ...,
        cursor: str | None = ...,
        ascending: bool | None = ...,
        hide_mature_content: bool | None = ...,
        from_date: datetime | None = ...,
        to_date: datetime | None = ...,
    ) -> Any: ...


@dataclass
class ExtractResult:
    pages: int
    items_seen: int
    items_in_window: int
    filter_mode: str
    fetched_at: datetime
    finished_at: datetime
    request: dict[str, Any]


class PageError(PipelineError):
    """A page could not be fetched or is not the expected shape; knows its page number."""

    def __init__(self, message: str, *, page: int) -> None:
        super().__init__(message)
        self.page = page


def created_at(item: dict[str, Any], *, page: int, index: int) -> datetime:
    """The item's createdAt as an aware UTC datetime; ResponseValidationError if absent."""
    value = item.get("createdAt")
    if not isinstance(item.get("id"), str) or not isinstance(value, str):
        raise ResponseValidationError(
            f"item {index + 1} of the page has no string `id`/`createdAt`, so it cannot be "
            "placed in a window; the API may have changed.",
            page=page,
        )
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ResponseValidationError(
            f"item {index + 1} of the page has an unreadable createdAt {value[:40]!r}.",
            page=page,
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _times(items: Sequence[dict[str, Any]], page: int) -> list[datetime]:
    return [created_at(item, page=page, index=i) for i, item in enumerate(items)]


def extract_window(
    client: PageSource,
    window: Window,
    attempt_dir: Path,
    *,
    page_size: int = settings.PAGE_SIZE,
    on_page: Callable[[int, int], None] | None = None,
    force_mode: str | None = None,
) -> ExtractResult:
    """Archive every page of `window` into `attempt_dir`; raises PageError naming the page.

    `on_page(pages, items_in_window)` is called after each archived page.
    `force_mode='client'` skips the server-filter attempt (tests, known-bad servers).
    """
    fetched_at = datetime.now(UTC)
    mode = force_mode or SERVER
    while True:
        outcome = _page_through(client, window, attempt_dir, mode, page_size, on_page)
        if outcome is not None:
            pages, seen, inside, request = outcome
            return ExtractResult(
                pages=pages,
                items_seen=seen,
                items_in_window=inside,
                filter_mode=mode,
                fetched_at=fetched_at,
                finished_at=datetime.now(UTC),
                request=request,
            )
        # The server ignored the date filter: start over newest-first, filtering ourselves.
        archive.clear_pages(attempt_dir)
        mode = CLIENT


def _page_through(
    client: PageSource,
    window: Window,
    attempt_dir: Path,
    mode: str,
    page_size: int,
    on_page: Callable[[int, int], None] | None,
) -> tuple[int, int, int, dict[str, Any]] | None:
    """Page one mode to its end. None when server mode finds the filter ignored."""
    start, end = window.start, window.end
    if mode == SERVER:
        filters: dict[str, Any] = {"from_date": start, "to_date": end}
    else:
        filters = {"ascending": False}
    cursor: str | None = None
    sent: set[str] = set()
    pages = seen = inside = 0
    request: dict[str, Any] = {}
    while True:
        number = pages + 1
        try:
            page = client.fetch_workflow_page(
                take=page_size, cursor=cursor, hide_mature_content=False, **filters
            )
            times = _times(page.items, number)
        except PipelineError as exc:
            raise PageError(str(exc), page=number) from exc
        if number == 1:
            request = dict(getattr(page, "request_params", {}) or {})
        # toDate is documented as "on or before", so an item at exactly `end` is not yet a
        # sign of an ignored filter; the flattening drops it anyway.
        if mode == SERVER and any(t < start or t > end for t in times):
            return None
        archive.write_page(attempt_dir, number, page.content)
        pages = number
        seen += len(times)
        inside += sum(1 for t in times if start <= t < end)
        if on_page is not None:
            on_page(pages, inside)
        if mode == CLIENT and times and all(t < start for t in times):
            # Newest-first and this whole page is older than the window: nothing after it
            # can be inside. (A whole page, not one item, tolerates a ragged sort order.)
            break
        if not page.items or not page.next or page.next in sent or page.next == cursor:
            break
        sent.add(page.next)
        cursor = page.next
    return pages, seen, inside, request
