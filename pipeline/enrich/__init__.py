"""Job enrichment: one v1 job lookup per job, turned into `job_details` and
`scan_scores` rows (scan-score parsing lives here).

May import: core, api, fetch, flatten.
"""
