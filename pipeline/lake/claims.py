"""Claims: one writer per window across machines, decided by the lake itself.

A file lock (`pipeline.core.locks`) only excludes processes of one machine. When the lake is on
object storage, syncs on several machines may pick the same window (a backfill launched twice,
the nightly schedule meeting a manual run). Each then takes the window's claim first: a row in
the small Delta table `<lake>/_claims`, partitioned by claim key (`sync/2026-11-03`).

Taking a claim reads the key's partition at some version, checks that no other live claim is
there, and overwrites the partition with its own row *as of that version*
(`write_deltalake(..., predicate="claim = 'sync/2026-11-03'")`). Delta's conflict check then
guarantees that of two claimants who read the same state only one commit succeeds: the other
fails with "a concurrent transaction" and has changed nothing (it gives up before touching the
ledger, the raw archive or any table). Claims on different keys never conflict.

A claim is a lease: it expires `ttl` seconds after its last renewal, so a machine that dies
does not hold a window forever. While held, a heartbeat renews it every `ttl / 3`; a renewal
that finds the claim gone or taken (the holder stalled longer than the lease) marks it lost,
and `check()` refuses to publish.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from pipeline.core.errors import WindowError
from pipeline.lake.store import Lake

CLAIMS_TABLE = "_claims"
DEFAULT_TTL_SECONDS = 120.0
_TIMESTAMP = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema(
    [
        ("claim", pa.string()),
        ("claim_id", pa.string()),
        ("holder", pa.string()),
        ("run_id", pa.string()),
        ("claimed_at", _TIMESTAMP),
        ("expires_at", _TIMESTAMP),
    ]
)


class ClaimError(WindowError):
    """The window is claimed by another writer (or the claim was lost)."""


def _now() -> datetime:
    return datetime.now(UTC)


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Claims:
    """The claims table of one lake."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self.uri = f"{lake.uri}/{CLAIMS_TABLE}"

    def _open(self) -> DeltaTable:
        try:
            return DeltaTable(self.uri, storage_options=self.lake.storage_options)
        except TableNotFoundError:
            with contextlib.suppress(DeltaError):
                DeltaTable.create(
                    self.uri,
                    schema=SCHEMA,
                    partition_by=["claim"],
                    mode="ignore",
                    storage_options=self.lake.storage_options,
                )
            return DeltaTable(self.uri, storage_options=self.lake.storage_options)

    def current(self, key: str, table: DeltaTable | None = None) -> dict[str, object] | None:
        """The row of `key` (live or expired), None when there is none."""
        table = table or self._open()
        rows = table.to_pyarrow_table(filters=[("claim", "=", key)]).to_pylist()
        return rows[-1] if rows else None

    def live(self, key: str) -> bool:
        """Whether a run anywhere holds `key` now (its lease has not run out)."""
        try:
            table = DeltaTable(self.uri, storage_options=self.lake.storage_options)
        except TableNotFoundError:
            return False
        found = self.current(key, table)
        return found is not None and found["expires_at"] > _now()  # type: ignore[operator]

    def _write(self, table: DeltaTable, key: str, rows: list[dict[str, object]]) -> None:
        write_deltalake(
            table,
            pa.Table.from_pylist(rows, schema=SCHEMA),
            mode="overwrite",
            predicate=f"claim = {_lit(key)}",
            partition_by=["claim"],
            storage_options=self.lake.storage_options,
        )

    def take(self, key: str, *, ttl: float, run_id: str | None = None) -> str:
        """Claim `key` for `ttl` seconds; its claim id. Raises ClaimError when another live
        claim holds it or another claimant committed first."""
        table = self._open()
        found = self.current(key, table)
        now = _now()
        if found is not None and found["expires_at"] > now:  # type: ignore[operator]
            raise ClaimError(
                f"{key}: claimed by {found['holder']} (run {found['run_id'] or '-'}) until "
                f"{found['expires_at']:%H:%M:%S} UTC; this run changed nothing. Wait for that "
                "run to finish, then run the window again if needed.",
                window=key.rsplit("/", 1)[-1],
            )
        claim_id = uuid.uuid4().hex
        row: dict[str, object] = {
            "claim": key,
            "claim_id": claim_id,
            "holder": holder_name(),
            "run_id": run_id,
            "claimed_at": now,
            "expires_at": now + timedelta(seconds=ttl),
        }
        try:
            self._write(table, key, [row])
        except CommitFailedError as exc:
            raise ClaimError(
                f"{key}: another run claimed it at the same moment and won; this run changed "
                "nothing.",
                window=key.rsplit("/", 1)[-1],
            ) from exc
        return claim_id

    def renew(self, key: str, claim_id: str, *, ttl: float) -> bool:
        """Extend our claim; False when it is no longer ours."""
        table = self._open()
        found = self.current(key, table)
        if found is None or found["claim_id"] != claim_id:
            return False
        found["expires_at"] = _now() + timedelta(seconds=ttl)
        try:
            self._write(table, key, [found])
        except CommitFailedError:
            return False
        return True

    def release(self, key: str, claim_id: str) -> None:
        """Give the claim up (if it is still ours)."""
        table = self._open()
        found = self.current(key, table)
        if found is None or found["claim_id"] != claim_id:
            return
        with contextlib.suppress(CommitFailedError):
            self._write(table, key, [])

    def compact(self) -> None:
        with contextlib.suppress(TableNotFoundError):
            table = DeltaTable(self.uri, storage_options=self.lake.storage_options)
            table.optimize.compact()


class Held:
    """A claim being held: renewed in the background until released."""

    def __init__(self, claims: Claims, key: str, claim_id: str, ttl: float) -> None:
        self.claims, self.key, self.claim_id, self.ttl = claims, key, claim_id, ttl
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"claim-{key}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                if not self.claims.renew(self.key, self.claim_id, ttl=self.ttl):
                    self.lost = True
                    return
            except DeltaError:
                continue  # a storage hiccup: the lease still has two thirds to run

    def check(self) -> None:
        """Raise ClaimError when the claim was lost (do not publish then)."""
        if self.lost:
            raise ClaimError(
                f"{self.key}: this run's claim expired and was taken over by another run; "
                "it published nothing.",
                window=self.key.rsplit("/", 1)[-1],
            )

    def release(self) -> None:
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(DeltaError):
            self.claims.release(self.key, self.claim_id)


@contextlib.contextmanager
def hold(
    lake: Lake, key: str, *, ttl: float = DEFAULT_TTL_SECONDS, run_id: str | None = None
) -> Iterator[Held]:
    """Hold the claim on `key` for the duration of the block (see the module docstring)."""
    claims = Claims(lake)
    held = Held(claims, key, claims.take(key, ttl=ttl, run_id=run_id), ttl)
    try:
        yield held
    finally:
        held.release()
