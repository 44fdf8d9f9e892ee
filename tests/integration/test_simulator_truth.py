"""The simulator's ground truth (what it decided) agrees with what it serves, and the served
data carries every moderation signal the real API sends.

The walks and the scale rule here are the tests' own, written from the API notes, not the
simulator's helpers.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import orjson
import pytest

from simulator import SimulatedAccount, SimulatorConfig, SimulatorServer
from simulator.account import iter_output_blobs
from simulator.vocab import FUTURE_STEP_TYPE
from tests.support.simulated import MODERATION_STEP_TYPES, REAL_BLOCKED_REASONS

DAY0 = date(2026, 11, 1)
ALL_STATUSES = {
    "unassigned",
    "preparing",
    "scheduled",
    "processing",
    "succeeded",
    "failed",
    "expired",
    "canceled",
}


@pytest.fixture(scope="module")
def account() -> SimulatedAccount:
    return SimulatedAccount(SimulatorConfig())  # the default: 3 days x 200, 5% still running


@pytest.fixture(scope="module")
def workflows(account: SimulatedAccount) -> list[dict[str, Any]]:
    return [w for day in account.days for w in account.workflows(day)]


@pytest.fixture(scope="module")
def big() -> SimulatedAccount:
    return SimulatedAccount(SimulatorConfig(seed=3, days=1, workflows_per_day=3000))


def walk(node: Any, path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if isinstance(node.get("id"), str) and "available" in node:
            yield path, node
            return
        for key, value in node.items():
            yield from walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{path}[{i}]")


def steps_of(workflows: list[dict[str, Any]], step_type: str) -> Iterator[tuple[dict, dict]]:
    for w in workflows:
        for step in w["steps"]:
            if step["$type"] == step_type and step.get("output") is not None:
                yield w, step


# --- blobs ---------------------------------------------------------------------------------
def test_blob_truth_is_every_blob_served_at_any_depth(
    account: SimulatedAccount, workflows: list[dict[str, Any]]
) -> None:
    truth = [t for day in account.days for t in account.blob_truth(day)]
    served = {
        (w["id"], step["name"], path): blob
        for w in workflows
        for step in w["steps"]
        for path, blob in walk(step.get("output"))
    }
    assert {(t.workflow_id, t.step_name, t.json_path) for t in truth} == set(served)
    assert len(truth) == len(served)
    for t in truth:
        blob = served[(t.workflow_id, t.step_name, t.json_path)]
        assert t.blob_id == blob["id"] and t.available == blob["available"]
        assert t.nsfw_level == blob.get("nsfwLevel")
        assert t.blocked_reason == blob.get("blockedReason")
        assert (t.width, t.height) == (blob.get("width"), blob.get("height"))
        assert t.served_type == blob.get("type")
        if "type" in blob:
            assert t.blob_type == blob["type"]
        if "jobId" in blob:
            assert t.job_id == blob["jobId"]
    kinds = Counter(t.blob_type for t in truth)
    assert set(kinds) >= {"image", "video", "audio", "model3d", "model", "file"}
    assert any(t.legacy and t.served_type is None and t.nsfw_level is None for t in truth)
    depths = {t.json_path.count(".") + t.json_path.count("[") for t in truth}
    assert max(depths) >= 3  # e.g. $.epochs[0].samples[1]


def test_a_training_step_has_one_blob_per_epoch_model_and_sample(
    account: SimulatedAccount, workflows: list[dict[str, Any]]
) -> None:
    truth = defaultdict(list)
    for day in account.days:
        for t in account.blob_truth(day):
            truth[(t.workflow_id, t.step_name)].append(t)
    checked = 0
    for w, step in steps_of(workflows, "training"):
        epochs = step["output"]["epochs"]
        prompts = step["input"]["samples"]["prompts"]
        assert len(epochs) == step["input"]["epochs"]
        expected = sum(1 + len(e["samples"]) for e in epochs)
        assert expected == len(epochs) * (1 + len(prompts))
        rows = truth[(w["id"], step["name"])]
        assert len(rows) == expected
        paths = {t.json_path for t in rows}
        assert {"$.epochs[0].model", "$.epochs[0].samples[0]"} <= paths
        assert {t.blob_type for t in rows if ".model" in t.json_path} == {"model"}
        checked += 1
    assert checked


def test_blobs_sit_in_objects_in_lists_lists_of_lists_and_the_output_itself(
    account: SimulatedAccount,
) -> None:
    paths = defaultdict(set)
    for day in account.days:
        for t in account.blob_truth(day):
            paths[t.step_name, t.json_path].add(t.blob_type)
    flat = {path for _name, path in paths}
    assert "$.results[0].layer" in flat  # comfyNodepackSnapshot
    assert any(p.startswith("$.basicAnimations.") for p in flat)  # polyGen
    assert "$.artifacts[0][1]" in flat  # the future type's lists of lists
    assert "$" in flat  # transcode: the output is the blob
    assert {"$.video", "$.additionalVideos[0]", "$.draftCache"} <= flat  # videoGen


def test_iter_output_blobs_walks_any_depth() -> None:
    blob = {"id": "A.png", "available": True}
    output = {"a": [[blob]], "b": {"c": [{"d": blob}]}, "e": {"id": "x"}}
    assert list(iter_output_blobs(output)) == [blob, blob]
    assert list(iter_output_blobs(blob)) == [blob]
    assert list(iter_output_blobs(None)) == []


def test_output_cache_hits_share_blob_ids_across_workflows(
    account: SimulatedAccount, workflows: list[dict[str, Any]]
) -> None:
    by_id = {w["id"]: w for w in workflows}
    owners = defaultdict(set)
    truth = [t for day in account.days for t in account.blob_truth(day)]
    for t in truth:
        owners[t.blob_id].add(t.workflow_id)
    shared = {b: ws for b, ws in owners.items() if len(ws) > 1}
    assert shared
    for t in truth:
        if t.blob_id not in shared:
            assert t.cached_from is None
            continue
        if t.cached_from is None:
            continue
        source, hit = by_id[t.cached_from], by_id[t.workflow_id]
        assert source["createdAt"] < hit["createdAt"]
        assert hit["steps"][0]["input"] == source["steps"][0]["input"]  # the same request
        assert hit["steps"][0]["output"] == source["steps"][0]["output"]
        assert hit["status"] == "succeeded"


def test_the_blob_endpoint_serves_a_cached_blob_for_both_workflows(
    account: SimulatedAccount,
) -> None:
    hit = next(
        t for day in account.days for t in account.blob_truth(day) if t.cached_from and t.available
    )
    with SimulatorServer(account.config) as server:
        auth = {"Authorization": f"Bearer {account.config.token}"}
        with httpx.Client(base_url=server.url, headers=auth) as c:
            for workflow_id in (hit.workflow_id, hit.cached_from):
                got = c.get(f"/v2/consumer/blobs/{hit.blob_id}", params={"workflowId": workflow_id})
                assert got.status_code == 308
            other = c.get(f"/v2/consumer/blobs/{hit.blob_id}", params={"workflowId": "1-x"})
            assert other.status_code == 404


def test_blocked_reasons_are_the_ones_civitai_shows(big: SimulatedAccount) -> None:
    reasons = Counter(t.blocked_reason for t in big.blob_truth(DAY0) if t.blocked_reason)
    assert set(reasons) <= REAL_BLOCKED_REASONS
    assert {"ChildReference", "NSFWLevel", "CSAM", "PrivateGen"} <= set(reasons)
    assert {"Child Sexual - Realistic", "Child Sexual - Anime"} & set(reasons)
    for t in big.blob_truth(DAY0):
        if t.blocked_reason and t.blocked_reason != "none":
            assert not t.available
    # "none" is not a block: such blobs keep their URL (and are available when the run is).
    nones = [t for t in big.blob_truth(DAY0) if t.blocked_reason == "none"]
    assert nones and any(t.available for t in nones)


# --- moderation verdicts -------------------------------------------------------------------
def test_verdicts_agree_with_the_moderation_outputs(
    account: SimulatedAccount, workflows: list[dict[str, Any]]
) -> None:
    verdicts = defaultdict(list)
    for day in account.days:
        for v in account.verdict_truth(day):
            verdicts[(v.workflow_id, v.step_name)].append(v)
    assert {v.step_type for vs in verdicts.values() for v in vs} == MODERATION_STEP_TYPES
    for step_type in MODERATION_STEP_TYPES:
        for w, step in steps_of(workflows, step_type):
            out = step["output"]
            rows = verdicts.pop((w["id"], step["name"]))
            assert [v.verdict_index for v in rows] == list(range(len(rows)))
            assert {v.step_type for v in rows} == {step_type}
            if step_type == "mediaRating":
                (v,) = rows
                assert (v.is_blocked, v.nsfw_level) == (out["isBlocked"], out["nsfwLevel"])
                assert v.blocked_reason == out.get("blockedReason")
                age = out.get("ageClassification") or {}
                assert v.has_minor == (age.get("minorDetected") if age.get("ran") else None)
            elif step_type == "ageClassification":
                (v,) = rows
                assert v.has_minor == out["hasMinor"]
            else:
                key = "label" if step_type == "xGuardModeration" else "policy"
                assert [(v.category, v.score, v.is_blocked) for v in rows] == [
                    (r[key], r["score"], r["triggered"]) for r in out["results"]
                ]
                hits = "triggeredLabels" if step_type == "xGuardModeration" else "triggeredPolicies"
                assert out[hits] == [v.category for v in rows if v.is_blocked]
                assert out["blocked"] == bool(out[hits])
    assert not verdicts  # no verdict without a moderation output


def test_verdicts_include_blocks_and_minors(big: SimulatedAccount) -> None:
    rows = list(big.verdict_truth(DAY0))
    assert any(v.is_blocked and v.step_type == "mediaRating" and v.blocked_reason for v in rows)
    assert any(v.is_blocked and v.step_type == "xGuardModeration" for v in rows)
    assert any(v.is_blocked and v.step_type == "shieldstralModeration" for v in rows)
    assert any(v.has_minor for v in rows) and any(v.has_minor is False for v in rows)
    assert all(v.score is None or 0 <= v.score <= 1 for v in rows)


# --- scan scores ---------------------------------------------------------------------------
def read_scores(value: Any) -> list[float | None]:
    """The documented rule, implemented here independently: text is a percent (space or
    no-break space before `%`); JSON numbers of one key are probabilities when every one
    lies within [0, 1], else percents."""
    if isinstance(value, str):
        items: list[Any] = [part.strip() for part in value.split(",")]
    elif isinstance(value, list):
        items = value
    else:
        items = [value]
    numbers = [x for x in items if isinstance(x, int | float) and not isinstance(x, bool)]
    scale = 100.0 if numbers and all(0 <= x <= 1 for x in numbers) else 1.0
    out: list[float | None] = []
    for item in items:
        if isinstance(item, str):
            match = re.fullmatch(r"([0-9.]+)[ \u00a0]?%?", item.strip())
            out.append(float(match.group(1)) if match else None)
        else:
            out.append(item * scale)
    return out


def form_of(value: Any) -> str:
    if isinstance(value, str):
        if value == "n/a":
            return "n/a"
        return "text nbsp" if "\u00a0" in value else "text"
    if isinstance(value, list):
        if all(isinstance(x, str) for x in value):
            return "list of strings"
        return "list of probabilities" if all(x <= 1 for x in value) else "list of numbers"
    return "bare probability" if value <= 1 else "bare percent"


def test_every_scan_score_form_appears_and_reads_back_by_the_rule(
    account: SimulatedAccount,
) -> None:
    truth = defaultdict(dict)
    for day in account.days:
        for t in account.scan_truth(day):
            truth[(t.job_id, t.score_name)][t.item_index] = t
    forms: Counter[str] = Counter()
    contexts = 0
    for day in account.days:
        for doc in account.jobs(day):
            context = doc["lastEvent"]["context"]
            forms["null context" if context is None else "context"] += 1
            for key, value in (context or {}).items():
                if not key.endswith("_score"):
                    continue
                rows = truth.pop((doc["jobId"], key))
                if key == "hive_csam_score":
                    forms[form_of(value)] += 1
                    assert len(rows) == (1 if value == "n/a" else len(doc["result"]))
                    for i, row in rows.items():
                        assert row.blob_id == doc["result"][i]["blobKey"]
                contexts += 1
                for i, score in enumerate(read_scores(value)):
                    expected = rows[i].score
                    if expected is None:
                        assert score is None
                    else:
                        assert score is not None and math.isclose(score, expected, abs_tol=1e-6)
    assert not truth  # every truth row was served
    assert set(forms) >= {
        "null context",
        "text",
        "text nbsp",
        "list of strings",
        "list of numbers",
        "list of probabilities",
        "bare percent",
        "bare probability",
        "n/a",
    }, forms
    assert contexts > 300


def test_a_probability_form_carries_high_scores(big: SimulatedAccount) -> None:
    high = [t for t in big.scan_truth(DAY0) if t.form == "probability" and (t.score or 0) >= 50]
    assert high
    doc = big.job(high[0].job_id)
    value = doc["lastEvent"]["context"]["hive_csam_score"]
    assert max(value if isinstance(value, list) else [value]) >= 0.5


# --- jobs, statuses, money -----------------------------------------------------------------
def test_job_truth_matches_the_v1_documents(account: SimulatedAccount) -> None:
    rows = [t for day in account.days for t in account.job_truth(day)]
    reasons: Counter[str] = Counter()
    for t in rows:
        doc = account.job(t.job_id)
        if not t.served:
            assert doc is None
            continue
        context = doc["lastEvent"]["context"] or {}
        assert (context.get("reason"), context.get("blockedReason")) == (
            t.reason,
            t.blocked_reason,
        )
        priority = doc["job"]["priority"]
        assert priority.get("value", priority.get("min")) == t.priority
        assert doc["lastEvent"]["jobPriority"] == t.priority
        if t.reason:
            reasons[f"{t.status}:{t.reason}"] += 1
        if t.blocked_reason:
            reasons[f"{t.status}:blocked"] += 1
    assert reasons["failed:blocked"] and reasons["succeeded:blocked"]
    assert reasons["canceled:UserCanceled"]
    assert len([r for r in reasons if r.startswith("failed:")]) >= 4


def test_v1_documents_carry_priority_providers_and_params(account: SimulatedAccount) -> None:
    docs = [d for day in account.days for d in account.jobs(day)]
    assert any(d["serviceProviders"] for d in docs) and any(not d["serviceProviders"] for d in docs)
    assert any("min" in d["job"]["priority"] for d in docs)
    t2i = [d for d in docs if d["job"]["type"] == "TextToImageV2"]
    assert t2i and all({"prompt", "seed", "cfgScale"} <= set(d["job"]["params"]) for d in t2i)
    assert all("://" not in str(v) for d in docs for v in d["job"]["params"].values())
    types = {d["job"]["type"] for d in docs}
    assert {"TrainingJob", "XGuardModerationJob", "ComfyJob"} <= types


def test_every_status_appears_for_workflows_steps_and_jobs(workflows: list[dict[str, Any]]) -> None:
    statuses = Counter(w["status"] for w in workflows)
    step_statuses = {s["status"] for w in workflows for s in w["steps"]}
    job_statuses = {j["status"] for w in workflows for s in w["steps"] for j in s.get("jobs") or ()}
    assert set(statuses) == ALL_STATUSES
    assert step_statuses == job_statuses == ALL_STATUSES
    preparing = [s for w in workflows for s in w["steps"] if s["status"] == "preparing"]
    assert preparing and all(
        s["preparation"]["resource"].startswith("urn:air:")
        and s["preparation"]["queuePosition"] >= 0
        for s in preparing
    )


def test_buzz_refunds_fees_and_factors(workflows: list[dict[str, Any]]) -> None:
    refunds = [w for w in workflows if "lostBlobsRefund" in w]
    assert {w["lostBlobsRefund"] > 0 for w in refunds} == {True, False}
    for w in refunds:
        if w["lostBlobsRefund"]:
            credits = [t["amount"] for t in w["transactions"]["list"] if t["type"] == "credit"]
            assert credits == [w["lostBlobsRefund"]]
            assert any(not b["available"] for s in w["steps"] for _p, b in walk(s.get("output")))
    assert any(w["cost"].get("fees") for w in workflows)
    assert all(w["cost"].get("factors") for w in workflows)
    training = [w for w in workflows if w["steps"][0]["$type"] == "training"]
    assert training and all("fixed" in w["cost"] for w in training)


def test_hidden_mature_content_is_hidden_at_any_depth() -> None:
    account = SimulatedAccount(SimulatorConfig(seed=4, days=1, workflows_per_day=1500))
    hidden = 0
    for g in account.day_range(DAY0):
        record = account.record(g)
        if record.hidden is record.full:
            continue
        doc = orjson.loads(record.hidden)
        for step in doc["steps"]:
            for path, blob in walk(step.get("output")):
                if blob.get("nsfwLevel") in ("r", "x", "xxx"):
                    assert blob["available"] is False and "url" not in blob
                    if path.count("[") + path.count(".") > 2:
                        hidden += 1
    assert hidden  # some below the top two levels of an output


def test_the_future_step_type_is_kept_in_the_mix(workflows: list[dict[str, Any]]) -> None:
    future = [s for w in workflows for s in w["steps"] if s["$type"] == FUTURE_STEP_TYPE]
    assert future and any(s.get("output") for s in future)
