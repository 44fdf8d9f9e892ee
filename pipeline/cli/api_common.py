"""What the API debugging commands share: the client from the environment, parameter types
(dates, ids) and reading an answer into a model.

Ids are checked by the one id rule (`pipeline.api.endpoints.check_id`) as click parameters,
so a bad id is a usage error (exit status 2) before any request.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import click
from pydantic import BaseModel, ValidationError

from pipeline.api.client import OrchestrationClient, RawResponse
from pipeline.api.endpoints import check_id
from pipeline.api.models import WorkflowStep, parse_datetime, parse_duration, parse_step
from pipeline.cli.output import format_seconds, text
from pipeline.core.errors import ConfigError, ResponseValidationError, UsageError
from pipeline.core.settings import Settings

NO_TOKEN_MESSAGE = "No API token: set CIVITAI_API_TOKEN (or put it in .env)."
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class UtcDateTime(click.ParamType):
    """`YYYY-MM-DD` or an ISO-8601 datetime; without an offset it is UTC.

    A bare day means its first instant, or its last millisecond when `end_of_day` (so
    `--to 2026-11-01` includes the whole day, as in the original script).
    """

    name = "DATE"

    def __init__(self, *, end_of_day: bool = False) -> None:
        self.end_of_day = end_of_day

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return parse_datetime(value)
        raw = str(value).strip()
        if _DAY.match(raw):
            try:
                day = date.fromisoformat(raw)
            except ValueError:
                self.fail(f"{value!r} is not a valid day (YYYY-MM-DD).", param, ctx)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            if self.end_of_day:
                return start + timedelta(days=1) - timedelta(milliseconds=1)
            return start
        try:
            return parse_datetime(raw)
        except ValueError:
            self.fail(
                f"{value!r} is neither a day (YYYY-MM-DD) nor an ISO-8601 datetime "
                "(e.g. 2026-11-01T08:30:00Z).",
                param,
                ctx,
            )


class ApiId(click.ParamType):
    """A workflow, step, job or blob id: one path segment (see `check_id`)."""

    name = "ID"

    def __init__(self, what: str) -> None:
        self.what = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return check_id(value, self.what)
        except UsageError as exc:
            self.fail(str(exc), param, ctx)


WORKFLOW_ID = ApiId("workflow id")
STEP_NAME = ApiId("step name")
JOB_ID = ApiId("job id")
BLOB_ID = ApiId("blob id")


@contextmanager
def api_client() -> Iterator[OrchestrationClient]:
    """A client configured from the environment (and `.env`); a token is required."""
    settings = Settings.from_env()
    if not settings.token:
        raise ConfigError(NO_TOKEN_MESSAGE)
    with OrchestrationClient(
        base_url=settings.api_url,
        token=settings.token,
        allow_insecure_http=settings.allow_insecure_http,
    ) as client:
        yield client


def parse_body(model: type[BaseModel], raw: RawResponse, what: str, endpoint: str) -> Any:
    """The answer as `model`; one readable error (not a traceback) when it does not fit."""
    try:
        if model is WorkflowStep:
            return parse_step(raw.json())
        return model.model_validate_json(raw.content)
    except (ValidationError, ValueError, AttributeError) as exc:
        count = exc.error_count() if isinstance(exc, ValidationError) else 1
        raise ResponseValidationError(
            f"The API's answer for {what} does not have the expected shape "
            f"({count} problem(s)); run the command with --json to see it as sent.",
            endpoint=endpoint,
        ) from None


def elapsed(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "-"
    return format_seconds((end - start).total_seconds())


def duration_text(value: object) -> object:
    """A TimeSpan or ISO-8601 duration as "20m 0s (PT20M)": the reading and the text as the
    API wrote it; the raw value when it cannot be read, None when absent."""
    duration = parse_duration(value)
    if duration is None:
        return None if value is None else text(value).plain
    return f"{format_seconds(duration.seconds)} ({duration.text})"
