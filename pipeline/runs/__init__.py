"""Runs: sync and rebuild of windows (fetch -> flatten -> lake -> warehouse) and the
enrichment pass. The CLI and the Dagster assets call these.

May import: every stage above.
"""
