"""Why a window is refused before anything of it is replaced: a day in the future, or a
re-sync that came back with far fewer workflows than the copy it would replace (the shrink
guard; `--allow-shrink` lifts it)."""

from __future__ import annotations

from datetime import date

from pipeline.core.errors import WindowError
from pipeline.fetch.windows import utc_today
from pipeline.lake.ledger import WindowRow

# A re-synced window whose workflow count falls below this share of the ledger's count is
# refused (without --allow-shrink): a server that suddenly answers less is far likelier than a
# day that lost half its workflows, and replacing would delete the good copy.
SHRINK_RATIO = 0.5


def refuse_future(day: date) -> None:
    if day > utc_today():
        raise WindowError(
            f"window {day} is in the future (today is {utc_today()} UTC); pick days up to today.",
            window=day.isoformat(),
        )


def check_shrink(previous: WindowRow | None, workflows: int, day: date) -> None:
    if previous is None or not previous.published or not previous.workflows:
        return
    if workflows >= previous.workflows * SHRINK_RATIO:
        return
    raise WindowError(
        f"window {day}: the server now returns {workflows} workflows where the last good sync "
        f"kept {previous.workflows}; refused to replace the day (below {SHRINK_RATIO:.0%}). If "
        "workflows really were deleted, run again with --allow-shrink; the previous data is "
        "kept.",
        window=day.isoformat(),
    )
