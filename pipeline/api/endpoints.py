"""The API's read endpoints as request descriptions: path, query parameters, accepted statuses.

A `Call` also carries how to talk about the request in an error ("workflow 'X'"), so the
messages built far away in the retry loop can still say what was asked for.

Ids become path segments only through `path_segment`: an id is refused unless it is one
segment (not empty, not `.` or `..`, no `/`, `\\` or control character, nor any of them
percent-encoded), and everything else
in it is percent-encoded, `%` included, so it reaches the endpoint it was meant for.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote

from pipeline.core.errors import UsageError
from pipeline.core.timefmt import format_datetime

REDIRECTS = frozenset({301, 302, 303, 307, 308})
DEFAULT_NOT_FOUND_HINT = "Check the id; a consumer token only sees its own workflows."
# GetWorkflow may hold the request open for `wait` seconds before answering.
_WAIT_MARGIN = 30.0


def check_id(value: object, what: str = "id") -> str:
    """`value` if it can be sent as one path segment; UsageError saying why not otherwise.

    `what` names the id in the message ("workflow id"). Dot segments and separators would
    make the request reach another endpoint (`workflow ..` is the workflow list); control
    characters cannot be in an id the API gave out.
    """
    if not isinstance(value, str) or value == "":
        problem = "it is empty"
    elif value in (".", ".."):
        problem = f"{value!r} is a relative path, not an id"
    elif "/" in value or "\\" in value:
        problem = "it holds a path separator ('/' or '\\')"
    elif any(unicodedata.category(ch) == "Cc" for ch in value):
        problem = "it holds a control character"
    elif unquote(value) in (".", "..") or any(c in unquote(value) for c in "/\\"):
        # Sent encoded it is harmless here, but a gateway that decodes the path twice would
        # follow it; no id the API gives out holds an encoded separator or dot segment.
        problem = "it is percent-encoded as a path separator or a dot segment"
    else:
        return value
    shown = repr(value)[:80] if isinstance(value, str) else type(value).__name__
    raise UsageError(f"{what} {shown} cannot be used: {problem}; pass the id as the API gave it.")


def path_segment(value: object, what: str = "id") -> str:
    """The id, checked (`check_id`) and percent-encoded as one path segment."""
    return quote(check_id(value, what), safe="")


def _bool(value: bool) -> str:
    return "true" if value else "false"


@dataclass(frozen=True)
class Call:
    """One logical API request: what to send and how to describe it in errors."""

    method: str
    path: str  # relative to base_url (already escaped), or an absolute URL
    endpoint: str  # path template, for ResponseValidationError
    resource: str  # "workflow 'X'": what the user asked for, for messages
    params: tuple[tuple[str, str], ...] = ()
    accept: frozenset[int] | None = None  # None = any 2xx
    not_found_hint: str = DEFAULT_NOT_FOUND_HINT
    read_timeout: float | None = None

    def accepts(self, status: int) -> bool:
        return status in self.accept if self.accept is not None else 200 <= status < 300

    def request_params(self) -> dict[str, Any]:
        """The query parameters as sent; repeated keys (`tags`) as lists."""
        out: dict[str, Any] = {}
        for key, value in self.params:
            if key == "tags":
                out.setdefault(key, []).append(value)
            else:
                out[key] = value
        return out


def workflow_page(
    *,
    take: int | None,
    cursor: str | None,
    tags: Sequence[str],
    query: str | None,
    ascending: bool | None,
    hide_mature_content: bool | None,
    from_date: datetime | None,
    to_date: datetime | None,
    exclude_failed: bool | None,
) -> Call:
    """`GET /v2/consumer/workflows`; unset filters are left out so the API's defaults apply.

    The cursor is opaque: it is sent back exactly as received (httpx percent-encodes `+`,
    `/`, `=` and the rest of it in the query string).
    """
    if isinstance(tags, str):
        raise TypeError("tags must be a sequence of strings, not a single string")
    params: list[tuple[str, str]] = []
    if take is not None:
        params.append(("take", str(take)))
    if cursor:
        params.append(("cursor", cursor))
    # The API reads repeated keys (tags=a&tags=b) and ANDs them.
    params.extend(("tags", tag) for tag in tags)
    if query is not None:
        params.append(("query", query))
    if ascending is not None:
        params.append(("ascending", _bool(ascending)))
    if hide_mature_content is not None:
        params.append(("hideMatureContent", _bool(hide_mature_content)))
    if from_date is not None:
        params.append(("fromDate", format_datetime(from_date)))
    if to_date is not None:
        params.append(("toDate", format_datetime(to_date)))
    if exclude_failed is not None:
        params.append(("excludeFailed", _bool(exclude_failed)))
    return Call(
        "GET",
        "/v2/consumer/workflows",
        endpoint="GET /v2/consumer/workflows",
        resource="the workflow list",
        params=tuple(params),
        not_found_hint="Check that CIVITAI_API_URL points at the Orchestration API.",
    )


def workflow(
    workflow_id: str,
    *,
    wait: int | None,
    hide_mature_content: bool | None,
    read_timeout: float | None,
) -> Call:
    """`GET /v2/consumer/workflows/{id}`; `read_timeout` is the client's usual one."""
    params: list[tuple[str, str]] = []
    if wait is not None:
        params.append(("wait", str(wait)))
    if hide_mature_content is not None:
        params.append(("hideMatureContent", _bool(hide_mature_content)))
    return Call(
        "GET",
        f"/v2/consumer/workflows/{path_segment(workflow_id, 'workflow id')}",
        endpoint="GET /v2/consumer/workflows/{workflowId}",
        resource=f"workflow {workflow_id!r}",
        params=tuple(params),
        # 202 = answered before the workflow finished (the `wait` ran out).
        accept=frozenset({200, 202}),
        read_timeout=max(read_timeout or 0.0, wait + _WAIT_MARGIN) if wait else None,
    )


def step(workflow_id: str, step_name: str) -> Call:
    workflow_segment = path_segment(workflow_id, "workflow id")
    step_segment = path_segment(step_name, "step name")
    return Call(
        "GET",
        f"/v2/consumer/workflows/{workflow_segment}/steps/{step_segment}",
        endpoint="GET /v2/consumer/workflows/{workflowId}/steps/{stepName}",
        resource=f"step {step_name!r} of workflow {workflow_id!r}",
        accept=frozenset({200}),
    )


def job(job_id: str, *, detailed: bool) -> Call:
    return Call(
        "GET",
        f"/v1/consumer/jobs/{path_segment(job_id, 'job id')}",
        endpoint="GET /v1/consumer/jobs/{jobId}",
        resource=f"job {job_id!r}",
        params=(("detailed", _bool(detailed)),),
        accept=frozenset({200}),
    )


def blob(
    blob_id: str,
    *,
    workflow_id: str | None,
    nsfw_level: str | None,
    download: bool | None,
    filename: str | None,
) -> Call:
    """`GET /v2/consumer/blobs/{id}`: only a redirect is the expected answer."""
    params: list[tuple[str, str]] = []
    if workflow_id is not None:
        params.append(("workflowId", workflow_id))
    if nsfw_level is not None:
        params.append(("nsfwLevel", nsfw_level))
    if download is not None:
        params.append(("download", _bool(download)))
    if filename is not None:
        params.append(("filename", filename))
    return Call(
        "GET",
        f"/v2/consumer/blobs/{path_segment(blob_id, 'blob id')}",
        endpoint="GET /v2/consumer/blobs/{blobId}",
        resource=f"blob {blob_id!r}",
        params=tuple(params),
        accept=REDIRECTS,
    )


def content(absolute_url: str, display_path: str) -> Call:
    """A blob's content URL (already absolute); `display_path` must be redacted."""
    return Call(
        "GET",
        absolute_url,
        endpoint="GET <blob content>",
        resource=f"blob content {display_path!r}",
        not_found_hint="The blob URL may have expired; fetch a fresh one with get_blob_url().",
    )
