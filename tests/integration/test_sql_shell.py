"""`civitai-sync sql`: the analyst's shell, run as the README says, in every mode it has.

The README's command is taken from the README itself and run in a directory laid out like a
checkout after `make demo` (`.venv` and `data/`), so the documented line is what is tested.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import select
import shlex
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from pipeline.cli.app import cli
from tests.support.handmade_warehouse import build_handmade_warehouse

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.prefix)


def readme_sql_block() -> tuple[list[str], list[str]]:
    """The README's analyst command (the first line of its ```sql block) and its queries."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```sql\n(.*?)```", readme, re.S)
    assert block, "README.md has no ```sql block"
    first, *queries = block.group(1).splitlines()
    assert first.startswith("-- "), first
    command = shlex.split(first[3:].split("  ")[0])
    return command, [q for q in queries if q.strip()]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory like a checkout after `make demo`: `.venv` and the demo's `data/`."""
    here = tmp_path_factory.mktemp("checkout")
    (here / ".venv").symlink_to(VENV)
    # `make demo` is `civitai-sync demo` with the default data dir, ./data (run in-process here).
    env = {"CIVITAI_SYNC_DATA_DIR": str(here / "data"), "CIVITAI_API_TOKEN": ""}
    demo = CliRunner().invoke(cli, ["demo", "--days", "1", "--workflows-per-day", "25"], env=env)
    assert demo.exit_code == 0, demo.output
    assert (here / "data" / "warehouse.duckdb").is_file()
    return here


def run_in(
    checkout: Path, args: list[str], stdin: str | None = None
) -> subprocess.CompletedProcess:
    env = {**os.environ, "TZ": "Asia/Tokyo"}  # a local zone that is not UTC
    env.pop("CIVITAI_SYNC_DATA_DIR", None)
    return subprocess.run(
        args, cwd=checkout, env=env, input=stdin, capture_output=True, text=True, timeout=120
    )


def test_the_readme_command_opens_the_demo_warehouse(checkout: Path) -> None:
    command, queries = readme_sql_block()
    assert command[0] == ".venv/bin/civitai-sync" and command[1] == "sql", command
    count = run_in(checkout, [*command, "-c", "select count(*) as n from workflows"])
    assert count.returncode == 0, count.stderr
    assert re.search(r"│ 25 +│", count.stdout), count.stdout
    # The README's example queries run as written.
    examples = run_in(checkout, [*command, "--format", "csv"], stdin="\n".join(queries))
    assert examples.returncode == 0, examples.stderr
    assert examples.stdout.count("\n") > len(queries)


def test_timestamps_are_shown_in_utc(checkout: Path) -> None:
    warehouse = checkout / "data" / "warehouse.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("set timezone = 'UTC'")
        first = con.execute("select strftime(min(created_at), '%Y-%m-%d %H:%M:%S') from workflows")
        ((expected,),) = first.fetchall()
    shown = run_in(
        checkout,
        [".venv/bin/civitai-sync", "sql", "--format", "csv", "-c", "select min(created_at) as t from workflows"],
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[1].startswith(expected)
    assert shown.stdout.splitlines()[1].endswith("+00:00")


def test_formats_statements_and_errors(tmp_path: Path) -> None:
    warehouse = build_handmade_warehouse(tmp_path / "warehouse.duckdb")
    runner = CliRunner()
    sql = ["sql", "--warehouse", str(warehouse)]

    as_csv = runner.invoke(
        cli,
        [*sql, "--format", "csv", "-c", "select workflow_id, status from workflows order by 1"],
    )
    assert as_csv.exit_code == 0, as_csv.output
    with duckdb.connect(str(warehouse), read_only=True) as con:
        truth = con.execute("select workflow_id, status from workflows order by 1").fetchall()
    assert [tuple(r) for r in csv.reader(io.StringIO(as_csv.stdout))] == [
        ("workflow_id", "status"),
        *truth,
    ]

    # Several statements in one -c, and two -c: every result is printed, in order.
    as_json = runner.invoke(
        cli,
        [
            *sql,
            "--format",
            "json",
            "-c",
            "select 1 as a; select 'x' as b",
            "-c",
            "select null as c",
        ],
    )
    assert as_json.exit_code == 0, as_json.output
    assert [json.loads(line) for line in as_json.stdout.splitlines()] == [
        {"a": 1},
        {"b": "x"},
        {"c": None},
    ]

    # A table cut at --max-rows says how many rows it left out.
    cut = runner.invoke(cli, [*sql, "--max-rows", "2", "-c", "select * from range(5)"])
    assert cut.exit_code == 0 and "2 rows shown, 3 more not shown" in cut.stdout

    # Read-only: a write is refused with one line, and the file is unchanged.
    before = warehouse.read_bytes()
    refused = runner.invoke(cli, [*sql, "-c", "delete from workflows"])
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: ") and "read-only" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert warehouse.read_bytes() == before

    # Standard input stops at the first error.
    piped = runner.invoke(cli, sql, input="select 1 as one; select nope; select 2 as two;")
    assert piped.exit_code == 1 and "one" in piped.stdout and "two" not in piped.stdout

    missing = runner.invoke(
        cli, ["sql", "--warehouse", str(tmp_path / "none.duckdb"), "-c", "select 1"]
    )
    assert missing.exit_code == 1
    assert missing.stderr.startswith(f"Error: No warehouse at {tmp_path / 'none.duckdb'}.")
    (tmp_path / "junk.duckdb").write_text("not a database")
    junk = runner.invoke(
        cli, ["sql", "--warehouse", str(tmp_path / "junk.duckdb"), "-c", "select 1"]
    )
    assert junk.exit_code == 1 and "Traceback" not in junk.output
    assert "Cannot open" in junk.stderr and len(junk.stderr.strip().splitlines()) == 1


def test_an_interactive_prompt_on_a_terminal(tmp_path: Path) -> None:
    warehouse = build_handmade_warehouse(tmp_path / "warehouse.duckdb")
    script = Path(sys.executable).with_name("civitai-sync")
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [str(script), "sql", "--warehouse", str(warehouse)],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        close_fds=True,
    )
    os.close(follower)
    typed = (
        "select count(*)\n",  # a statement over two lines
        "  as total from workflows;\n",
        "select nope;\n",  # an error does not end the session
        ".tables\n",
        ".quit\n",
    )
    screen = b""
    try:
        for line in typed:
            screen += _read_until(leader, proc, b"> ")
            os.write(leader, line.encode())
        screen += _read_until(leader, proc, None)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(leader)
    shown = screen.decode(errors="replace")
    assert "Connected read-only to" in shown
    assert "...> " in shown  # the continuation prompt
    with duckdb.connect(str(warehouse), read_only=True) as con:
        ((total,),) = con.execute("select count(*) from workflows").fetchall()
    assert re.search(rf"│ {total} +│", shown), shown
    assert "Error: " in shown and "nope" in shown
    assert "rpt_usage_daily" in shown  # .tables


def _read_until(fd: int, proc: subprocess.Popen, marker: bytes | None) -> bytes:
    """What the terminal shows until `marker` (None: until the program exits)."""
    got = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if marker is not None and got.endswith(marker):
            return got
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the program closed its terminal
                return got
            if not chunk:
                return got
            got += chunk
        elif proc.poll() is not None and marker is None:
            return got
    raise AssertionError(f"the prompt did not show {marker!r}; the screen so far:\n{got!r}")
