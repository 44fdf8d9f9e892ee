"""The DuckDB warehouse analysts open: publishing it from the lake, and the SQL models
of `sql/` (shipped as `pipeline.sql`) built on top, in dependency order.

May import: core, api, fetch, flatten, enrich, lake.
"""
