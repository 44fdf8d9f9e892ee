"""civitai-orchestration-sync: the Civitai Orchestration API account's history in a lake and a
DuckDB warehouse.

Folders follow the stages in the order data flows, and each imports only those above it:

    core/       rules every stage shares (settings, errors, time formats, redaction, files)
    api/        the HTTP client, transport, response models
    fetch/      windows, paging a window, the raw page archive
    flatten/    archived pages -> workflow tables
    enrich/     v1 job lookups -> job_details, scan_scores
    lake/       table schemas and files, the window ledger
    warehouse/  warehouse.duckdb and the SQL models
    reports/    text and HTML reports over the warehouse
    runs/       sync, rebuild, enrichment runs (what the CLI and Dagster call)
    cli/        the `civitai-sync` command

No module here imports Dagster; `assets/` is the Dagster layer on top.
"""
