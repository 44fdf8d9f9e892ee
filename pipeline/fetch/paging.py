"""Fetch one window's workflow pages from the API into an archive attempt directory.

The API's `fromDate`/`toDate` filter "may have limited support", so the pages are asked for
with the window's bounds, and every item's `createdAt` is checked too. As soon as an item
falls outside the bounds the server has ignored the filter: the pages fetched so far are
thrown away and the window is fetched again newest-first, without filters, until the pages
are older than the window (`filter_mode='client'`). Either way the flattening keeps only
items inside the window, so both modes give the same rows.

A cursor chain is sequential (each page needs the previous page's `next`), so one chain has
one request in flight. When the server honours the filter and the first page shows the day
holds many pages, the window is split into sub-windows fetched as parallel chains. Each page
then carries the half-open bounds of its chain: the server is asked for [lo, hi] ("on or
before"), the flattening keeps [lo, hi), so an item on a boundary is kept exactly once.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pipeline.core import settings
from pipeline.core.errors import PipelineError, ResponseValidationError
from pipeline.core.redact import Redactor, strip_url_queries_bytes
from pipeline.fetch import archive
from pipeline.fetch.cursors import CursorGuard, PageBudget, PageError
from pipeline.fetch.windows import Bounds, Window

__all__ = ["CLIENT", "SERVER", "ExtractResult", "PageError", "PageSource", "extract_window"]

SERVER = "server"
CLIENT = "client"


class PageSource(Protocol):
    """The part of OrchestrationClient the extraction uses (its `redactor`, which knows the
    token, scrubs each page before it is archived)."""

    @property
    def redactor(self) -> Redactor: ...

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
    chains: int = 1
    # Page number -> the [lo, hi) its items are kept in (parallel chains only); pages not
    # listed use the window's.
    page_bounds: dict[int, Bounds] = field(default_factory=dict)


def created_at(item: Any, *, page: int, index: int) -> datetime:
    """The item's createdAt as an aware UTC datetime; ResponseValidationError if absent.

    `item` is a listed workflow's head (`id` and `createdAt` attributes, see ItemHead)."""
    value = item.createdAt
    if not isinstance(item.id, str) or not isinstance(value, str):
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


def _times(items: Sequence[Any], page: int) -> list[datetime]:
    return [created_at(item, page=page, index=i) for i, item in enumerate(items)]


def extract_window(
    client: PageSource,
    window: Window,
    attempt_dir: Path,
    *,
    page_size: int = settings.PAGE_SIZE,
    on_page: Callable[[int, int], None] | None = None,
    force_mode: str | None = None,
    chains: int | None = None,
    fetched_at: datetime | None = None,
    on_archived: Callable[[Path, Bounds | None], None] | None = None,
    on_restart: Callable[[], None] | None = None,
    max_pages: int = settings.MAX_PAGES_PER_WINDOW,
) -> ExtractResult:
    """Archive every page of `window` into `attempt_dir`; raises PageError naming the page.

    Paging is bounded (see `pipeline.fetch.cursors`): a cursor loop, pages that bring nothing
    new, or more than `max_pages` pages fail the window. Each page is archived with URL query
    strings and echoes of the token removed (`client.redactor`).

    `on_page(pages, items_in_window)` is called after each archived page (from the fetching
    threads when chains run in parallel). `force_mode='client'` skips the server-filter
    attempt (tests, known-bad servers). `chains` caps the sub-windows fetched at once
    (default `settings.SYNC_FETCH_CONCURRENCY`); `client` must then be thread-safe.
    `on_archived(path, bounds)` sees each page file once it is complete (bounds None: the
    window's), and `on_restart()` is called when the pages so far are thrown away.
    """
    fetched_at = fetched_at or datetime.now(UTC)
    limit = settings.SYNC_FETCH_CONCURRENCY if chains is None else chains
    mode = force_mode or SERVER
    scrub = _scrubber(client)
    while True:
        pages = _Pages(attempt_dir, on_page, on_archived, scrub=scrub, max_pages=max_pages)
        try:
            if mode == SERVER:
                used = _server_mode(client, window, pages, page_size, max(1, limit))
            else:
                used = 1 if _page_through(client, _Chain(window.start, window.end), pages,
                                          CLIENT, page_size) else 0  # fmt: skip
        except BaseException:
            with contextlib.suppress(BaseException):
                pages.close()  # the fetch's own error is the one to report
            raise
        pages.close()
        if used:
            return ExtractResult(
                pages=pages.count,
                items_seen=pages.seen,
                items_in_window=pages.inside,
                filter_mode=mode,
                fetched_at=fetched_at,
                finished_at=datetime.now(UTC),
                request=pages.request,
                chains=used,
                page_bounds=pages.bounds,
            )
        # The server ignored the date filter: start over newest-first, filtering ourselves.
        if on_restart is not None:
            on_restart()
        archive.clear_pages(attempt_dir)
        mode = CLIENT


def _scrubber(client: PageSource) -> Callable[[bytes], bytes]:
    # A source without a redactor (a test double) still gets URL query strings removed.
    redactor = getattr(client, "redactor", None)
    return (redactor if isinstance(redactor, Redactor) else Redactor()).scrub_bytes


@dataclass(frozen=True)
class _Chain:
    """One cursor chain: items kept in [lo, hi); the server is asked for [lo, hi]."""

    lo: datetime
    hi: datetime
    index: int = 0
    of: int = 1

    def where(self) -> str:
        return f"sub-window {self.index + 1} of {self.of} (from {self.lo:%H:%M} UTC)"


class _Pages:
    """Numbers, archives and counts the pages of one attempt; safe across chain threads.

    Archiving (compression, write, fsync) runs on a writer thread, so a chain sends its next
    request as soon as it has the cursor instead of after the disk: a chain is one request at
    a time. At most
    `WRITES_IN_FLIGHT` pages wait for the writer, which bounds the memory this adds.
    `close()` waits for every write and raises the first that failed (a full disk), so no
    attempt is ever published with a page missing.
    """

    WRITES_IN_FLIGHT = 8

    def __init__(
        self,
        attempt_dir: Path,
        on_page: Callable[[int, int], None] | None,
        on_archived: Callable[[Path, Bounds | None], None] | None = None,
        *,
        scrub: Callable[[bytes], bytes] = strip_url_queries_bytes,
        max_pages: int = settings.MAX_PAGES_PER_WINDOW,
    ) -> None:
        self.attempt_dir = attempt_dir
        self.on_page = on_page
        self.on_archived = on_archived
        self.count = self.seen = self.inside = 0
        self.request: dict[str, Any] = {}
        # Only pages of parallel chains: a single chain keeps the window's bounds.
        self.bounds: dict[int, Bounds] = {}
        self.stop = threading.Event()
        self._budget = PageBudget(max_pages)
        self._scrub = scrub
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.WRITES_IN_FLIGHT)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-archive")
        self._failed: BaseException | None = None

    def reserve(self) -> int:
        return self._budget.reserve()

    def add(
        self,
        number: int,
        content: bytes,
        times: Sequence[datetime],
        chain: _Chain,
        request: dict[str, Any] | None,
    ) -> None:
        self._raise_failed()
        bounds = (chain.lo, chain.hi) if chain.of > 1 else None
        inside = sum(1 for t in times if chain.lo <= t < chain.hi)
        self._slots.acquire()
        try:
            self._writer.submit(self._write, number, content, bounds, len(times), inside, request)
        except BaseException:
            self._slots.release()
            raise

    def _write(
        self,
        number: int,
        content: bytes,
        bounds: Bounds | None,
        seen: int,
        inside: int,
        request: dict[str, Any] | None,
    ) -> None:
        try:
            if self._failed is not None:
                return
            # Scrubbed here, on the writer thread, so the chain is not held up by it.
            path = archive.write_page(self.attempt_dir, number, self._scrub(content))
            if self.on_archived is not None:
                self.on_archived(path, bounds)
            with self._lock:
                self.count += 1
                self.seen += seen
                self.inside += inside
                if bounds is not None:
                    self.bounds[number] = bounds
                if request is not None:
                    self.request = request
                pages, total = self.count, self.inside
            if self.on_page is not None:
                self.on_page(pages, total)
        except BaseException as exc:
            with self._lock:
                if self._failed is None:
                    self._failed = exc
            self.stop.set()  # the other chains stop too: this attempt cannot be published
        finally:
            self._slots.release()

    def _raise_failed(self) -> None:
        if self._failed is not None:
            raise self._failed

    def close(self) -> None:
        """Wait for the writes; raise the first one that failed."""
        self._writer.shutdown(wait=True)
        self._raise_failed()


def _fetch(
    client: PageSource, chain: _Chain, mode: str, page_size: int, cursor: str | None, number: int
) -> tuple[Any, list[datetime]]:
    if mode == SERVER:
        filters: dict[str, Any] = {"from_date": chain.lo, "to_date": chain.hi}
    else:
        filters = {"ascending": False}
    try:
        page = client.fetch_workflow_page(
            take=page_size, cursor=cursor, hide_mature_content=False, **filters
        )
        return page, _times(page.heads, number)
    except PageError:
        raise
    except PipelineError as exc:
        message = str(exc) if chain.of == 1 else f"{chain.where()}: {exc}"
        raise PageError(message, page=number) from exc


def _ignored(mode: str, chain: _Chain, times: Sequence[datetime]) -> bool:
    # toDate is documented as "on or before", so an item at exactly `hi` is not yet a sign
    # of an ignored filter; the flattening drops it anyway.
    return mode == SERVER and any(t < chain.lo or t > chain.hi for t in times)


def _page_through(
    client: PageSource,
    chain: _Chain,
    pages: _Pages,
    mode: str,
    page_size: int,
    first: tuple[Any, list[datetime]] | None = None,
) -> bool:
    """Page one chain to its end. False when server mode finds the filter ignored (or
    another chain did and asked everyone to stop)."""
    cursor: str | None = None
    guard = CursorGuard(where=chain.where() if chain.of > 1 else "")
    position = 0
    while True:
        if pages.stop.is_set():
            return False
        number = pages.reserve()
        position += 1
        if first is not None and position == 1:
            page, times = first
        else:
            page, times = _fetch(client, chain, mode, page_size, cursor, number)
        if _ignored(mode, chain, times):
            return False
        request = None
        if position == 1 and chain.index == 0:
            request = dict(getattr(page, "request_params", {}) or {})
        pages.add(number, page.content, times, chain, request)
        if mode == CLIENT and times and all(t < chain.lo for t in times):
            # Newest-first and this whole page is older than the window: nothing after it
            # can be inside. (A whole page, not one item, tolerates a ragged sort order.)
            break
        # An empty page with `next` is followed: the server may have filtered its items out.
        guard.after_page(number, (head.id for head in page.heads), page.next)
        if not page.next:
            break
        cursor = page.next
    return True


def _chains_wanted(window: Window, times: Sequence[datetime], limit: int) -> int:
    """How many parallel chains the window is worth, judged from its first (newest) page.

    The first page spans [its oldest item, window end]: at the same density the day holds
    about (window length / that span) pages (whatever page size the server really used).
    A chain is only worth starting for MIN_PAGES_PER_CHAIN pages or more: a small day stays
    one chain (one request per page, nothing re-fetched).
    """
    if limit <= 1 or not times:
        return 1
    span = (window.end - min(times)).total_seconds()
    total = (window.end - window.start).total_seconds()
    estimated_pages = math.inf if span <= 0 else total / span
    return max(1, min(limit, int(estimated_pages // settings.MIN_PAGES_PER_CHAIN)))


def _server_mode(
    client: PageSource, window: Window, pages: _Pages, page_size: int, limit: int
) -> int:
    """Fetch the window with the server's date filter; the chains used, 0 if it is ignored."""
    whole = _Chain(window.start, window.end)
    probe = _fetch(client, whole, SERVER, page_size, None, 1)
    page, times = probe
    if _ignored(SERVER, whole, times):
        return 0
    wanted = _chains_wanted(window, times, limit) if page.next else 1
    if wanted == 1:
        return 1 if _page_through(client, whole, pages, SERVER, page_size, first=probe) else 0
    # The probe page is not archived: the sub-window chains fetch its items again, which
    # costs one request and keeps every page inside exactly one chain's bounds.
    step = (window.end - window.start) / wanted
    bounds = [window.start + step * i for i in range(wanted)] + [window.end]
    chains = [_Chain(bounds[i], bounds[i + 1], i, wanted) for i in range(wanted)]
    outcomes: list[bool | BaseException] = [False] * wanted

    def run(chain: _Chain) -> None:
        try:
            outcomes[chain.index] = _page_through(client, chain, pages, SERVER, page_size)
        except BaseException as exc:
            outcomes[chain.index] = exc
        if outcomes[chain.index] is not True:
            pages.stop.set()

    with ThreadPoolExecutor(max_workers=wanted, thread_name_prefix="sync-chain") as pool:
        list(pool.map(run, chains))
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    if errors:
        raise errors[0]
    return wanted if all(o is True for o in outcomes) else 0
