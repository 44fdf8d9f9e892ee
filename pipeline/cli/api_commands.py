"""Placeholder: commands of this family are registered here."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Attach this family's commands to the root group."""
