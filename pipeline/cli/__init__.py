"""The `civitai-sync` command line."""

from __future__ import annotations

from pipeline.cli.app import main

__all__ = ["main"]
