"""Real servers on loopback for the distributed tests: PostgreSQL, Redis, an S3 store (moto).

Each starter returns a handle whose `stop()` ends the process it started (by its own pid),
and calls `pytest.skip` with one line naming the missing binary and the make target that
installs it when the server cannot be found.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

INSTALL = "run `make distributed-deps` (apt-get install postgresql redis-server; pip .[deploy])"
STARTUP_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], name: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited at start: {log.read_text(errors='replace')[-2000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not listen on {port} within {STARTUP_SECONDS:.0f}s")


def find_binary(name: str, *extra_globs: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for pattern in extra_globs:
        matches = sorted(glob.glob(pattern))
        if matches:
            return matches[-1]
    return None


def missing(what: str) -> None:
    """Skip (fail under CI, whose run installs every server first) for a missing server."""
    message = f"{what} not found: {INSTALL}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require(name: str, *extra_globs: str) -> str:
    found = find_binary(name, *extra_globs)
    if found is None:
        missing(name)
    assert found is not None
    return found


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    workdir: Path
    extra: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        if self.name == "postgres":
            _fast_shutdown(self.workdir / "data")
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _fast_shutdown(data: Path) -> None:
    """SIGINT to the postmaster we started (its pid is in postmaster.pid): a fast shutdown that
    disconnects clients, where SIGTERM would wait for every open connection to close."""
    try:
        pid = int((data / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (data / "postmaster.pid").exists():
        time.sleep(0.1)


def start_redis() -> Server:
    binary = require("redis-server")
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="civitai-redis-"))
    log = workdir / "redis.log"
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    wait_for_port(port, proc, "redis-server", log)
    return Server("redis", port, proc, workdir, {"url": f"redis://127.0.0.1:{port}/0"})


def start_moto() -> Server:
    binary = find_binary("moto_server") or str(Path(sys.executable).with_name("moto_server"))
    if not os.path.exists(binary):
        missing("moto_server")
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="civitai-moto-"))
    log = workdir / "moto.log"
    proc = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    wait_for_port(port, proc, "moto_server", log)
    return Server("moto", port, proc, workdir, {"endpoint": f"http://127.0.0.1:{port}"})


_PG_GLOBS = ("/usr/lib/postgresql/*/bin/initdb",)


def start_postgres() -> Server:
    """A throwaway cluster (trust auth on loopback). As root, the server runs as the
    `postgres` user, which PostgreSQL requires."""
    initdb = require("initdb", *_PG_GLOBS)
    bindir = Path(initdb).resolve().parent
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="civitai-pg-"))
    data = workdir / "data"
    prefix: list[str] = []
    if os.geteuid() == 0:
        runuser = require("runuser")
        prefix = [runuser, "-u", "postgres", "--"]
        shutil.chown(workdir, "postgres")
        os.chmod(workdir, 0o700)
    log = workdir / "postgres.log"
    subprocess.run(
        [
            *prefix,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "dagster",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    proc = subprocess.Popen(
        [
            *prefix,
            str(bindir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "-k",
            str(workdir),
            "-c",
            "fsync=off",
            "-c",
            "max_connections=200",
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    wait_for_port(port, proc, "postgres", log)
    # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; dagster-postgres ships psycopg2.
    url = f"postgresql+psycopg2://dagster@127.0.0.1:{port}/postgres"
    return Server("postgres", port, proc, workdir, {"url": url})
