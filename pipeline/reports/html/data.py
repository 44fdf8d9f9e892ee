"""Everything the HTML report shows, read from the warehouse's report tables.

Per-day figures are the `rpt_*` rows themselves (read with `pipeline.reports.report.load_report`, so
the page and `civitai-sync report ...` show the same numbers and honour the same threshold).
Figures over the whole range (label totals, the score histogram, step mixes, top users) are
SQL sums over those same tables: Python only arranges rows for charts and tables, it never
computes a figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from pipeline.core.errors import WarehouseNotFoundError
from pipeline.reports.report import load_report

DEFAULT_DAYS = 30
# A page that can be mailed stays small: each day lists its highest-scored flagged jobs only
# and says how many more it has (the CLI's `report flagged` lists them all).
FLAGGED_ROWS_PER_DAY = 25
TOP_LABELS = 15
TOP_STEP_MIXES = 12
TOP_USERS = 10
META_TABLE = "_warehouse_meta"


@dataclass(frozen=True)
class Published:
    """When the warehouse file was published, and where that time was read from."""

    at: datetime
    source: str


@dataclass
class PageData:
    """The report's figures for the days `date_from`..`date_to` (both included)."""

    data_dir: Path
    warehouse_path: Path
    published: Published
    generated_at: datetime
    warehouse_span: tuple[date, date] | None
    date_from: date | None
    date_to: date | None
    csam_threshold: float
    moderation_daily: list[dict[str, Any]] = field(default_factory=list)
    usage_daily: list[dict[str, Any]] = field(default_factory=list)
    buzz_daily: list[dict[str, Any]] = field(default_factory=list)
    flagged_jobs: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    histogram: list[dict[str, Any]] = field(default_factory=list)
    labels: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    step_mixes: list[dict[str, Any]] = field(default_factory=list)
    top_users: list[dict[str, Any]] = field(default_factory=list)
    providers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def days(self) -> list[date]:
        """Every calendar day of the range, synced or not."""
        if self.date_from is None or self.date_to is None:
            return []
        count = (self.date_to - self.date_from).days + 1
        return [self.date_from + timedelta(days=i) for i in range(count)]


def warehouse_span(con: duckdb.DuckDBPyConnection) -> tuple[date, date] | None:
    """The first and last day holding workflows, or None for an empty warehouse.

    Raises:
        WarehouseNotFoundError: the warehouse was built without the report tables.
    """
    try:
        row = con.execute("select min(day), max(day) from rpt_usage_daily").fetchone()
    except duckdb.CatalogException as exc:
        raise WarehouseNotFoundError(
            "The warehouse has no report tables. Run `civitai-sync sync` (or `make demo`) to "
            "rebuild it with the SQL models."
        ) from exc
    if not row or row[0] is None:
        return None
    return row[0], row[1]


def resolve_range(
    span: tuple[date, date] | None,
    date_from: date | None,
    date_to: date | None,
    days: int | None,
) -> tuple[date | None, date | None]:
    """The days to show: the given ends, else the latest `days` days of the warehouse.

    `days=None` means every day of the warehouse. An open end takes the warehouse's edge, so
    `--from` alone runs to the last synced day.
    """
    if span is None:
        if date_from is None and date_to is None:
            return None, None
        return date_from or date_to, date_to or date_from
    first, last = span
    end = date_to or max(last, date_from or last)
    if date_from is not None:
        return date_from, end
    start = first if days is None else max(first, end - timedelta(days=days - 1))
    return min(start, end), end


def published(con: duckdb.DuckDBPyConnection, path: Path) -> Published:
    """`published_at` from the warehouse's meta table when it keeps one, else the file's mtime."""
    try:
        columns = {r[0] for r in con.execute(f"describe {META_TABLE}").fetchall()}
    except duckdb.CatalogException:
        columns = set()
    if "published_at" in columns:
        row = con.execute(f"select max(published_at) from {META_TABLE}").fetchone()
        value = row[0] if row else None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime):
            at = value if value.tzinfo else value.replace(tzinfo=UTC)
            return Published(at.astimezone(UTC), f"{META_TABLE}.published_at")
    mtime = path.stat().st_mtime
    return Published(datetime.fromtimestamp(mtime, UTC), "file modification time")


def load_page_data(
    con: duckdb.DuckDBPyConnection,
    *,
    data_dir: Path,
    warehouse_path: Path,
    date_from: date | None = None,
    date_to: date | None = None,
    days: int | None = DEFAULT_DAYS,
    threshold: float | None = None,
    flagged_rows_per_day: int = FLAGGED_ROWS_PER_DAY,
    now: datetime | None = None,
) -> PageData:
    """Read every figure of the page.

    Raises:
        WarehouseNotFoundError: the warehouse lacks the report tables.
    """
    span = warehouse_span(con)
    start, end = resolve_range(span, date_from, date_to, days)
    # A threshold other than the published one makes load_report shadow the tables that depend
    # on it for this connection, so the range sums below read the same recomputed rows.
    moderation = load_report(con, "moderation", threshold=threshold, date_from=start, date_to=end)
    page = PageData(
        data_dir=data_dir,
        warehouse_path=warehouse_path,
        published=published(con, warehouse_path),
        generated_at=(now or datetime.now(UTC)).astimezone(UTC),
        warehouse_span=span,
        date_from=start,
        date_to=end,
        csam_threshold=float(moderation.csam_threshold or 0.0),
    )
    if start is None or end is None:
        return page
    usage = load_report(con, "usage", date_from=start, date_to=end)
    flagged = load_report(con, "flagged", threshold=threshold, date_from=start, date_to=end)
    sections = {s.table: s for s in (*moderation.sections, *usage.sections)}
    page.moderation_daily = sections["rpt_moderation_daily"].records()
    page.usage_daily = sections["rpt_usage_daily"].records()
    page.buzz_daily = sections["rpt_buzz_daily"].records()
    page.flagged_jobs = _highest_per_day(flagged.sections[0].records(), flagged_rows_per_day)
    _range_figures(con, page, [start, end])
    return page


def _range_figures(con: duckdb.DuckDBPyConnection, page: PageData, args: list[date]) -> None:
    """The page's figures summed over the range `args` (first day, last day)."""
    page.totals = _records(con, _TOTALS_SQL, args * 3)[0]
    page.providers = _records(con, _PROVIDERS_SQL, args)
    page.histogram = _records(con, _HISTOGRAM_SQL, args)
    for row in _records(con, _LABELS_SQL, args):
        page.labels.setdefault(row["category"], []).append(row)
    page.step_mixes = _records(con, _STEP_MIXES_SQL, args)
    page.top_users = _records(con, _TOP_USERS_SQL, args)


# Range totals for the page's headline: SQL sums of the daily report rows.
_TOTALS_SQL = """
with usage as (
    select
        sum(workflows) as workflows,
        sum(succeeded) as succeeded,
        sum(finished) as finished,
        sum(succeeded) / nullif(sum(finished), 0) as success_ratio,
        sum(users) as user_days,
        sum(buzz_net) as buzz_net,
        count(*) as days_with_workflows
    from rpt_usage_daily
    where day between ? and ?
),
moderation as (
    select
        sum(jobs) as jobs,
        sum(jobs_scanned) as jobs_scanned,
        sum(jobs_flagged) as jobs_flagged,
        sum(jobs_flagged) / nullif(sum(jobs_scanned), 0) as flag_ratio,
        sum(outputs_blocked) as outputs_blocked
    from rpt_moderation_daily
    where provider = '(all)' and day between ? and ?
),
users as (
    select count(distinct user_id) as users
    from rpt_user_days
    where day between ? and ?
)
select * from usage cross join moderation cross join users
"""

_PROVIDERS_SQL = """
select
    provider,
    sum(jobs) as jobs,
    sum(jobs_scanned) as jobs_scanned,
    sum(jobs_flagged) as jobs_flagged,
    sum(jobs_flagged) / nullif(sum(jobs_scanned), 0) as flag_ratio,
    max(csam_score_max_pct) as csam_score_max_pct
from rpt_moderation_daily
where provider <> '(all)' and day between ? and ?
group by provider
order by jobs_flagged desc, jobs desc, provider
"""

_HISTOGRAM_SQL = """
select bucket, score_from_pct, score_to_pct, sum(jobs) as jobs
from rpt_csam_score_histogram
where day between ? and ?
group by all
order by bucket
"""

_LABELS_SQL = """
select category, label, sum(items) as items, sum(jobs) as jobs
from rpt_moderation_labels_daily
where provider = '(all)' and day between ? and ?
group by all
order by category, items desc, label
"""

_STEP_MIXES_SQL = f"""
with mixes as (
    select step_types, status, sum(workflows) as workflows
    from rpt_workflows_by_status_daily
    where day between ? and ?
    group by all
),
top as (
    select step_types, sum(workflows) as total
    from mixes
    group by all
    order by total desc, step_types
    limit {TOP_STEP_MIXES}
)
select mixes.step_types, mixes.status, mixes.workflows, top.total
from mixes join top using (step_types)
order by top.total desc, mixes.step_types, mixes.status
"""

_TOP_USERS_SQL = f"""
select
    user_id,
    sum(workflows) as workflows,
    sum(succeeded) as succeeded,
    sum(failed) as failed,
    sum(jobs) as jobs,
    sum(buzz_net) as buzz_net,
    count(*) as active_days
from rpt_user_days
where day between ? and ?
group by user_id
order by workflows desc, buzz_net desc, user_id
limit {TOP_USERS}
"""


def _highest_per_day(rows: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Each day's `limit` highest-scored jobs (newest first among equal scores), newest day first.

    A choice of rows to show, not a figure: the per-day counts come from rpt_moderation_daily.
    """
    by_day: dict[date, list[dict[str, Any]]] = {}
    for row in rows:  # already newest first
        by_day.setdefault(row["day"], []).append(row)
    shown: list[dict[str, Any]] = []
    for day in sorted(by_day, reverse=True):
        ranked = sorted(by_day[day], key=lambda r: -(r["csam_score_max_pct"] or 0.0))  # stable
        shown.extend(ranked[:limit])
    return shown


def _records(con: duckdb.DuckDBPyConnection, sql: str, args: list[Any]) -> list[dict[str, Any]]:
    try:
        cursor = con.execute(sql, args)
    except duckdb.CatalogException as exc:
        # A warehouse published before a report table was added to sql/ lacks it until rebuilt.
        raise WarehouseNotFoundError(
            f"The warehouse lacks a report table ({exc}). Run `civitai-sync sync` (or "
            "`make demo`) to rebuild it with the current SQL models."
        ) from exc
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
