"""The one Dagster code location of the project (`[tool.dagster] module_name` points here).

Resources are wired here and only here: the API token enters as `EnvVar("CIVITAI_API_TOKEN")`
and is read when a run that talks to the API starts, so loading the definitions needs no token.

Runs use the in-process executor: a window's steps (ingest, enrichment, their checks) run one
after the other anyway, and a subprocess per step would cost more than most steps take.
Parallelism comes from running several windows' runs at once, bounded by dagster.yaml.
"""

from __future__ import annotations

import dagster as dg

from assets.alerts import (
    alert_on_run_failure,
    freshness_check,
    freshness_job,
    yesterday_window_complete,
)
from assets.checks import ALL_CHECKS
from assets.enrichment import enrich_window
from assets.html_report import html_report
from assets.ingest import ingest_window
from assets.maintenance import maintain_job, weekly_maintenance
from assets.resources import DataDirResource, ModelParamsResource, OrchestrationApiResource
from assets.schedules import nightly_sync, sync_windows_job, warehouse_after_sync, warehouse_job
from assets.warehouse import build_warehouse
from pipeline.core import settings as defaults

defs = dg.Definitions(
    assets=[ingest_window, enrich_window, build_warehouse, html_report],
    asset_checks=[*ALL_CHECKS, yesterday_window_complete],
    jobs=[sync_windows_job, warehouse_job, maintain_job, freshness_job],
    schedules=[nightly_sync, weekly_maintenance, freshness_check],
    sensors=[warehouse_after_sync, alert_on_run_failure],
    executor=dg.in_process_executor,
    resources={
        "api": OrchestrationApiResource(token=dg.EnvVar(defaults.ENV_TOKEN)),
        "data": DataDirResource(),
        "model_params": ModelParamsResource(),
    },
)
