"""Settings from the environment and `.env` (python-dotenv's rules), and the token rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core import errors, settings
from pipeline.core.settings import Settings, clean_token

TOKEN = "sk-live-0123456789abcdef"


def from_dotenv(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Settings:
    path = tmp_path / ".env"
    path.write_text(text, encoding="utf-8")
    return Settings.from_env(env=env or {}, dotenv=path)


@pytest.mark.parametrize(
    "line",
    [
        f"CIVITAI_API_TOKEN={TOKEN}",
        f"CIVITAI_API_TOKEN={TOKEN}  # the production token",
        f'CIVITAI_API_TOKEN="{TOKEN}"',
        f"CIVITAI_API_TOKEN='{TOKEN}'  # quoted, then a comment",
        f"export CIVITAI_API_TOKEN={TOKEN}",
        f"  CIVITAI_API_TOKEN = {TOKEN}  ",
        f"CIVITAI_API_TOKEN={TOKEN}\r",
    ],
)
def test_dotenv_lines_give_the_bare_token(tmp_path: Path, line: str) -> None:
    assert from_dotenv(tmp_path, f"# comment\n\n{line}\n").token == TOKEN


def test_the_environment_wins_over_dotenv(tmp_path: Path) -> None:
    loaded = from_dotenv(
        tmp_path,
        "CIVITAI_API_TOKEN=from-file\nCIVITAI_API_URL=https://file.example\n",
        env={"CIVITAI_API_TOKEN": "from-env"},
    )
    assert loaded.token == "from-env"
    assert loaded.api_url == "https://file.example"


def test_no_dotenv_file_and_defaults(tmp_path: Path) -> None:
    loaded = Settings.from_env(env={}, dotenv=tmp_path / "missing.env")
    assert loaded.token is None
    assert loaded.api_url == settings.DEFAULT_API_URL
    assert loaded.allow_insecure_http is False


def test_the_insecure_http_opt_in_is_read_from_env_or_dotenv(tmp_path: Path) -> None:
    assert from_dotenv(tmp_path, "CIVITAI_SYNC_ALLOW_INSECURE_HTTP=1\n").allow_insecure_http
    env = {settings.ENV_ALLOW_INSECURE_HTTP: "true"}
    assert Settings.from_env(env=env, dotenv=None).allow_insecure_http
    env = {settings.ENV_ALLOW_INSECURE_HTTP: "0"}
    assert not Settings.from_env(env=env, dotenv=None).allow_insecure_http


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (f"{TOKEN}\n", TOKEN),
        (f"  {TOKEN}\t", TOKEN),
        ("", None),
        ("   \n", None),
        (None, None),
    ],
)
def test_clean_token(raw: str | None, expected: str | None) -> None:
    assert clean_token(raw) == expected
    assert Settings(token=raw).token == expected


@pytest.mark.parametrize("raw", [f"{TOKEN}\nsecond-line", f"tok\x1b[31m{TOKEN}", "a\x00b"])
def test_a_token_with_a_control_character_is_one_clear_error(raw: str) -> None:
    with pytest.raises(errors.ConfigError) as info:
        clean_token(raw)
    message = str(info.value)
    assert "\n" not in message and TOKEN not in message
    assert "CIVITAI_API_TOKEN" in message


def test_settings_repr_never_shows_the_token() -> None:
    assert TOKEN not in repr(Settings(token=TOKEN))


def test_warehouse_memory_is_a_checked_size_with_a_default_of_at_least_2_gib(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CIVITAI_SYNC_WAREHOUSE_MEMORY", raising=False)
    assert (
        Settings.from_env(
            {"CIVITAI_SYNC_WAREHOUSE_MEMORY": "6GB"}, dotenv=None
        ).warehouse_memory_limit
        == "6GB"
    )
    default = Settings.from_env({}, dotenv=None).warehouse_memory_limit
    assert default.endswith("MiB") and int(default.removesuffix("MiB")) >= 2048
    for bad in ("lots", "0GB", "-1GB", "6", "nan GB"):
        with pytest.raises(errors.ConfigError, match="CIVITAI_SYNC_WAREHOUSE_MEMORY"):
            Settings.from_env({"CIVITAI_SYNC_WAREHOUSE_MEMORY": bad}, dotenv=None)
    monkeypatch.setenv("CIVITAI_SYNC_WAREHOUSE_MEMORY", "3GiB")
    assert Settings().warehouse_memory_limit == "3GiB"
