"""`dagster dev` as a user runs it: the webserver and daemon load the definitions, a partition
backfill launched through the webserver's GraphQL API runs to success against the simulator,
and the sensor then rebuilds the warehouse."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipeline.core.settings import Settings
from pipeline.lake.store import Lake
from simulator import SimulatorConfig, SimulatorServer

ROOT = Path(__file__).resolve().parents[2]
LAKE_KEYS = (
    "workflows",
    "steps",
    "jobs",
    "blobs",
    "transactions",
    "moderation_verdicts",
    "job_details",
    "scan_scores",
)
DEADLINE_SECONDS = 300


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _gql(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"{url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        answer: dict[str, Any] = json.load(response)
    assert "errors" not in answer, answer
    return answer["data"]


def _wait_until_serving(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dagster dev exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=5):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(1)
    pytest.fail(f"dagster dev did not serve within 120 s:\n{log.read_text()[-3000:]}")


def _backfill_status(url: str, backfill_id: str) -> str:
    data = _gql(
        url,
        """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
             __typename ... on PartitionBackfill { status } } }""",
        {"id": backfill_id},
    )
    return str(data["partitionBackfillOrError"].get("status"))


def _runs(url: str) -> list[dict[str, Any]]:
    data = _gql(url, "{ runsOrError(limit: 50) { ... on Runs { results { status jobName } } } }")
    return list(data["runsOrError"]["results"])


def test_a_backfill_launched_in_dagster_dev_completes(tmp_path: Path) -> None:
    config = SimulatorConfig(days=2, workflows_per_day=40, running_share=0.0)
    days = [config.start + timedelta(days=n) for n in range(config.days)]
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    data_dir = tmp_path / "data"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "dagster-dev.log"
    with SimulatorServer(config) as server, open(log, "wb") as out:
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "CIVITAI_API_URL": server.url,
            "CIVITAI_API_TOKEN": config.token,
            "CIVITAI_SYNC_DATA_DIR": str(data_dir),
            "CIVITAI_SYNC_START_DATE": days[0].isoformat(),
        }
        dagster = Path(sys.executable).with_name("dagster")
        # Started from DAGSTER_HOME, as `make dev` does, so no `.env` of the checkout is read.
        proc = subprocess.Popen(
            [str(dagster), "dev", "-m", "assets.definitions", "--working-directory", str(ROOT),
             "-h", "127.0.0.1", "-p", str(port)],
            cwd=home, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            # stopped with Ctrl-C's signal below, even when this run inherited SIGINT ignored
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )  # fmt: skip
        try:
            _wait_until_serving(url, proc, log)
            launched = _gql(
                url,
                """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
                     __typename ... on LaunchBackfillSuccess { backfillId }
                     ... on PythonError { message } } }""",
                {"p": {
                    "partitionNames": [d.isoformat() for d in days],
                    "assetSelection": [{"path": [key]} for key in LAKE_KEYS],
                    "fromFailure": False,
                }},
            )["launchPartitionBackfill"]  # fmt: skip
            assert launched["__typename"] == "LaunchBackfillSuccess", launched
            deadline = time.monotonic() + DEADLINE_SECONDS
            status = "REQUESTED"
            while time.monotonic() < deadline:
                status = _backfill_status(url, launched["backfillId"])
                if status.startswith("COMPLETED") or status in ("FAILED", "CANCELED"):
                    break
                time.sleep(3)
            assert status == "COMPLETED_SUCCESS", f"{status}\n{log.read_text()[-3000:]}"
            partition_runs = [r for r in _runs(url) if r["jobName"] == "__ASSET_JOB"]
            assert [r["status"] for r in partition_runs] == ["SUCCESS"] * len(days)

            # The lake holds exactly the simulator's workflows of each backfilled day.
            for day in days:
                lake = Lake.from_settings(Settings(data_dir=data_dir))
                assert lake.read("workflows", [day]).num_rows == config.workflows_per_day

            # The sensor rebuilds the warehouse once the lake has changed.
            while time.monotonic() < deadline:
                warehouse_runs = [r for r in _runs(url) if r["jobName"] == "warehouse_job"]
                if any(r["status"] == "SUCCESS" for r in warehouse_runs):
                    break
                time.sleep(3)
            else:
                pytest.fail(f"no warehouse run after the backfill:\n{log.read_text()[-3000:]}")
            con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
            try:
                ((total,),) = con.execute("select count(*) from workflows").fetchall()
            finally:
                con.close()
            assert total == config.workflows_per_day * len(days)
            assert config.token not in log.read_text()
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
