"""The official npm client `@civitai/client` drives the simulator, and every response it got
validates against the OpenAPI document (issue 15, point 8).

`tests/e2e/npm/drive.mjs` lists the workflows, gets one workflow per step type and each of its
steps through the client's SDK functions and prints what it got; this test validates that
output. The client is installed by `make e2e-deps`, never by the test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from simulator import SimulatorConfig, SimulatorServer
from tests.integration.test_conformance import errors, without_known_deviations
from tests.support.simulated import STEP_TYPES

pytestmark = pytest.mark.e2e

NPM_DIR = Path(__file__).resolve().parent / "npm"
CLIENT = NPM_DIR / "node_modules" / "@civitai" / "client" / "package.json"
SCRIPT = NPM_DIR / "drive.mjs"


def _drive(server: SimulatorServer) -> dict[str, Any]:
    if not CLIENT.exists():
        pytest.skip("@civitai/client is not installed: run `make e2e-deps`")
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH: install Node.js 18+ and run `make e2e-deps`")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "SIM_URL": server.url,
        "SIM_TOKEN": server.config.token,
    }
    proc = subprocess.run(
        # The package imports extensionless paths, as bundlers allow; register.mjs teaches
        # Node's resolver the same.
        [node, "--import", "./register.mjs", str(SCRIPT)],
        cwd=NPM_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert server.config.token not in proc.stderr
    return json.loads(proc.stdout)


def test_the_npm_client_drives_the_simulator_and_every_response_conforms() -> None:
    config = SimulatorConfig(seed=13, days=2, workflows_per_day=300, running_share=0.05)
    with SimulatorServer(config) as server:
        got = _drive(server)
        account = server.account
        version = json.loads(CLIENT.read_text())["version"]
        pinned = json.loads((NPM_DIR / "package.json").read_text())["dependencies"]
        assert version == pinned["@civitai/client"]

        pages = got["pages"]
        assert sum(len(p["items"]) for p in pages) == 2 * 300
        for page in pages:
            items = [without_known_deviations(w) for w in page["items"]]
            problems = errors("CursedArrayOfTelemetryCursorAndWorkflow", {**page, "items": items})
            # The last page leaves `next` out (the document requires it; civitai's own
            # tooling sees it absent).
            expected = [] if "next" in page else [": 'next' is a required property"]
            assert problems == expected

        workflows = got["workflows"]
        assert {s["$type"] for w in workflows for s in w["steps"]} >= STEP_TYPES
        for workflow in workflows:
            assert errors("Workflow", without_known_deviations(workflow)) == [], workflow["id"]
            # The client hands over the document byte for byte as the simulator means it.
            assert workflow == account.workflow(workflow["id"])

        steps = got["steps"]
        assert len(steps) == sum(len(w["steps"]) for w in workflows)
        for item in steps:
            step = without_known_deviations({"steps": [item["step"]]})["steps"][0]
            assert errors("WorkflowStep", step) == [], (item["workflowId"], step["name"])
