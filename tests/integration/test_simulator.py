"""The simulator behaves like the API the pipeline is written against (over real HTTP)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import httpx
import orjson
import pytest

from simulator import Faults, SimulatedAccount, SimulatorConfig, SimulatorServer
from simulator.vocab import FUTURE_CONTEXT_KEY
from tests.support.simulated import STEP_TYPES

TOKEN = "sim-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REFUNDED = {"failed", "expired", "canceled"}
RUNNING = {"unassigned", "preparing", "scheduled", "processing"}
MATURE = {"r", "x", "xxx"}
DAY0 = date(2026, 11, 1)


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    config = SimulatorConfig(seed=5, days=3, workflows_per_day=120, running_share=0.1)
    with SimulatorServer(config) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server: SimulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH) as c:
        yield c


def pages(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """Follow `next` until it is missing/empty; return the page bodies."""
    out = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        resp = client.get("/v2/consumer/workflows", params=query)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        out.append(body)
        cursor = body.get("next")
        if not cursor:
            return out
        assert len(out) < 10_000


def items(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    return [w for page in pages(client, **params) for w in page["items"]]


def day_params(day: date) -> dict[str, str]:
    return {"fromDate": f"{day}T00:00:00Z", "toDate": f"{day}T23:59:59.9999999Z"}


def output_blobs(workflow: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every blob at any depth of the workflow's step outputs."""
    for step in workflow["steps"]:
        for _path, blob in _walk(step.get("output"), "$"):
            yield blob


def _walk(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if isinstance(node.get("id"), str) and "available" in node:
            yield path, node
            return
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


# --- determinism and ground truth ----------------------------------------------------------
def test_same_seed_same_bytes_and_another_seed_differs(make_simulator: Any) -> None:
    def fingerprint(sim: SimulatorServer) -> list[bytes]:
        with httpx.Client(base_url=sim.url, headers=AUTH) as c:
            out = []
            cursor = None
            while True:
                resp = c.get(
                    "/v2/consumer/workflows",
                    params={"take": 13, **({"cursor": cursor} if cursor else {})},
                )
                out.append(resp.content)
                cursor = resp.json().get("next")
                if not cursor:
                    break
            first = resp.json()["items"][-1]
            out.append(c.get(f"/v2/consumer/workflows/{first['id']}").content)
            for step in first["steps"]:
                for job in step.get("jobs") or ():
                    out.append(c.get(f"/v1/consumer/jobs/{job['id']}").content)
            return out

    a = fingerprint(make_simulator(seed=3, days=2, workflows_per_day=30))
    b = fingerprint(make_simulator(seed=3, days=2, workflows_per_day=30))
    c = fingerprint(make_simulator(seed=4, days=2, workflows_per_day=30))
    assert a == b
    assert a[0] != c[0]


def test_pages_serve_exactly_the_ground_truth(
    client: httpx.Client, server: SimulatorServer
) -> None:
    for day in server.account.days:
        served = items(
            client, ascending="true", hideMatureContent="false", take=50, **day_params(day)
        )
        assert served == list(server.account.workflows(day))


def test_pagination_covers_each_day_exactly_once(
    client: httpx.Client, server: SimulatorServer
) -> None:
    everything: list[str] = []
    for day in server.account.days:
        got = items(client, take=37, **day_params(day))
        ids = [w["id"] for w in got]
        assert len(ids) == len(set(ids)) == 120
        assert set(ids) == {w["id"] for w in server.account.workflows(day)}
        assert all(w["createdAt"].startswith(day.isoformat()) for w in got)
        created = [_ts(w["createdAt"]) for w in got]
        assert created == sorted(created, reverse=True)  # newest first by default
        everything += ids
    unfiltered = [w["id"] for w in items(client, take=100)]
    assert sorted(unfiltered) == sorted(everything)


def _ts(text: str) -> datetime:
    # Python 3.11 parses at most 6 fractional digits; the 7th is a tick (100 ns).
    match = re.match(r"^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$", text)
    assert match, text
    frac = (match.group(2) or "").ljust(7, "0")
    return datetime.fromisoformat(f"{match.group(1)}.{frac[:6]}+00:00").replace(
        microsecond=int(frac[:6])
    )


def test_default_page_size_and_take(client: httpx.Client) -> None:
    first = client.get("/v2/consumer/workflows").json()
    assert len(first["items"]) == 100 and first["next"]
    assert len(client.get("/v2/consumer/workflows", params={"take": 7}).json()["items"]) == 7


def test_ascending_is_oldest_first(client: httpx.Client, server: SimulatorServer) -> None:
    got = items(client, ascending="true", take=100)
    created = [_ts(w["createdAt"]) for w in got]
    assert created == sorted(created)
    assert got[0]["id"] == next(server.account.workflows(DAY0))["id"]


# --- filters -------------------------------------------------------------------------------
def truth(server: SimulatorServer) -> list[dict[str, Any]]:
    return [w for day in server.account.days for w in server.account.workflows(day)]


def test_tags_combine_with_and(client: httpx.Client, server: SimulatorServer) -> None:
    expected = {w["id"] for w in truth(server) if {"civitai", "txt2img"} <= set(w["tags"])}
    only_civitai = {w["id"] for w in truth(server) if "civitai" in w["tags"]}
    assert 0 < len(expected) < len(only_civitai)
    got = items(client, tags=["civitai", "txt2img"], take=25)
    assert {w["id"] for w in got} == expected
    assert len(got) == len(expected)
    assert {w["id"] for w in items(client, tags="civitai")} == only_civitai


def test_query_matches_metadata_text_case_insensitively(
    client: httpx.Client, server: SimulatorServer
) -> None:
    expected = {
        w["id"]
        for w in truth(server)
        if "lighthouse" in orjson.dumps(w["metadata"]).decode().lower()
    }
    assert expected
    got = items(client, query="LightHouse", take=30)
    assert {w["id"] for w in got} == expected
    assert items(client, query="no-such-text-anywhere") == []


def test_exclude_failed_drops_failed_expired_and_canceled(
    client: httpx.Client, server: SimulatorServer
) -> None:
    statuses = Counter(w["status"] for w in truth(server))
    assert all(statuses[s] for s in REFUNDED)
    got = items(client, excludeFailed="true")
    assert {w["status"] for w in got}.isdisjoint(REFUNDED)
    assert len(got) == sum(n for s, n in statuses.items() if s not in REFUNDED)


def test_date_range_is_inclusive_on_created_at(
    client: httpx.Client, server: SimulatorServer
) -> None:
    day1 = list(server.account.workflows(server.account.days[1]))
    lo, hi = day1[10]["createdAt"], day1[50]["createdAt"]
    got = items(client, fromDate=lo, toDate=hi, take=15)
    assert [w["id"] for w in got] == [w["id"] for w in reversed(day1[10:51])]
    # An offset is honoured: 02:00+02:00 is midnight UTC.
    midnight = items(
        client,
        fromDate="2026-11-02T02:00:00+02:00",
        toDate="2026-11-02T23:59:59.9999999Z",
        take=100,
    )
    assert len(midnight) == 120


def test_hide_mature_content_defaults_differ_between_list_and_get(
    client: httpx.Client, server: SimulatorServer
) -> None:
    listed = items(client, **day_params(DAY0))  # list default: hidden
    shown = {w["id"]: w for w in items(client, hideMatureContent="false", **day_params(DAY0))}
    hidden_blobs = 0
    for workflow in listed:
        for blob in output_blobs(workflow):
            if blob.get("nsfwLevel") in MATURE:
                assert blob["available"] is False and "url" not in blob
                assert "previewUrl" not in blob
                hidden_blobs += 1
    assert hidden_blobs
    mature_wf = next(
        w
        for w in shown.values()
        if any(b.get("nsfwLevel") in MATURE and b["available"] for b in output_blobs(w))
    )
    got = client.get(f"/v2/consumer/workflows/{mature_wf['id']}").json()  # get default: shown
    assert got == mature_wf
    hidden = client.get(
        f"/v2/consumer/workflows/{mature_wf['id']}", params={"hideMatureContent": "true"}
    ).json()
    assert all(not b["available"] for b in output_blobs(hidden) if b.get("nsfwLevel") in MATURE)


# --- single resources ----------------------------------------------------------------------
def test_step_endpoint_serves_the_workflow_step(
    client: httpx.Client, server: SimulatorServer
) -> None:
    workflow = next(w for w in server.account.workflows(DAY0) if len(w["steps"]) == 2)
    for step in workflow["steps"]:
        name = step["name"]
        resp = client.get(f"/v2/consumer/workflows/{workflow['id']}/steps/{name}")
        assert resp.status_code == 200 and resp.json() == step
        encoded = name.replace("$", "%24")
        assert client.get(f"/v2/consumer/workflows/{workflow['id']}/steps/{encoded}").json() == step
    assert client.get(f"/v2/consumer/workflows/{workflow['id']}/steps/$9").status_code == 404


def test_every_id_style_resolves_and_unknown_ids_404(
    client: httpx.Client, server: SimulatorServer
) -> None:
    by_style: dict[str, str] = {}
    for w in truth(server):
        by_style.setdefault("A" if not w["id"].startswith("0-") else "B", w["id"])
    assert set(by_style) == {"A", "B"}
    for workflow_id in by_style.values():
        assert client.get(f"/v2/consumer/workflows/{workflow_id}").json()["id"] == workflow_id
    a = by_style["A"]
    for unknown in (
        a[:-1] + str((int(a[-1]) + 1) % 10),
        "1-20261101000000000",
        "nope",
        "0-01a0c0de-0000-7000-8000-000000000000",
    ):
        resp = client.get(f"/v2/consumer/workflows/{unknown}")
        assert resp.status_code == 404
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.json()["status"] == 404
    assert client.get("/v1/consumer/jobs/not-a-uuid").status_code == 404
    assert client.get("/v2/consumer/nothing-here").status_code == 404


def test_v1_job_matches_ground_truth_and_detailed_false_drops_the_definition(
    client: httpx.Client, server: SimulatorServer
) -> None:
    workflow = next(w for w in server.account.workflows(DAY0) if w["status"] == "succeeded")
    job_id = workflow["steps"][0]["jobs"][0]["id"]
    detailed = client.get(f"/v1/consumer/jobs/{job_id}", params={"detailed": "true"})
    assert detailed.status_code == 200
    assert detailed.json() == server.account.job(job_id)
    assert detailed.json()["job"]["properties"]["workflowId"] == workflow["id"]
    plain = client.get(f"/v1/consumer/jobs/{job_id}", params={"detailed": "false"}).json()
    assert "job" not in plain and plain["lastEvent"] == detailed.json()["lastEvent"]


def test_blob_redirects_to_content_and_enforces_nsfw_level(
    client: httpx.Client, server: SimulatorServer
) -> None:
    blobs = [(w["id"], b) for w in truth(server) for b in output_blobs(w) if b["available"]]
    workflow_id, blob = next(
        (w, b) for w, b in blobs if b.get("nsfwLevel") == "x" and b["id"].endswith(".jpeg")
    )
    resp = client.get(f"/v2/consumer/blobs/{blob['id']}", params={"workflowId": workflow_id})
    assert resp.status_code == 308
    location = resp.headers["location"]
    assert location.startswith(f"{server.url}/v2/consumer/blobs/content/")
    content = httpx.get(location)  # no auth needed
    assert content.status_code == 200 and content.headers["content-type"] == "image/jpeg"
    assert content.content.startswith(b"\xff\xd8\xff") and blob["id"].encode() in content.content
    assert httpx.get(location).content == content.content
    too_strict = client.get(f"/v2/consumer/blobs/{blob['id']}", params={"nsfwLevel": "pg13"})
    assert too_strict.status_code == 403
    assert (
        client.get(f"/v2/consumer/blobs/{blob['id']}", params={"nsfwLevel": "xxx"}).status_code
        == 308
    )
    assert (
        client.get(f"/v2/consumer/blobs/{blob['id']}", params={"nsfwLevel": "huge"}).status_code
        == 400
    )
    assert (
        client.get(f"/v2/consumer/blobs/{blob['id']}", params={"workflowId": "other"}).status_code
        == 404
    )
    png = next(b for _, b in blobs if b["id"].endswith(".png"))
    redirect = client.get(
        f"/v2/consumer/blobs/{png['id']}", params={"download": "true", "filename": "a b.png"}
    )
    got = httpx.get(redirect.headers["location"])
    assert got.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert got.headers["content-disposition"] == 'attachment; filename="a b.png"'
    assert httpx.get(location[:-3] + "xyz").status_code == 404


def test_bad_parameters_are_400_problem_details(client: httpx.Client) -> None:
    for params in (
        {"take": 0},
        {"take": "x"},
        {"ascending": "maybe"},
        {"fromDate": "yesterday"},
        {"cursor": "garbage"},
        {"hideMatureContent": "2"},
    ):
        resp = client.get("/v2/consumer/workflows", params=params)
        assert resp.status_code == 400, params
        assert resp.json()["errors"]


# --- auth ----------------------------------------------------------------------------------
def test_bad_or_missing_token_is_401_without_echoing_it(server: SimulatorServer) -> None:
    missing = httpx.get(f"{server.url}/v2/consumer/workflows")
    wrong = httpx.get(
        f"{server.url}/v1/consumer/jobs/x", headers={"Authorization": "Bearer secret-guess-123"}
    )
    basic = httpx.get(f"{server.url}/v2/consumer/workflows", headers={"Authorization": TOKEN})
    for resp in (missing, wrong, basic):
        assert resp.status_code == 401
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.headers["www-authenticate"] == "Bearer"
        assert resp.json()["title"] == "Unauthorized"
    assert "secret-guess-123" not in wrong.text
    # Admin routes are the simulator's own and need no token.
    assert httpx.get(f"{server.url}/_simulator/stats").status_code == 200


# --- running workflows and advance ---------------------------------------------------------
def test_advance_finishes_running_workflows(make_simulator: Any) -> None:
    sim = make_simulator(seed=9, days=1, workflows_per_day=60, running_share=0.3)
    before = {w["id"]: w for w in sim.account.workflows(DAY0)}
    running = [w for w in before.values() if w["status"] in RUNNING]
    settled = [w for w in before.values() if w not in running]
    assert len(running) >= 8 and set(sim.account.running_ids()) == {w["id"] for w in running}
    with httpx.Client(base_url=sim.url, headers=AUTH) as c:
        wf = running[0]
        assert c.get(f"/v2/consumer/workflows/{wf['id']}").status_code == 200
        waited = c.get(f"/v2/consumer/workflows/{wf['id']}", params={"wait": 30})
        assert waited.status_code == 202 and waited.json() == wf
        assert "completedAt" not in wf and "nsfwLevel" not in wf
        assert [t["type"] for t in wf["transactions"]["list"]] == ["debit"] * len(
            wf["transactions"]["list"]
        )
        job_id = wf["steps"][0]["jobs"][0]["id"]
        live = c.get(f"/v1/consumer/jobs/{job_id}").json()
        assert live["lastEvent"]["type"] in ("Initialized", "Claimed", "Updated")
        assert live["lastEvent"]["jobHasCompleted"] is False

        advanced = httpx.post(f"{sim.url}/_simulator/advance").json()
        assert advanced == {"finished": len(running)}

        after = {w["id"]: w for w in sim.account.workflows(DAY0)}
        assert {w["status"] for w in after.values()} <= {"succeeded", *REFUNDED}
        assert all(after[w["id"]] == w for w in settled)  # finished ones never change
        done = c.get(f"/v2/consumer/workflows/{wf['id']}", params={"wait": 30})
        assert done.status_code == 200 and done.json() == after[wf["id"]]
        assert "completedAt" in done.json()
        final = c.get(f"/v1/consumer/jobs/{job_id}")
        if final.status_code == 200:  # a small share of jobs is purged from v1 (404)
            assert final.json()["lastEvent"]["type"] in (
                "Succeeded",
                "Failed",
                "Expired",
                "Canceled",
                "Deleted",
            )
    assert sim.account.running_ids() == [] and sim.account.advance() == 0


def test_running_share_zero_has_nothing_running() -> None:
    account = SimulatedAccount(SimulatorConfig(days=1, workflows_per_day=50, running_share=0))
    assert account.running_ids() == []


# --- faults --------------------------------------------------------------------------------
def test_429s_fire_at_roughly_the_configured_rate(make_simulator: Any) -> None:
    sim = make_simulator(days=1, workflows_per_day=10, faults=Faults(rate_429=0.3))
    statuses = []
    with httpx.Client(base_url=sim.url, headers=AUTH) as c:
        for _ in range(300):
            resp = c.get("/v2/consumer/workflows", params={"take": 1})
            statuses.append(resp.status_code)
            if resp.status_code == 429:
                assert resp.headers["retry-after"] == "1"
                assert resp.json()["status"] == 429
    limited = statuses.count(429)
    assert 50 <= limited <= 130
    assert set(statuses) == {200, 429}
    stats = httpx.get(f"{sim.url}/_simulator/stats").json()
    assert stats["status_429"] == limited == sim.stats.status_429
    assert stats["requests"]["workflows.list"] == 300


def test_fault_draws_are_reproducible(make_simulator: Any) -> None:
    def run(sim: SimulatorServer) -> list[int]:
        with httpx.Client(base_url=sim.url, headers=AUTH) as c:
            return [
                c.get("/v2/consumer/workflows", params={"take": 1}).status_code for _ in range(60)
            ]

    faults = Faults(rate_429=0.2, rate_5xx=0.2)
    first = run(make_simulator(seed=21, days=1, workflows_per_day=5, faults=faults))
    second = run(make_simulator(seed=21, days=1, workflows_per_day=5, faults=faults))
    assert first == second and len(set(first)) >= 3


def test_retry_after_can_be_absent_or_zero_via_the_admin_endpoint(make_simulator: Any) -> None:
    sim = make_simulator(days=1, workflows_per_day=5, faults=Faults(rate_429=1.0))
    with httpx.Client(base_url=sim.url, headers=AUTH) as c:
        assert (
            httpx.post(f"{sim.url}/_simulator/faults", json={"retry_after": None}).status_code
            == 200
        )
        assert "retry-after" not in c.get("/v2/consumer/workflows").headers
        httpx.post(f"{sim.url}/_simulator/faults", json={"retry_after": "0"})
        assert c.get("/v2/consumer/workflows").headers["retry-after"] == "0"
        assert sim.faults.retry_after == "0"
        sim.faults.rate_429 = 0  # and in-process
        assert c.get("/v2/consumer/workflows").status_code == 200
    current = httpx.get(f"{sim.url}/_simulator/faults").json()
    assert current["rate_429"] == 0 and current["retry_after"] == "0"
    for bad in ({"rate_429": 2}, {"no_such_fault": 1}, [1, 2]):
        assert httpx.post(f"{sim.url}/_simulator/faults", json=bad).status_code == 400
    assert httpx.post(f"{sim.url}/_simulator/faults", content=b"{not json").status_code == 400
    assert sim.faults.rate_429 == 0


def test_5xx_are_html_gateway_pages(make_simulator: Any) -> None:
    sim = make_simulator(days=1, workflows_per_day=5, faults=Faults(rate_5xx=1.0))
    with httpx.Client(base_url=sim.url, headers=AUTH) as c:
        codes = set()
        for _ in range(20):
            resp = c.get("/v2/consumer/workflows")
            codes.add(resp.status_code)
            assert resp.headers["content-type"].startswith("text/html")
            assert resp.text.startswith("<!DOCTYPE html>")
    assert codes == {502, 503}
    assert sim.stats.status_5xx == 20


def test_faults_can_target_routes(make_simulator: Any) -> None:
    sim = make_simulator(
        days=1, workflows_per_day=5, faults=Faults(rate_429=1.0, routes=frozenset({"jobs.get"}))
    )
    with httpx.Client(base_url=sim.url, headers=AUTH) as c:
        page = c.get("/v2/consumer/workflows")
        assert page.status_code == 200
        job_id = page.json()["items"][0]["steps"][0]["jobs"][0]["id"]
        assert c.get(f"/v1/consumer/jobs/{job_id}").status_code == 429
    with pytest.raises(ValueError, match="unknown fault routes"):
        Faults(routes=frozenset({"everything"}))


def test_page_size_clamp(make_simulator: Any) -> None:
    sim = make_simulator(days=1, workflows_per_day=45, faults=Faults(page_size_clamp=10))
    with httpx.Client(base_url=sim.url, headers=AUTH) as c:
        got = pages(c, take=100)
    assert [len(p["items"]) for p in got] == [10, 10, 10, 10, 5]


def test_ignored_date_filter_returns_other_days(make_simulator: Any) -> None:
    sim = make_simulator(days=3, workflows_per_day=20)
    with httpx.Client(base_url=sim.url, headers=AUTH) as c:
        assert len(items(c, **day_params(date(2026, 11, 2)))) == 20
        sim.faults.ignore_date_filter = True
        leaked = items(c, **day_params(date(2026, 11, 2)))
    assert len(leaked) == 60
    assert {w["createdAt"][:10] for w in leaked} == {"2026-11-01", "2026-11-02", "2026-11-03"}


def test_malformed_pages_break_json_at_their_position_in_the_chain(make_simulator: Any) -> None:
    sim = make_simulator(
        days=1, workflows_per_day=50, faults=Faults(malformed_pages=frozenset({2}))
    )
    with httpx.Client(base_url=sim.url, headers=AUTH) as c:
        first = c.get("/v2/consumer/workflows", params={"take": 10})
        cursor = first.json()["next"]
        second = c.get("/v2/consumer/workflows", params={"take": 10, "cursor": cursor})
        assert second.status_code == 200
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(second.content)
        # The same position stays broken on retry; a fresh chain's page 1 is fine.
        again = c.get("/v2/consumer/workflows", params={"take": 10, "cursor": cursor})
        assert again.content == second.content
        sim.faults.malformed_pages = frozenset()
        third = c.get(
            "/v2/consumer/workflows",
            params={
                "take": 10,
                "cursor": c.get(
                    "/v2/consumer/workflows", params={"take": 10, "cursor": cursor}
                ).json()["next"],
            },
        )
        assert third.json()["items"]
    assert sim.stats.malformed == 2


@pytest.mark.parametrize("mode", ["omit", "null", "empty", "cursor"])
def test_last_page_signals(make_simulator: Any, mode: str) -> None:
    sim = make_simulator(days=1, workflows_per_day=25, faults=Faults(last_page_next=mode))
    with httpx.Client(base_url=sim.url, headers=AUTH) as c:
        got = pages(c, take=10)
    sizes = [len(p["items"]) for p in got]
    last = got[-1]
    if mode == "cursor":
        assert sizes == [10, 10, 5, 0] and "next" not in last
    else:
        assert sizes == [10, 10, 5]
        assert {
            "omit": "next" not in last,
            "null": last.get("next", 1) is None,
            "empty": last.get("next") == "",
        }[mode]


# --- realism of the generated data ---------------------------------------------------------
def test_workflow_data_is_varied_like_the_real_api() -> None:
    account = SimulatedAccount(SimulatorConfig(seed=1, days=1, workflows_per_day=1500))
    workflows = list(account.workflows(DAY0))
    ids = [w["id"] for w in workflows]
    style_a = [i for i in ids if re.fullmatch(r"[1-9]\d*-\d{17}", i)]
    style_b = [
        w
        for w in workflows
        if re.fullmatch(
            r"0-[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", w["id"]
        )
    ]
    assert len(style_a) + len(style_b) == len(ids)
    assert 0.75 < len(style_a) / len(ids) < 0.95
    tagged = [w for w in style_b if any(t.startswith("user:") for t in w["tags"])]
    assert 0 < len(tagged) < len(style_b)  # and some with no user at all
    for w in workflows:
        if w["id"] in style_a:  # the suffix is createdAt to the millisecond
            created = _ts(w["createdAt"])
            expected = created.strftime("%Y%m%d%H%M%S") + f"{created.microsecond // 1000:03d}"
            assert w["id"].split("-")[1] == expected
    users = Counter(i.split("-")[0] for i in style_a)
    assert 30 <= len(users) <= 40
    assert users.most_common(1)[0][1] / len(style_a) > 0.12  # skewed activity
    statuses = Counter(w["status"] for w in workflows)
    assert statuses["succeeded"] / len(workflows) > 0.7
    assert all(statuses[s] for s in ("failed", "expired", "canceled", *RUNNING))
    types = Counter(s["$type"] for w in workflows for s in w["steps"])
    assert set(types) >= STEP_TYPES
    assert any(len(w["steps"]) == 2 for w in workflows)
    assert {len(s.get("jobs") or []) for w in workflows for s in w["steps"]} >= {0, 1, 2}

    for w in workflows:
        txns = w.get("transactions", {}).get("list", [])
        if w["status"] in ("failed", "expired") or (w["status"] == "canceled" and txns):
            debit = sum(t["amount"] for t in txns if t["type"] == "debit")
            credit = sum(t["amount"] for t in txns if t["type"] == "credit")
            assert debit == credit > 0 and w["cost"]["total"] == 0
        elif w["status"] == "succeeded":
            assert sum(t["amount"] for t in txns if t["type"] == "debit") == w["cost"]["total"]
            assert w["cost"]["total"] == (
                w["cost"]["base"] + w["cost"]["tips"]["civitai"] + w["cost"]["tips"]["creators"]
            )
        assert {t["accountType"] for t in txns} <= set(w["currencies"])

    blobs = [b for w in workflows for b in output_blobs(w)]
    assert all(re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}\.[a-z0-9]{2,11}", b["id"]) for b in blobs)
    assert all("?sig=" in b["url"] for b in blobs if "url" in b)
    assert any("type" not in b and "nsfwLevel" not in b and "jobId" not in b for b in blobs)
    assert {b.get("nsfwLevel") for b in blobs} >= {"pg", "pg13", "r", "x", "xxx"}
    assert any(b.get("blockedReason") for b in blobs)
    for w in workflows:  # a blob is listed once per workflow; output-cache hits share ids
        ids = [b["id"] for b in output_blobs(w)]
        assert len(ids) == len(set(ids))
    assert len({b["id"] for b in blobs}) < len(blobs)
    steps = [s for w in workflows for s in w["steps"]]
    assert {s["timeout"] for s in steps} >= {"00:20:00", "01:00:00", "1.00:00:00", "PT20M"}
    inputs = [s["input"] for s in steps if isinstance(s["input"], dict)]
    assert any(isinstance(s["input"], str) for s in steps)  # imageUpload's input
    assert any(str(i.get("model", "")).startswith("urn:air:") for i in inputs)
    assert any("?sig=" in orjson.dumps(i).decode() for i in inputs)
    fractional = Counter(len(w["createdAt"][20:-1]) for w in workflows)
    assert fractional[3] and fractional[7]


def test_job_contexts_cover_every_shape_a_consumer_must_survive() -> None:
    account = SimulatedAccount(
        SimulatorConfig(seed=2, days=1, workflows_per_day=1500, running_share=0)
    )
    docs = list(account.jobs(DAY0))
    job_ids = [
        j["id"] for w in account.workflows(DAY0) for s in w["steps"] for j in s.get("jobs") or []
    ]
    assert 0 < len(job_ids) - len(docs) < 0.05 * len(job_ids)  # some jobs 404 on v1
    assert account.job(next(i for i in job_ids if account.job(i) is None)) is None
    contexts = [d["lastEvent"]["context"] for d in docs]
    with_scan = [c for c in contexts if isinstance(c, dict) and "hive_csam_score" in c]
    assert any(c is None for c in contexts)
    assert any(isinstance(c, dict) and "hive_csam_score" not in c for c in contexts)
    forms = Counter(type(c["hive_csam_score"]).__name__ for c in with_scan)
    assert forms["str"] > 0.8 * len(with_scan) and forms["float"] and forms["list"]
    assert any(c["hive_csam_score"] == "n/a" for c in with_scan)
    assert any(FUTURE_CONTEXT_KEY in c for c in with_scan)
    # A space or a no-break space before `%`.
    pattern = re.compile(r"^\d{1,3}\.\d{2}[ \u00a0]%(, \d{1,3}\.\d{2}[ \u00a0]%)*$")
    strings = [
        c["hive_csam_score"]
        for c in with_scan
        if isinstance(c["hive_csam_score"], str) and c["hive_csam_score"] != "n/a"
    ]
    assert all(pattern.match(s) for s in strings)
    high = [s for s in strings if max(float(x[:-1]) for x in s.split(", ")) >= 50]
    assert 0.005 < len(high) / len(strings) < 0.08
    assert all(
        re.fullmatch(r"(PG|PG13|R|X|XXX), (No_Child|Child)", c["hive_vlm_summary"])
        for c in with_scan
    )
    for doc in docs[:200]:  # one score per output blob, in result order
        ctx = doc["lastEvent"]["context"]
        if (
            isinstance(ctx, dict)
            and isinstance(ctx.get("hive_csam_score"), str)
            and ctx["hive_csam_score"] != "n/a"
        ):
            assert len(ctx["hive_csam_score"].split(", ")) == len(doc["result"])
    events = Counter(d["lastEvent"]["type"] for d in docs)
    assert {"Succeeded", "Failed", "Expired"} <= set(events)
    assert events["Canceled"] + events["Deleted"] > 0
    assert any(d["lastEvent"]["retryAttempt"] == 1 for d in docs)
    providers = {d["lastEvent"]["provider"] for d in docs}
    assert {"ValdiAI", "Civitai", "SaladML", "RunPods"} <= providers
    durations = [d["lastEvent"]["jobDuration"] for d in docs if "jobDuration" in d["lastEvent"]]
    assert all(re.fullmatch(r"\d\d:\d\d:\d\d\.\d{7}", x) for x in durations)
    classified = [
        d["job"]["promptClassificationResult"]
        for d in docs
        if "promptClassificationResult" in d["job"]
    ]
    assert any(c["sexual"] for c in classified) and any(not c["sexual"] for c in classified)


def test_a_big_day_is_generated_lazily() -> None:
    account = SimulatedAccount(SimulatorConfig(days=2, workflows_per_day=100_000))
    last = account.record(199_999)
    assert account.workflow(last.id)["id"] == last.id
    assert account.workflow(account.record(100_000).id)["createdAt"].startswith("2026-11-02")
    assert sum(account.cache_sizes().values()) < 100


def test_config_rejects_nonsense() -> None:
    for bad in ({"days": 0}, {"workflows_per_day": 0}, {"running_share": 1.5}, {"token": ""}):
        with pytest.raises(ValueError):
            SimulatorConfig(**bad)
    for bad_faults in ({"rate_429": -0.1}, {"page_size_clamp": 0}, {"last_page_next": "never"}):
        with pytest.raises(ValueError):
            Faults(**bad_faults)


def test_a_stopped_server_stops_answering_keepalive_clients(make_simulator: Any) -> None:
    sim = make_simulator(days=1, workflows_per_day=5)
    with httpx.Client(base_url=sim.url, headers=AUTH) as c:
        assert c.get("/v2/consumer/workflows").status_code == 200
        sim.stop()
        with pytest.raises(httpx.TransportError):
            c.get("/v2/consumer/workflows")


def test_the_fixture_factory_doubles_as_a_default_server(simulator: Any) -> None:
    assert simulator.url.startswith("http://127.0.0.1:")
    assert len(simulator.account.days) == 2
    other = simulator(days=1, workflows_per_day=3)
    assert other.url != simulator.url and len(list(other.account.workflows(DAY0))) == 3


def test_latency_holds_back_every_consumer_answer_including_faults(make_simulator: Any) -> None:
    import time

    sim = make_simulator(days=1, workflows_per_day=30, faults=Faults(latency_ms=120))
    with httpx.Client(
        base_url=sim.url, headers={"Authorization": f"Bearer {sim.config.token}"}
    ) as c:
        for rate_429 in (0.0, 1.0):
            sim.faults.rate_429 = rate_429
            started = time.monotonic()
            status = c.get("/v2/consumer/workflows", params={"take": "10"}).status_code
            assert time.monotonic() - started >= 0.12
            assert status == (429 if rate_429 else 200)
