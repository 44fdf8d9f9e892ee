"""Fetching windows: UTC-day windows (windows.py), paging a window's cursor chains
(paging.py) within bounds that end a broken paging with a message (cursors.py), and the raw
page archive that `rebuild` re-reads without the API (archive.py).

May import: core, api.
"""
