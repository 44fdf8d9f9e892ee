"""The Dagster layer: thin assets, checks and schedules over `pipeline/`.

Modules that define ops avoid `from __future__ import annotations`: Dagster inspects the
annotations of `context`, config and resource parameters when the definitions load.
"""
