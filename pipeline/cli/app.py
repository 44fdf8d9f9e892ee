"""The root `civitai-sync` group; each command family lives in its own module.

Every command (and the group itself) takes `-v/--verbose` and `--log-level`, added here to
each registered command so that no family module has to remember them; `pipeline.core.log`
turns them into one logfmt line per event on stderr. Exit statuses: `pipeline.cli.exits`.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from pipeline.cli import exits
from pipeline.core import log
from pipeline.core import settings as defaults
from pipeline.core.errors import PipelineError, UsageError, storage_failure
from pipeline.core.settings import Settings

_LOG_STATE = "civitai_sync.log"


class _Group(click.Group):
    """Turns the pipeline's own errors into one readable line and exit status 1, never a
    traceback; Ctrl-C into exit status 130."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except UsageError as exc:  # a value the user typed (an id): nothing was run
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exits.USAGE)
        except PipelineError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exits.FAILED)
        except Exception as exc:
            message = storage_failure(exc)
            if message is None:
                raise
            click.echo(f"Error: {message}", err=True)
            sys.exit(exits.FAILED)
        except KeyboardInterrupt:
            click.echo("Interrupted: windows not finished keep their previous data.", err=True)
            sys.exit(exits.INTERRUPTED)


def _token() -> str | None:
    try:
        return Settings.from_env().token
    except (PipelineError, OSError, ValueError):
        return os.environ.get(defaults.ENV_TOKEN)


def _apply_logging(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    state = ctx.find_root().meta.setdefault(_LOG_STATE, {"level": None, "verbose": 0})
    if param.name == "log_level" and value is not None:
        state["level"] = value
    elif param.name == "verbose" and value:
        state["verbose"] = max(state["verbose"], value)
    if state["level"] is not None:
        level = log.level_number(state["level"])
    else:
        level = log.level_for_verbosity(state["verbose"], log.default_level())
    log.configure(level, secrets=[_token()])


def log_options() -> list[click.Option]:
    """Fresh `--log-level` and `-v` options (a click Option belongs to one command)."""
    return [
        click.Option(
            ["--log-level"],
            type=click.Choice(log.LEVELS, case_sensitive=False),
            default=None,
            expose_value=False,
            callback=_apply_logging,
            help=f"Log records at LEVEL and above to stderr [default: warning on a terminal, "
            f"info otherwise; or {log.ENV_LOG_LEVEL}].",
        ),
        click.Option(
            ["-v", "--verbose"],
            count=True,
            expose_value=False,
            callback=_apply_logging,
            help="More log lines on stderr: -v info, -vv debug.",
        ),
    ]


def _add_log_options(command: click.Command) -> None:
    names = {opt for param in command.params for opt in getattr(param, "opts", [])}
    if "--log-level" not in names:
        command.params.extend(log_options())
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _add_log_options(sub)


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=exits.HELP_EPILOG,
)
@click.version_option(package_name="civitai-orchestration-sync")
def cli() -> None:
    """Sync a Civitai Orchestration API account into a Parquet lake and a DuckDB warehouse.

    \b
    Example (the nightly run, then what it did):
      civitai-sync sync
      civitai-sync status --json
    """


def _register() -> None:
    # Imported here so that each family module can import `cli` without a cycle.
    from pipeline.cli import (
        api_commands,
        demo_commands,
        lake_commands,
        report_commands,
        simulator_commands,
        sql_commands,
        status_commands,
        sync_commands,
    )

    for module in (
        api_commands,
        sync_commands,
        demo_commands,
        status_commands,
        lake_commands,
        report_commands,
        sql_commands,
        simulator_commands,
    ):
        module.register(cli)
    _add_log_options(cli)


_register()


def main() -> None:
    cli()
