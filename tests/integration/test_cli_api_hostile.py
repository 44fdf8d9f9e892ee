"""The debugging commands against what a hostile or unusual API can send: ids that try to reach
other endpoints, blob ids and Content-Disposition names that try to leave `--dir`, redirects
to another host, and every workflow shape the schema allows (imageUpload's string input,
unknown step types, nested blobs, ISO-8601 and .NET timeouts).

A real local server answers (tests/support/scripted_server.py); `blob --nsfw` also runs
against the simulator.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from click.testing import CliRunner, Result

from pipeline.cli.app import cli
from simulator import SimulatorServer
from tests.support.scripted_server import Answer, ScriptedServer, Seen, reply

TOKEN = "hostile-token"


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("CIVITAI_API_TOKEN", "CIVITAI_API_URL", "CIVITAI_SYNC_ALLOW_INSECURE_HTTP"):
        monkeypatch.delenv(name, raising=False)


def run(url: str, *args: str, token: str = TOKEN) -> Result:
    return CliRunner().invoke(
        cli, list(args), env={"CIVITAI_API_URL": url, "CIVITAI_API_TOKEN": token}
    )


def workflow_doc(steps: list[dict[str, Any]], wf_id: str = "hostile-1") -> dict[str, Any]:
    return {"id": wf_id, "createdAt": "2026-11-01T00:00:00Z", "status": "succeeded", "steps": steps}


def image_step(blob_ids: list[str]) -> dict[str, Any]:
    return {
        "$type": "textToImage",
        "name": "$0",
        "status": "succeeded",
        "input": {"prompt": "x"},
        "output": {"images": [{"id": b, "available": True, "type": "image"} for b in blob_ids]},
    }


def api(
    doc: dict[str, Any],
    *,
    content_url: Callable[[str], str] | None = None,
    disposition: str | None = None,
) -> Callable[[Seen], Answer]:
    """Routes of a small API serving one workflow, its blobs' redirects and their content."""

    def route(seen: Seen) -> Answer:
        path = seen.path
        if path.startswith("/v2/consumer/blobs/content/"):
            name = unquote(path.rsplit("/", 1)[1])
            headers = {"Content-Type": "image/jpeg"}
            if disposition:
                headers["Content-Disposition"] = disposition
            return reply(200, content=f"content of {name}", headers=headers)
        if seen.headers.get("authorization") != f"Bearer {TOKEN}":
            return reply(401, json={"title": "Unauthorized", "status": 401})
        if path == f"/v2/consumer/workflows/{doc['id']}":
            return reply(200, json=doc)
        if path.startswith(f"/v2/consumer/workflows/{doc['id']}/steps/"):
            name = unquote(path.rsplit("/", 1)[1])
            found = [s for s in doc["steps"] if s["name"] == name]
            return reply(200, json=found[0]) if found else reply(404, json={"status": 404})
        if path.startswith("/v2/consumer/blobs/"):
            blob_id = unquote(path[len("/v2/consumer/blobs/") :])
            target = "/v2/consumer/blobs/content/" + quote(blob_id, safe="")
            location = content_url(blob_id) if content_url else target
            return reply(308, headers={"Location": location})
        return reply(404, json={"title": "Not Found", "status": 404})

    return route


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


# ##### ids


@pytest.mark.parametrize(
    "args",
    [
        ["workflow", ".."],
        ["workflow", "."],
        ["workflow", "a/b"],
        ["workflow", "..\\x"],
        ["workflow", ""],
        ["step", "wf-1", "../x"],
        ["step", "..", "$0"],
        ["job", "a\nb"],
        ["results", "../../v1/consumer/jobs"],
        ["blob", "../../evil.jpg", "--download", "--dir", "dl"],
        ["blob", "good.jpg", "--workflow", ".."],
        ["workflow", "a%2Fb"],
        ["workflow", "%2e%2e"],
        ["job", "%5C"],
        ["blob", "%2E%2E", "--download", "--dir", "dl"],
    ],
)
def test_an_id_that_is_not_one_path_segment_is_a_usage_error_before_any_request(
    args: list[str], tmp_path: Path
) -> None:
    with ScriptedServer(api(workflow_doc([]))) as server:
        result = run(server.url, *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "cannot be used" in result.stderr and "pass the id as the API gave it" in result.stderr
    assert server.requests == []
    assert files_under(tmp_path) == []


def test_a_percent_sign_in_an_id_is_sent_encoded() -> None:
    with ScriptedServer(api(workflow_doc([]))) as server:
        result = run(server.url, "workflow", "a%41b%")
    assert result.exit_code == 1  # not found, but at the endpoint it was meant for
    assert server.requests[0].target == "/v2/consumer/workflows/a%2541b%25"


# ##### every workflow shape


ODD_STEPS = [
    {
        "$type": "imageUpload",
        "name": "upload",
        "status": "succeeded",
        "timeout": "PT20M",
        "input": "https://uploads.example.invalid/in.png?sig=SECRETSIG",
        "output": {"blob": {"id": "upload.png", "available": True, "type": "image"}},
    },
    {
        "$type": "futureStepType",
        "name": "train",
        "status": "processing",
        "timeout": "1.02:03:04.5",
        "input": {"unknown": [1, 2]},
        "output": {
            "epochs": [
                {
                    "model": {"id": "m1.safetensors", "available": True},
                    "samples": [{"id": "s1.jpg", "available": True}],
                }
            ]
        },
        "jobs": [{"id": "job-1", "status": "processing"}],
    },
]


def test_workflow_shows_upload_steps_unknown_types_nested_blobs_and_both_timeout_forms() -> None:
    doc = workflow_doc(ODD_STEPS)
    doc["tags"] = None
    with ScriptedServer(api(doc)) as server:
        result = run(server.url, "workflow", "hostile-1")
        upload = run(server.url, "step", "hostile-1", "upload")
        train = run(server.url, "step", "hostile-1", "train")
    assert result.exit_code == 0, result.output
    for shown in ("imageUpload", "futureStepType", "upload.png", "m1.safetensors", "s1.jpg"):
        assert shown in result.stdout
    assert upload.exit_code == 0, upload.output
    assert "20 min 0 s (PT20M)" in upload.stdout
    assert "https://uploads.example.invalid/in.png" in upload.stdout
    assert "SECRETSIG" not in upload.stdout
    assert train.exit_code == 0, train.output
    assert "26 h 3 min (1.02:03:04.5)" in train.stdout
    assert "epochs[0].samples[0]" in train.stdout


def test_results_lists_and_downloads_blobs_at_any_depth(tmp_path: Path) -> None:
    with ScriptedServer(api(workflow_doc(ODD_STEPS))) as server:
        result = run(
            server.url, "results", "hostile-1", "--download", "--dir", str(tmp_path / "dl")
        )
    assert result.exit_code == 0, result.output
    assert files_under(tmp_path / "dl") == ["m1.safetensors", "s1.jpg", "upload.png"]
    assert (tmp_path / "dl" / "s1.jpg").read_text() == "content of s1.jpg"


# ##### downloads stay in --dir and never carry the token to the content host


def test_results_download_cannot_escape_dir(tmp_path: Path) -> None:
    outside = tmp_path / "outside.jpg"
    hostile_ids = [
        "../escape.jpg",
        "..\\escape2.jpg",
        str(outside),
        "sub/nested.jpg",
        "..",
        "nul\x00.jpg",
    ]
    doc = workflow_doc([image_step([*hostile_ids, "good.jpg"])])
    # The content server also suggests a file name outside the directory.
    disposition = 'attachment; filename="../../outside.jpg"'
    dl = tmp_path / "work" / "dl"
    with ScriptedServer(api(doc, disposition=disposition)) as server:
        result = run(server.url, "results", "hostile-1", "--download", "--dir", str(dl))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "6 of 7 download(s) failed" in result.stderr
    assert files_under(tmp_path) == ["work/dl/good.jpg"]
    assert (dl / "good.jpg").read_text() == "content of good.jpg"
    # The hostile ids were refused before any request for them was made.
    blob_requests = [s.path for s in server.requests if s.path.startswith("/v2/consumer/blobs/")]
    assert blob_requests == ["/v2/consumer/blobs/good.jpg", "/v2/consumer/blobs/content/good.jpg"]


def test_downloads_never_send_the_token_to_the_content_host(tmp_path: Path) -> None:
    doc = workflow_doc([image_step(["a.jpg", "b.jpg"])])
    with ScriptedServer(lambda seen: reply(200, content=b"cdn bytes"), host="localhost") as cdn:
        route = api(doc, content_url=lambda blob_id: f"{cdn.url}/c/{blob_id}?sig=S")
        with ScriptedServer(route) as server:
            listed = run(server.url, "results", "hostile-1", "--download", "--dir", str(tmp_path))
            single = run(server.url, "blob", "a.jpg", "--download", "--dir", str(tmp_path / "one"))
    assert listed.exit_code == 0 and single.exit_code == 0, listed.output + single.output
    assert [s.path for s in cdn.requests] == ["/c/a.jpg", "/c/b.jpg", "/c/a.jpg"]
    assert all("authorization" not in s.headers for s in cdn.requests)
    api_calls = [s for s in server.requests if s.path.startswith("/v2/consumer/blobs/")]
    assert api_calls and all(s.headers["authorization"] == f"Bearer {TOKEN}" for s in api_calls)


def test_blob_nsfw_and_workflow_are_sent() -> None:
    with ScriptedServer(api(workflow_doc([image_step(["good.jpg"])]))) as server:
        result = run(server.url, "blob", "good.jpg", "--nsfw", "--workflow", "hostile-1")
    assert result.exit_code == 0, result.output
    assert f"Blob URL: {server.url}/v2/consumer/blobs/content/good.jpg" in result.stdout
    assert server.requests[0].query == {"nsfwLevel": ["xxx"], "workflowId": ["hostile-1"]}


def test_blob_nsfw_downloads_a_mature_blob_from_the_simulator(
    make_simulator: Any, tmp_path: Path
) -> None:
    server: SimulatorServer = make_simulator(seed=11, days=1, workflows_per_day=120, token=TOKEN)
    mature = [
        (wf["id"], blob)
        for day in server.account.days
        for wf in server.account.workflows(day)
        for step in wf.get("steps", [])
        for value in (step.get("output") or {}).values()
        for blob in (value if isinstance(value, list) else [value])
        if isinstance(blob, dict)
        and blob.get("available")
        and blob.get("nsfwLevel") in ("x", "xxx")
    ]
    assert mature, "the simulator generated no available mature blob; change the seed"
    wf_id, blob = mature[0]
    dl = tmp_path / "dl"
    result = run(
        server.url,
        "blob",
        blob["id"],
        "--nsfw",
        "--workflow",
        wf_id,
        "--download",
        "--dir",
        str(dl),
    )
    assert result.exit_code == 0, result.output
    assert files_under(dl) == [blob["id"]]
    shown = run(server.url, "blob", blob["id"], "--nsfw", "--workflow", wf_id)
    url = shown.stdout.split("Blob URL: ", 1)[1].strip()
    assert url.startswith(f"{server.url}/v2/consumer/blobs/content/")
    assert (dl / blob["id"]).read_bytes() == httpx.get(url).content
