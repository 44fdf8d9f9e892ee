"""Fetching windows: UTC-day windows, paging a window's cursor chains, and the raw page
archive that `rebuild` re-reads without the API.

May import: core, api.
"""
