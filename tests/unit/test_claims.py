"""Window claims in a Delta table (here on a local disk; on S3 in tests/distributed)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from deltalake.exceptions import CommitFailedError

from pipeline.lake.claims import ClaimError, Claims, hold
from pipeline.lake.store import Lake

KEY = "sync/2026-04-02"


def test_a_live_claim_keeps_other_claimants_out_until_released(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    with hold(lake, KEY, ttl=60, run_id="run-a") as held:
        with pytest.raises(ClaimError, match=r"claimed by .*run-a"):
            Claims(lake).take(KEY, ttl=60)
        # Another window is free.
        other = Claims(lake).take("sync/2026-04-03", ttl=60)
        assert other
        held.check()
    # Released: the next run may take it.
    assert Claims(lake).take(KEY, ttl=60)


def test_an_expired_claim_is_taken_over_and_its_holder_cannot_publish(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    claims = Claims(lake)
    stale = claims.take(KEY, ttl=0.2)
    time.sleep(0.3)  # the holder stalled past its lease
    fresh = claims.take(KEY, ttl=60)
    assert fresh != stale
    assert not claims.renew(KEY, stale, ttl=60)
    claims.release(KEY, stale)  # a late release of the old claim frees nothing
    assert claims.current(KEY)["claim_id"] == fresh


def test_two_claimants_reading_the_same_state_cannot_both_win(tmp_path: Path) -> None:
    """The race the lease check alone cannot settle: both saw no claim; Delta's conflict check
    lets only the first commit through."""
    lake = Lake(str(tmp_path))
    claims = Claims(lake)
    claims.take("sync/2026-04-01", ttl=60)  # the table exists
    first, second = claims._open(), claims._open()  # both read the same version
    row = {"claim": KEY, "claim_id": "x", "holder": "h", "run_id": None}
    now = datetime.now(UTC)
    claims._write(first, KEY, [{**row, "claimed_at": now, "expires_at": now}])
    with pytest.raises(CommitFailedError):
        claims._write(second, KEY, [{**row, "claim_id": "y", "claimed_at": now, "expires_at": now}])
    assert claims.current(KEY)["claim_id"] == "x"


def test_a_lost_claim_is_reported_by_check(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    with hold(lake, KEY, ttl=0.3) as held:
        # Someone takes the window over after the lease ran out (simulated by force).
        claims = Claims(lake)
        table = claims._open()
        found = claims.current(KEY, table)
        claims._write(table, KEY, [{**found, "claim_id": "thief"}])
        deadline = time.monotonic() + 5
        while not held.lost and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(ClaimError, match="taken over"):
            held.check()
    assert Claims(lake).current(KEY)["claim_id"] == "thief"  # our release left it alone


def test_live_says_whether_a_lease_is_running(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    claims = Claims(lake)
    assert not claims.live(KEY)  # no table yet: nothing is claimed (and nothing is created)
    assert not (tmp_path / "_claims").exists()
    with hold(lake, KEY, ttl=60):
        assert claims.live(KEY)
    assert not claims.live(KEY)
