"""The API simulator in a process of its own.

The simulator is pure Python: run in the benchmark's process (or in the measured one) its
CPU time and GIL would be charged to the code under test. A separate process has its own
core on a 2-core machine, like a real API has its own servers. Faults (latency) are changed
through the control pipe, so one generated account serves every latency of a run.
"""

from __future__ import annotations

import multiprocessing as mp
from dataclasses import dataclass
from datetime import date
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class SimSpec:
    workflows_per_day: int
    days: int = 1
    start: date = date(2026, 11, 1)
    seed: int = 7
    token: str = "bench-token"
    # Everything finished: a benchmark measures copying, not waiting for running workflows.
    running_share: float = 0.0
    # Build and cache every response before serving: the simulator's own CPU then stays out
    # of the measurement, as a real API's servers are not on the client's cores.
    warm: bool = True


def _serve(spec: SimSpec, conn: Connection) -> None:
    import os
    import sys

    from simulator import Faults, SimulatorConfig, SimulatorServer

    if os.environ.get("BENCH_SWITCH"):
        sys.setswitchinterval(float(os.environ["BENCH_SWITCH"]))

    config = SimulatorConfig(
        seed=spec.seed,
        start=spec.start,
        days=spec.days,
        workflows_per_day=spec.workflows_per_day,
        token=spec.token,
        running_share=spec.running_share,
        faults=Faults(),
        cache_all=spec.warm,
    )
    server = SimulatorServer(config)
    if spec.warm:
        server.account.warm()
    server.start()
    conn.send(server.url)
    try:
        while True:
            command, arg = conn.recv()
            if command == "faults":
                server.faults.update(arg)
                conn.send(server.faults.to_dict())
            elif command == "stats":
                stats = server.stats
                conn.send(stats.as_dict() if hasattr(stats, "as_dict") else _plain(stats))
            elif command == "stop":
                conn.send(None)
                return
    except EOFError:  # the benchmark died: go too
        return
    finally:
        server.stop()


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "__dict__"):
        return {k: _plain(v) for k, v in vars(value).items() if not k.startswith("_")}
    return value if isinstance(value, int | float | str | bool | type(None)) else repr(value)


class SimulatorProcess:
    """`with SimulatorProcess(spec) as sim:` -> sim.url; sim.set_faults(latency_ms=20)."""

    def __init__(self, spec: SimSpec) -> None:
        self.spec = spec
        self.url = ""
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(spec, child), daemon=True)
        self._child = child

    def __enter__(self) -> SimulatorProcess:
        self._process.start()
        self._child.close()
        if not self._conn.poll(600):
            self._process.kill()
            raise RuntimeError("the simulator did not start within 600 s")
        self.url = self._conn.recv()
        return self

    def _call(self, command: str, arg: Any = None) -> Any:
        self._conn.send((command, arg))
        return self._conn.recv()

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        return self._call("faults", changes)  # type: ignore[no-any-return]

    def stats(self) -> Any:
        return self._call("stats")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._process.is_alive():
                self._call("stop")
        except (OSError, EOFError):
            pass
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)
