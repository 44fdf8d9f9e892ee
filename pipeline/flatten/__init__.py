"""Flattening archived pages into the workflow tables (`workflows`, `steps`, `jobs`, `blobs`,
`transactions`, `moderation_verdicts`) with explicit Arrow schemas.

`window.flatten_pages` is the entry point: `query` (the SQL pass, over the `members` that get
columns) -> `split` (Arrow, with `users`, `blobs`, `verdicts`) -> `writers` (Parquet), run by
`engine`, with `duplicates` deciding which copy of a repeated key is kept. `while_fetching`
runs the same pass while pages arrive.

May import: core, api, fetch.
"""
