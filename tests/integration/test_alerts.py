"""Alerting in Dagster against a real HTTP receiver on 127.0.0.1: the run-failure sensor posts a
failed run of the real ingest asset, the freshness check fails (and posts) when the window due
is not complete in a real ledger, and nothing secret is ever sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from assets import alerts
from assets.definitions import defs
from assets.ingest import ingest_window
from assets.resources import DataDirResource, OrchestrationApiResource
from pipeline.core.settings import Settings
from pipeline.lake.ledger import Ledger
from pipeline.lake.store import Lake
from pipeline.runs.sync import sync_window

SECRET_PATH = "/hooks/T000/B000/very-secret-path"
TOKEN = "tok-Alert-Secret-42"


class Receiver:
    """A webhook on 127.0.0.1 that keeps every JSON body posted to it."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.status = status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                receiver.paths.append(self.path)
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{SECRET_PATH}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    hook = Receiver()
    monkeypatch.setenv(alerts.ENV_WEBHOOK, hook.url)
    monkeypatch.setenv("CIVITAI_API_TOKEN", TOKEN)
    try:
        yield hook
    finally:
        hook.close()


def _failed_ingest(server: Any, tmp_path: Path, day: str, instance: dg.DagsterInstance) -> Any:
    """A real run of the ingest asset that fails: the token is refused by the simulator."""
    result = dg.materialize(
        [ingest_window],
        partition_key=day,
        instance=instance,
        resources={
            "api": OrchestrationApiResource(token=TOKEN, api_url=server.url),
            "data": DataDirResource(data_dir=str(tmp_path / "data")),
        },
        raise_on_error=False,
    )
    assert not result.success
    return result


def _sensor_context(result: Any, instance: dg.DagsterInstance) -> dg.RunFailureSensorContext:
    return dg.build_run_status_sensor_context(
        sensor_name=alerts.alert_on_run_failure.name,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
    ).for_run_failure()


def test_a_failed_run_is_posted_with_its_id_job_partition_and_error(
    receiver: Receiver, simulator: Any, tmp_path: Path
) -> None:
    day = str(simulator.account.days[0])
    with dg.instance_for_test() as instance:
        result = _failed_ingest(simulator, tmp_path, day, instance)
        outcome = alerts.alert_on_run_failure(_sensor_context(result, instance))
    assert outcome is None
    (body,) = receiver.bodies
    assert receiver.paths == [SECRET_PATH]
    assert body["event"] == "run_failure"
    assert body["run_id"] == result.run_id
    assert body["job"] == result.dagster_run.job_name
    assert body["partition"] == day
    assert "ingest_window" in body["error"] and "401" in body["error"]
    assert result.run_id[:8] in body["text"] and day in body["text"]
    sent = json.dumps(body)
    assert TOKEN not in sent and "very-secret-path" not in sent


def test_no_webhook_no_post_and_a_refusing_webhook_fails_the_tick_without_its_url(
    receiver: Receiver, simulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    day = str(simulator.account.days[0])
    with dg.instance_for_test() as instance:
        result = _failed_ingest(simulator, tmp_path, day, instance)
        context = _sensor_context(result, instance)
        monkeypatch.delenv(alerts.ENV_WEBHOOK)
        skipped = alerts.alert_on_run_failure(context)
        assert isinstance(skipped, dg.SkipReason) and alerts.ENV_WEBHOOK in skipped.skip_message
        assert receiver.bodies == []

        monkeypatch.setenv(alerts.ENV_WEBHOOK, receiver.url)
        monkeypatch.setattr(alerts, "RETRY_DELAYS", (0.0, 0.0))
        receiver.status = 500
        with pytest.raises(Exception) as failed:
            alerts.alert_on_run_failure(_sensor_context(result, instance))
    assert "HTTP 500" in str(failed.value) and "127.0.0.1" in str(failed.value)
    assert "very-secret-path" not in str(failed.value)
    assert len(receiver.bodies) == 3  # tried three times: a 5xx may pass
    receiver.status = 403
    with pytest.raises(alerts.AlertDeliveryError, match="HTTP 403"):
        alerts.post_alert({"event": "test"}, receiver.url)
    assert len(receiver.bodies) == 4  # a refusal is not tried again

    unreachable = receiver.url.replace(str(receiver.server.server_address[1]), "9")
    with pytest.raises(alerts.AlertDeliveryError) as down:
        alerts.post_alert({"event": "test"}, unreachable)
    assert "very-secret-path" not in str(down.value)


def test_the_window_due_depends_on_the_deadline_hour() -> None:
    assert alerts.due_window(datetime(2026, 12, 3, 5, 59, tzinfo=UTC), 6) == date(2026, 12, 1)
    assert alerts.due_window(datetime(2026, 12, 3, 6, 0, tzinfo=UTC), 6) == date(2026, 12, 2)
    assert alerts.due_window(datetime(2026, 12, 3, 0, 0, tzinfo=UTC), 0) == date(2026, 12, 2)
    assert alerts.freshness_hour({}) == alerts.DEFAULT_FRESHNESS_HOUR
    assert alerts.freshness_hour({alerts.ENV_FRESHNESS_HOUR: "9"}) == 9
    for bad in ("24", "-1", "six"):
        with pytest.raises(ValueError, match=alerts.ENV_FRESHNESS_HOUR):
            alerts.freshness_hour({alerts.ENV_FRESHNESS_HOUR: bad})


def test_freshness_follows_the_ledger(make_simulator: Any, tmp_path: Path) -> None:
    now = datetime(2026, 12, 3, 7, tzinfo=UTC)  # past a 06:00 deadline: 2026-12-02 is due
    server = make_simulator(start=date(2026, 11, 30), days=3, workflows_per_day=20)
    settings = Settings(api_url=server.url, token=server.config.token, data_dir=tmp_path)
    due = date(2026, 12, 2)

    missing = alerts.freshness(settings, now, 6)
    assert missing.window == due and not missing.passed and "never synced" in missing.description

    from pipeline.api.client import OrchestrationClient

    with OrchestrationClient(base_url=server.url, token=server.config.token) as client:
        sync_window(settings, client, due)
    complete = alerts.freshness(settings, now, 6)
    assert complete.passed and complete.status == "complete"

    # A re-sync that starts (or fails) later keeps the complete data of the last good sync.
    ledger = Ledger(Lake.from_settings(settings))
    ledger.start(due, run_id="again")
    assert alerts.freshness(settings, now, 6).passed
    # But a window only ever published while it was still growing is not complete.
    ledger.complete(due + timedelta(days=-1), tables={}, partial=True)
    early = alerts.freshness(settings, datetime(2026, 12, 2, 7, tzinfo=UTC), 6)
    assert early.window == due - timedelta(days=1) and not early.passed
    assert early.status == "partial"


def test_the_freshness_job_fails_its_check_and_posts(
    receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIVITAI_SYNC_DATA_DIR", str(tmp_path / "data"))  # nothing synced
    job = defs.resolve_job_def(alerts.freshness_job.name)
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance)
    assert result.success  # a failed check is a result, not a crashed run
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == "yesterday_window_complete" and not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    (body,) = receiver.bodies
    assert body["event"] == "window_not_complete"
    assert body["window_date"] == evaluation.metadata["window_date"].value
    assert body["deadline_hour_utc"] == alerts.FRESHNESS_HOUR
    assert not (tmp_path / "data").exists()  # the check only reads
