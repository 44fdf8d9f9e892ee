"""The log set-up of the command line: one logfmt line per event, fields, levels, no secrets."""

from __future__ import annotations

import io
import logging
import shlex
from collections.abc import Iterator
from datetime import date

import pytest

from pipeline.core import log

TOKEN = "tok-Very-Secret-123"


def _parse(line: str) -> dict[str, str]:
    """A logfmt line read by shlex (quotes as a shell reads them), independent of the writer."""
    pairs = {}
    for part in shlex.split(line):
        key, _, value = part.partition("=")
        pairs[key] = value
    return pairs


class _Err:
    """What the handler wrote to stderr so far (pytest's capture, read through capsys)."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.seen = ""

    def getvalue(self) -> str:
        self.seen += self.capsys.readouterr().err
        return self.seen


@pytest.fixture
def stderr(capsys: pytest.CaptureFixture[str]) -> Iterator[_Err]:
    yield _Err(capsys)
    log.configure(logging.WARNING)


def test_a_record_is_one_line_with_time_level_logger_message_and_fields(stderr) -> None:
    log.configure(logging.INFO)
    logging.getLogger("pipeline.test").info(
        "window synced", extra={"window": date(2026, 11, 2), "pages": 12, "mode": "server side"}
    )
    (line,) = stderr.getvalue().splitlines()
    fields = _parse(line)
    assert fields["level"] == "info" and fields["logger"] == "pipeline.test"
    assert fields["msg"] == "window synced"
    assert fields["window"] == "2026-11-02" and fields["pages"] == "12"
    assert fields["mode"] == "server side"
    assert fields["ts"].endswith("Z") and fields["ts"][10] == "T"


def test_newlines_and_tracebacks_stay_on_one_line(stderr) -> None:
    log.configure(logging.INFO)
    logger = logging.getLogger("pipeline.test")
    try:
        raise ValueError("first line\nsecond line")
    except ValueError:
        logger.exception("it broke\nbadly")
    (line,) = stderr.getvalue().splitlines()
    fields = _parse(line)
    assert fields["msg"] == "it broke\\nbadly"
    assert "ValueError: first line" in fields["exc"]


def test_the_token_and_signed_url_queries_never_reach_the_log(stderr) -> None:
    log.configure(logging.DEBUG, secrets=[TOKEN])
    logger = logging.getLogger("pipeline.test")
    logger.warning(f"server echoed Authorization: Bearer {TOKEN}")
    logger.info("blob", extra={"url": "https://cdn.example/b/x.jpeg?sig=abc123&exp=9"})
    logger.info("token in a field", extra={"detail": f"token={TOKEN}"})
    out = stderr.getvalue()
    assert len(out.splitlines()) == 3
    assert TOKEN not in out
    assert "sig=abc123" not in out and "abc123" not in out


def test_levels_own_loggers_and_third_party(stderr) -> None:
    log.configure(logging.WARNING)
    logging.getLogger("pipeline.test").info("hidden")
    logging.getLogger("simulator.server").warning("shown")
    log.configure(logging.INFO)
    logging.getLogger("pipeline.test").info("now shown")
    logging.getLogger("httpx").info("a request line")  # third party: warnings only
    log.configure(logging.DEBUG)
    logging.getLogger("pipeline.test").debug("debug shown")
    logging.getLogger("httpx").info("a request line at -vv")
    messages = [_parse(line)["msg"] for line in stderr.getvalue().splitlines()]
    assert messages == ["shown", "now shown", "debug shown", "a request line at -vv"]


def test_configure_twice_installs_one_handler(stderr) -> None:
    log.configure(logging.INFO)
    log.configure(logging.INFO)
    logging.getLogger("pipeline.test").info("once")
    assert len(stderr.getvalue().splitlines()) == 1


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_default_level_quiet_on_a_terminal_info_otherwise_env_wins() -> None:
    assert log.default_level({}, _Tty()) == logging.WARNING
    assert log.default_level({}, io.StringIO()) == logging.INFO
    assert log.default_level({log.ENV_LOG_LEVEL: "debug"}, _Tty()) == logging.DEBUG
    assert log.default_level({log.ENV_LOG_LEVEL: "nonsense"}, _Tty()) == logging.WARNING
    assert log.level_for_verbosity(1, logging.WARNING) == logging.INFO
    assert log.level_for_verbosity(2, logging.WARNING) == logging.DEBUG
    assert log.level_for_verbosity(0, logging.ERROR) == logging.ERROR
    with pytest.raises(ValueError, match="unknown log level"):
        log.level_number("loud")
