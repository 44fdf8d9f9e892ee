"""Reports read from the warehouse: the text/CSV/JSON reports of the CLI, the checks
of their figures, and the self-contained HTML report.

May import: core, ..., warehouse.
"""
