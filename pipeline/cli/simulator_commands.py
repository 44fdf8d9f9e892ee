"""`civitai-sync simulator serve`: run the built-in API simulator in the foreground."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import click
from rich.text import Text

from pipeline.cli.output import stdout_console
from pipeline.core.numbers import INT32_MAX, MAX_DAYS, count, decimal
from pipeline.fetch.windows import utc_today


def register(group: click.Group) -> None:
    """Attach this family's commands to the root group."""
    group.add_command(simulator)


@click.group()
def simulator() -> None:
    """A local stand-in for the Orchestration API (deterministic data, switchable faults).

    \b
    Example:
      civitai-sync simulator serve --port 8787 --days 7
    """


def _parse_pages(value: str | None) -> frozenset[int]:
    if not value:
        return frozenset()
    try:
        pages = frozenset(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(
            "expected page numbers separated by commas, e.g. 2,5.", param_hint="'--malformed-pages'"
        ) from None
    if any(page < 1 for page in pages):
        raise click.BadParameter("page numbers start at 1.", param_hint="'--malformed-pages'")
    return pages


@simulator.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8787,
    show_default=True,
    help="TCP port (0 = any free port).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--seed",
    type=count(-(2**63), 2**63 - 1),
    default=7,
    show_default=True,
    help="Seed of the generated data.",
)
@click.option(
    "--days",
    type=count(1, MAX_DAYS),
    default=3,
    show_default=True,
    help="How many days of workflows to generate (ending yesterday, unless --start).",
)
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="First generated day (UTC), YYYY-MM-DD [default: --days days before today, so the "
    "last one is yesterday, as in `civitai-sync demo`].",
)
@click.option("--workflows-per-day", type=count(1, 1_000_000), default=200, show_default=True)
@click.option(
    "--token",
    default="sim-token",
    show_default=True,
    help="The bearer token the simulator accepts.",
)
@click.option(
    "--running-share",
    type=decimal(0, 1),
    default=0.05,
    show_default=True,
    help="Share of workflows still running until /_simulator/advance.",
)
@click.option(
    "--latency-ms",
    type=decimal(0, 600_000),
    default=0,
    show_default=True,
    help="Fault: every API answer takes at least this long (the simulator's own work included).",
)
@click.option(
    "--rate-429",
    type=decimal(0, 1),
    default=0,
    show_default=True,
    help="Fault: share of requests answered 429.",
)
@click.option(
    "--retry-after",
    default="1",
    show_default=True,
    help="Fault: Retry-After header sent with 429s ('none' = no header).",
)
@click.option(
    "--rate-5xx",
    type=decimal(0, 1),
    default=0,
    show_default=True,
    help="Fault: share of requests answered 502/503 with an HTML page.",
)
@click.option(
    "--ignore-date-filter", is_flag=True, help="Fault: the list endpoint ignores fromDate/toDate."
)
@click.option(
    "--page-size-clamp",
    type=count(1, INT32_MAX),
    default=None,
    help="Fault: never return more than N items per page.",
)
@click.option(
    "--malformed-pages",
    default=None,
    metavar="N,N,...",
    help="Fault: these list pages (1-based, per query chain) return broken JSON.",
)
@click.option(
    "--last-page-next",
    default="omit",
    show_default=True,
    metavar="omit|null|empty|cursor",
    # A plain string (checked by the simulator's Faults) so that the CLI does not import the
    # simulator until this command runs.
    help='Fault: how the last list page ends: no `next`, null, "", or a cursor to one more '
    "empty page.",
)
def serve(
    port: int,
    host: str,
    seed: int,
    days: int,
    start: datetime | None,
    workflows_per_day: int,
    token: str,
    running_share: float,
    latency_ms: float,
    rate_429: float,
    retry_after: str,
    rate_5xx: float,
    ignore_date_filter: bool,
    page_size_clamp: int | None,
    malformed_pages: str | None,
    last_page_next: str,
) -> None:
    """Serve the simulated API in the foreground until Ctrl-C.

    \b
    Examples:
      civitai-sync simulator serve --port 8787 &
      export CIVITAI_API_URL=http://127.0.0.1:8787 CIVITAI_API_TOKEN=sim-token
      civitai-sync sync --dry-run
      civitai-sync simulator serve --rate-429 0.2 --retry-after 2   # a server that pushes back
    """
    # Imported here: the simulator is only needed by this command.
    from simulator import Faults, SimulatorConfig, SimulatorServer

    try:
        faults = Faults(
            latency_ms=latency_ms,
            rate_429=rate_429,
            retry_after=None
            if retry_after.strip().lower() in ("none", "")
            else retry_after.strip(),
            rate_5xx=rate_5xx,
            ignore_date_filter=ignore_date_filter,
            page_size_clamp=page_size_clamp,
            malformed_pages=_parse_pages(malformed_pages),
            last_page_next=last_page_next,
        )
        config = SimulatorConfig(
            seed=seed,
            start=start.date() if start is not None else utc_today() - timedelta(days=days),
            days=days,
            workflows_per_day=workflows_per_day,
            token=token,
            running_share=running_share,
            faults=faults,
        )
    except ValueError as exc:  # the simulator's own validation, e.g. an out-of-range volume
        raise click.UsageError(str(exc)) from None
    try:
        server = SimulatorServer(config, port=port, host=host)
    except OSError as exc:
        raise click.UsageError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.") from None
    console = stdout_console()
    first: date = config.start
    last = server.account.days[-1] if server.account.days else first
    console.print(Text.assemble(("Simulator listening on ", "bold"), (server.url, "bold cyan")))
    console.print(
        Text(
            f"Data: {days} day(s) from {first.isoformat()} to {last.isoformat()}, "
            f"{workflows_per_day} workflows/day, seed {seed}."
        )
    )
    console.print(Text("Point the pipeline at it:"))
    console.print(Text(f"  export CIVITAI_API_URL={server.url}"), soft_wrap=True)
    console.print(Text(f"  export CIVITAI_API_TOKEN={token}"), soft_wrap=True)
    console.print(Text("Press Ctrl-C to stop.", style="dim"))
    # serve_forever() returns on Ctrl-C and closes the socket itself.
    try:
        server.serve_forever()
    except KeyboardInterrupt:  # a second Ctrl-C while it shuts down
        pass
    finally:
        server.stop()
    console.print(Text("Simulator stopped."))
