"""What the client hands back: raw answers (bytes as received), raw workflow pages, and the
reading of a body with a size cap."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import httpx
import msgspec
import orjson

from pipeline.core import errors

_MIB = 1024 * 1024


@dataclass
class RawResponse:
    """An answer as received: status, headers, the body (decoded from gzip/deflate), and the
    request it answers (method and URL, for error messages)."""

    status_code: int
    content: bytes
    headers: httpx.Headers
    method: str = "GET"
    url: str = ""

    def json(self) -> Any:
        return orjson.loads(self.content)


def read_body(headers: httpx.Headers, chunks: Iterator[bytes], limit: int, what: str) -> bytes:
    """The whole body, or ResponseValidationError once it passes `limit` bytes (decoded, so a
    compressed bomb is stopped too). A declared Content-Length over the limit is refused
    before anything is read."""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_big(what, limit)
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise _too_big(what, limit)
        parts.append(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _too_big(what: str, limit: int) -> errors.ResponseValidationError:
    size = f"{limit / _MIB:g} MiB" if limit >= _MIB else f"{limit} bytes"
    return errors.ResponseValidationError(
        f"The API's answer for {what} is larger than {size}, more than any answer of this "
        "API should be; it was not read. Try again later; if it persists, the API is sending "
        "something else than its documents (raise pipeline.core.settings.MAX_RESPONSE_BYTES "
        "only if its answers really are that big)."
    )


class ItemHead(msgspec.Struct):
    """The two members of a listed workflow that place it in a window (any JSON type: the
    caller checks them); every other member is skipped by the decoder, not built."""

    id: Any = None
    createdAt: Any = None


class PageHead(msgspec.Struct):
    items: list[ItemHead]
    next: Any = None


# A sync only needs each item's id and createdAt before archiving the page; building every
# workflow as Python objects (and freeing them) cost ~6x the decoding of these two members.
PAGE_HEAD = msgspec.json.Decoder(PageHead)


@dataclass
class WorkflowPageRaw:
    """One page of `GET /v2/consumer/workflows`, checked to be `{"items": [{...}, ...], ...}`.

    `content` is the body exactly as served (the archive removes URL signatures and token
    echoes before writing it); `heads` holds each item's id and createdAt; `items` (the full
    documents) is decoded on first use. `next` is None on the last page (the API may omit
    it, send null, or send ""); `request_params` are the query parameters as sent, with
    repeated keys (`tags`) as lists.
    """

    content: bytes
    heads: list[ItemHead]
    next: str | None
    request_params: dict[str, Any]

    @cached_property
    def items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = orjson.loads(self.content)["items"]
        return items


def decode_page(content: bytes, request_params: dict[str, Any], endpoint: str) -> WorkflowPageRaw:
    """A list page's heads and cursor; ResponseValidationError when it is not a page."""
    try:
        head = PAGE_HEAD.decode(content)
    except msgspec.ValidationError:
        raise errors.ResponseValidationError(
            "The API sent a workflow page that is not a JSON object with an `items` list "
            "of workflows; the API may have changed.",
            endpoint=endpoint,
        ) from None
    except msgspec.DecodeError as exc:
        if content.lstrip()[:1] == b"<":
            # A 200 with HTML is a captive portal, a login wall or a CDN challenge answering
            # in place of the API: not a cut-off page, and running again at once won't help.
            raise errors.ResponseValidationError(
                "The API URL answered a workflow page with an HTML page, not JSON (a proxy, "
                "gateway or login page answered in place of the API); check CIVITAI_API_URL "
                "and any proxy between here and the API, then run the sync again.",
                endpoint=endpoint,
            ) from None
        raise errors.ResponseValidationError(
            f"The API sent a workflow page that is not valid JSON ({exc}); "
            "the response was probably cut off. Run the sync again.",
            endpoint=endpoint,
        ) from None
    next_cursor = head.next
    return WorkflowPageRaw(
        content=content,
        heads=head.items,
        next=next_cursor if isinstance(next_cursor, str) and next_cursor else None,
        request_params=request_params,
    )
