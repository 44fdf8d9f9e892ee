"""What a user (or an attacker at the keyboard) types: numbers out of range on every command
that takes one, ids and blob names that try to reach another endpoint or leave `--dir`, and
API URLs the token must not go to. Each is refused with one line before any request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from pipeline.cli.app import cli
from tests.hostile.conftest import (
    TOKEN,
    Synced,
    assert_clean_failure,
    assert_window_failed_alone,
    cli_env,
    run_cli,
    sync_args,
)
from tests.hostile.proxy import HostileProxy
from tests.support.scripted_server import ScriptedServer, reply

BAD_NUMBERS = ["nan", "NaN", "inf", "-inf", "1e999", str(10**30), "-1", "-0.5"]


def numeric_options() -> Iterator[tuple[list[str], click.Option]]:
    """Every option of every command that takes a number (found by walking the CLI, so a
    new command is covered without being listed here)."""

    def walk(command: click.Command, path: list[str]) -> Iterator[tuple[list[str], click.Option]]:
        if isinstance(command, click.Group):
            for name, sub in sorted(command.commands.items()):
                yield from walk(sub, [*path, name])
            return
        for param in command.params:
            numeric = isinstance(param.type, click.types._NumberParamTypeBase)
            if isinstance(param, click.Option) and numeric and not param.count:
                yield path, param

    yield from walk(cli, [])


def placeholder_arguments(path: list[str]) -> list[str]:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return ["x" for p in command.params if isinstance(p, click.Argument) and p.required]


CASES = [
    (path, option.opts[-1], value)
    for path, option in numeric_options()
    for value in BAD_NUMBERS
    # Only values the option's own range does not allow (a seed may be negative).
    if not (
        value in ("-1", "-0.5")
        and getattr(option.type, "min", 0) is not None
        and option.type.min < 0
    )
]


def test_the_walk_finds_the_numeric_options() -> None:
    found = {(" ".join(path), opt) for path, opt, _ in CASES}
    for expected in [
        ("sync", "--lookback"),
        ("report flagged", "--threshold"),
        ("report moderation", "--threshold"),
        ("maintain", "--retention-hours"),
        ("sql", "--max-rows"),
        ("workflows", "--take"),
        ("workflow", "--wait"),
        ("simulator serve", "--latency-ms"),
    ]:
        assert expected in found


@pytest.mark.parametrize(("path", "option", "value"), CASES, ids=lambda v: str(v)[:12])
def test_a_number_out_of_range_is_a_usage_error_before_anything_runs(
    path: list[str], option: str, value: str, tmp_path: Path
) -> None:
    with ScriptedServer(reply(200, json={"items": []})) as server:
        args = [*path, *placeholder_arguments(path), f"{option}={value}"]
        result = run_cli(args, cli_env(server.url, tmp_path / "data"))
    stderr = assert_clean_failure(result, 2)
    assert option in stderr and "Invalid value" in stderr, stderr
    assert server.requests == []
    assert not (tmp_path / "data").exists()


# --------------------------------------------------------------------------- ids and blob names


@pytest.mark.parametrize(
    "args",
    [
        ["workflow", "%2F"],
        ["workflow", "%2e%2e"],
        ["step", "wf-1", "%2E%2E"],
        ["job", "a%2Fb"],
        ["results", "%5C"],
        ["blob", "/etc/passwd", "--download", "--dir", "dl"],
        ["blob", "../../x", "--download", "--dir", "dl"],
        ["blob", "%2F..%2Fx", "--download", "--dir", "dl"],
        ["blob", "C:\\x.jpg", "--download", "--dir", "dl"],
    ],
)
def test_an_id_or_blob_name_that_leaves_its_place_is_refused_before_any_request(
    args: list[str], tmp_path: Path
) -> None:
    with ScriptedServer(reply(200, json={})) as server:
        result = run_cli(args, cli_env(server.url, tmp_path / "data"))
    stderr = assert_clean_failure(result, 2)
    assert "cannot be used" in stderr
    assert server.requests == []
    assert [p for p in tmp_path.rglob("*")] == []


# --------------------------------------------------------------------------- API URLs


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("ftp://127.0.0.1:9", "ftp://"),
        ("htps://127.0.0.1:9", "htps://"),
        ("file:///etc/passwd", "file://"),
        ("http://192.0.2.10", "unencrypted"),
        ("http://example.com", "unencrypted"),
        ("https://user:pw@127.0.0.1:9", "password"),
        ("127.0.0.1:9", "scheme"),
    ],
)
def test_an_api_url_the_token_must_not_go_to_is_refused_before_any_request(
    synced: Synced, url: str, said: str
) -> None:
    result = run_cli(sync_args(synced.days), {**synced.env, "CIVITAI_API_URL": url})
    stderr = assert_clean_failure(result, 1)
    assert said in stderr.lower() and "CIVITAI_API_URL" in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert TOKEN not in stderr
    synced.assert_intact(untouched=synced.days)
    assert {s for s, _ in synced.ledger_status().values()} == {"complete"}


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9", "https://name-that-does-not-resolve.invalid"]
)
def test_an_unreachable_api_fails_each_window_at_once_and_keeps_the_data(
    synced: Synced, url: str
) -> None:
    result = run_cli(sync_args(synced.days), {**synced.env, "CIVITAI_API_URL": url})
    assert_clean_failure(result, 1)
    status = synced.ledger_status()
    for day in synced.days:
        state, error = status[day]
        assert state == "failed" and error
        assert "connection refused" in error or "Cannot resolve" in error, error
    synced.assert_intact(untouched=synced.days)


@pytest.mark.parametrize("rate", ["nan", "inf", "-1", "0", "1e309", "fast"])
def test_a_rate_limit_that_is_not_a_rate_is_refused_before_any_request(
    rate: str, tmp_path: Path
) -> None:
    with ScriptedServer(reply(200, json={"items": []})) as server:
        env = {
            **cli_env(server.url, tmp_path / "data"),
            # Read only with a shared budget; nothing listens there, and nothing may be tried.
            "CIVITAI_SYNC_RATE_BUDGET_URL": "redis://127.0.0.1:9/0",
            "CIVITAI_SYNC_RATE_LIMIT": rate,
        }
        result = run_cli(["sync", "--from", "2026-11-01", "--to", "2026-11-01"], env)
    stderr = assert_clean_failure(result, 1)
    assert "CIVITAI_SYNC_RATE_LIMIT" in stderr and len(stderr.strip().splitlines()) == 1
    assert server.requests == []


def test_a_token_with_a_trailing_newline_is_used_bare_and_never_stored(synced: Synced) -> None:
    def refuse(seen, upstream, proxy):
        return reply(400, json={"title": "Bad", "detail": seen.headers.get("authorization")})

    with HostileProxy(synced.server.url, day=synced.days[1], fault=refuse) as hostile:
        env = {**synced.env, "CIVITAI_API_URL": hostile.url, "CIVITAI_API_TOKEN": TOKEN + "\n"}
        result = run_cli(sync_args(synced.days), env)
        sent = {s.headers.get("authorization") for s in hostile.requests}
    assert sent == {f"Bearer {TOKEN}"}
    assert_window_failed_alone(synced, result, synced.days[1], "400")
