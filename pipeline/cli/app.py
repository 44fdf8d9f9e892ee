"""The root `civitai-sync` group; each command family lives in its own module."""

from __future__ import annotations

import sys

import click

from pipeline.core.errors import PipelineError


class _Group(click.Group):
    """Turns the pipeline's own errors into one readable line and exit status 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except PipelineError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="civitai-orchestration-sync")
def cli() -> None:
    """Sync a Civitai Orchestration API account into a Parquet lake and a DuckDB warehouse."""


def _register() -> None:
    # Imported here so that each family module can import `cli` without a cycle.
    from pipeline.cli import (
        api_commands,
        lake_commands,
        report_commands,
        simulator_commands,
        sql_commands,
        sync_commands,
    )

    for module in (
        api_commands,
        sync_commands,
        lake_commands,
        report_commands,
        sql_commands,
        simulator_commands,
    ):
        module.register(cli)


_register()


def main() -> None:
    cli()
