"""The exit statuses of `civitai-sync`, documented in its `--help` and the README.

A script (cron, CI, a monitoring check) can tell them apart without parsing output:

    0    done: every window asked for is complete (today's: partial), or nothing to do
    1    failed: a window, the run, or the configuration (the message says what to do)
    2    usage: an option or an argument is wrong (nothing was run)
    3    busy: another process holds a window this run needed; it was left as it is (run
         again later; nothing failed)
    130  interrupted (Ctrl-C, SIGINT)
"""

from __future__ import annotations

import click

OK = 0
FAILED = 1
USAGE = 2
BUSY = 3
INTERRUPTED = 130

HELP_EPILOG = """\b
Exit status:
  0    done (every window complete; today's partial), or nothing to do
  1    a window, the run or the configuration failed (the message says what to do)
  2    usage error: a wrong option or argument, nothing was run
  3    busy: another process is syncing a window this run needed; run again later
  130  interrupted (Ctrl-C)

\b
Logging: -v (info) or -vv (debug), or --log-level LEVEL, before or after the command;
one logfmt line per event on stderr. Default: warnings on a terminal, info otherwise.
"""


class RunFailed(click.ClickException):
    """A run that ended with failed windows: exit status 1."""

    exit_code = FAILED


class Busy(click.ClickException):
    """A run that skipped windows another process holds (and failed none): exit status 3."""

    exit_code = BUSY
