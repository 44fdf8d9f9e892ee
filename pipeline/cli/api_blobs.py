"""`results` and `blob`: a workflow's output blobs (at any depth of any step's output), a
blob's content URL, and downloads into a directory.

Downloads never write outside `--dir`: the file is named after the blob id, which must be
one plain file name (a hostile id is refused, not rewritten), whatever the server's
Content-Disposition says; and the token never goes to the content host (content URLs are
signed).
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import click
from rich.console import Console
from rich.text import Text

from pipeline.api.client import OrchestrationClient
from pipeline.api.models import Workflow, iter_output_blobs
from pipeline.cli.api_common import BLOB_ID, WORKFLOW_ID, api_client, parse_body
from pipeline.cli.api_workflow import blobs_table
from pipeline.cli.output import clean, status_text, stdout_console
from pipeline.core.errors import PipelineError

DEFAULT_DOWNLOAD_DIR = "downloads"
# The blob endpoint's nsfwLevel is a ceiling; the highest level lets mature content through.
NSFW_ALLOW_ALL = "xxx"


class UnsafeFileNameError(ValueError):
    """A blob id that cannot be used as a file name inside the download directory."""


_MAX_NAME_BYTES = 255


def safe_blob_path(directory: Path, blob_id: str) -> Path:
    """The file a blob is downloaded to: `directory/<blob_id>`, never anywhere else.

    Blob ids come from the API, so they are treated as hostile: anything that is not one plain
    file name (path separators of any OS, `..`, a drive or stream colon, NUL and other control
    characters, a leading dot, an over-long name) is refused rather than rewritten, because a
    rewritten name could silently overwrite another blob's file. The resolved target must
    still sit directly in the resolved directory (this also refuses a pre-existing symlink).

    Raises:
        UnsafeFileNameError: the id is not usable as a file name.
    """
    if not isinstance(blob_id, str) or not blob_id:
        raise UnsafeFileNameError("empty blob id")
    problems = []
    if any(sep in blob_id for sep in ("/", "\\")) or (os.altsep and os.altsep in blob_id):
        problems.append("path separator")
    if ".." in blob_id:
        problems.append("'..'")
    if blob_id.startswith("."):
        problems.append("leading dot")
    if ":" in blob_id:
        problems.append("colon")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in blob_id):
        problems.append("control character")
    if blob_id != blob_id.strip():
        problems.append("surrounding whitespace")
    if len(blob_id.encode("utf-8", errors="surrogatepass")) > _MAX_NAME_BYTES:
        problems.append("too long")
    if os.path.isabs(blob_id) or Path(blob_id).name != blob_id:
        problems.append("not a plain file name")
    if problems:
        raise UnsafeFileNameError(f"{blob_id!r} is not a safe file name ({', '.join(problems)})")
    root = directory.resolve()
    target = (root / blob_id).resolve()
    if target.parent != root or target.name != blob_id:
        raise UnsafeFileNameError(f"{blob_id!r} would resolve outside {root}")
    return target


def _download_blob(
    client: OrchestrationClient,
    console: Console,
    blob_id: str,
    directory: Path,
    *,
    workflow_id: str | None,
    nsfw: bool,
) -> bool:
    """Fetch one blob into `directory`; False (and a printed reason) when it failed."""
    try:
        dest = safe_blob_path(directory, blob_id)
    except UnsafeFileNameError as exc:
        console.print(Text(clean(f"  skipped: {exc}"), style="red"))
        return False
    try:
        url = client.get_blob_url(
            blob_id, workflow_id=workflow_id, nsfw_level=NSFW_ALLOW_ALL if nsfw else None
        )
        size = client.download(url, dest)
    except PipelineError as exc:
        console.print(Text(clean(f"  failed {blob_id!r}: {exc}"), style="red"))
        return False
    console.print(Text(clean(f"  downloaded {dest} ({size} bytes)")))
    return True


_DIR_OPTION = click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DOWNLOAD_DIR,
    show_default=True,
    help="Where downloads go (created if missing).",
)
_NSFW_OPTION = click.option(
    "--nsfw", is_flag=True, help="Allow mature content (asks the blob endpoint for nsfwLevel=xxx)."
)


@click.command()
@click.argument("workflow_id", type=WORKFLOW_ID)
@click.option("--download", is_flag=True, help="Download every available output blob.")
@_DIR_OPTION
@_NSFW_OPTION
def results(workflow_id: str, download: bool, directory: Path, nsfw: bool) -> None:
    """List the output blobs of every step of a workflow; optionally download them."""
    console = stdout_console()
    with api_client() as client:
        raw = client.get_workflow_raw(workflow_id, hide_mature_content=False)
        wf = parse_body(
            Workflow, raw, f"workflow {workflow_id!r}", "GET /v2/consumer/workflows/{workflowId}"
        )
        found = [(s.name, blob) for s in wf.steps for blob in iter_output_blobs(s.output_data())]
        console.print(
            Text.assemble(
                ("Workflow ", "bold"),
                (clean(wf.id), "bold cyan"),
                "  ",
                status_text(wf.status),
                f"  {len(wf.steps)} step(s), {len(found)} output blob(s)",
            )
        )
        if found:
            console.print(blobs_table(None, found))
        if not download:
            return
        available = [(name, b) for name, b in found if b[2].get("available")]
        skipped = len(found) - len(available)
        console.print(
            Text(
                f"Downloading {len(available)} available blob(s) to {directory}"
                + (f" ({skipped} unavailable, skipped)" if skipped else "")
            )
        )
        failed = 0
        for _name, (_key, _index, blob) in available:
            if not _download_blob(
                client, console, str(blob.get("id")), directory, workflow_id=wf.id, nsfw=nsfw
            ):
                failed += 1
    if failed:
        raise click.ClickException(f"{failed} of {len(available)} download(s) failed.")


@click.command()
@click.argument("blob_id", type=BLOB_ID)
@click.option("--download", is_flag=True, help="Download the blob into --dir.")
@_NSFW_OPTION
@_DIR_OPTION
@click.option(
    "--workflow",
    "workflow_id",
    type=WORKFLOW_ID,
    default=None,
    help="The workflow the blob belongs to.",
)
def blob(
    blob_id: str, download: bool, nsfw: bool, directory: Path, workflow_id: str | None
) -> None:
    """Print a blob's content URL (the blob endpoint's redirect), or download the blob.

    The URL is signed: anyone holding it can fetch the content until it expires.
    """
    console = stdout_console()
    with api_client() as client:
        if download:
            if not _download_blob(
                client, console, blob_id, directory, workflow_id=workflow_id, nsfw=nsfw
            ):
                raise click.ClickException(f"Could not download blob {blob_id!r}.")
            return
        url = client.get_blob_url(
            blob_id, workflow_id=workflow_id, nsfw_level=NSFW_ALLOW_ALL if nsfw else None
        )
    console.print(Text.assemble(("Blob URL: ", "bold"), clean(url)), soft_wrap=True)
