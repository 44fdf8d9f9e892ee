"""Client of the Civitai Orchestration API (sync and asyncio flavours).

    from pipeline.api.client import OrchestrationClient

    with OrchestrationClient(base_url=settings.api_url, token=settings.token) as client:
        for page in client.iter_workflow_pages(from_date=start, to_date=end):
            ...

Retries, backoff, `Retry-After`, the status -> exception mapping and token redaction are
shared by both clients (`_base.py`); `_errors.py` reads error bodies.
"""

from __future__ import annotations

from pipeline.api.client._async import AsyncOrchestrationClient
from pipeline.api.client._base import DEFAULT_TIMEOUT
from pipeline.api.client._errors import parse_retry_after
from pipeline.api.client._sync import OrchestrationClient
from pipeline.api.client._types import ClientStats, RawResponse, WorkflowPageRaw

__all__ = [
    "DEFAULT_TIMEOUT",
    "AsyncOrchestrationClient",
    "ClientStats",
    "OrchestrationClient",
    "RawResponse",
    "WorkflowPageRaw",
    "parse_retry_after",
]
