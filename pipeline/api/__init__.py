"""Talking to the Orchestration API: the HTTP client (retries, `Retry-After`, the shared
request-rate budget), the transport, the response models and their validation.

May import: core.
"""
