"""Debugging commands that talk to the live API: test, workflows, user, workflow, step, job,
results, blob.

They mirror the commands of civitai's own debugging script (same names, same options) so that
someone used to it finds the same answers here, but every request goes through the pipeline's
client: the same retries, error messages, token redaction and paging bounds as the sync. One
module per concept:

    api_common.py    the client from the environment, id and date parameters, parsing
    api_list.py      test, workflows, user
    api_workflow.py  workflow, step
    api_job.py       job (scan context, scores)
    api_blobs.py     results, blob, safe download paths
"""

from __future__ import annotations

import click

from pipeline.cli.api_blobs import UnsafeFileNameError, blob, results, safe_blob_path
from pipeline.cli.api_common import UtcDateTime
from pipeline.cli.api_job import classification_flags, job, score_text
from pipeline.cli.api_list import test, user, workflows
from pipeline.cli.api_workflow import step, workflow
from pipeline.flatten.users import workflow_user_id

__all__ = [
    "UnsafeFileNameError",
    "UtcDateTime",
    "classification_flags",
    "register",
    "safe_blob_path",
    "score_text",
    "workflow_user_id",
]


def register(group: click.Group) -> None:
    """Attach this family's commands to the root group."""
    for command in (test, workflows, user, workflow, step, job, results, blob):
        group.add_command(command)
