"""Shared fixtures: a real simulator on 127.0.0.1.

    def test_x(make_simulator):
        server = make_simulator(days=1, workflows_per_day=20, faults=Faults(rate_429=0.2))
        server.url, server.account, server.faults, server.stats

    def test_y(simulator):            # the same factory ...
        server = simulator(days=2)
        simulator.url                 # ... or, used as a server, a default small one

Every server a test starts is stopped at teardown.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from simulator import SimulatorConfig, SimulatorServer

# Small on purpose: the whole suite has to stay fast.
DEFAULT_SIMULATOR = {"days": 2, "workflows_per_day": 40}


class SimulatorFactory:
    """Call it to start a simulator (`SimulatorConfig` fields as keywords, plus `port`).
    Attribute access (`.url`, `.account`, `.faults`, ...) goes to a default small simulator
    that is started on first use."""

    def __init__(self) -> None:
        self._servers: list[SimulatorServer] = []
        self._default: SimulatorServer | None = None

    def __call__(self, *, port: int = 0, **config: Any) -> SimulatorServer:
        server = SimulatorServer(SimulatorConfig(**{**DEFAULT_SIMULATOR, **config}), port=port)
        self._servers.append(server)
        return server.start()

    @property
    def default(self) -> SimulatorServer:
        if self._default is None:
            self._default = self()
        return self._default

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.default, name)

    def stop_all(self) -> None:
        while self._servers:
            self._servers.pop().stop()


@pytest.fixture
def make_simulator() -> Iterator[SimulatorFactory]:
    factory = SimulatorFactory()
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture
def simulator(make_simulator: SimulatorFactory) -> SimulatorFactory:
    return make_simulator
