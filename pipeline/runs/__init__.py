"""Runs: sync and rebuild of windows (fetch -> flatten -> lake -> warehouse) and the
enrichment pass. The CLI and the Dagster assets call these.

    sync.py          sync and rebuild of windows
    enrich.py        the enrichment pass of a window, and its rebuild from the job archive
    enrich_lake.py   what that pass reads from the lake and how it publishes
    job_client.py    the job-lookup client and the one request budget it draws from
    housekeeping.py  forget, maintain (vacuum)
    upgrade.py       an older lake layout -> Delta

May import: every stage above.
"""
