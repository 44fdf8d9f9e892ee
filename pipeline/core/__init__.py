"""The rules every stage shares, written once: settings (environment, `.env`, defaults),
the error tree, time formats, redaction of secrets, durable file writes and locks.

Imports nothing of the pipeline.
"""
