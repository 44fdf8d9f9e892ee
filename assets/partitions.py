"""The daily partitions every lake asset shares: one partition per UTC sync window.

A partition key is the window's day (`2026-11-03`), the same key as the lake's
`date=2026-11-03` directories and the ledger's `window_date`. The first day defaults to
2026-01-01; set `CIVITAI_SYNC_START_DATE=YYYY-MM-DD` before starting Dagster to backfill from
earlier. `end_offset=0` means today's window never appears: it is still filling up, and the
nightly schedule picks it up tomorrow as "yesterday".
"""

from __future__ import annotations

import os

import dagster as dg

ENV_START_DATE = "CIVITAI_SYNC_START_DATE"
DEFAULT_START_DATE = "2026-01-01"

daily_window_partitions = dg.DailyPartitionsDefinition(
    start_date=os.environ.get(ENV_START_DATE) or DEFAULT_START_DATE,
    timezone="UTC",
    end_offset=0,
)
