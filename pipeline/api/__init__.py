"""Talking to the Orchestration API.

    client.py     OrchestrationClient: one method per read endpoint, retries, downloads
    endpoints.py  what each request looks like; ids checked and encoded as path segments
    transport.py  which URLs may receive the token; the httpx connection pool
    responses.py  raw answers and pages as received, bodies read with a size cap
    failures.py   error bodies and transport failures -> pipeline errors; retry delays
    ratelimit.py  the request-rate budget (adaptive, shared by every thread of a process)
    stats.py      a client's figures: requests, 429s, retries, effective rate
    models.py     pydantic models of workflows, steps, jobs, blobs (lenient on purpose)

May import: core.
"""
