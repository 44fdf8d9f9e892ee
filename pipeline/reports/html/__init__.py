"""The self-contained HTML report: moderation and usage charts for moderators and analysts.

`write_html_report` and `render_page` live in `render`; they are loaded on first use so that
importing the CLI (which registers `report html`) does not pay for importing matplotlib.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_FILE", "render_page", "write_html_report"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from pipeline.reports.html import render

        return getattr(render, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
