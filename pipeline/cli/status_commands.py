"""`civitai-sync status [--json]`: the window ledger, for a person or for a monitoring script.

The JSON document (schema_version 1, documented in the README) keeps its key names stable:
a script alerts on `ok`, or on the fields `ok` is made of (`lag_days`, `failed_windows`,
`interrupted_windows`, `gaps`). Only reads: works on a data dir this user may not write, and
on one with nothing synced yet.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from pipeline.cli.output import data_table, emit_json, stdout_console, text
from pipeline.cli.progress import status_text
from pipeline.cli.windows import shown_status, spans
from pipeline.core.errors import ConfigError
from pipeline.core.settings import Settings
from pipeline.fetch.windows import iter_gaps, utc_today
from pipeline.lake.ledger import COUNTS, ENRICH_COUNTS, Ledger, WindowRow
from pipeline.lake.store import Lake

SCHEMA_VERSION = 1
SHOWN_STATUSES = ("complete", "partial", "failed", "running", "interrupted")
# Short names of the lake tables in the table view's `versions` column (a legend follows it).
_SHORT = {
    "workflows": "wf",
    "steps": "st",
    "jobs": "jb",
    "blobs": "bl",
    "transactions": "tx",
    "job_details": "jd",
    "scan_scores": "ss",
}


def register(group: click.Group) -> None:
    group.add_command(status)


def _when(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def window_document(row: WindowRow, status: str) -> dict[str, Any]:
    """One window as `status --json` shows it."""
    return {
        "window_date": row.window_date.isoformat(),
        "status": status,
        "published": row.published,
        **{name: getattr(row, name) for name in (*COUNTS, *ENRICH_COUNTS)},
        "filter_mode": row.filter_mode,
        "retries": row.retries,
        "requests": row.requests,
        "rate_limited": row.rate_limited,
        "started_at": _when(row.started_at),
        "finished_at": _when(row.finished_at),
        "synced_at": _when(row.synced_at),
        "seconds": row.seconds,
        "error": row.error,
        "run_id": row.run_id,
        "versions": row.versions,
    }


def status_document(
    settings: Settings,
    rows: Sequence[WindowRow],
    *,
    today: date,
    now: datetime,
    statuses: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The whole `status --json` document; `statuses` are the shown statuses of `rows`
    (interrupted where a running window's process died), looked up when not given."""
    shown = list(statuses) if statuses is not None else [shown_status(settings, r) for r in rows]
    yesterday = today - timedelta(days=1)
    complete = [
        r.window_date
        for r, s in zip(rows, shown, strict=True)
        if s == "complete" and r.window_date <= yesterday
    ]
    last_complete = max(complete, default=None)
    lag = None if last_complete is None else (yesterday - last_complete).days

    def days(status: str) -> list[str]:
        return [r.window_date.isoformat() for r, s in zip(rows, shown, strict=True) if s == status]

    gaps = [d.isoformat() for d in iter_gaps([r.window_date for r in rows])]
    failed, interrupted = days("failed"), days("interrupted")
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": _when(now),
        "today": today.isoformat(),
        "data_dir": str(settings.data_dir),
        "lake": settings.lake_location,
        "ok": lag == 0 and not failed and not interrupted and not gaps,
        "lag_days": lag,
        "last_complete_day": last_complete.isoformat() if last_complete else None,
        # Every status always present (0 when none), plus any a newer ledger may add.
        "counts": {**dict.fromkeys(SHOWN_STATUSES, 0), **Counter(shown)},
        "failed_windows": failed,
        "running_windows": days("running"),
        "interrupted_windows": interrupted,
        "gaps": gaps,
        "windows": [window_document(r, s) for r, s in zip(rows, shown, strict=True)],
    }


def _enrichment(row: WindowRow, *, compact: bool = False) -> Text:
    """Job-lookup coverage: found jobs / jobs of the window. A 404 (not found) is done too, so
    the cell is yellow only while lookups are still owed (failed, or never run)."""
    if row.jobs_enriched is None:
        return text(None)
    cell = f"{row.jobs_enriched}/{'-' if row.jobs is None else row.jobs}"
    if row.jobs_not_found and not compact:
        cell += f" ({row.jobs_not_found} not found)"
    if row.jobs_enrich_failed and not compact:
        cell += f" ({row.jobs_enrich_failed} failed)"
    owed = row.jobs is not None and row.jobs_enriched + (row.jobs_not_found or 0) < row.jobs
    return text(cell, style="yellow" if owed else "")


def _table_order(name: str) -> tuple[int, str]:
    order = list(_SHORT)
    return (order.index(name) if name in order else len(order), name)


def _versions(row: WindowRow) -> str:
    names = sorted(row.versions, key=_table_order)
    return " ".join(f"{_SHORT.get(name, name)}{row.versions[name]}" for name in names) or "-"


@click.command()
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON document (windows, counts, versions, lag; see the README) on stdout.",
)
def status(as_json: bool) -> None:
    """The window ledger: which days are synced, when, how many workflows, the live lake
    table versions, and the gaps. Read-only.

    \b
    Examples:
      civitai-sync status
      civitai-sync status --json | jq '.lag_days, .failed_windows'
    """
    settings = Settings.from_env()
    if settings.data_dir.exists() and not settings.data_dir.is_dir():
        # Else it reads as an empty ledger: "nothing synced yet" would hide the mistake.
        raise ConfigError(
            f"{settings.data_dir} is a file, not a directory; set CIVITAI_SYNC_DATA_DIR to the "
            "directory the sync writes."
        )
    ledger = Ledger(Lake.from_settings(settings))
    rows = ledger.rows()
    shown = [shown_status(settings, row) for row in rows]
    if as_json:
        now = datetime.now(UTC)
        emit_json(status_document(settings, rows, today=utc_today(), now=now, statuses=shown))
        return
    console = stdout_console()
    if not rows:
        console.print(f"Nothing synced yet in {settings.data_dir}: run `civitai-sync sync`.")
        return
    _table(console, ledger, rows, shown)
    _footer(console, rows, shown)


def _table(console: Console, ledger: Ledger, rows: Sequence[WindowRow], shown: list[str]) -> None:
    # A narrow terminal gets short cells and the errors under the table, not folded columns.
    wide = console.width >= 140
    columns = ["day", "status", "pages", "workflows", "jobs enriched/jobs", "mode", "finished"]
    columns.append("versions")
    table = data_table(
        f"Sync windows ({ledger.uri})",
        [*columns, "error"] if wide else columns,
        no_wrap=[c for c in columns if c not in ("jobs enriched/jobs", "versions")],
    )
    finished_format = "%Y-%m-%d %H:%M:%SZ" if wide else "%m-%d %H:%M"
    for row, status_now in zip(rows, shown, strict=True):
        cells: list[Text | str] = [
            str(row.window_date),
            status_text(status_now),
            text(row.pages),
            text(row.workflows),
            _enrichment(row, compact=not wide),
            text(row.filter_mode),
            row.finished_at.strftime(finished_format) if row.finished_at else "-",
            _versions(row),
        ]
        if wide:
            cells.append(text(row.error, style="red") if row.error else text(None))
        table.add_row(*cells)
    console.print(table)
    used = {name for row in rows for name in row.versions}
    legend = ", ".join(f"{_SHORT.get(n, n)} {n}" for n in sorted(used, key=_table_order))
    if legend:
        console.print(Text(f"versions: the live Delta version per table ({legend})", style="dim"))
    if not wide:
        for row in rows:
            if row.error:
                console.print(Text(f"{row.window_date}: {row.error}", style="red"), soft_wrap=True)


def _footer(console: Console, rows: Sequence[WindowRow], shown: list[str]) -> None:
    gaps = list(iter_gaps([r.window_date for r in rows]))
    line = Text("gaps: ", style="bold")
    if gaps:
        line.append(", ".join(spans(gaps)), style="yellow")
        line.append(
            f"  ({len(gaps)} day(s) never synced between {rows[0].window_date} and "
            f"{rows[-1].window_date})"
        )
    else:
        line.append(f"none ({rows[0].window_date} .. {rows[-1].window_date})")
    console.print(line, soft_wrap=True)
    failed = shown.count("failed")
    if failed:
        console.print(
            Text(
                f"{failed} failed window(s); re-run them with "
                f"`civitai-sync sync --from DAY --to DAY`.",
                style="red",
            )
        )
    interrupted = shown.count("interrupted")
    if interrupted:
        console.print(
            Text(
                f"{interrupted} interrupted window(s) (their process died; the previous data is "
                "kept); the next sync of those days fetches them again.",
                style="yellow",
            )
        )
