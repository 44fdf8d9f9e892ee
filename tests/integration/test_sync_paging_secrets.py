"""A window's fetch, end to end through `sync_range`: the raw archive holds no signed-URL query
string and no echo of the token, a rebuild from it gives the same tables, and a looping
cursor fails its window alone with a message that names the page."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq

from pipeline.api.client import OrchestrationClient
from pipeline.core.settings import Settings
from pipeline.fetch import archive
from pipeline.flatten import schemas
from pipeline.lake.store import Lake
from pipeline.runs.sync import rebuild_window, sync_range
from tests.support.scripted_server import Answer, ScriptedServer, Seen, page

TOKEN = "sk-echoed-by-a-gateway-0123456789"
DAY_1, DAY_2 = date(2026, 11, 1), date(2026, 11, 2)


def lake_rows(settings: Settings, days: list[date]) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {}
    lake = Lake.from_settings(settings)
    for table in schemas.WORKFLOW_TABLES:
        for day in days:
            found = lake.read(table, [day]).to_pylist()
            rows.setdefault(table, []).extend(sorted(found, key=repr))
    return rows


def raw_archive_bytes(settings: Settings) -> bytes:
    directory = archive.window_root(settings.raw_dir)
    return b"".join(archive.read_page(p) for p in sorted(directory.rglob("page-*")))


def test_the_archive_holds_no_signed_url_and_a_rebuild_gives_the_same_tables(
    make_simulator: Any, tmp_path: Path
) -> None:
    server = make_simulator(days=2, workflows_per_day=40, token=TOKEN)
    settings = Settings(api_url=server.url, token=TOKEN, data_dir=tmp_path)
    days = list(server.account.days)
    served = b"".join(orjson.dumps(wf) for day in days for wf in server.account.workflows(day))
    assert b"?sig=" in served  # the simulator does serve signed URLs
    with OrchestrationClient(base_url=server.url, token=TOKEN) as client:
        results = sync_range(settings, client, days, enrich=False)
    assert [r.status for r in results] == ["complete", "complete"]
    raw = raw_archive_bytes(settings)
    assert raw and b"sig=" not in raw and TOKEN.encode() not in raw
    before = lake_rows(settings, days)
    for day in days:
        rebuild_window(settings, day)
    assert lake_rows(settings, days) == before


def _item(n: int, day: date) -> dict[str, Any]:
    return {
        "id": f"{n}-{day:%Y%m%d}000000000",
        "createdAt": f"{day}T{n % 24:02d}:00:00Z",
        "status": "succeeded",
        "metadata": {"gateway": f"Authorization: Bearer {TOKEN}"},
        "steps": [
            {
                "$type": "textToImage",
                "name": "$0",
                "output": {
                    "images": [
                        {
                            "id": f"b{n}.jpeg",
                            "available": True,
                            "url": f"https://blobs.example.invalid/b{n}.jpeg?sig=SIG{n}\u0026exp=1",
                        }
                    ]
                },
            }
        ],
    }


def test_a_looping_cursor_fails_its_window_alone_and_nothing_secret_is_stored(
    tmp_path: Path,
) -> None:
    fresh = itertools.count(1)

    def route(seen: Seen) -> Answer:
        day = DAY_1 if seen.query.get("fromDate", [""])[0].startswith(str(DAY_1)) else DAY_2
        cursor = seen.query.get("cursor", [None])[0]
        if day == DAY_1:  # one page, then the end
            return page([_item(1, DAY_1), _item(2, DAY_1)])
        if cursor is None:
            return page([_item(1, DAY_2)], f"loop-{next(fresh)}")
        return page([_item(2, DAY_2)], cursor)  # hands back the cursor it was asked with

    settings = Settings(api_url="http://127.0.0.1:9", token=TOKEN, data_dir=tmp_path)
    with ScriptedServer(route) as server:
        with OrchestrationClient(base_url=server.url, token=TOKEN) as client:
            results = sync_range(settings, client, [DAY_1, DAY_2], enrich=False)
        by_day = {r.window_date: r for r in results}
        assert by_day[DAY_1].status == "complete" and by_day[DAY_1].workflows == 2
        assert by_day[DAY_2].status == "failed"
        error = by_day[DAY_2].error or ""
        assert "page 2" in error and "loops" in error and "#" in error
        assert "loop-" not in error  # the cursor itself is never shown
        assert len([s for s in server.requests if "fromDate=2026-11-02" in s.raw_query]) == 2
    stored = raw_archive_bytes(settings)
    assert b"SIG1" not in stored and TOKEN.encode() not in stored
    for path in tmp_path.rglob("*.parquet"):
        text = orjson.dumps(pq.read_table(path).to_pylist(), default=str)
        assert TOKEN.encode() not in text and b"SIG" not in text, path
