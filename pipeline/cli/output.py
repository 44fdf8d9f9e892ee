"""Printing helpers shared by the command families: consoles, tables, JSON, status colours.

Everything the API sends is untrusted text: it is always wrapped in `rich.text.Text` (never
interpolated into console markup), so a prompt or a tag containing `[red]` or `[/]` prints as
written instead of restyling, or breaking, the output; and control characters are shown as
escapes (`clean`), so an escape sequence inside a prompt cannot drive the user's terminal.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click
import orjson
from rich.console import Console
from rich.json import JSON
from rich.table import Table
from rich.text import Text

from pipeline.api.models import format_datetime, parse_datetime

if TYPE_CHECKING:
    from pipeline.warehouse.publish import PublishResult

# Width used when stdout is not a terminal (a pipe, a file, a test runner): rich would otherwise
# assume 80 columns and fold the 25-40 character ids and timestamps into unreadable tables.
PIPE_WIDTH = 200

STATUS_STYLES: dict[str, str] = {
    "succeeded": "green",
    "failed": "red",
    "expired": "red",
    "canceled": "yellow",
    "deleted": "yellow",
    "processing": "cyan",
    "scheduled": "cyan",
    "preparing": "cyan",
    "unassigned": "cyan",
    # v1 job event types are PascalCase.
    "Succeeded": "green",
    "Failed": "red",
    "Expired": "red",
    "Rejected": "red",
    "LateRejected": "red",
    "Canceled": "yellow",
    "Deleted": "yellow",
}


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def clean(value: str) -> str:
    """`value` with control characters (ESC, NUL, CR, ...) written as visible escapes."""
    return _CONTROL.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), value)


def stdout_console() -> Console:
    """A console on the current stdout (looked up now, so click's test runner captures it)."""
    console = Console(file=sys.stdout, highlight=False)
    if not console.is_terminal:
        console = Console(file=sys.stdout, highlight=False, width=PIPE_WIDTH)
    return console


def stderr_console() -> Console:
    console = Console(file=sys.stderr, highlight=False)
    if not console.is_terminal:
        console = Console(file=sys.stderr, highlight=False, width=PIPE_WIDTH)
    return console


def text(value: object, style: str = "") -> Text:
    """Untrusted value -> Text; None becomes a dim dash."""
    if value is None:
        return Text("-", style="dim")
    if isinstance(value, bool):
        return Text("true" if value else "false", style=style)
    if isinstance(value, datetime):
        return Text(format_datetime(value), style=style)
    if isinstance(value, str):
        return Text(clean(value), style=style)
    if isinstance(value, int | float):
        return Text(format_number(value), style=style)
    return Text(clean(compact_json(value)), style=style)


def status_text(status: str | None) -> Text:
    if status is None:
        return text(None)
    return Text(clean(status), style=STATUS_STYLES.get(status, ""))


def format_number(value: float | int) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def format_when(value: datetime | str | None) -> str:
    """A timestamp as the API writes it (UTC, `Z`); unparseable text is shown as given."""
    if value is None:
        return "-"
    if isinstance(value, str):
        try:
            return format_datetime(parse_datetime(value))
        except ValueError:
            return value
    return format_datetime(value)


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.2f} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 120:
        return f"{int(minutes)} min {secs:.0f} s"
    hours, minutes = divmod(minutes, 60)
    return f"{int(hours)} h {int(minutes)} min"


def truncate(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[:limit] + "..."


def compact_json(value: Any) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return repr(value)


def emit_raw_json(content: bytes) -> None:
    """Print a JSON body as the API returned it.

    Piped or redirected, the bytes are written untouched (so `> file.json` keeps exactly what
    was served); on a terminal the same document is indented and highlighted.
    """
    console = stdout_console()
    if console.is_terminal:
        console.print(JSON(content.decode("utf-8", errors="replace")))
        return
    body = content if content.endswith(b"\n") else content + b"\n"
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text-only stream (e.g. a StringIO someone swapped in)
        sys.stdout.write(body.decode("utf-8", errors="replace"))
    else:
        buffer.write(body)
        buffer.flush()


def emit_json(value: Any) -> None:
    """Print a value we built (not an API body) as indented JSON."""
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode())


def key_values(rows: Iterable[tuple[str, object]], *, indent: int = 2) -> Table:
    """A borderless two-column `label: value` block."""
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    pad = " " * indent
    for label, value in rows:
        table.add_row(f"{pad}{label}:", value if isinstance(value, Text) else text(value))
    return table


def data_table(title: str | None, columns: Iterable[str], *, no_wrap: Iterable[str] = ()) -> Table:
    """A table whose id-like columns never wrap (a folded id cannot be copied)."""
    keep = set(no_wrap)
    table = Table(title=title, title_justify="left", header_style="bold", show_lines=False)
    for name in columns:
        table.add_column(name, no_wrap=name in keep, overflow="fold")
    return table


def counts_text(counts: Mapping[str, int]) -> Text:
    """`succeeded 12, failed 3` with each status coloured."""
    out = Text()
    for index, (name, count) in enumerate(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))):
        if index:
            out.append(", ")
        out.append(clean(name), style=STATUS_STYLES.get(name, ""))
        out.append(f" {count}")
    return out


def published_line(console: Console, result: PublishResult) -> None:
    models = f", {len(result.models)} SQL models" if result.models else ""
    console.print(
        Text.assemble(
            ("Warehouse published: ", "bold"),
            (str(result.path), "cyan"),
            f" ({format_seconds(result.seconds)}{models})",
        ),
        soft_wrap=True,
    )
