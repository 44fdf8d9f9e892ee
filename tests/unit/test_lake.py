"""Lake partitions and the raw archive: atomic replacement, typed empty files, cleanup of
what a killed process left."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.fetch import archive
from pipeline.flatten import schemas
from pipeline.lake import partitions as lake

DAY = date(2026, 4, 2)


def txn_table(n: int, amount: int = 5) -> pa.Table:
    return pa.table(
        {
            "workflow_id": [f"1-{i}" for i in range(n)],
            "txn_index": pa.array([0] * n, pa.int32()),
            "window_date": pa.array([DAY] * n, pa.date32()),
            "txn_type": ["debit"] * n,
            "amount": pa.array([amount] * n, pa.int64()),
            "account_type": ["blue"] * n,
            "transaction_id": [None] * n,
        }
    )


def test_partition_is_replaced_whole(tmp_path: Path) -> None:
    final = lake.replace_partition(tmp_path, "transactions", DAY, txn_table(3))
    assert final == tmp_path / "transactions" / "date=2026-04-02" / "data.parquet"
    assert lake.read_partition(tmp_path, "transactions", DAY).num_rows == 3
    lake.replace_partition(tmp_path, "transactions", DAY, txn_table(1, amount=9))
    table = lake.read_partition(tmp_path, "transactions", DAY)
    assert table.column("amount").to_pylist() == [9]
    # Only the published file is left: no temp file lingers after a replace.
    assert [p.name for p in final.parent.iterdir()] == ["data.parquet"]


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
    path = lake.replace_partition(tmp_path, "transactions", DAY, data)
    assert pq.read_schema(path).equals(schemas.TRANSACTIONS)


def test_an_empty_window_still_gets_a_typed_file(tmp_path: Path) -> None:
    assert lake.read_partition(tmp_path, "workflows", DAY) is None  # never synced
    temp = lake.temp_path(tmp_path, "workflows", DAY)
    lake.write_empty(temp, schemas.WORKFLOWS)
    lake.publish(temp, lake.partition_path(tmp_path, "workflows", DAY))
    table = lake.read_partition(tmp_path, "workflows", DAY)
    assert table is not None and table.num_rows == 0  # synced, no rows
    assert table.schema.equals(schemas.WORKFLOWS)
    assert lake.partition_days(tmp_path, "workflows") == [DAY]


def test_a_reader_never_sees_a_half_written_partition(tmp_path: Path) -> None:
    lake.replace_partition(tmp_path, "transactions", DAY, txn_table(1000, amount=1))
    path = lake.partition_path(tmp_path, "transactions", DAY)
    stop = threading.Event()
    seen: set[int] = set()
    errors: list[BaseException] = []

    def read() -> None:
        while not stop.is_set():
            try:
                amounts = set(pq.read_table(path).column("amount").to_pylist())
            except BaseException as exc:  # a torn file would fail to parse
                errors.append(exc)
                return
            assert len(amounts) == 1
            seen.update(amounts)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for amount in range(2, 30):
            lake.replace_partition(tmp_path, "transactions", DAY, txn_table(1000, amount=amount))
    finally:
        stop.set()
        reader.join()
    assert not errors
    assert seen <= set(range(1, 30))


def test_stale_temps_of_a_window_are_removed_and_others_kept(tmp_path: Path) -> None:
    stale = lake.temp_path(tmp_path, "jobs", DAY)
    stale.write_bytes(b"half")
    other_day = lake.temp_path(tmp_path, "jobs", date(2026, 4, 3))
    other_day.write_bytes(b"someone else's")
    assert lake.remove_stale_temps(tmp_path, DAY) == 1
    assert not stale.exists() and other_day.exists()
    # A temp name is never taken for a partition.
    assert lake.partition_days(tmp_path, "jobs") == []


def test_unknown_table_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="unknown lake table"):
        lake.replace_partition(tmp_path, "nope", DAY, txn_table(1))


def test_timestamps_are_utc_microseconds(tmp_path: Path) -> None:
    when = datetime(2026, 4, 2, 12, 0, 0, 123456, tzinfo=UTC)
    row = dict.fromkeys(schemas.BLOBS.names)
    row.update(blob_id="B", window_date=DAY, url_expires_at=when)
    path = lake.replace_partition(
        tmp_path, "blobs", DAY, pa.Table.from_pylist([row], schemas.BLOBS)
    )
    assert pq.read_table(path).column("url_expires_at").to_pylist() == [when]
    assert pq.read_schema(path).field("url_expires_at").type == pa.timestamp("us", tz="UTC")


def test_an_unfinished_archive_swap_is_undone(tmp_path: Path) -> None:
    day = date(2026, 4, 2)
    first = archive.new_attempt_dir(tmp_path, day)
    archive.write_page(first, 1, b'{"items": [], "next": null}')
    archive.publish_attempt(tmp_path, day, first)
    final = archive.archive_dir(tmp_path, day)
    assert [p.name for p in archive.page_files(final)] == ["page-00001.json.zst"]

    # Killed between "old archive aside" and "new archive in": the old one comes back.
    aside = final.parent / f".old-{day}-deadbeef"
    final.rename(aside)
    abandoned = archive.new_attempt_dir(tmp_path, day)
    archive.write_page(abandoned, 1, b'{"items": [{"half": true}]}')
    archive.recover(tmp_path, day)
    assert final.is_dir() and not aside.exists() and not abandoned.exists()
    assert [p.name for p in archive.page_files(final)] == ["page-00001.json.zst"]
    assert archive.archived_days(tmp_path) == [day]
