"""Dagster resources: the Orchestration API and the data directory.

These are the only place where Dagster configuration turns into the plain values `pipeline/`
takes (a base URL, a token, a data dir, a `Settings`). The token enters solely through
`dg.EnvVar("CIVITAI_API_TOKEN")`: Dagster shows the variable's name, never its value, and
neither the resources nor the assets ever put it into metadata or a log line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from pydantic import Field

from pipeline.api.client import OrchestrationClient
from pipeline.core import settings as defaults
from pipeline.core.settings import Settings, insecure_http_allowed
from pipeline.runs import enrich


class OrchestrationApiResource(dg.ConfigurableResource):
    """The Civitai Orchestration API account to sync from.

    Defaults: `api_url` unset means `CIVITAI_API_URL` from the environment, else
    https://orchestration.civitai.com. Job lookups (enrichment) keep at most `job_concurrency`
    requests in flight (16) within a request-rate budget of `job_rate_limit` requests/second
    (50) shared by every lookup in the run's process; a 429 slows that whole budget down. The
    `orchestration_api` concurrency pool (dagster.yaml) caps how many API-touching steps run at
    once across runs, so a backfill's total rate stays near pool limit x `job_rate_limit`.
    """

    token: str = Field(
        description="Bearer token of the Orchestration API; set it with CIVITAI_API_TOKEN."
    )
    api_url: str | None = Field(
        default=None,
        description="API base URL; unset: CIVITAI_API_URL, else https://orchestration.civitai.com.",
    )
    job_concurrency: int = Field(
        default=defaults.JOB_CONCURRENCY,
        description="Job lookups in flight at once during enrichment.",
    )
    job_rate_limit: float = Field(
        default=defaults.JOB_RATE_LIMIT,
        description="Requests per second for job lookups, shared by the whole run process.",
    )

    def base_url(self) -> str:
        """The API base URL this resource talks to, without a trailing slash."""
        url = self.api_url or os.environ.get(defaults.ENV_API_URL) or defaults.DEFAULT_API_URL
        return url.rstrip("/")

    def client(self) -> OrchestrationClient:
        """A synchronous client for listing workflow pages; use it as a context manager."""
        return OrchestrationClient(
            base_url=self.base_url(),
            token=self.token,
            allow_insecure_http=insecure_http_allowed(os.environ),
        )

    @contextmanager
    def job_client(self) -> Iterator[OrchestrationClient]:
        """A thread-safe client for job lookups that draws from the process-wide rate budget."""
        with enrich.job_client(
            self._account(), concurrency=self.job_concurrency, rate=self.job_rate_limit
        ) as client:
            yield client

    def _account(self) -> Settings:
        return Settings(api_url=self.base_url(), token=self.token)

    def with_data_dir(self, data_dir: Path) -> Settings:
        """Pipeline settings for this account and `data_dir`."""
        return Settings(api_url=self.base_url(), token=self.token, data_dir=data_dir)


class ModelParamsResource(dg.ConfigurableResource):
    """Parameters the SQL models are built with (DuckDB variables read by `getvariable()`).

    A resource rather than run config so that every rebuild (nightly, after a backfill, by
    hand) uses the same threshold unless the deployment changes it; a one-off rebuild can
    still override it in the launchpad under `resources.model_params.config`.
    """

    csam_threshold: float = Field(
        default=defaults.DEFAULT_CSAM_THRESHOLD,
        description="A job is flagged for review when its highest hive_csam_score (percent) "
        "is at or above this.",
    )

    def params(self) -> dict[str, object]:
        """The parameters for `publish_warehouse(params=...)`."""
        return {"csam_threshold": float(self.csam_threshold)}


class DataDirResource(dg.ConfigurableResource):
    """Where the lake, the raw archive, the ledger and the warehouse live.

    Defaults: `data_dir` unset means `CIVITAI_SYNC_DATA_DIR` from the environment, else
    `./data` relative to the working directory (the repo root under `dagster dev`). The
    layout inside is `lake/<table>/date=YYYY-MM-DD/`, `raw/`, `ledger.sqlite` and
    `warehouse.duckdb`, the same as the `civitai-sync` command's.
    """

    data_dir: str | None = Field(
        default=None,
        description="Data directory; unset: CIVITAI_SYNC_DATA_DIR, else ./data.",
    )

    def path(self) -> Path:
        """The data directory (not created here: the writers create what they write)."""
        return Path(
            self.data_dir or os.environ.get(defaults.ENV_DATA_DIR) or defaults.DEFAULT_DATA_DIR
        )

    def settings(self, api: OrchestrationApiResource | None = None) -> Settings:
        """Pipeline settings for this data dir; with `api`, also its URL and token."""
        if api is None:
            return Settings(data_dir=self.path())
        return api.with_data_dir(self.path())
