"""Talking to the Orchestration API.

    client.py     OrchestrationClient: one method per read endpoint, and downloads
    sender.py     one logical request: on the wire, read with a size cap, retried, counted
    endpoints.py  what each request looks like; ids checked and encoded as path segments
    transport.py  which URLs may receive the token; the one httpx connection pool
    responses.py  raw answers and pages as received
    failures.py   error bodies and transport failures -> pipeline errors; retry delays
    ratelimit.py  the request-rate budget (adaptive; an interface a shared one can implement)
    stats.py      a client's figures: requests, 429s, retries, effective rate
    vocabulary.py which statuses are final, which way Buzz counts (also as SQL macros)
    models.py     pydantic models of workflows, steps and jobs (lenient on purpose),
                  with base.py (shared model config) and blobs.py (blobs at any depth)

May import: core.
"""
