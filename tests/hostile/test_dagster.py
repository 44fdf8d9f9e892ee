"""The Dagster path: partitions of the real assets materialized in process (as in
tests/integration/test_assets.py) through the hostile proxy. The hostile day's run fails with
the window's message, the other partitions succeed, the day keeps its previous data, and
Dagster's own storage (a real instance on disk) holds neither the token nor a signed URL."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from assets.checks import ALL_CHECKS
from assets.enrichment import enrich_window
from assets.ingest import ingest_window
from assets.resources import DataDirResource, ModelParamsResource, OrchestrationApiResource
from assets.warehouse import build_warehouse
from tests.hostile.conftest import TOKEN, Synced, assert_no_secret_at_rest
from tests.hostile.proxy import HostileProxy
from tests.hostile.test_pages import repeated_next

ALL_ASSETS = [ingest_window, enrich_window, build_warehouse, *ALL_CHECKS]
INGEST = dg.AssetSelection.assets(ingest_window)

# Slow (subprocesses, mounts, Dagster runs): the e2e tier, `make test-e2e`.
pytestmark = pytest.mark.e2e


def test_a_hostile_day_fails_its_partition_alone_with_the_window_message(
    synced: Synced, tmp_path: Path
) -> None:

    home = tmp_path / "dagster-home"
    home.mkdir()
    bad = synced.days[1]
    with (
        HostileProxy(synced.server.url, day=bad, fault=repeated_next) as hostile,
        dg.DagsterInstance.local_temp(tempdir=str(home)) as instance,
    ):
        resources = {
            "api": OrchestrationApiResource(token=TOKEN, api_url=hostile.url, job_concurrency=4),
            "data": DataDirResource(data_dir=str(synced.data_dir)),
            "model_params": ModelParamsResource(csam_threshold=40.0),
        }
        runs = {
            day: dg.materialize(
                ALL_ASSETS,
                selection=INGEST,
                partition_key=day.isoformat(),
                resources=resources,
                instance=instance,
                raise_on_error=False,
            )
            for day in synced.days
        }
    assert {day: run.success for day, run in runs.items()} == {
        day: day != bad for day in synced.days
    }
    (failure,) = runs[bad].get_step_failure_events()
    error = failure.step_failure_data.error
    assert error is not None
    message = error.message
    while error is not None and str(bad) not in error.message:  # the cause Dagster wrapped
        error = error.cause
    assert error is not None, message
    assert "page 2" in error.message and "cursor" in error.message, error.message
    status = synced.ledger_status()
    assert status[bad][0] == "failed" and "cursor" in (status[bad][1] or "")
    assert all(status[d][0] == "complete" for d in synced.days if d != bad)
    synced.assert_intact(untouched=[bad])
    assert_no_secret_at_rest(synced.data_dir, more=[home])
