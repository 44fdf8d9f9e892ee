"""Where the pipeline's log records go when it runs as a command: one line per event on stderr.

The library only ever calls `logging.getLogger(__name__)`; `configure()` is called once per
command by the CLI (and may be called by anyone embedding the pipeline). A line is logfmt,
easy to read and to parse (`grep`, Loki, `humanlog`):

    ts=2026-12-03T02:00:14.512Z level=info logger=pipeline.cli.progress msg="enriching" window=2026-12-02 done=3200 total=11630 eta_s=171

Structured fields are the record's `extra=` keys. Every line goes through the redaction rules
(`pipeline.core.redact`) with the API token as a secret, whatever logged it, so neither the
token nor a signed URL's query reaches the log.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any, TextIO

from pipeline.core.redact import Redactor

ENV_LOG_LEVEL = "CIVITAI_SYNC_LOG_LEVEL"
LEVELS = ("debug", "info", "warning", "error")
# The project's own loggers: shown from the chosen level; everything else (httpx, deltalake,
# ...) only from warnings, except at debug level, where httpx's line per request is worth it.
OWN_LOGGERS = ("pipeline", "simulator", "assets")

# Attributes every LogRecord has; anything else on a record came from `extra=` and is a field.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


def _quote(value: str) -> str:
    if value and not any(ch in value for ch in ' ="\\') and value.isprintable():
        return value
    return json.dumps(value, ensure_ascii=False)


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        value = value.astimezone(UTC) if value.tzinfo else value
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value == value else "nan"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields of a record (its `extra=` keys), in the order they were given."""
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _STANDARD and not key.startswith("_") and value is not None
    }


class LogfmtFormatter(logging.Formatter):
    """`ts=... level=... logger=... msg="..." key=value ...`, one line whatever the message
    holds (newlines of a message or a traceback are escaped), with secrets removed."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        self.redact = Redactor(secrets)

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, UTC)
        parts = [
            f"ts={at.strftime('%Y-%m-%dT%H:%M:%S')}.{at.microsecond // 1000:03d}Z",
            f"level={record.levelname.lower()}",
            f"logger={record.name}",
            f"msg={_quote(record.getMessage())}",
        ]
        parts.extend(f"{key}={_quote(_text(value))}" for key, value in fields(record).items())
        if record.exc_info:
            parts.append(f"exc={_quote(self.formatException(record.exc_info))}")
        return self.redact(" ".join(parts))


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is when a record is emitted (a progress display, or a
    test runner, may have swapped it since the handler was installed)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def default_level(environ: Mapping[str, str] | None = None, stream: Any = None) -> int:
    """CIVITAI_SYNC_LOG_LEVEL if set; else warnings only on a terminal (where progress bars
    show what is going on) and info otherwise (a cron job's log gets progress lines)."""
    env = os.environ if environ is None else environ
    named = (env.get(ENV_LOG_LEVEL) or "").strip().lower()
    if named in LEVELS:
        return level_number(named)
    target = sys.stderr if stream is None else stream
    isatty = getattr(target, "isatty", None)
    return logging.WARNING if isatty is not None and isatty() else logging.INFO


def level_number(name: str) -> int:
    if name.lower() not in LEVELS:
        raise ValueError(f"unknown log level {name!r}; use one of {', '.join(LEVELS)}")
    return int(getattr(logging, name.upper()))


def level_for_verbosity(verbose: int, default: int) -> int:
    """-v: info, -vv: debug; never quieter than `default`."""
    if verbose >= 2:
        return logging.DEBUG
    if verbose == 1:
        return min(logging.INFO, default)
    return default


class _ThirdPartyFilter(logging.Filter):
    """Other libraries' records only from warnings up (from info at debug level)."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.floor = logging.INFO if level <= logging.DEBUG else logging.WARNING

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.partition(".")[0] in OWN_LOGGERS or record.levelno >= self.floor


def configure(level: int, *, secrets: Iterable[str | None] = ()) -> None:
    """Send the pipeline's records at `level` and above to stderr, one logfmt line each.

    Only the root logger's level is set (no level is pinned on the pipeline's own loggers, so
    whoever embeds it, or a test's log capture, can still raise or lower them). Idempotent: a
    second call replaces the handler of the first (a test runner invokes many commands in one
    process).
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, StderrHandler):
            root.removeHandler(handler)
    handler = StderrHandler()
    handler.setFormatter(LogfmtFormatter(secrets))
    handler.addFilter(_ThirdPartyFilter(level))
    root.addHandler(handler)
    root.setLevel(level)
