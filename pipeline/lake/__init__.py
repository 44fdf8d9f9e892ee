"""The lake: every table's schema and key, the table files of each window, and the
window ledger.

May import: core, api, fetch, flatten, enrich.
"""
