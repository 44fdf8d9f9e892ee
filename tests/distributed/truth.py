"""The warehouse must hold exactly what the simulator serves for the synced days."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

import duckdb

from simulator import SimulatorServer
from tests.integration.test_sync import truth


def assert_warehouse_exact(path: Path, server: SimulatorServer, days: Iterable[date]) -> None:
    """Per day: the same workflows with the same status and cost, the same steps, jobs, blobs
    and transactions as the simulator's ground truth, and one job_details row per job."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        for day in days:
            expected = truth(server, day)
            got = dict(
                con.execute(
                    "select workflow_id, status from workflows where window_date = ?", [day]
                ).fetchall()
            )
            assert got == {w: doc["status"] for w, doc in expected["workflows"].items()}, day
            costs = dict(
                con.execute(
                    "select workflow_id, cost_total from workflows where window_date = ?", [day]
                ).fetchall()
            )
            assert costs == {w: doc["cost"]["total"] for w, doc in expected["workflows"].items()}
            steps = set(
                con.execute(
                    "select workflow_id, step_name from steps where window_date = ?", [day]
                ).fetchall()
            )
            assert steps == expected["steps"], day
            jobs = {
                r[0]
                for r in con.execute(
                    "select job_id from jobs where window_date = ?", [day]
                ).fetchall()
            }
            assert jobs == expected["jobs"], day
            # A blob is keyed by its workflow too: one blob can be the output of several.
            blobs = set(
                con.execute(
                    "select workflow_id, blob_id from blobs where window_date = ?", [day]
                ).fetchall()
            )
            assert blobs == expected["blobs"], day
            txns = set(
                con.execute(
                    "select workflow_id, txn_index from transactions where window_date = ?", [day]
                ).fetchall()
            )
            assert txns == expected["transactions"], day
            details = con.execute(
                "select count(*), count(distinct job_id) from lake.job_details where window_date = ?",
                [day],
            ).fetchone()
            assert details == (len(expected["jobs"]), len(expected["jobs"])), day
    finally:
        con.close()
