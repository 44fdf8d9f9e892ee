"""The lake's upkeep as a Dagster job: vacuum replaced files, checkpoint the tables, compact
the ledger (`pipeline.runs.housekeeping.maintain`), weekly on Sunday."""

import dagster as dg

from assets.resources import DataDirResource
from pipeline.runs import housekeeping

MAINTAIN_CRON = "0 4 * * 0"


class MaintainConfig(dg.Config):
    retention_hours: int = housekeeping.DEFAULT_RETENTION_HOURS


@dg.op(description="Vacuum the lake, checkpoint its tables, compact the ledger.")
def maintain_lake(
    context: dg.OpExecutionContext, config: MaintainConfig, data: DataDirResource
) -> None:
    result = housekeeping.maintain(data.settings(), retention_hours=config.retention_hours)
    context.log.info(
        f"removed {sum(result.removed_files.values())} replaced files "
        f"({result.removed_files}); swept {result.swept} leftover archive attempts"
    )


@dg.job(description="Lake upkeep: vacuum replaced files, checkpoint tables, compact the ledger.")
def maintain_job() -> None:
    maintain_lake()


weekly_maintenance = dg.ScheduleDefinition(
    name="weekly_maintenance",
    job=maintain_job,
    cron_schedule=MAINTAIN_CRON,
    execution_timezone="UTC",
    description="Sunday 04:00 UTC: vacuum the lake (files replaced over a week ago and unused).",
)
