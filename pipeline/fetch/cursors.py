"""The bounds of following a cursor chain, so that a broken server ends a window with a
message instead of silently (a truncated day) or never (a loop).

The list's end is only "a page without `next`". Everything else carries on, within bounds:

* a page that comes back empty, or with only items already seen, and still carries `next` is
  followed (the server may filter items out of a page after paging), but
  MAX_PAGES_WITHOUT_NEW_ITEMS such pages in a row fail the chain. "Already seen" means in the
  last RECENT_PAGES pages, which bounds the memory of a chain that pages back through weeks
  (a server ignoring the date filter); a longer loop still meets the page cap;
* a `next` that was already returned earlier in the chain (the same cursor again, or a cycle
  of any length) fails it at once;
* more than MAX_PAGES_PER_WINDOW pages in a window fail it (`PageBudget`).

Cursors are opaque and might carry something private, so messages show only a short hash.
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from pipeline.core import settings
from pipeline.core.errors import PipelineError

RECENT_PAGES = 100
_WHAT_TO_DO = (
    "the window keeps its previous data; run the sync again later, and report it to the API's "
    "maintainers if it persists"
)


class PageError(PipelineError):
    """A page could not be fetched, is not the expected shape, or breaks the paging bounds;
    knows its page number (the number of its file in the archive)."""

    def __init__(self, message: str, *, page: int) -> None:
        super().__init__(message)
        self.page = page


def cursor_hash(cursor: str) -> str:
    """A short, stable name for a cursor in messages (never the cursor itself)."""
    return "#" + hashlib.sha256(cursor.encode("utf-8", "surrogatepass")).hexdigest()[:8]


class CursorGuard:
    """Watches one cursor chain; `after_page` raises PageError when it must stop.

    `start` is the cursor the chain begins with, if any (a page returning it again loops).
    `where` names the chain in messages ("sub-window 2 of 4 ..."), or "" for a whole window.
    """

    def __init__(
        self,
        *,
        start: str | None = None,
        where: str = "",
        max_pages_without_new_items: int = settings.MAX_PAGES_WITHOUT_NEW_ITEMS,
    ) -> None:
        self._returned_by: dict[str, int] = {}
        if start:
            self._returned_by[cursor_hash(start)] = 0
        # Ids of the last RECENT_PAGES pages, with how many of those pages hold each.
        self._recent: deque[set[str]] = deque()
        self._holders: dict[str, int] = {}
        self._stale = 0
        self._stale_limit = max_pages_without_new_items
        self._where = f" ({where})" if where else ""

    def after_page(self, number: int, ids: Iterable[Any], next_cursor: str | None) -> None:
        """Record page `number` (its items' ids and its `next`); raise if the chain must not
        follow that `next`. A page without `next` ends the chain and is always fine."""
        new = self._remember({i if isinstance(i, str) else repr(i) for i in ids})
        if not next_cursor:
            return
        digest = cursor_hash(next_cursor)
        first = self._returned_by.get(digest)
        if first is not None:
            earlier = "the cursor the chain started from" if first == 0 else f"page {first}"
            raise PageError(
                f"the API sent the next cursor {digest} again{self._where}, after {earlier} "
                f"had sent it: its paging loops; stopped instead of fetching forever, and "
                f"{_WHAT_TO_DO}.",
                page=number,
            )
        self._returned_by[digest] = number
        self._stale = 0 if new else self._stale + 1
        if self._stale >= self._stale_limit:
            raise PageError(
                f"{self._stale} pages in a row{self._where} brought no workflow that was not "
                f"already listed, yet each carried a next cursor (last {digest}): the paging "
                f"goes nowhere; stopped, and {_WHAT_TO_DO}.",
                page=number,
            )

    def _remember(self, page_ids: set[str]) -> int:
        """Add a page's ids to the recent ones; how many of them were not among them."""
        new = sum(1 for item_id in page_ids if item_id not in self._holders)
        for item_id in page_ids:
            self._holders[item_id] = self._holders.get(item_id, 0) + 1
        self._recent.append(page_ids)
        if len(self._recent) > RECENT_PAGES:
            for item_id in self._recent.popleft():
                left = self._holders.pop(item_id) - 1
                if left:
                    self._holders[item_id] = left
        return new


class PageBudget:
    """Numbers the pages of one window attempt (shared by its chains), at most `limit`."""

    def __init__(self, limit: int = settings.MAX_PAGES_PER_WINDOW) -> None:
        self.limit = limit
        self._next = 0
        self._lock = threading.Lock()

    def reserve(self) -> int:
        with self._lock:
            self._next += 1
            number = self._next
        if number > self.limit:
            raise PageError(
                f"the window has more than {self.limit} pages (MAX_PAGES_PER_WINDOW in "
                f"pipeline/core/settings.py), more than any day should; stopped, and "
                f"{_WHAT_TO_DO}.",
                page=number,
            )
        return number


def iter_pages(
    source: Any, *, cursor: str | None = None, max_pages: int | None = None, **filters: Any
) -> Iterator[Any]:
    """Yield the pages of `source.fetch_workflow_page(**filters)` from `cursor` on, following
    `next` within the bounds above (an empty page with `next` included), until a page
    without `next` or `max_pages` pages. Raises PageError (page numbers count from 1)."""
    guard = CursorGuard(start=cursor)
    budget = PageBudget(settings.MAX_PAGES_PER_WINDOW)
    fetched = 0
    while max_pages is None or fetched < max_pages:
        number = budget.reserve()
        try:
            page = source.fetch_workflow_page(cursor=cursor, **filters)
        except PipelineError as exc:
            raise PageError(str(exc), page=number) from exc
        fetched += 1
        yield page
        guard.after_page(number, (head.id for head in page.heads), page.next)
        if not page.next:
            return
        cursor = page.next
