"""The debugging commands (`test`, `workflows`, `user`, `workflow`, `step`, `job`, `results`,
`blob`, `simulator serve`) against a real simulator on 127.0.0.1.

Expected values come from the simulator's ground truth (`server.account`), never from the
command's own output.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from pipeline.cli.api_blobs import UnsafeFileNameError, safe_blob_path
from pipeline.cli.api_common import UtcDateTime
from pipeline.cli.api_job import classification_flags, score_text
from pipeline.cli.app import cli
from pipeline.cli.output import text
from pipeline.enrich.scan_scores import parse_context
from pipeline.flatten.users import workflow_user_id
from simulator import SimulatorConfig, SimulatorServer

# The conformance suite's reading of the OpenAPI document (discriminators, .NET patterns,
# formats) and its list of the deviations the simulator serves on purpose, like the real API.
from tests.integration.test_conformance import errors as spec_errors
from tests.integration.test_conformance import without_known_deviations

REPO = Path(__file__).resolve().parents[2]
TOKEN = "sim-token-cli"
START = date(2026, 11, 1)
DAYS = 2


# ---------------------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorServer]:
    config = SimulatorConfig(seed=23, start=START, days=DAYS, workflows_per_day=25, token=TOKEN)
    server = SimulatorServer(config)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings also read ./.env; the tests must only see what they set.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CIVITAI_API_TOKEN", raising=False)
    monkeypatch.delenv("CIVITAI_API_URL", raising=False)


def run(url: str, *args: str, token: str | None = TOKEN) -> Result:
    env = {"CIVITAI_API_URL": url, "CIVITAI_API_TOKEN": token}
    return CliRunner().invoke(cli, list(args), env=env)


def all_workflows(server: SimulatorServer) -> list[dict[str, Any]]:
    """Ground truth, oldest first."""
    return [wf for day in server.account.days for wf in server.account.workflows(day)]


def newest_first(server: SimulatorServer) -> list[dict[str, Any]]:
    return sorted(all_workflows(server), key=lambda wf: wf["createdAt"], reverse=True)


def jobs_of(wf: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(step["name"], j) for step in wf.get("steps", []) for j in (step.get("jobs") or [])]


def first_blob(wf: dict[str, Any]) -> dict[str, Any] | None:
    for step in wf.get("steps", []):
        for value in (step.get("output") or {}).values():
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, dict) and "id" in item and "available" in item:
                    return item
    return None


def assert_one_error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


# ---------------------------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "blob_id",
    [
        "../escape.jpg",
        "..\\escape.jpg",
        "..",
        ".",
        "",
        "sub/dir.jpg",
        "/etc/passwd",
        "C:evil.jpg",
        "nul\x00byte.jpg",
        "line\nbreak.jpg",
        ".hidden",
        " padded.jpg",
        "x" * 300,
    ],
)
def test_safe_blob_path_refuses_hostile_ids(tmp_path: Path, blob_id: str) -> None:
    with pytest.raises(UnsafeFileNameError):
        safe_blob_path(tmp_path, blob_id)


def test_safe_blob_path_keeps_plain_ids_inside_the_directory(tmp_path: Path) -> None:
    path = safe_blob_path(tmp_path / "dl", "JNFDW54JNTATNW42HACYCWSQP0.jpeg")
    assert path == (tmp_path / "dl").resolve() / "JNFDW54JNTATNW42HACYCWSQP0.jpeg"


def test_safe_blob_path_refuses_a_symlink_pointing_out(tmp_path: Path) -> None:
    dl = tmp_path / "dl"
    dl.mkdir()
    (dl / "trap.jpg").symlink_to(tmp_path / "outside.jpg")
    with pytest.raises(UnsafeFileNameError):
        safe_blob_path(dl, "trap.jpg")


def test_workflow_user_id_reads_prefix_then_tag() -> None:
    assert workflow_user_id("8484131-20260121222126332") == 8484131
    assert workflow_user_id("0-019be44b-181e-7a7e-ab1b-b58dc7610dca", ["gen", "user:42"]) == 42
    assert workflow_user_id("redacted-20260810223715659", ["civitai"]) is None
    assert workflow_user_id("-5-x", ["user:0"]) is None


def test_utc_datetime_param() -> None:
    start = UtcDateTime().convert("2026-11-02", None, None)
    end = UtcDateTime(end_of_day=True).convert("2026-11-02", None, None)
    assert start == datetime(2026, 11, 2, tzinfo=UTC)
    assert end == datetime(2026, 11, 2, 23, 59, 59, 999000, tzinfo=UTC)
    assert UtcDateTime().convert("2026-11-02T10:00:00+02:00", None, None) == datetime(
        2026, 11, 2, 8, tzinfo=UTC
    )


def test_classification_and_score_colours() -> None:
    assert classification_flags({"sexual": True, "young": True, "cr": False, "scan": True}) == [
        "sexual",
        "young",
        "scan",
    ]
    rendered = score_text("12.00 %, 73.50 %")
    assert rendered.plain == "12.00 %, 73.50 %"
    styles = {rendered.plain[span.start : span.end]: str(span.style) for span in rendered.spans}
    assert styles == {"12.00 %": "green", "73.50 %": "bold red"}


# ---------------------------------------------------------------------------------------------
# Configuration and errors
# ---------------------------------------------------------------------------------------------


def test_missing_token_is_one_line(sim: SimulatorServer) -> None:
    line = assert_one_error_line(run(sim.url, "workflows", token=None))
    assert line == "Error: No API token: set CIVITAI_API_TOKEN (or put it in .env)."


def test_wrong_token_is_one_line_without_the_token(sim: SimulatorServer) -> None:
    result = run(sim.url, "workflows", token="not-the-token")
    line = assert_one_error_line(result)
    assert "CIVITAI_API_TOKEN" in line and "401" in line
    assert "not-the-token" not in result.output


def test_unknown_workflow_is_not_found(sim: SimulatorServer) -> None:
    line = assert_one_error_line(run(sim.url, "workflow", "999-20991231235959999"))
    assert line.startswith("Error: Not found")


def test_unknown_job_is_not_found(sim: SimulatorServer) -> None:
    line = assert_one_error_line(run(sim.url, "job", "00000000-0000-4000-8000-000000000000"))
    assert "not found" in line.lower()


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "2026-11-01T25:00"])
def test_bad_from_is_a_usage_error(sim: SimulatorServer, value: str) -> None:
    result = run(sim.url, "workflows", "--from", value)
    assert result.exit_code == 2
    assert "--from" in result.stderr
    assert "Traceback" not in result.output


def test_from_after_to_is_a_usage_error(sim: SimulatorServer) -> None:
    result = run(sim.url, "workflows", "--from", "2026-11-02", "--to", "2026-11-01")
    assert result.exit_code == 2
    assert "--to" in result.stderr


# ---------------------------------------------------------------------------------------------
# test / workflows / user
# ---------------------------------------------------------------------------------------------


def test_test_command_reports_ok(sim: SimulatorServer) -> None:
    result = run(sim.url, "test")
    assert result.exit_code == 0, result.output
    assert f"API URL: {sim.url}" in result.stdout
    assert "OK" in result.stdout
    assert TOKEN not in result.output


def test_test_command_reports_refused_token(sim: SimulatorServer) -> None:
    result = run(sim.url, "test", token="wrong")
    assert result.exit_code == 1
    assert f"API URL: {sim.url}" in result.stdout
    assert "401" in result.stderr and "wrong" not in result.output


def test_workflows_lists_the_newest_page(sim: SimulatorServer) -> None:
    expected = newest_first(sim)[:5]
    result = run(sim.url, "workflows", "--take", "5")
    assert result.exit_code == 0, result.output
    ids_in_order = [wf["id"] for wf in expected]
    positions = [result.stdout.index(wf_id) for wf_id in ids_in_order]
    assert positions == sorted(positions)
    for wf in expected:
        row = next(line for line in result.stdout.splitlines() if wf["id"] in line)
        assert wf["status"] in row
        assert wf["steps"][0]["$type"] in row
    assert "Next cursor: " in result.stdout


def test_workflows_json_follows_cursor_and_filters(sim: SimulatorServer) -> None:
    second_day = START.replace(day=START.day + 1).isoformat()
    expected = [wf["id"] for wf in sim.account.workflows(date.fromisoformat(second_day))]
    first = run(
        sim.url,
        "workflows",
        "--from",
        second_day,
        "--to",
        second_day,
        "--oldest",
        "--take",
        "4",
        "--json",
    )
    assert first.exit_code == 0, first.output
    page = json.loads(first.stdout)
    assert [wf["id"] for wf in page["items"]] == expected[:4]
    second = run(
        sim.url,
        "workflows",
        "--from",
        second_day,
        "--to",
        second_day,
        "--oldest",
        "--take",
        "4",
        "--cursor",
        page["next"],
        "--json",
    )
    assert [wf["id"] for wf in json.loads(second.stdout)["items"]] == expected[4:8]


def test_workflows_tags_are_anded(sim: SimulatorServer) -> None:
    truth = all_workflows(sim)
    tag_counts = Counter(tag for wf in truth for tag in set(wf["tags"]))
    # Two tags that both occur but not always together.
    common = [tag for tag, n in tag_counts.most_common() if n < len(truth)]
    tag_a, tag_b = common[0], common[1]
    expected = {wf["id"] for wf in truth if tag_a in wf["tags"] and tag_b in wf["tags"]}
    result = run(sim.url, "workflows", "--tag", tag_a, "--tag", tag_b, "--take", "500", "--json")
    assert result.exit_code == 0, result.output
    assert {wf["id"] for wf in json.loads(result.stdout)["items"]} == expected


def test_user_counts_per_status(sim: SimulatorServer) -> None:
    page = newest_first(sim)[:30]
    expected: dict[int | None, Counter[str]] = {}
    for wf in page:
        uid = workflow_user_id(wf["id"], wf["tags"])
        expected.setdefault(uid, Counter())[wf["status"]] += 1
    result = run(sim.url, "user", "--take", "30", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["workflows_read"] == 30
    got = {u["user_id"]: Counter(u["statuses"]) for u in summary["users"]}
    assert got == expected
    assert any(uid is not None for uid in got)
    table = run(sim.url, "user", "--take", "30")
    uid = next(u for u in expected if u is not None)
    assert str(uid) in table.stdout


# ---------------------------------------------------------------------------------------------
# workflow / step
# ---------------------------------------------------------------------------------------------


def test_workflow_json_is_the_api_document_and_valid(sim: SimulatorServer) -> None:
    truth = all_workflows(sim)
    sample = truth[:: max(1, len(truth) // 8)]
    for wf in sample:
        result = run(sim.url, "workflow", wf["id"], "--json")
        assert result.exit_code == 0, result.output
        document = json.loads(result.stdout)
        assert document == sim.account.workflow(wf["id"])
        assert spec_errors("Workflow", without_known_deviations(document)) == []
    assert len(sample) >= 5
    # The same check rejects what the schema forbids, so the pass above means something.
    broken = without_known_deviations(document)
    broken["steps"][0]["bogus"] = 1
    assert any("bogus" in error for error in spec_errors("Workflow", broken))
    del broken["steps"][0]["bogus"]
    del broken["status"]
    assert any("'status' is a required property" in e for e in spec_errors("Workflow", broken))


def test_workflow_summary(sim: SimulatorServer) -> None:
    wf = next(w for w in all_workflows(sim) if jobs_of(w) and first_blob(w))
    result = run(sim.url, "workflow", wf["id"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert wf["id"] in out and wf["status"] in out
    for step_doc in wf["steps"]:
        assert f"Step {step_doc['name']}" in out
        assert step_doc["$type"] in out
    for _, job_doc in jobs_of(wf):
        assert job_doc["id"] in out
    assert first_blob(wf)["id"] in out  # type: ignore[index]
    txns = (wf.get("transactions") or {}).get("list") or []
    assert (f"Transactions ({len(txns)})" in out) if txns else ("Transactions: none" in out)


def test_workflow_wait_reports_a_still_running_workflow(sim: SimulatorServer) -> None:
    running = [w for w in all_workflows(sim) if w["status"] in ("scheduled", "processing")]
    assert running, "the simulator generated no running workflow"
    result = run(sim.url, "workflow", running[0]["id"], "--wait", "1")
    assert result.exit_code == 0, result.output
    assert "still running: the API answered 202" in result.stdout
    done = next(w for w in all_workflows(sim) if w["status"] == "succeeded")
    finished = run(sim.url, "workflow", done["id"], "--wait", "1")
    assert finished.exit_code == 0, finished.output
    assert "still running" not in finished.stdout


def test_step_summary_and_json(sim: SimulatorServer) -> None:
    wf = next(w for w in all_workflows(sim) if jobs_of(w))
    step_doc = wf["steps"][0]
    result = run(sim.url, "step", wf["id"], step_doc["name"])
    assert result.exit_code == 0, result.output
    assert step_doc["$type"] in result.stdout
    for j in step_doc.get("jobs") or []:
        assert j["id"] in result.stdout
    raw = run(sim.url, "step", wf["id"], step_doc["name"], "--json")
    assert json.loads(raw.stdout) == step_doc
    missing = run(sim.url, "step", wf["id"], "no-such-step")
    assert "not found" in assert_one_error_line(missing).lower()


# ---------------------------------------------------------------------------------------------
# job
# ---------------------------------------------------------------------------------------------


def _csam_max(doc: dict[str, Any] | None) -> float | None:
    event = (doc or {}).get("lastEvent") or {}
    context = event.get("context")
    if not isinstance(context, dict) or not context.get("hive_csam_score"):
        return None
    return parse_context(context, job_id="-", result=(doc or {}).get("result")).max_score()


def _scanned_job(server: SimulatorServer) -> tuple[dict[str, Any], dict[str, Any]]:
    """The job with the highest CSAM score in the ground truth (and its workflow)."""
    candidates = []
    for wf in all_workflows(server):
        for _, embedded in jobs_of(wf):
            doc = server.account.job(embedded["id"])
            score = _csam_max(doc)
            if doc is not None and score is not None:
                candidates.append((score, wf, doc))
    assert candidates, "the simulator generated no scanned jobs"
    _, wf, doc = max(candidates, key=lambda item: item[0])
    return wf, doc


def test_job_summary_shows_scan_scores(sim: SimulatorServer) -> None:
    wf, doc = _scanned_job(sim)
    result = run(sim.url, "job", doc["jobId"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    event = doc["lastEvent"]
    context = event["context"]
    score = context["hive_csam_score"]
    shown = score if isinstance(score, str) else ", ".join(map(str, score))
    assert f"** hive_csam_score: {shown}" in out
    if context.get("hive_vlm_summary"):
        assert f"** hive_vlm_summary: {context['hive_vlm_summary']}" in out
    assert re.search(rf"Workflow id:\s+{re.escape(wf['id'])}", out)
    assert re.search(rf"Type:\s+{re.escape(event['type'])}", out)
    assert re.search(rf"Provider:\s+{re.escape(event['provider'])}", out)
    if event.get("workerId"):
        assert event["workerId"] in out
    flags = classification_flags((doc.get("job") or {}).get("promptClassificationResult"))
    if (doc.get("job") or {}).get("promptClassificationResult") is not None:
        assert re.search(rf"Prompt classification:\s+{re.escape(', '.join(flags) or 'none')}", out)
    for item in doc.get("result") or []:
        assert item["blobKey"] in out
    # The moderation keys come first; every other context key is listed after them.
    others = [k for k in context if k not in ("hive_csam_score", "hive_vlm_summary")]
    for key in others:
        assert out.index(f"{key}: ") > out.index("** hive_csam_score")


def _planned_scores(server: SimulatorServer, job_id: str) -> list[float | None] | None:
    """The job's hive_csam_score items on the 0-100 scale as the simulator planned them, or
    None when it keeps no such record."""
    scan_truth = getattr(server.account, "scan_truth", None)
    if scan_truth is None:
        return None
    items = [
        (row.item_index, row.score)
        for day in server.account.days
        for row in scan_truth(day)
        if row.job_id == job_id and row.score_name == "hive_csam_score"
    ]
    return [score for _, score in sorted(items)]


def test_job_summary_colours_flagged_scores_red(make_simulator: Any) -> None:
    # Enough jobs that some score at or above 50 % (about one scanned job in fifty does).
    server = make_simulator(seed=5, days=1, workflows_per_day=300, token=TOKEN)
    _, doc = _scanned_job(server)
    raw = doc["lastEvent"]["context"]["hive_csam_score"]
    if isinstance(raw, str):
        parts = [p.strip() for p in raw.split(",")]
    else:
        # Numbers as the CLI prints them (0.0 shows as 0): the colour is what is checked here.
        parts = [text(p).plain for p in (raw if isinstance(raw, list) else [raw])]
    planned = _planned_scores(server, doc["jobId"])
    if planned is None:  # a simulator that writes percents only
        planned = [float(p.replace("%", "").strip()) for p in parts]
    flagged = [
        p for p, score in zip(parts, planned, strict=True) if score is not None and score >= 50
    ]
    assert flagged, f"no hive_csam_score >= 50 % in the ground truth ({raw}); change the seed"
    env = {
        "CIVITAI_API_URL": server.url,
        "CIVITAI_API_TOKEN": TOKEN,
        "FORCE_COLOR": "1",
        "NO_COLOR": None,
        "COLUMNS": "160",
    }
    result = CliRunner().invoke(cli, ["job", doc["jobId"]], env=env)
    assert result.exit_code == 0, result.output
    for part in parts:
        colour = "1;31" if part in flagged else "32"
        assert re.search(rf"\x1b\[{colour}m{re.escape(part)}\x1b\[0m", result.stdout), part


def test_job_raw_is_the_api_document(sim: SimulatorServer) -> None:
    _, doc = _scanned_job(sim)
    for flag in ("--raw", "--json"):
        result = run(sim.url, "job", doc["jobId"], flag)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == doc


# ---------------------------------------------------------------------------------------------
# results / blob against the simulator
# ---------------------------------------------------------------------------------------------


def test_results_lists_and_downloads_blobs(sim: SimulatorServer, tmp_path: Path) -> None:
    wf = next(w for w in all_workflows(sim) if first_blob(w) and first_blob(w)["available"])  # type: ignore[index]
    blobs = [
        item
        for step_doc in wf["steps"]
        for value in (step_doc.get("output") or {}).values()
        for item in (value if isinstance(value, list) else [value])
        if isinstance(item, dict) and "available" in item
    ]
    listing = run(sim.url, "results", wf["id"])
    assert listing.exit_code == 0, listing.output
    for item in blobs:
        assert item["id"] in listing.stdout
    dl = tmp_path / "dl"
    result = run(sim.url, "results", wf["id"], "--download", "--dir", str(dl))
    assert result.exit_code == 0, result.output
    available = {item["id"] for item in blobs if item["available"]}
    assert {p.name for p in dl.iterdir()} == available
    assert all((dl / name).stat().st_size > 0 for name in available)


def test_blob_prints_url_and_downloads(sim: SimulatorServer, tmp_path: Path) -> None:
    wf = next(w for w in all_workflows(sim) if first_blob(w) and first_blob(w)["available"])  # type: ignore[index]
    blob_doc = first_blob(wf)
    assert blob_doc is not None
    result = run(sim.url, "blob", blob_doc["id"], "--workflow", wf["id"])
    assert result.exit_code == 0, result.output
    match = re.search(r"Blob URL: (\S+)", result.stdout)
    assert match and match.group(1).startswith(sim.url)
    content = httpx.get(match.group(1)).content
    assert content
    dl = tmp_path / "one"
    got = run(sim.url, "blob", blob_doc["id"], "--download", "--dir", str(dl))
    assert got.exit_code == 0, got.output
    assert (dl / blob_doc["id"]).read_bytes() == content


# ---------------------------------------------------------------------------------------------
# The installed console script
# ---------------------------------------------------------------------------------------------


def _script() -> Path:
    script = Path(sys.executable).parent / "civitai-sync"
    if not script.exists():
        pytest.fail(f"console script not installed at {script}; run pip install -e '.[dev]'")
    return script


def test_console_script_workflows(sim: SimulatorServer, tmp_path: Path) -> None:
    env = {**os.environ, "CIVITAI_API_URL": sim.url, "CIVITAI_API_TOKEN": TOKEN}
    proc = subprocess.run(
        [str(_script()), "workflows", "--take", "2"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    for wf in newest_first(sim)[:2]:
        assert wf["id"] in proc.stdout
    assert newest_first(sim)[2]["id"] not in proc.stdout


def test_simulator_serve_runs_until_interrupted(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVITAI_")}
    proc = subprocess.Popen(
        [
            str(_script()),
            "simulator",
            "serve",
            "--port",
            "0",
            "--days",
            "1",
            "--workflows-per-day",
            "5",
            "--token",
            "serve-token",
            "--seed",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
        # As from a terminal: a job started in the background of a script inherits SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        lines = []
        url = None
        for line in proc.stdout:
            lines.append(line)
            if line.strip().startswith("export CIVITAI_API_URL="):
                url = line.strip().split("=", 1)[1]
            if "Ctrl-C" in line:
                break
        assert url, "".join(lines)
        assert any("export CIVITAI_API_TOKEN=serve-token" in line for line in lines)
        listed = run(url, "workflows", "--take", "5", "--json", token="serve-token")
        assert listed.exit_code == 0, listed.output
        assert len(json.loads(listed.stdout)["items"]) == 5
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "Simulator stopped." in out
