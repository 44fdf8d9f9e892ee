"""GET /v2/consumer/workflows: parameters, filters, cursors and page assembly.

Workflows are stored in createdAt order, so a cursor only needs the position of the next
workflow to look at (plus the page number, for `Faults.malformed_pages`). Filters are applied
while scanning; a full page always gets a `next`, even if nothing matches after it (the client
then sees one empty page), which is how a scanning server without a count behaves.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from simulator.account import SimulatedAccount
from simulator.config import Faults
from simulator.ids import TICKS_PER_SECOND, mix
from simulator.model import REFUNDED_STATUSES

DEFAULT_TAKE = 100

_DATE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    # A `+` that was not percent-encoded arrives as a space.
    r"\s*(Z|z|[+\- ]\d{2}:?\d{2})?$"
)


class BadRequest(Exception):
    """A 400 with ASP.NET's ValidationProblemDetails `errors` map."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class ListQuery:
    take: int
    position: int | None
    page: int
    tags: tuple[str, ...]
    query: str | None
    ascending: bool
    hide_mature: bool
    from_ticks: int | None
    to_ticks: int | None
    exclude_failed: bool


def parse_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise BadRequest({name: [f"The value '{value}' is not valid."]})


def parse_ticks(name: str, value: str) -> int:
    """An ISO-8601 date or date-time as ticks since the Unix epoch; no zone means UTC."""
    match = _DATE.match(value.strip())
    if not match:
        raise BadRequest({name: [f"The value '{value}' is not valid."]})
    y, mo, d, h, mi, s, frac, zone = match.groups()
    try:
        dt = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), tzinfo=UTC)
    except ValueError:
        raise BadRequest({name: [f"The value '{value}' is not valid."]}) from None
    ticks = int(dt.timestamp()) * TICKS_PER_SECOND
    if frac:
        ticks += int(frac[:7].ljust(7, "0"))
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = int(digits[:2]) * 3600 + int(digits[2:]) * 60
        ticks -= sign * offset * TICKS_PER_SECOND
    return ticks


class CursorCodec:
    def __init__(self, seed: int) -> None:
        self._seed = seed

    def encode(self, position: int, page: int) -> str:
        check = mix(self._seed, 0xC0, position, page) & 0xFFFFFF
        raw = f"{position}.{page}.{check:06x}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, cursor: str) -> tuple[int, int]:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            position_text, page_text, check = raw.split(".")
            position, page = int(position_text), int(page_text)
        except (ValueError, UnicodeDecodeError):
            raise BadRequest({"cursor": ["The cursor is not valid."]}) from None
        if check != f"{mix(self._seed, 0xC0, position, page) & 0xFFFFFF:06x}" or page < 2:
            raise BadRequest({"cursor": ["The cursor is not valid."]})
        return position, page


def parse_list_query(params: Mapping[str, Sequence[str]], cursors: CursorCodec) -> ListQuery:
    def one(name: str) -> str | None:
        values = params.get(name.lower())
        return values[-1] if values else None

    take_text = one("take")
    take = DEFAULT_TAKE
    if take_text:
        try:
            take = int(take_text)
        except ValueError:
            raise BadRequest({"take": [f"The value '{take_text}' is not valid."]}) from None
        if take < 1:
            raise BadRequest({"take": ["The field take must be greater than 0."]})
    cursor = one("cursor")
    position, page = (None, 1) if not cursor else cursors.decode(cursor)
    query = one("query")
    from_text, to_text = one("fromDate"), one("toDate")
    hide_text, asc_text, excl_text = (
        one("hideMatureContent"),
        one("ascending"),
        one("excludeFailed"),
    )
    return ListQuery(
        take=take,
        position=position,
        page=page,
        tags=tuple(t for t in params.get("tags", ()) if t),
        query=query.lower() if query else None,
        ascending=parse_bool("ascending", asc_text) if asc_text else False,
        # Unlike GetWorkflow, the query endpoint hides mature content unless told otherwise.
        hide_mature=parse_bool("hideMatureContent", hide_text) if hide_text else True,
        from_ticks=parse_ticks("fromDate", from_text) if from_text else None,
        to_ticks=parse_ticks("toDate", to_text) if to_text else None,
        exclude_failed=parse_bool("excludeFailed", excl_text) if excl_text else False,
    )


@dataclass(frozen=True)
class ListPage:
    body: bytes
    # Positions the next page of this chain will look at first (empty on the last page).
    upcoming: range


def list_page(
    account: SimulatedAccount, q: ListQuery, faults: Faults, cursors: CursorCodec
) -> ListPage:
    """One list request's response body (possibly cut short by `malformed_pages`)."""
    lo, hi = 0, account.total
    if not faults.ignore_date_filter:
        if q.from_ticks is not None:
            lo = account.first_at_or_after(q.from_ticks)
        if q.to_ticks is not None:
            hi = account.first_at_or_after(q.to_ticks + 1)
    take = q.take if faults.page_size_clamp is None else min(q.take, faults.page_size_clamp)

    if q.ascending:
        start = lo if q.position is None else max(q.position, lo)
        positions = range(start, hi)
        step = 1
    else:
        start = hi - 1 if q.position is None else min(q.position, hi - 1)
        positions = range(start, lo - 1, -1)
        step = -1

    tags = q.tags
    needle = q.query
    exclude = q.exclude_failed
    items: list[bytes] = []
    last = None
    for g in positions:
        last = g
        rec = account.record(g)
        if exclude and rec.status in REFUNDED_STATUSES:
            continue
        if tags and not all(t in rec.tags for t in tags):
            continue
        if needle and needle not in rec.metadata_text:
            continue
        items.append(rec.hidden if q.hide_mature else rec.full)
        if len(items) >= take:
            break

    next_cursor: str | None = None
    upcoming = range(0)
    if last is not None and items:
        following = last + step
        if len(items) >= take and lo <= following < hi:
            next_cursor = cursors.encode(following, q.page + 1)
            upcoming = (
                range(following, min(following + take, hi))
                if step == 1
                else range(following, max(following - take, lo - 1), -1)
            )
        elif faults.last_page_next == "cursor":
            # Points past the end: the next request gets an empty page without `next`.
            next_cursor = cursors.encode(following, q.page + 1)

    body = b'{"items":[' + b",".join(items) + b"]"
    if next_cursor is not None:
        body = b'{"next":' + orjson.dumps(next_cursor) + b',"items":[' + b",".join(items) + b"]"
    elif faults.last_page_next == "null":
        body = b'{"next":null,"items":[' + b",".join(items) + b"]"
    elif faults.last_page_next == "empty":
        body = b'{"next":"","items":[' + b",".join(items) + b"]"
    body += b"}"
    if q.page in faults.malformed_pages:
        body = body[: max(1, len(body) // 2)]
    return ListPage(body, upcoming)
