"""Alerting: a failed run, or yesterday's window still not complete by a deadline hour, must reach
someone who does not have the Dagster UI open.

* `yesterday_window_complete`, an asset check on `workflows` run by the `freshness_check`
  schedule at the deadline hour (UTC, `CIVITAI_SYNC_FRESHNESS_HOUR`, default 06): it fails when
  the window due by then (yesterday once the hour has passed, else the day before) is not
  complete in the ledger. Run at any other time it judges the window due at that time.
* `alert_on_run_failure`, a run-failure sensor: every failed run is posted to the webhook.

Both post a JSON body to `CIVITAI_SYNC_ALERT_WEBHOOK` when it is set (a Slack-compatible
`text` plus fields for machines). The body carries run ids, names, days and error text with
the API token and URL query strings removed; the webhook URL itself (which often holds a
secret path) is never logged or put in an error, only its host.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
import httpx

from assets.resources import DataDirResource
from pipeline.core import settings as defaults
from pipeline.core.redact import Redactor
from pipeline.core.settings import Settings
from pipeline.lake.ledger import Ledger, WindowRow
from pipeline.lake.store import Lake

ENV_WEBHOOK = "CIVITAI_SYNC_ALERT_WEBHOOK"
ENV_FRESHNESS_HOUR = "CIVITAI_SYNC_FRESHNESS_HOUR"
DEFAULT_FRESHNESS_HOUR = 6
POST_TIMEOUT_SECONDS = 10.0
ERROR_TEXT_LIMIT = 2000
SOURCE = "civitai-orchestration-sync"


# Waits before the second and third try of a post the webhook could not take (unreachable,
# 429, 5xx). Dagster's run-status sensors do not evaluate a run again after an error, so a
# webhook that is down for longer loses that alert (the failed tick stays in the UI).
RETRY_DELAYS = (1.0, 3.0)


class AlertDeliveryError(Exception):
    """The webhook could not be reached or refused the alert (the sensor tick or the check
    fails with this, so Dagster shows it)."""


def freshness_hour(environ: Mapping[str, str] | None = None) -> int:
    """The deadline hour (UTC) from CIVITAI_SYNC_FRESHNESS_HOUR; refused when not 0-23."""
    raw = ((os.environ if environ is None else environ).get(ENV_FRESHNESS_HOUR) or "").strip()
    if not raw:
        return DEFAULT_FRESHNESS_HOUR
    if not raw.isdigit() or not 0 <= int(raw) <= 23:
        raise ValueError(
            f"{ENV_FRESHNESS_HOUR} must be an hour of the day, 0-23 (UTC); got {raw!r}"
        )
    return int(raw)


def webhook_url(environ: Mapping[str, str] | None = None) -> str | None:
    url = ((os.environ if environ is None else environ).get(ENV_WEBHOOK) or "").strip()
    return url or None


def _secrets() -> Redactor:
    return Redactor([os.environ.get(defaults.ENV_TOKEN)])


def post_alert(body: Mapping[str, Any], url: str | None = None) -> bool:
    """POST `body` as JSON to the webhook; False when no webhook is configured."""
    url = url or webhook_url()
    if url is None:
        return False
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AlertDeliveryError(f"{ENV_WEBHOOK} is not an http(s) URL; fix it to get alerts.")
    host = parts.hostname
    problem = ""
    for delay in (0.0, *RETRY_DELAYS):
        time.sleep(delay)
        try:
            response = httpx.post(url, json=dict(body), timeout=POST_TIMEOUT_SECONDS)
        except httpx.HTTPError as exc:
            # httpx's message may quote the URL; only the host and the kind of failure are kept.
            problem = f"unreachable ({type(exc).__name__})"
            continue
        if response.status_code < 300:
            return True
        problem = f"answered HTTP {response.status_code}"
        if response.status_code != 429 and response.status_code < 500:
            break  # a refusal that trying again will not change
    raise AlertDeliveryError(f"alert webhook at {host} {problem}")


def _clip(text: str) -> str:
    text = _secrets()(text)
    return text if len(text) <= ERROR_TEXT_LIMIT else text[: ERROR_TEXT_LIMIT - 3] + "..."


# --------------------------------------------------------------------------- freshness


def due_window(now: datetime, hour: int) -> date:
    """The latest window that must be complete at `now`: yesterday once today's deadline hour
    has passed, the day before until then."""
    now = now.astimezone(UTC)
    return now.date() - timedelta(days=1 if now.hour >= hour else 2)


@dataclass(frozen=True)
class Freshness:
    window: date
    passed: bool
    status: str | None
    synced_at: datetime | None
    description: str


def _complete(row: WindowRow | None, window: date) -> bool:
    if row is None:
        return False
    if row.status == "complete":
        return True
    # A re-sync running (or failed) since keeps the live data of the last good sync: complete
    # when that sync published after the day had ended.
    end = datetime.combine(window + timedelta(days=1), clock_time(), UTC)
    return row.status in ("running", "failed") and bool(row.synced_at and row.synced_at >= end)


def freshness(settings: Settings, now: datetime, hour: int) -> Freshness:
    """Whether the window due at `now` is complete in the ledger."""
    window = due_window(now, hour)
    row = Ledger(Lake.from_settings(settings)).get(window)
    passed = _complete(row, window)
    status = row.status if row else None
    deadline = f"{hour:02d}:00 UTC on {window + timedelta(days=1)}"
    if passed:
        text = f"window {window} is complete (due by {deadline})"
    else:
        text = (
            f"window {window} is not complete ({status or 'never synced'}) although it was due "
            f"by {deadline}: see `civitai-sync status` and the sync runs of that partition"
        )
    return Freshness(window, passed, status, row.synced_at if row else None, text)


FRESHNESS_HOUR = freshness_hour()


@dg.asset_check(
    asset=dg.AssetKey("workflows"),
    name="yesterday_window_complete",
    description=f"Fails when the window due by {FRESHNESS_HOUR:02d}:00 UTC (yesterday, once "
    f"that hour has passed) is not complete in the ledger ({ENV_FRESHNESS_HOUR} sets the hour); "
    f"posts to {ENV_WEBHOOK} when it fails.",
)
def yesterday_window_complete(data: DataDirResource) -> dg.AssetCheckResult:
    result = freshness(data.settings(), datetime.now(UTC), FRESHNESS_HOUR)
    metadata: dict[str, Any] = {
        "window_date": result.window.isoformat(),
        "status": result.status or "missing",
        "deadline_hour_utc": FRESHNESS_HOUR,
        "synced_at": result.synced_at.isoformat() if result.synced_at else "never",
    }
    if not result.passed:
        posted = post_alert(
            {
                "source": SOURCE,
                "event": "window_not_complete",
                "window_date": result.window.isoformat(),
                "status": result.status,
                "deadline_hour_utc": FRESHNESS_HOUR,
                "error": _clip(result.description),
                "text": f"{SOURCE}: {_clip(result.description)}",
            }
        )
        metadata["alert_posted"] = posted
    return dg.AssetCheckResult(
        passed=result.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=result.description,
        metadata=metadata,
    )


freshness_job = dg.define_asset_job(
    "freshness_job",
    selection=dg.AssetSelection.checks(yesterday_window_complete),
    description="Check that the window due by the deadline hour is complete (and alert if not).",
)

freshness_check = dg.ScheduleDefinition(
    name="freshness_check",
    job=freshness_job,
    cron_schedule=f"0 {FRESHNESS_HOUR} * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=f"At {FRESHNESS_HOUR:02d}:00 UTC: is yesterday's window complete? "
    f"({ENV_FRESHNESS_HOUR} moves the hour.)",
)


# --------------------------------------------------------------------------- run failures


def _error_text(context: dg.RunFailureSensorContext) -> str:
    """What failed: each failed step with its error, else the run's own failure message."""
    parts = []
    for event in context.get_step_failure_events():
        error = getattr(event.event_specific_data, "error", None)
        # Dagster wraps what the op raised ("Error occurred while executing op ..."); the
        # cause is the pipeline's own one-line message.
        while (
            error is not None and error.cause is not None and error.cls_name.startswith("Dagster")
        ):
            error = error.cause
        message = error.message.strip() if error is not None else (event.message or "")
        parts.append(f"{event.step_key}: {message}")
    if not parts and context.failure_event.message:
        parts.append(context.failure_event.message)
    return _clip("\n".join(parts) or "the run failed (no error message)")


def failure_body(context: dg.RunFailureSensorContext) -> dict[str, Any]:
    run = context.dagster_run
    partition = run.tags.get("dagster/partition")
    error = _error_text(context)
    where = f" for {partition}" if partition else ""
    return {
        "source": SOURCE,
        "event": "run_failure",
        "run_id": run.run_id,
        "job": run.job_name,
        "partition": partition,
        "error": error,
        "text": f"{SOURCE}: run {run.run_id[:8]} of {run.job_name}{where} failed: {error}",
    }


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description=f"Post every failed run (id, job, partition, error) to {ENV_WEBHOOK} when set.",
)
def alert_on_run_failure(context: dg.RunFailureSensorContext) -> dg.SkipReason | None:
    url = webhook_url()
    if url is None:
        return dg.SkipReason(f"{ENV_WEBHOOK} is not set: run failures are only shown in the UI.")
    post_alert(failure_body(context), url)
    host = urlsplit(url).hostname
    context.log.info(f"posted the failure of run {context.dagster_run.run_id} to {host}")
    return None
