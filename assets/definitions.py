"""The one Dagster code location of the project (`[tool.dagster] module_name` points here).

Resources are wired here and only here: the API token enters as `EnvVar("CIVITAI_API_TOKEN")`
and is read when a run that talks to the API starts, so loading the definitions needs no token.

Runs use the in-process executor: a window's steps (ingest, enrichment, their checks) run one
after the other anyway, and a subprocess per step would cost more than most steps take.
Parallelism comes from running several windows' runs at once, bounded by dagster.yaml.

With `CIVITAI_SYNC_EXECUTOR=celery` (the production deployment in deploy/, `deploy` extra) the
steps of every run are sent to Celery workers instead, through the broker at
CIVITAI_SYNC_CELERY_BROKER (Redis), so the partitions of a backfill spread over machines.
"""

from __future__ import annotations

import os

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
from pipeline.core.errors import ConfigError

ENV_EXECUTOR = "CIVITAI_SYNC_EXECUTOR"
ENV_CELERY_BROKER = "CIVITAI_SYNC_CELERY_BROKER"
ENV_CELERY_BACKEND = "CIVITAI_SYNC_CELERY_BACKEND"


def executor() -> dg.ExecutorDefinition:
    """The executor chosen by CIVITAI_SYNC_EXECUTOR: `in_process` (default) or `celery`."""
    choice = os.environ.get(ENV_EXECUTOR, "in_process").strip().lower()
    if choice in ("", "in_process"):
        return dg.in_process_executor
    if choice != "celery":
        raise ConfigError(f"{ENV_EXECUTOR} must be in_process or celery, not {choice!r}")
    try:
        from dagster_celery import celery_executor
    except ImportError as exc:
        raise ConfigError(
            f"{ENV_EXECUTOR}=celery needs the deploy extra: pip install -e '.[deploy]'"
        ) from exc
    # Read by every run when it starts, so the same code location serves every deployment.
    return celery_executor.configured(
        {
            "broker": {"env": ENV_CELERY_BROKER},
            # Results through the broker's Redis unless a backend of its own is named.
            "backend": {
                "env": ENV_CELERY_BACKEND
                if os.environ.get(ENV_CELERY_BACKEND)
                else ENV_CELERY_BROKER
            },
            # One step per worker process at a time, acknowledged when it finished: a worker
            # that dies mid-step gives its step back to the queue.
            "config_source": {"task_acks_late": True, "worker_prefetch_multiplier": 1},
        },
        name="celery",
    )


defs = dg.Definitions(
    assets=[ingest_window, enrich_window, build_warehouse, html_report],
    asset_checks=[*ALL_CHECKS, yesterday_window_complete],
    jobs=[sync_windows_job, warehouse_job, maintain_job, freshness_job],
    schedules=[nightly_sync, weekly_maintenance, freshness_check],
    sensors=[warehouse_after_sync, alert_on_run_failure],
    executor=executor(),
    resources={
        "api": OrchestrationApiResource(token=dg.EnvVar(defaults.ENV_TOKEN)),
        "data": DataDirResource(),
        "model_params": ModelParamsResource(),
    },
)
