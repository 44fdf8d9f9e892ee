"""`test`, `workflows`, `user`: is the API there, one page of the list, whose workflows.

Every request goes through the pipeline's client: the same retries, error messages, token
redaction and paging bounds as the sync.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import click
from rich.text import Text

from pipeline.cli.api_common import (
    NO_TOKEN_MESSAGE,
    UtcDateTime,
    api_client,
)
from pipeline.cli.output import (
    clean,
    counts_text,
    data_table,
    emit_json,
    emit_raw_json,
    format_when,
    status_text,
    stdout_console,
    text,
)
from pipeline.core import settings as settings_module
from pipeline.core.errors import ConfigError
from pipeline.core.numbers import INT32_MAX, count
from pipeline.core.settings import Settings
from pipeline.fetch.cursors import PageError, iter_pages
from pipeline.flatten.users import workflow_user_id

DEFAULT_TAKE = 20  # the original script's default page size


@click.command()
def test() -> None:
    """Check that the API answers and accepts the token (one workflow query, take=1)."""
    settings = Settings.from_env()
    console = stdout_console()
    console.print(Text(f"API URL: {settings.api_url}"))
    if not settings.token:
        raise ConfigError(NO_TOKEN_MESSAGE)
    console.print(Text("Token:   set (not shown)"))
    with api_client() as client:
        page = client.fetch_workflow_page(take=1)
    console.print(
        Text.assemble(
            ("OK", "bold green"),
            f": the API answered and accepted the token ({len(page.items)} workflow(s) "
            "in a take=1 query).",
        )
    )


def _step_types(wf: dict[str, Any]) -> str:
    steps = wf.get("steps") or []
    return ", ".join(str(s.get("$type") or "?") for s in steps if isinstance(s, dict)) or "-"


def _cost_total(wf: dict[str, Any]) -> object:
    cost = wf.get("cost")
    return cost.get("total") if isinstance(cost, dict) else None


@click.command()
@click.option(
    "--take",
    type=count(1, INT32_MAX),
    default=DEFAULT_TAKE,
    show_default=True,
    help="Workflows per page.",
)
@click.option("--tag", "tags", multiple=True, help="Only workflows with this tag; repeat to AND.")
@click.option("--query", default=None, help="Free-text match on workflow metadata.")
@click.option(
    "--excludeFailed",
    "--exclude-failed",
    "exclude_failed",
    is_flag=True,
    help="Leave out failed, expired and canceled workflows.",
)
@click.option(
    "--oldest", "--ascending", "oldest", is_flag=True, help="Oldest first (default: newest first)."
)
@click.option("--cursor", default=None, help="Continue from a previous page's next cursor.")
@click.option(
    "--from", "date_from", type=UtcDateTime(), help="Created at or after (YYYY-MM-DD or ISO, UTC)."
)
@click.option(
    "--to",
    "date_to",
    type=UtcDateTime(end_of_day=True),
    help="Created at or before (a bare day means its end), UTC.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the page exactly as the API sent it.")
def workflows(
    take: int,
    tags: tuple[str, ...],
    query: str | None,
    exclude_failed: bool,
    oldest: bool,
    cursor: str | None,
    date_from: datetime | None,
    date_to: datetime | None,
    as_json: bool,
) -> None:
    """List the token's own workflows, one page (newest first)."""
    if date_from and date_to and date_from > date_to:
        raise click.BadParameter("must not be before --from.", param_hint="'--to'")
    with api_client() as client:
        page = client.fetch_workflow_page(
            take=take,
            cursor=cursor,
            tags=tags,
            query=query,
            ascending=True if oldest else None,
            from_date=date_from,
            to_date=date_to,
            exclude_failed=True if exclude_failed else None,
        )
    if as_json:
        emit_raw_json(page.content)
        return
    console = stdout_console()
    filters = [f"tag {t}" for t in tags]
    if query:
        filters.append(f"query {query!r}")
    if date_from:
        filters.append(f"from {format_when(date_from)}")
    if date_to:
        filters.append(f"to {format_when(date_to)}")
    if exclude_failed:
        filters.append("excluding failed")
    if filters:
        console.print(Text(clean("Filters: " + " | ".join(filters)), style="dim"))
    table = data_table(
        f"{len(page.items)} workflow(s)",
        ["id", "created", "status", "step types", "tags", "cost"],
        no_wrap=["id", "created"],
    )
    for wf in page.items:
        tags_of = wf.get("tags") or []
        table.add_row(
            text(wf.get("id")),
            text(format_when(wf.get("createdAt"))),
            status_text(wf.get("status")),
            text(_step_types(wf)),
            text(", ".join(map(str, tags_of)) if tags_of else None),
            text(_cost_total(wf)),
        )
    console.print(table)
    if page.next:
        console.print(Text.assemble(("Next cursor: ", "bold"), clean(page.next)))
    else:
        console.print(Text("Last page (no next cursor).", style="dim"))


@click.command()
@click.option(
    "--pages",
    type=count(1, 100_000),
    default=1,
    show_default=True,
    help="How many of the newest pages to read.",
)
@click.option(
    "--take",
    type=count(1, INT32_MAX),
    default=settings_module.PAGE_SIZE,
    show_default=True,
    help="Workflows per page.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def user(pages: int, take: int, as_json: bool) -> None:
    """Who the token's workflows belong to: user ids and workflow counts per status.

    A consumer token sees only its own workflows and the API has no user field, so this reads
    the newest page(s) and takes the user id from each workflow id's numeric prefix
    (`{userId}-{timestamp}`) or a `user:N` tag. Workflows with neither are counted as
    "unknown". It is a summary of what was read, not an account lookup.
    """
    per_user: dict[int | None, Counter[str]] = {}
    scanned = 0
    read_pages = 0
    oldest: str | None = None
    newest: str | None = None
    with api_client() as client:
        try:
            for page in iter_pages(client, take=take, max_pages=pages):
                read_pages += 1
                for wf in page.items:
                    if not isinstance(wf, dict):
                        continue
                    scanned += 1
                    created = wf.get("createdAt")
                    if isinstance(created, str):
                        newest = created if newest is None or created > newest else newest
                        oldest = created if oldest is None or created < oldest else oldest
                    uid = workflow_user_id(wf.get("id"), wf.get("tags") or [])
                    per_user.setdefault(uid, Counter())[str(wf.get("status") or "unknown")] += 1
        except PageError as exc:
            raise click.ClickException(f"page {exc.page} of the workflow list: {exc}") from None
    ordered = sorted(per_user.items(), key=lambda kv: (kv[0] is None, -sum(kv[1].values())))
    if as_json:
        emit_json(
            {
                "workflows_read": scanned,
                "pages_read": read_pages,
                "created_from": oldest,
                "created_to": newest,
                "users": [
                    {"user_id": uid, "workflows": sum(c.values()), "statuses": dict(c)}
                    for uid, c in ordered
                ],
            }
        )
        return
    console = stdout_console()
    console.print(
        Text(
            f"Read {scanned} workflow(s) in {read_pages} page(s), newest first"
            + (f", created {format_when(oldest)} .. {format_when(newest)}" if scanned else "")
            + "."
        )
    )
    if not scanned:
        console.print(Text("No workflows: nothing to summarise.", style="dim"))
        return
    table = data_table(None, ["user id", "workflows", "by status"], no_wrap=["user id"])
    for uid, counts in ordered:
        table.add_row(
            text(str(uid)) if uid is not None else Text("unknown", style="dim"),
            text(sum(counts.values())),
            counts_text(counts),
        )
    console.print(table)
