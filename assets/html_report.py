"""The visual report: DATA_DIR/report.html for the latest days, rewritten after each warehouse build.

It reads the report tables, so it depends on their assets; `warehouse_job` selects it too,
which makes every warehouse rebuild end with a fresh page (the step runs after the build).
"""

import dagster as dg

from assets.resources import DataDirResource
from assets.warehouse import MODELS

HTML_REPORT_DAYS = 30
# The report tables the page reads (pipeline/html_report/data.py).
REPORT_TABLES = (
    "rpt_moderation_daily",
    "rpt_moderation_labels_daily",
    "rpt_csam_score_histogram",
    "rpt_flagged_jobs",
    "rpt_usage_daily",
    "rpt_buzz_daily",
    "rpt_workflows_by_status_daily",
    "rpt_top_users_daily",
    "rpt_user_days",
)
_MODEL_NAMES = {m.name for m in MODELS}


@dg.asset(
    name="html_report",
    deps=[dg.AssetKey(t) for t in REPORT_TABLES if t in _MODEL_NAMES],
    group_name="reports",
    kinds={"html"},
    description=f"DATA_DIR/report.html: moderation and usage charts of the latest "
    f"{HTML_REPORT_DAYS} days as one self-contained page (no network requests; can be mailed).",
)
def html_report(context: dg.AssetExecutionContext, data: DataDirResource) -> dg.MaterializeResult:
    """Render the page from the published warehouse and write it atomically."""
    # Imported here: matplotlib is only loaded by the run that draws, not by the code location.
    from pipeline.reports.html import DEFAULT_FILE, write_html_report

    settings = data.settings()
    path = write_html_report(settings, days=HTML_REPORT_DAYS, out=settings.data_dir / DEFAULT_FILE)
    size = path.stat().st_size
    context.log.info(f"wrote {path} ({size / 1_000_000:.2f} MB)")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path.resolve())),
            "size_mb": dg.MetadataValue.float(round(size / 1_000_000, 3)),
            "days": HTML_REPORT_DAYS,
        }
    )
