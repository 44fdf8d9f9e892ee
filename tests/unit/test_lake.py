"""The Delta lake and the raw archive: a window replaced by one commit per table, typed
columns, concurrent writers, and cleanup of what a killed process left."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from pipeline.fetch import archive
from pipeline.flatten import schemas
from pipeline.lake import tables
from pipeline.lake.store import ConcurrentWriteError, Lake, columns_id
from pipeline.warehouse import views

DAY = date(2026, 4, 2)


def txn_table(n: int, amount: int = 5, day: date = DAY) -> pa.Table:
    return pa.table(
        {
            "workflow_id": [f"1-{i}" for i in range(n)],
            "txn_index": pa.array([0] * n, pa.int32()),
            "window_date": pa.array([day] * n, pa.date32()),
            "txn_type": ["debit"] * n,
            "amount": pa.array([amount] * n, pa.int64()),
            "account_type": ["blue"] * n,
            "transaction_id": [None] * n,
        }
    )


def test_a_window_is_replaced_whole_by_one_commit(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    first = lake.replace_window("transactions", DAY, txn_table(3))
    other = lake.replace_window(
        "transactions", date(2026, 4, 3), txn_table(2, day=date(2026, 4, 3))
    )
    second = lake.replace_window("transactions", DAY, txn_table(1, amount=9))
    assert second.version == first.version + 2 == other.version + 1
    assert second.rows == 1 and len(second.files) == 1
    assert second.files[0].startswith("window_date=2026-04-02/")
    table = lake.read("transactions", [DAY])
    assert table.column("amount").to_pylist() == [9]
    assert lake.read("transactions").num_rows == 3  # the other window is untouched
    # The replaced file is still on disk (for readers of the older snapshot) but not live.
    assert (tmp_path / "transactions" / first.files[0]).exists()
    assert lake.window_files("transactions", DAY) == second.files
    # Delta readers see the same rows at the latest version, and the old ones at the first.
    delta = DeltaTable(str(tmp_path / "transactions"))
    assert delta.version() == second.version
    delta.load_as_version(first.version)
    assert sorted(delta.to_pyarrow_table().column("amount").to_pylist()) == [5, 5, 5]


def test_written_files_carry_the_explicit_schema(tmp_path: Path) -> None:
    # Columns in another order and int64 where the schema says int32 are conformed.
    data = txn_table(2).select(
        [
            "amount",
            "workflow_id",
            "txn_index",
            "window_date",
            "txn_type",
            "account_type",
            "transaction_id",
        ]
    )
    data = data.set_column(2, "txn_index", data.column("txn_index").cast(pa.int64()))
    lake = Lake(str(tmp_path))
    committed = lake.replace_window("transactions", DAY, data)
    written = pq.read_schema(tmp_path / "transactions" / committed.files[0])
    # The partition column lives in the directory name, as Delta Lake wants it.
    expected = [f for f in schemas.TRANSACTIONS if f.name != "window_date"]
    assert [(f.name, f.type) for f in written] == [(f.name, f.type) for f in expected]
    assert committed.columns_id == columns_id(f.name for f in expected)
    assert lake.read("transactions").schema.equals(schemas.TRANSACTIONS)


def test_an_empty_window_replaces_the_old_rows_with_none(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    assert lake.read("workflows", [DAY]).num_rows == 0  # never synced
    lake.replace_window("transactions", DAY, txn_table(2))
    committed = lake.replace_window("transactions", DAY, schemas.TRANSACTIONS.empty_table())
    assert committed.rows == 0 and committed.files == ()
    assert lake.read("transactions", [DAY]).num_rows == 0


def test_a_reader_never_sees_a_half_written_window(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    lake.replace_window("transactions", DAY, txn_table(1000, amount=1))
    stop = threading.Event()
    seen: set[int] = set()
    errors: list[BaseException] = []

    def read() -> None:
        while not stop.is_set():
            try:
                amounts = set(lake.read("transactions", [DAY]).column("amount").to_pylist())
            except BaseException as exc:
                errors.append(exc)
                return
            if len(amounts) != 1:
                errors.append(AssertionError(f"two versions mixed: {amounts}"))
                return
            seen.update(amounts)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for amount in range(2, 15):
            lake.replace_window("transactions", DAY, txn_table(1000, amount=amount))
    finally:
        stop.set()
        reader.join()
    assert not errors
    assert seen <= set(range(1, 15))


@pytest.mark.parametrize("existing", [True, False], ids=["replacing", "first-sync"])
def test_two_writers_of_one_window_collide_and_the_loser_changes_nothing(
    tmp_path: Path, existing: bool
) -> None:
    lake = Lake(str(tmp_path))
    lake.replace_window("transactions", date(2026, 4, 1), txn_table(1, day=date(2026, 4, 1)))
    if existing:
        lake.replace_window("transactions", DAY, txn_table(1, amount=1))
    barrier = threading.Barrier(2)
    outcomes: dict[int, object] = {}
    real_open = Lake._open
    waited: set[str] = set()

    def slow_open(self: Lake, table: str, version: int | None = None):  # type: ignore[no-untyped-def]
        found = real_open(self, table, version)
        name = threading.current_thread().name
        if name.startswith("writer") and name not in waited:
            waited.add(name)
            barrier.wait(timeout=10)  # both writers read the same version before writing
        return found

    def write(amount: int) -> None:
        try:
            outcomes[amount] = lake.replace_window("transactions", DAY, txn_table(4, amount=amount))
        except ConcurrentWriteError as exc:
            outcomes[amount] = exc

    pytest.MonkeyPatch().setattr(Lake, "_open", slow_open)
    try:
        threads = [threading.Thread(target=write, args=(a,), name=f"writer-{a}") for a in (7, 8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        pytest.MonkeyPatch().setattr(Lake, "_open", real_open)
    failed = [a for a, o in outcomes.items() if isinstance(o, ConcurrentWriteError)]
    won = [a for a, o in outcomes.items() if not isinstance(o, ConcurrentWriteError)]
    assert len(failed) == 1 and len(won) == 1, outcomes
    assert "another sync wrote" in str(outcomes[failed[0]])
    amounts = lake.read("transactions", [DAY]).column("amount").to_pylist()
    assert amounts == [won[0]] * 4  # the winner's rows, once
    assert lake.read("transactions", [date(2026, 4, 1)]).num_rows == 1


def test_writers_of_different_windows_never_collide(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    days = [date(2026, 4, d) for d in range(1, 7)]
    errors: list[BaseException] = []

    def write(day: date) -> None:
        try:
            lake.replace_window("transactions", day, txn_table(3, day=day))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(d,)) for d in days]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    counts = lake.read("transactions").group_by("window_date").aggregate([("amount", "count")])
    assert sorted(counts.to_pylist(), key=str) == sorted(
        [{"window_date": d, "amount_count": 3} for d in days], key=str
    )


def test_unknown_table_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="unknown lake table"):
        Lake(str(tmp_path)).replace_window("nope", DAY, txn_table(1))


def test_timestamps_are_utc_microseconds(tmp_path: Path) -> None:
    when = datetime(2026, 4, 2, 12, 0, 0, 123456, tzinfo=UTC)
    row = dict.fromkeys(schemas.BLOBS.names)
    row.update(blob_id="B", workflow_id="W", window_date=DAY, url_expires_at=when)
    lake = Lake(str(tmp_path))
    committed = lake.replace_window("blobs", DAY, pa.Table.from_pylist([row], schemas.BLOBS))
    assert lake.read("blobs").column("url_expires_at").to_pylist() == [when]
    written = pq.read_schema(tmp_path / "blobs" / committed.files[0])
    assert written.field("url_expires_at").type == pa.timestamp("us", tz="UTC")


def test_archive_attempts_are_immutable_and_swept_by_name(tmp_path: Path) -> None:
    day = date(2026, 4, 2)
    raw = archive.RawArchive(str(tmp_path / "raw"))
    first = archive.new_attempt_id()
    staged = archive.staging_dir(tmp_path / "work", first)
    archive.write_page(staged, 1, b'{"items": [], "next": null}')
    archive.write_manifest(staged, _manifest(day))
    raw.publish(day, first, staged)
    assert not staged.exists()

    # A later attempt lands beside it; neither is touched until one is swept by name.
    second = archive.new_attempt_id()
    staged = archive.staging_dir(tmp_path / "work", second)
    archive.write_page(staged, 1, b'{"items": [{"id": "w"}], "next": null}')
    archive.write_page(staged, 2, b'{"items": [], "next": null}')
    archive.write_manifest(staged, _manifest(day))
    raw.publish(day, second, staged)
    assert raw.attempts(day) == sorted([first, second]) and first < second
    pages, manifest = raw.local_copy(day, first, tmp_path / "scratch")
    assert [archive.read_page(p) for p in pages] == [b'{"items": [], "next": null}']
    assert manifest is not None and manifest.window_date == day.isoformat()

    assert raw.sweep(day, keep=second) == 1
    assert raw.attempts(day) == [second]
    assert raw.resolve(day, None) == second  # no ledger name: the newest complete attempt
    assert raw.days() == [day]


def test_an_archive_of_the_previous_layout_is_read_until_replaced(tmp_path: Path) -> None:
    day = date(2026, 4, 2)
    legacy = archive.archive_dir(tmp_path, day)
    legacy.mkdir(parents=True)
    archive.write_page(legacy, 1, b'{"items": [], "next": null}')
    archive.write_manifest(legacy, _manifest(day))
    raw = archive.RawArchive(str(tmp_path))
    assert raw.resolve(day, None) is None
    pages, manifest = raw.local_copy(day, None, tmp_path / "scratch")
    assert len(pages) == 1 and manifest is not None

    attempt = archive.new_attempt_id()
    staged = archive.staging_dir(tmp_path / "work", attempt)
    archive.write_page(staged, 1, b'{"items": [], "next": null}')
    raw.publish(day, attempt, staged)
    raw.sweep(day, keep=None)  # nobody names the new attempt yet: the old archive stays
    assert archive.page_files(legacy)
    raw.publish(day, attempt2 := archive.new_attempt_id(), _staged_page(tmp_path, attempt2))
    raw.sweep(day, keep=attempt2)
    assert [p.name for p in legacy.iterdir()] == [f"attempt={attempt2}"]


def _staged_page(tmp_path: Path, attempt: str) -> Path:
    staged = archive.staging_dir(tmp_path / "work", attempt)
    archive.write_page(staged, 1, b'{"items": [], "next": null}')
    return staged


def _manifest(day: date) -> archive.Manifest:
    now = datetime.now(UTC).isoformat()
    return archive.Manifest(day.isoformat(), "server", 1, 0, 0, now, now)


def test_a_column_renamed_since_a_file_was_written_reads_under_its_new_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # job_details as the release before the rename wrote it: `csam_score_max`, in a Delta
    # table whose schema has that name; then a window written by this release.
    current = tables.SCHEMAS["job_details"]
    old_schema = pa.schema(
        [f.with_name("csam_score_max") if f.name == "csam_score_max_pct" else f for f in current]
    )
    old_day, new_day = DAY, date(2026, 4, 3)
    lake = Lake(str(tmp_path))
    monkeypatch.setitem(tables.SCHEMAS, "job_details", old_schema)
    monkeypatch.setitem(tables.RENAMED, "job_details", {})
    row = {"job_id": "a", "window_date": old_day, "found": True, "csam_score_max": 61.5}
    old = lake.replace_window(
        "job_details", old_day, pa.Table.from_pylist([row], schema=old_schema)
    )
    monkeypatch.undo()
    row = {"job_id": "b", "window_date": new_day, "found": True, "csam_score_max_pct": 7.0}
    new = lake.replace_window("job_details", new_day, pa.Table.from_pylist([row], schema=current))

    read = lake.read("job_details")
    assert read.schema == current
    scores = {r["job_id"]: r["csam_score_max_pct"] for r in read.to_pylist()}
    assert scores == {"a": 61.5, "b": 7.0}
    streamed = pa.Table.from_batches(
        list(lake.batches("job_details", old_day, ["job_id", "csam_score_max_pct"]))
    )
    assert streamed.to_pylist() == [{"job_id": "a", "csam_score_max_pct": 61.5}]
    # The warehouse's view over both files (one group per set of columns).
    con = duckdb.connect()
    groups = [lake.absolute("job_details", c.files) for c in (old, new)]
    views.create_view(con, "job_details", current, groups)
    assert con.execute(
        "select job_id, csam_score_max_pct from job_details order by job_id"
    ).fetchall() == [("a", 61.5), ("b", 7.0)]
    assert "csam_score_max" not in [r[0] for r in con.execute("describe job_details").fetchall()]
