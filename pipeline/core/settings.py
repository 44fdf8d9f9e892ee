"""Constants and run-time settings.

Every tunable the pipeline uses lives here, so that the CLI, the Dagster resources, the
simulator and the tests agree on one value. Run-time settings come from the environment
(and a `.env` file in the working directory); library code receives them as plain values.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from pipeline.core.errors import ConfigError
from pipeline.core.storage import is_remote

DEFAULT_API_URL = "https://orchestration.civitai.com"
ENV_TOKEN = "CIVITAI_API_TOKEN"
ENV_API_URL = "CIVITAI_API_URL"
ENV_DATA_DIR = "CIVITAI_SYNC_DATA_DIR"
# A local path or `s3://bucket/prefix`; default DATA_DIR/lake.
ENV_LAKE_URI = "CIVITAI_SYNC_LAKE_URI"
# Plain http:// to a host that is not loopback sends the token in cleartext: refused unless
# this is set to 1 (a proxy on a private network the operator trusts).
ENV_ALLOW_INSECURE_HTTP = "CIVITAI_SYNC_ALLOW_INSECURE_HTTP"
# DuckDB's memory budget for a warehouse publish (e.g. `6GB`); default below.
ENV_WAREHOUSE_MEMORY = "CIVITAI_SYNC_WAREHOUSE_MEMORY"
DEFAULT_DATA_DIR = "./data"

# Query endpoint default is 100 and no maximum is published; a server that clamps is handled
# by following `next`, so asking for 100 is safe.
PAGE_SIZE = 100

CONNECT_TIMEOUT = 10.0
# civitai.com itself gives workflow queries 20 s and has observed ~17.7 s latencies.
READ_TIMEOUT = 60.0

MAX_RETRIES = 6
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 30.0
# A `Retry-After: 0` (or none at all) on a 429 must not turn into a hot retry loop.
RETRY_AFTER_FLOOR = 0.25
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

# The largest answer read into memory (after decompression): a list page of 100 workflows is
# a few hundred KB, a job a few KB. A bigger body fails that request instead of exhausting
# memory (blob downloads stream to disk and have no cap).
MAX_RESPONSE_BYTES = 64 * 1024 * 1024

# Paging bounds. A window of more pages than this fails rather than running on: 20,000 pages
# of 100 is 2 million workflows, more than any account creates in a day (a server that ignores
# the date filter is paged newest-first from today back to the window, which counts too).
MAX_PAGES_PER_WINDOW = 20_000
# A server may filter items out of a page after paging, so a page can come back empty (or
# with items already seen) and still carry `next`; this many such pages in a row mean the
# cursor is going nowhere.
MAX_PAGES_WITHOUT_NEW_ITEMS = 10

# The adaptive request-rate budget (pipeline.api.ratelimit): a 429 multiplies the rate by
# RATE_BACKOFF_FACTOR (at most once per RATE_BACKOFF_INTERVAL seconds: a burst of 429s is one
# signal), never below RATE_FLOOR_FRACTION of the ceiling; each second without a 429 gives
# back RATE_RECOVERY_FRACTION of the ceiling, up to the ceiling.
RATE_BACKOFF_FACTOR = 0.7
RATE_BACKOFF_INTERVAL = 1.0
RATE_FLOOR_FRACTION = 1 / 64
RATE_RECOVERY_FRACTION = 1 / 20
# A budget's burst: a tenth of a second's worth, so that a caller woken a little late (a busy
# machine) uses its slot instead of losing it, while no second sees more than 1.1 x the rate.
RATE_BURST_SECONDS = 0.1

# A day with many pages is fetched as up to this many sub-windows at once (parallel cursor
# chains), each worth at least MIN_PAGES_PER_CHAIN pages; a small day stays one chain.
SYNC_FETCH_CONCURRENCY = 4
MIN_PAGES_PER_CHAIN = 4

# Job enrichment: requests in flight and the shared request-rate budget (requests/second).
JOB_CONCURRENCY = 16
JOB_RATE_LIMIT = 50.0

# The nightly run syncs yesterday plus this many earlier days (late finishers).
DEFAULT_LOOKBACK_DAYS = 2

# Moderation: a job is flagged when its highest hive_csam_score is at or above this percent.
DEFAULT_CSAM_THRESHOLD = 50.0

LAKE_DIR = "lake"
RAW_DIR = "raw"
# The raw archives' folder inside a lake on object storage.
RAW_LAKE_DIR = "_raw"
WAREHOUSE_FILE = "warehouse.duckdb"
LEDGER_FILE = "ledger.sqlite"
# DuckDB spill files and other scratch space of a run.
WORK_DIR = ".tmp"

TABLES = ("workflows", "steps", "jobs", "blobs", "transactions", "job_details", "scan_scores")


def read_dotenv(path: Path) -> dict[str, str]:
    """The KEY=VALUE pairs of a `.env` file (python-dotenv's rules: `export`, quotes, inline
    `#` comments); {} when there is no such file. Keys without a value are left out."""
    if not path.is_file():
        return {}
    return {key: value for key, value in dotenv_values(path).items() if value is not None}


def clean_token(value: str | None) -> str | None:
    """The API token as it must be sent: surrounding whitespace removed (a trailing newline
    from `echo ... > file` or a copied line), None when empty.

    Raises ConfigError when a control character is left inside it: such a value is not a
    token (two lines pasted together, a terminal escape) and would otherwise end up in an
    HTTP header or an error message.
    """
    if value is None:
        return None
    token = value.strip()
    if not token:
        return None
    if any(unicodedata.category(ch) == "Cc" for ch in token):
        raise ConfigError(
            f"{ENV_TOKEN} holds a control character (a line break or tab inside it); "
            "set it to the token alone, on one line."
        )
    return token


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def insecure_http_allowed(env: Mapping[str, str] | None = None) -> bool:
    """Whether the environment opts in to plain HTTP to a non-loopback host."""
    return _flag((os.environ if env is None else env).get(ENV_ALLOW_INSECURE_HTTP))


@dataclass(frozen=True)
class Settings:
    """Where the API is, how to authenticate, and where data lands.

    The token is excluded from `repr` so that a logged or printed Settings never leaks it.
    """

    api_url: str = DEFAULT_API_URL
    token: str | None = field(default=None, repr=False)
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    lake_uri: str | None = None
    allow_insecure_http: bool = False
    warehouse_memory: str | None = None

    def __post_init__(self) -> None:
        # Every way of building Settings (environment, Dagster resources, tests) gets the
        # same token rules.
        object.__setattr__(self, "token", clean_token(self.token))
        if self.warehouse_memory is not None:
            object.__setattr__(self, "warehouse_memory", memory_size(self.warehouse_memory))

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")
    ) -> Settings:
        """Read settings from the environment; a `.env` file fills in what is unset (the
        environment wins, as with every tool that reads `.env`)."""
        merged: dict[str, str] = read_dotenv(dotenv) if dotenv is not None else {}
        merged.update({k: v for k, v in (os.environ if env is None else env).items() if v != ""})
        return cls(
            api_url=merged.get(ENV_API_URL, DEFAULT_API_URL).strip().rstrip("/"),
            token=merged.get(ENV_TOKEN),
            data_dir=Path(merged.get(ENV_DATA_DIR, DEFAULT_DATA_DIR)),
            lake_uri=merged.get(ENV_LAKE_URI) or None,
            allow_insecure_http=insecure_http_allowed(merged),
            warehouse_memory=merged.get(ENV_WAREHOUSE_MEMORY) or None,
        )

    @property
    def warehouse_memory_limit(self) -> str:
        """DuckDB's memory budget for a publish: CIVITAI_SYNC_WAREHOUSE_MEMORY, else 40% of
        the machine's memory and at least 2 GiB. The first publish after a long backfill
        computes every day of the day-grained models at once, and ordered list() aggregates
        cannot spill to disk, so a fixed small budget fails on a year of a busy account."""
        if self.warehouse_memory is not None:
            return self.warehouse_memory
        # Settings built without from_env (Dagster's resources) still honour the variable.
        if os.environ.get(ENV_WAREHOUSE_MEMORY, "").strip():
            return memory_size(os.environ[ENV_WAREHOUSE_MEMORY])
        try:
            physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (OSError, ValueError):
            physical = 0
        return f"{max(2 * 1024, int(physical * 0.4) // (1024 * 1024))}MiB"

    @property
    def lake_dir(self) -> Path:
        return self.data_dir / LAKE_DIR

    @property
    def lake_location(self) -> str:
        """Where the lake's tables are: CIVITAI_SYNC_LAKE_URI, else DATA_DIR/lake (absolute)."""
        return self.lake_uri or str(self.lake_dir.resolve())

    @property
    def shared_lake(self) -> bool:
        """Whether the lake is on object storage, where writers on other machines may share it
        (windows are then claimed in the lake itself, not only locked on this machine)."""
        return is_remote(self.lake_location)

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / RAW_DIR

    @property
    def raw_location(self) -> str:
        """Where the raw archives are: beside a lake on object storage (`<lake>/_raw`), so
        every machine rebuilds from the same pages; else DATA_DIR/raw."""
        if self.shared_lake:
            return f"{self.lake_location.rstrip('/')}/{RAW_LAKE_DIR}"
        return str(self.raw_dir.resolve())

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / WAREHOUSE_FILE

    @property
    def ledger_path(self) -> Path:
        return self.data_dir / LEDGER_FILE

    @property
    def work_dir(self) -> Path:
        return self.data_dir / WORK_DIR


_MEMORY_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)


def memory_size(value: str) -> str:
    """A DuckDB memory size such as `6GB` or `512MiB`, checked (a bad one is a ConfigError)."""
    match = _MEMORY_SIZE.match(value)
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(
            f"{ENV_WAREHOUSE_MEMORY} must be a size such as 4GB or 512MiB, got {value!r}."
        )
    return f"{match.group(1)}{match.group(2)}"
