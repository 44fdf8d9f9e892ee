"""Turn failed answers and transport failures into `pipeline.core.errors` exceptions, and
decide which of them are worth another try.

Error bodies come in several shapes: RFC 7807 problem details (as `application/problem+json`
or plain `application/json`), a bare JSON string (403 on submit), plain text, and HTML pages
from the gateway when the service is down. Each becomes one readable sentence.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson

from pipeline.api.responses import RawResponse
from pipeline.core import errors, settings

HTML_ERROR = "the service returned an HTML error page (gateway/outage)"
_MAX_DETAIL = 300
_MAX_BODY = 2000
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_SPACES = re.compile(r"\s+")
_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-correlation-id", "traceparent")


def _clip(text: str, limit: int = _MAX_DETAIL) -> str:
    text = _SPACES.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _problem_text(data: dict[str, Any]) -> str:
    parts = [
        str(data[key]).strip()
        for key in ("title", "detail", "message", "error")
        if isinstance(data.get(key), str | int | float) and str(data[key]).strip()
    ]
    # Drop a detail that merely repeats the title.
    text = ": ".join(dict.fromkeys(parts))
    field_errors = data.get("errors")
    if isinstance(field_errors, dict) and field_errors:
        listed = "; ".join(
            f"{name}: {' '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
            for name, msgs in field_errors.items()
        )
        text = f"{text} ({listed})" if text else listed
    return text


def describe_body(content: bytes, content_type: str) -> str:
    """One short sentence saying what an error body says ("" when it says nothing)."""
    text = content.decode("utf-8", errors="replace").strip()
    if not text:
        return ""
    if "html" in content_type.lower() or text[:15].lower().startswith(("<!doctype", "<html")):
        title = _HTML_TITLE.search(text)
        return f"{HTML_ERROR}: {_clip(title.group(1))}" if title else HTML_ERROR
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError:
        return _clip(text)
    if isinstance(data, dict):
        return _clip(_problem_text(data) or text)
    if isinstance(data, str):
        return _clip(data)
    return _clip(text)


def request_id(headers: httpx.Headers) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        if value := headers.get(name):
            return value
    return None


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP-date).

    `now` is a POSIX timestamp. Returns None when the header is absent or unreadable; a date
    in the past gives 0.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - now
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def status_error(
    response: RawResponse,
    *,
    resource: str,
    attempts: int,
    not_found_hint: str,
    redact: Callable[[str], str],
) -> errors.ApiStatusError:
    """The exception for a response that will not be retried (any more)."""
    status = response.status_code
    detail = redact(describe_body(response.content, response.headers.get("content-type", "")))
    said = f": {detail}" if detail else ""
    tries = f"{attempts} attempt" + ("s" if attempts != 1 else "")
    cls: type[errors.ApiStatusError] = errors.ApiStatusError
    if status == 400:
        cls = errors.BadRequestError
        message = f"Bad request (400) for {resource}{said}. Check the option values."
    elif status == 401:
        cls = errors.AuthenticationError
        message = (
            "The API refused the token (401). "
            "Set CIVITAI_API_TOKEN to a valid Orchestration API token."
        )
    elif status == 403:
        cls = errors.PermissionDeniedError
        message = (
            f"Permission denied (403) for {resource}{said}. The token may not read this; "
            "a consumer token only sees its own workflows."
        )
    elif status == 404:
        cls = errors.NotFoundError
        message = f"Not found: {resource} (404). {not_found_hint}"
    elif status == 422:
        cls = errors.UnprocessableError
        message = f"Invalid parameters (422) for {resource}{said}. Check the option values."
    elif status == 429:
        cls = errors.RateLimitError
        message = (
            f"Rate limited by the API (429) after {tries}; "
            "lower the job concurrency/rate or try later."
        )
    elif status >= 500:
        cls = errors.ServerError
        message = (
            f"The API failed with {status} for {resource} after {tries}{said}. "
            "The service may be down; try again later."
        )
    elif status == 408:
        message = (
            f"The API timed out the request (408) for {resource} after {tries}; try again later."
        )
    elif 300 <= status < 400:
        location = redact(response.headers.get("location", "")) or "nowhere"
        message = (
            f"The API redirected the request for {resource} ({status}) to {location}; "
            "API calls do not follow redirects, so the token never goes to another address. "
            "If that address is the API, set CIVITAI_API_URL to it."
        )
    else:
        message = f"Unexpected answer {status} from the API for {resource}{said}."
    return cls(
        redact(message),
        status_code=status,
        method=response.method,
        url=redact(response.url),
        request_id=request_id(response.headers),
        body=redact(response.content[:_MAX_BODY].decode("utf-8", errors="replace")),
    )


def connection_error(
    exc: Exception,
    *,
    base_url: str,
    resource: str,
    attempts: int,
    redact: Callable[[str], str],
) -> errors.ApiConnectionError:
    """The exception for a transport failure that will not be retried (any more)."""
    tries = f"{attempts} attempt" + ("s" if attempts != 1 else "")
    reason = type(exc).__name__ + (f": {exc}" if str(exc) else "")
    if isinstance(exc, httpx.TimeoutException):
        return errors.ApiTimeoutError(
            redact(
                f"The API did not answer in time for {resource} after {tries} ({reason}); "
                "check the network or try again later."
            )
        )
    return errors.ApiConnectionError(
        redact(
            f"Could not reach the API at {base_url} for {resource} after {tries} ({reason}); "
            "check CIVITAI_API_URL and the network."
        )
    )


def _root_causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 8:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def unreachable_error(
    exc: httpx.RequestError, *, url: httpx.URL, redact: Callable[[str], str]
) -> errors.ApiConnectionError | None:
    """The error for a first request that cannot reach the host at all (the name does not
    resolve, or nothing listens on the port), or None for any other failure.

    Before the client ever got an answer, these are a wrong URL or a server that is not
    running, not a passing fault: retrying them only delays the message by a minute.
    """
    if not isinstance(exc, httpx.ConnectError):
        return None
    where = redact(f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}")
    for cause in _root_causes(exc):
        if isinstance(cause, socket.gaierror):
            return errors.ApiConnectionError(
                f"Cannot resolve the host {url.host!r} ({where}); check CIVITAI_API_URL "
                "and the machine's DNS/network."
            )
        if isinstance(cause, ConnectionRefusedError):
            return errors.ApiConnectionError(
                f"Nothing accepts connections at {where} (connection refused); check "
                "CIVITAI_API_URL, or start the server it points at."
            )
    return None


def is_retryable_transport_error(exc: Exception) -> bool:
    # A bad URL scheme, a proxy refusal or our own protocol misuse will fail the same way again.
    return isinstance(
        exc,
        httpx.TimeoutException
        | httpx.NetworkError
        | httpx.RemoteProtocolError
        | httpx.DecodingError,
    )


def retry_delay(
    attempt: int, status: int | None, retry_after: float | None, jitter: Callable[[], float]
) -> float:
    """Seconds before retry number `attempt`.

    A `Retry-After` wins (capped at MAX_RETRY_DELAY so a bogus value cannot stall a sync for
    hours); otherwise capped exponential backoff with full jitter. A 429 never retries sooner
    than RETRY_AFTER_FLOOR, even when told `Retry-After: 0`.
    """
    if retry_after is not None:
        delay = min(retry_after, settings.MAX_RETRY_DELAY)
    else:
        ceiling = min(settings.MAX_RETRY_DELAY, settings.INITIAL_RETRY_DELAY * 2 ** (attempt - 1))
        delay = ceiling * jitter()
    if status == 429:
        delay = max(delay, settings.RETRY_AFTER_FLOOR)
    return delay
