"""Charts as static SVG drawn by matplotlib, ready to be inlined into the report page.

Only the object API (`Figure`) is used, never pyplot: no global figure state, so rendering is
safe inside a long-lived process such as the Dagster daemon. Text stays text (`svg.fonttype
none`): the browser draws it with a local sans-serif font, so nothing is embedded or fetched
and the files stay small. Each chart gets its own id salt because every SVG lands in one HTML
document, where clip-path ids of two charts must not collide.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any, ParamSpec, TypeVar

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

# About the width of a chart card on a laptop screen, so 9-point text shows at ~9 px.
WIDTH_IN = 6.6
HEIGHT_IN = 2.9
PALETTE = (
    "#4269d0",
    "#efb118",
    "#ff725c",
    "#6cc5b0",
    "#3ca951",
    "#ff8ab7",
    "#a463f2",
    "#97bbf5",
    "#9c6b4e",
    "#9498a0",
)
STATUS_COLORS = {
    "succeeded": "#3ca951",
    "failed": "#e5484d",
    "expired": "#efb118",
    "canceled": "#9498a0",
    "in_progress": "#4269d0",
}
RATE_COLOR = "#1f2937"
THRESHOLD_COLOR = "#e5484d"

_RC: dict[Any, Any] = {
    "svg.fonttype": "none",
    "text.parse_math": False,  # labels come from the data: "$0" is a step name, not TeX
    "font.family": "sans-serif",
    # Written into every <text>: a short list of fonts most systems have, metrics close to the
    # DejaVu Sans that matplotlib measured the labels with.
    "font.sans-serif": ["DejaVu Sans", "Verdana", "Arial"],
    "font.size": 9.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10.0,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "legend.frameon": False,
    "legend.fontsize": 8.0,
}
_PROLOGUE = re.compile(r"^.*?(?=<svg\b)", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_COMMENT = re.compile(r"<!--.*?-->\s*", re.S)
# Group ids ("figure_1", "patch_3") repeat in every chart; the page holds many charts and an id
# must be unique in a document. Clip-path and marker ids are hashed with the salt, so they stay.
_GROUP_ID = re.compile(r'<g id="[^"]*"')


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _styled(func: Callable[_P, _R]) -> Callable[_P, _R]:
    # Most style settings are read when an artist is created, so the whole chart is drawn
    # inside the style context (which also keeps the caller's rcParams untouched).
    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with matplotlib.rc_context(_RC):
            return func(*args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float | None]
    color: str | None = None
    dashed: bool = False


@_styled
def day_bars(
    name: str,
    title: str,
    days: Sequence[str],
    stacks: Sequence[Series],
    *,
    ylabel: str,
    rate: Series | None = None,
    rate_label: str = "",
) -> str:
    """Stacked bars per day, with an optional rate (0..1) line on a right-hand percent axis."""
    fig, ax = _figure()
    xs = list(range(len(days)))
    bottom = [0.0] * len(days)
    for i, series in enumerate(stacks):
        values = [float(v or 0) for v in series.values]
        ax.bar(
            xs,
            values,
            bottom=bottom,
            width=0.75,
            label=series.label,
            color=series.color or PALETTE[i % len(PALETTE)],
            linewidth=0,
        )
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    _day_axis(ax, days)
    ax.set_ylabel(ylabel)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(_compact))
    handles, labels = ax.get_legend_handles_labels()
    if rate is not None:
        twin = ax.twinx()
        twin.spines["right"].set_visible(True)
        ys = [float("nan") if v is None else float(v) for v in rate.values]
        (line,) = twin.plot(
            xs,
            ys,
            color=rate.color or RATE_COLOR,
            marker="o",
            markersize=3,
            linewidth=1.5,
            label=rate.label,
        )
        twin.set_ylim(0, max(0.05, *(y * 1.15 for y in ys if y == y)))
        twin.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
        twin.set_ylabel(rate_label)
        handles.append(line)
        labels.append(rate.label)
    _legend(ax, handles, labels, x=1.01 if rate is None else 1.16)
    ax.set_title(title)
    return to_svg(fig, name, title)


@_styled
def day_lines(
    name: str, title: str, days: Sequence[str], lines: Sequence[Series], *, ylabel: str
) -> str:
    """One line per series over the days; a missing value leaves a gap."""
    fig, ax = _figure()
    xs = list(range(len(days)))
    for i, series in enumerate(lines):
        ys = [float("nan") if v is None else float(v) for v in series.values]
        ax.plot(
            xs,
            ys,
            label=series.label,
            color=series.color or PALETTE[i % len(PALETTE)],
            linestyle="--" if series.dashed else "-",
            marker="o",
            markersize=3,
            linewidth=1.5,
        )
    _day_axis(ax, days)
    ax.set_ylabel(ylabel)
    ax.yaxis.set_major_formatter(FuncFormatter(_compact))
    ax.axhline(0, color="#d1d5db", linewidth=0.8, zorder=0)
    _legend(ax, *ax.get_legend_handles_labels())
    ax.set_title(title)
    return to_svg(fig, name, title)


@_styled
def hbars(
    name: str, title: str, labels: Sequence[str], stacks: Sequence[Series], *, xlabel: str
) -> str:
    """Horizontal (stacked) bars, first label on top; for ranked categories."""
    height = max(1.6, 0.6 + 0.26 * len(labels))
    fig, ax = _figure(height)
    ys = list(range(len(labels)))
    left = [0.0] * len(labels)
    for i, series in enumerate(stacks):
        values = [float(v or 0) for v in series.values]
        ax.barh(
            ys,
            values,
            left=left,
            height=0.7,
            label=series.label,
            color=series.color or PALETTE[i % len(PALETTE)],
            linewidth=0,
        )
        left = [a + v for a, v in zip(left, values, strict=True)]
    ax.set_yticks(ys, [_shorten(label) for label in labels])
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(_compact))
    for y, total in zip(ys, left, strict=True):
        ax.annotate(
            _compact(total),
            (total, y),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=7.5,
            color="#374151",
        )
    if len(stacks) > 1:
        _legend(ax, *ax.get_legend_handles_labels())
    ax.set_title(title)
    return to_svg(fig, name, title)


@_styled
def histogram(
    name: str,
    title: str,
    edges: Sequence[tuple[float, float]],
    counts: Sequence[int],
    *,
    threshold: float,
    xlabel: str,
) -> str:
    """Bars over [from, to) buckets, a log count axis, and the flag threshold as a line."""
    fig, ax = _figure()
    lefts = [lo for lo, _ in edges]
    widths = [hi - lo for lo, hi in edges]
    colors = [THRESHOLD_COLOR if lo >= threshold else PALETTE[0] for lo, _ in edges]
    ax.bar(
        lefts, counts, width=widths, align="edge", color=colors, linewidth=0.5, edgecolor="white"
    )
    if any(counts):
        ax.set_yscale("symlog", linthresh=1)
        ax.set_ylim(0, max(counts) * 2)
        ax.yaxis.set_major_formatter(FuncFormatter(_compact))
    ax.axvline(threshold, color=THRESHOLD_COLOR, linestyle="--", linewidth=1)
    ax.annotate(
        f"threshold {threshold:g} %",
        (threshold, 1),
        xycoords=("data", "axes fraction"),
        xytext=(4, -10),
        textcoords="offset points",
        color=THRESHOLD_COLOR,
        fontsize=8,
    )
    ax.set_xlim(edges[0][0], edges[-1][1])
    ax.set_xlabel(xlabel)
    ax.set_ylabel("jobs (log scale)")
    ax.set_title(title)
    return to_svg(fig, name, title)


def to_svg(fig: Figure, name: str, title: str) -> str:
    """The figure as an `<svg>` element for inlining, marked `data-chart="name"`."""
    buffer = io.StringIO()
    style: dict[Any, Any] = {**_RC, "svg.hashsalt": f"chart-{name}"}
    with matplotlib.rc_context(style):
        FigureCanvasSVG(fig).print_svg(buffer, metadata={"Date": None, "Creator": None})
    svg = _PROLOGUE.sub("", buffer.getvalue(), count=1)
    svg = _GROUP_ID.sub("<g", _COMMENT.sub("", _METADATA.sub("", svg)))
    attributes = (
        f'<svg data-chart="{escape(name)}" class="chart" role="img" aria-label="{escape(title)}" '
    )
    return svg.replace("<svg ", attributes, 1).strip()


def _figure(height: float = HEIGHT_IN) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(WIDTH_IN, height), layout="constrained")
    return fig, fig.add_subplot()


def _day_axis(ax: Axes, days: Sequence[str]) -> None:
    # Day labels by position, thinned so at most 8 are printed whatever the range; the year
    # is dropped when there are many (the page header says which days).
    step = max(1, -(-len(days) // 8))
    ticks = list(range(0, len(days), step))
    ax.set_xticks(ticks, [days[i][5:] if len(days) > 7 else days[i] for i in ticks])
    ax.set_xlim(-0.6, len(days) - 0.4)
    ax.tick_params(axis="x", labelsize=8)


def _legend(ax: Axes, handles: Sequence[Any], labels: Sequence[str], x: float = 1.01) -> None:
    # Outside the plot on the right, so it never hides a bar.
    if handles:
        ax.legend(
            list(handles),
            [_shorten(label, 28) for label in labels],
            loc="upper left",
            bbox_to_anchor=(x, 1.0),
        )


def _compact(value: float, _pos: object = None) -> str:
    magnitude = abs(value)
    if magnitude >= 1_000_000:
        return f"{value / 1_000_000:.1f}M".replace(".0M", "M")
    if magnitude >= 10_000:
        return f"{value / 1_000:.0f}k"
    if magnitude >= 1_000:
        return f"{value / 1_000:.1f}k".replace(".0k", "k")
    if float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.1f}"


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
