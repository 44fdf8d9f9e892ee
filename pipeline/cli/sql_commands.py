"""`civitai-sync sql`: the analyst's read-only SQL shell on the warehouse.

Why our own shell and not the `duckdb` CLI: PyPI's `duckdb-cli` stops at 1.5.x, which cannot
open a file written by the duckdb 2.0 Python package ("version number 69, but we can only read
versions between 64 and 68"). Writing the warehouse in an older storage format would tie the
warehouse to whichever CLI release is newest. This shell uses the very library that wrote the
file, so it always opens it; it connects read-only (a sync can publish meanwhile: the reader
keeps its snapshot) and shows timestamps in UTC.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, TextIO

import click
import duckdb
from rich.table import Table
from rich.text import Text

from pipeline.cli.output import clean, stdout_console, text
from pipeline.core.numbers import count
from pipeline.core.settings import Settings
from pipeline.warehouse.reader import open_warehouse

FORMATS = ("table", "csv", "json")
BATCH = 1_000
HELP = """\
Statements end with ';' and may span lines. Ctrl-C drops the statement being typed.
  .tables          the tables and views of the warehouse
  .schema NAME     the columns of a table or view
  .help            this text
  .quit / Ctrl-D   leave"""


def register(group: click.Group) -> None:
    """Attach this family's commands to the root group."""
    group.add_command(sql_command)


@click.command("sql")
@click.option(
    "--warehouse",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The DuckDB file to open [default: DATA_DIR/warehouse.duckdb].",
)
@click.option(
    "-c",
    "--command",
    "commands",
    multiple=True,
    metavar="SQL",
    help="Run SQL (one or more statements) and exit; repeatable.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="json prints one object per row (JSON Lines).",
)
@click.option(
    "--max-rows",
    type=count(1, 10_000_000),
    default=200,
    show_default=True,
    help="Rows shown per result in table format (csv and json print every row).",
)
def sql_command(warehouse: Path | None, commands: tuple[str, ...], fmt: str, max_rows: int) -> None:
    """Query the warehouse with SQL, read-only, timestamps in UTC.

    Typed at a terminal, without -c: an interactive prompt (line editing and history).
    Otherwise it runs the -c statements, or the SQL read from standard input, and stops at the
    first error (exit status 1).

    \b
    Examples:
      civitai-sync sql
      civitai-sync sql -c "select count(*) from workflows"
      civitai-sync sql --format csv -c "select * from rpt_usage_daily" > usage.csv
      echo "select * from rpt_flagged_jobs limit 5;" | civitai-sync sql --format json
    """
    path = warehouse or Settings.from_env().warehouse_path
    try:
        con = open_warehouse(path)
    except duckdb.Error as exc:
        message = f"Cannot open {path} as a DuckDB warehouse: {_first_line(exc)}"
        raise click.ClickException(message) from None
    shell = _Shell(con, fmt, max_rows)
    try:
        if commands:
            ok = all(shell.run(sql) for sql in commands)
        elif sys.stdin.isatty():
            ok = shell.interact(path)
        else:
            ok = shell.run(sys.stdin.read())
    finally:
        con.close()
    if not ok:
        sys.exit(1)


class _Shell:
    def __init__(self, con: duckdb.DuckDBPyConnection, fmt: str, max_rows: int) -> None:
        self.con = con
        self.fmt = fmt
        self.max_rows = max_rows

    def run(self, sql: str) -> bool:
        """Run every statement of `sql`, printing each result; False at the first error."""
        try:
            statements = self.con.extract_statements(sql)
            for statement in statements:
                cursor = self.con.execute(statement.query)
                if cursor.description:
                    self._print(cursor)
        except duckdb.Error as exc:
            click.echo(f"Error: {_first_line(exc)}", err=True)
            return False
        return True

    def interact(self, path: Path) -> bool:
        """The prompt: read statements until `.quit` or end of input."""
        import readline  # noqa: F401  (line editing and history for input())

        click.echo(f"Connected read-only to {path} (timestamps in UTC). Type .help for help.")
        buffer: list[str] = []
        while True:
            try:
                line = input("...> " if buffer else "sql> ")
            except EOFError:
                click.echo()
                return True
            except KeyboardInterrupt:
                click.echo()
                buffer.clear()
                continue
            if not buffer and line.strip().startswith("."):
                if not self._dot_command(line.strip()):
                    return True
                continue
            buffer.append(line)
            if line.rstrip().endswith(";"):
                self.run("\n".join(buffer))
                buffer.clear()

    def _dot_command(self, line: str) -> bool:
        """Run a dot command; False when it asks to leave."""
        name, _, arg = line.partition(" ")
        if name in (".quit", ".exit"):
            return False
        if name == ".tables":
            self.run(
                "select table_name as name, table_type as type from information_schema.tables "
                "order by table_type, table_name"
            )
        elif name == ".schema" and arg.strip():
            self.run(
                "select column_name, data_type, is_nullable from information_schema.columns "
                f"where table_name = '{arg.strip().replace(chr(39), chr(39) * 2)}' "
                "order by ordinal_position"
            )
        else:
            click.echo(HELP)
        return True

    def _print(self, cursor: duckdb.DuckDBPyConnection) -> None:
        names = [d[0] for d in cursor.description or []]
        rows = _rows(cursor)
        if self.fmt == "csv":
            _write_csv(sys.stdout, names, rows)
        elif self.fmt == "json":
            for row in rows:
                sys.stdout.write(json.dumps(dict(zip(names, row, strict=True)), default=_json))
                sys.stdout.write("\n")
        else:
            self._print_table(cursor, rows)

    def _print_table(
        self, cursor: duckdb.DuckDBPyConnection, rows: Iterator[tuple[Any, ...]]
    ) -> None:
        table = Table()
        for name, kind, *_ in cursor.description or []:
            table.add_column(Text.assemble(clean(name), "\n", (str(kind), "dim")))
        shown, more = 0, 0
        for row in rows:
            if shown == self.max_rows:
                more = 1 + sum(1 for _ in rows)
                break
            table.add_row(*(text(None) if v is None else Text(clean(_plain(v))) for v in row))
            shown += 1
        stdout_console().print(table)
        note = f"{shown:,} row{'' if shown == 1 else 's'}"
        if more:
            note += f" shown, {more:,} more not shown (raise --max-rows, or --format csv)"
        click.echo(note)


def _rows(cursor: duckdb.DuckDBPyConnection) -> Iterator[tuple[Any, ...]]:
    """The result in batches: a large result is never held whole."""
    while batch := cursor.fetchmany(BATCH):
        yield from batch


def _write_csv(out: TextIO, names: list[str], rows: Iterator[tuple[Any, ...]]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow(["" if v is None else _plain(v) for v in row])


def _plain(value: Any) -> str:
    """A value as one line of text: timestamps as `2026-11-01 00:01:40+00:00`, lists as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, list | dict):
        return json.dumps(value, default=_json)
    return str(value)


def _json(value: Any) -> Any:
    """What json.dumps cannot write itself: dates and times in ISO 8601, the rest as text."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
