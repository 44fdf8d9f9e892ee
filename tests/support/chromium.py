"""Headless Chromium driven over the DevTools protocol, for checking pages as a browser sees them.

One browser process per `Chromium`; `load(url)` opens a fresh tab, records every request the
page makes and every console message, exception and log entry, waits for the load event and
returns what happened with the navigation timing. Used by the HTML report test and benchmark.

The CDP traffic goes over one browser-level websocket with flattened sessions, so events of
each tab arrive tagged with its sessionId.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
FLAGS = (
    "--headless",
    "--no-sandbox",  # tests run as root in containers, where the sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--metrics-recording-only",
    "--mute-audio",
    "--remote-debugging-port=0",
)


def find_chromium() -> str | None:
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


@dataclass
class PageLoad:
    """What one page load did."""

    url: str
    session_id: str
    requests: list[str] = field(default_factory=list)
    console: list[dict[str, Any]] = field(default_factory=list)  # Runtime.consoleAPICalled
    exceptions: list[dict[str, Any]] = field(default_factory=list)  # Runtime.exceptionThrown
    log_entries: list[dict[str, Any]] = field(default_factory=list)  # Log.entryAdded
    failed_requests: list[dict[str, Any]] = field(default_factory=list)
    load_ms: float | None = None

    @property
    def errors(self) -> list[str]:
        """Console errors/warnings, uncaught exceptions and error log entries, as text."""
        found = [
            f"console.{c.get('type')}: {c.get('args')}"
            for c in self.console
            if c.get("type") in ("error", "warning", "assert")
        ]
        found += [f"exception: {e.get('exceptionDetails')}" for e in self.exceptions]
        found += [
            f"log {e['entry'].get('level')}: {e['entry'].get('text')} ({e['entry'].get('url')})"
            for e in self.log_entries
            if e.get("entry", {}).get("level") in ("error", "warning")
        ]
        found += [f"request failed: {r}" for r in self.failed_requests]
        return found


class Chromium:
    """A headless Chromium process and its DevTools websocket (a context manager)."""

    def __init__(self, binary: str, *, timeout: float = 30.0) -> None:
        self.binary = binary
        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory(prefix="chromium-profile-")
        self._process: subprocess.Popen[bytes] | None = None
        self._ws: ClientConnection | None = None
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    def __enter__(self) -> Chromium:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        profile = Path(self._profile.name)
        self._process = subprocess.Popen(
            [self.binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Chromium writes the port it picked and the browser target's path to this file.
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while True:
            if port_file.is_file():
                lines = port_file.read_text().split()
                if len(lines) >= 2:
                    break
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.binary} exited with {self._process.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.binary} did not open its DevTools port")
            time.sleep(0.05)
        port, path = lines[0], lines[1]
        connection = connect(
            f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=self.timeout
        )
        self._ws = connection.__enter__()

    def close(self) -> None:
        if self._ws is not None:
            # The browser may drop the connection before it answers.
            with contextlib.suppress(Exception):
                self.send("Browser.close")
            self._ws.__exit__(None, None, None)
            self._ws = None
        if self._process is not None:
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        self._profile.cleanup()

    def send(
        self, method: str, params: dict[str, Any] | None = None, session_id: str | None = None
    ) -> dict[str, Any]:
        """Send one command and wait for its answer; events that arrive meanwhile are kept."""
        assert self._ws is not None, "Chromium is not started"
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session_id:
            message["sessionId"] = session_id
        self._ws.send(json.dumps(message))
        while True:
            reply = self._receive(self.timeout)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result

    def evaluate(self, session_id: str, expression: str) -> Any:
        """The value of a JavaScript expression in the tab (returned by value)."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session_id,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluate failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def load(self, url: str) -> PageLoad:
        """Open `url` in a new tab and wait for its load event; the tab stays open for evaluate."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Network", "Runtime", "Log", "Page"):
            self.send(f"{domain}.enable", session_id=session)
        self._events = [e for e in self._events if e.get("sessionId") != session]
        self.send("Page.navigate", {"url": url}, session)
        deadline = time.monotonic() + self.timeout
        while not any(
            e.get("method") == "Page.loadEventFired" and e.get("sessionId") == session
            for e in self._events
        ):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{url} did not finish loading")
            self._receive(remaining)
        # loadEventEnd is set just after the load event's handlers ran.
        timing = None
        for _ in range(100):
            timing = self.evaluate(
                session,
                "(() => { const n = performance.getEntriesByType('navigation')[0];"
                " return n && n.loadEventEnd > 0 ? n.loadEventEnd - n.startTime : null; })()",
            )
            if timing is not None:
                break
            time.sleep(0.02)
        # Drain what is already queued (late console messages) without waiting long.
        self._drain(0.2)
        page = PageLoad(url=url, session_id=session, load_ms=timing)
        for event in self._events:
            if event.get("sessionId") != session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Network.requestWillBeSent":
                page.requests.append(params["request"]["url"])
            elif method == "Network.loadingFailed":
                page.failed_requests.append(params)
            elif method == "Runtime.consoleAPICalled":
                page.console.append(params)
            elif method == "Runtime.exceptionThrown":
                page.exceptions.append(params)
            elif method == "Log.entryAdded":
                page.log_entries.append(params)
        return page

    def _drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                self._receive(remaining)
            except TimeoutError:
                return

    def _receive(self, timeout: float) -> dict[str, Any]:
        assert self._ws is not None
        message: dict[str, Any] = json.loads(self._ws.recv(timeout=timeout))
        if "method" in message:
            self._events.append(message)
        return message
