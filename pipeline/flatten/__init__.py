"""Flattening archived pages into the workflow tables (`workflows`, `steps`, `jobs`,
`blobs`, `transactions`) with explicit Arrow schemas.

May import: core, api, fetch.
"""
