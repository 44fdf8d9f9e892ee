"""The numbers a command line may hold: every numeric option has both bounds, and a float
option refuses NaN and the infinities (click's FloatRange lets NaN through: every comparison
with it is false), so that a wrong value is a usage error (exit 2) before anything runs, never
an overflow deep inside a run or a threshold nothing can meet."""

from __future__ import annotations

import math
from typing import Any

import click

# The API's integer parameters are int32 (the OpenAPI document's `format: int32`).
INT32_MAX = 2**31 - 1
# Days back a range may reach: ten years is more than any account's history.
MAX_DAYS = 3650


def count(low: int, high: int) -> click.IntRange:
    """A whole number from `low` to `high`, both included."""
    return click.IntRange(low, high)


class FiniteFloatRange(click.FloatRange):
    """click.FloatRange that also refuses nan, inf and -inf (however they are spelled)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)


def decimal(low: float, high: float) -> FiniteFloatRange:
    """A finite number from `low` to `high`, both included."""
    return FiniteFloatRange(low, high)
