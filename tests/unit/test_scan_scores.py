"""Parsing of v1 job event contexts into long scan_scores rows."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from pipeline.core.redact import strip_url_queries
from pipeline.enrich.scan_scores import (
    NON_OBJECT_CONTEXT,
    parse_context,
    parse_percent,
    percent_scores,
)

RESULT = [{"blobKey": "A.jpeg", "available": True}, {"blobKey": "B.jpeg", "available": True}]

# Each case: (key, value as given, expected [(value_text, score, label)], expected failures)
CASES = [
    pytest.param(
        # The documented shape: one string, items separated by ", ", each a percent with " %".
        "hive_csam_score",
        "0.00 %, 12.50 %",
        [("0.00 %", 0.0, None), ("12.50 %", 12.5, None)],
        0,
        id="score-string-two-items",
    ),
    pytest.param(
        # Percent without the space before %, and extra whitespace around items.
        "hive_csam_score",
        " 99.9%,7%",
        [("99.9%", 99.9, None), ("7%", 7.0, None)],
        0,
        id="score-string-tight-percent",
    ),
    pytest.param(
        # A bare number under a *_score key is taken as a percent as-is (no 0-1 rescaling).
        "hive_csam_score",
        42.5,
        [("42.5", 42.5, None)],
        0,
        id="score-bare-number",
    ),
    pytest.param(
        # A bare numeric string within [0, 1] under a *_score key: a probability.
        "hive_csam_score",
        "0.3",
        [("0.3", 30.0, None)],
        0,
        id="score-bare-numeric-string",
    ),
    pytest.param(
        # A bare 0-1 probability: 97 %.
        "hive_csam_score",
        0.97,
        [("0.97", 97.0, None)],
        0,
        id="score-probability",
    ),
    pytest.param(
        # A list of probabilities, one per output.
        "hive_csam_score",
        [0.02, 0.91],
        [("0.02", 2.0, None), ("0.91", 91.0, None)],
        0,
        id="score-probability-list",
    ),
    pytest.param(
        # No-break spaces before the percent signs.
        "hive_csam_score",
        "0.00\u00a0%, 12.50\u00a0%",
        [("0.00\u00a0%", 0.0, None), ("12.50\u00a0%", 12.5, None)],
        0,
        id="score-nbsp",
    ),
    pytest.param(
        # A JSON list of percent strings.
        "hive_csam_score",
        ["0.00 %", "12.50 %"],
        [("0.00 %", 0.0, None), ("12.50 %", 12.5, None)],
        0,
        id="score-list-of-strings",
    ),
    pytest.param(
        # A JSON list of per-output items: strings and numbers mixed.
        "hive_csam_score",
        ["1.5 %", 60],
        [("1.5 %", 1.5, None), ("60", 60.0, None)],
        0,
        id="score-list",
    ),
    pytest.param(
        # Summary labels: the non-numeric items are labels, kept exactly.
        "hive_vlm_summary",
        "X, No_Child",
        [("X", None, "X"), ("No_Child", None, "No_Child")],
        0,
        id="summary-labels",
    ),
    pytest.param(
        # A list of labels: elements are not split again.
        "hive_vlm_summary",
        ["PG, mild", "R"],
        [("PG, mild", None, "PG, mild"), ("R", None, "R")],
        0,
        id="summary-list-no-resplit",
    ),
    pytest.param(
        # "n/a" says there is no score: kept as text with a null score, not a failure.
        "hive_csam_score",
        "n/a, 3.00 %",
        [("n/a", None, None), ("3.00 %", 3.0, None)],
        0,
        id="score-not-available-item",
    ),
    pytest.param(
        # Unreadable text under a score key: kept as text, null score, one failure.
        "hive_csam_score",
        "pending, 3.00 %",
        [("pending", None, None), ("3.00 %", 3.0, None)],
        1,
        id="score-unparseable-item",
    ),
    pytest.param(
        # An empty trailing item: a null score, like "n/a".
        "hive_csam_score",
        "4 %, ",
        [("4 %", 4.0, None), ("", None, None)],
        0,
        id="score-empty-item",
    ),
    pytest.param(
        # Non-finite numbers are not scores.
        "hive_csam_score",
        "nan %",
        [("nan %", None, None)],
        1,
        id="score-nan",
    ),
    pytest.param(
        # A boolean under a score key is not a percent.
        "other_score",
        True,
        [("true", None, None)],
        1,
        id="score-boolean",
    ),
    pytest.param(
        # An explicit null: one row, nothing to parse, not a failure.
        "hive_csam_score",
        None,
        [(None, None, None)],
        0,
        id="score-null",
    ),
    pytest.param(
        # Unknown metric key with a bare number: value kept, neither score nor label (unknown units).
        "duration_ms",
        1234,
        [("1234", None, None)],
        0,
        id="metric-number",
    ),
    pytest.param(
        # Unknown key with an explicit percent: it is a percent, so it gets a score.
        "gpu_load",
        "87 %",
        [("87 %", 87.0, None)],
        0,
        id="metric-percent",
    ),
    pytest.param(
        # Unknown key with a plain string (no commas): one label.
        "worker_group",
        "eu-west",
        [("eu-west", None, "eu-west")],
        0,
        id="unknown-label",
    ),
    pytest.param(
        # Boolean under a non-score key: a label "true".
        "blocked",
        True,
        [("true", None, "true")],
        0,
        id="unknown-boolean",
    ),
    pytest.param(
        # Nested object: one row of JSON text, not a failure.
        "comfy_prompt_request",
        {"a": 1, "b": [1, 2]},
        [('{"a":1,"b":[1,2]}', None, None)],
        0,
        id="nested-object",
    ),
    pytest.param(
        # A string holding JSON is not split on its commas.
        "comfy_prompt_request",
        '{"a": 1, "b": 2}',
        [('{"a": 1, "b": 2}', None, None)],
        0,
        id="json-string-not-split",
    ),
    pytest.param(
        # A list of objects: one row per element, each as JSON text.
        "ecosystems",
        [{"name": "sdxl"}, {"name": "flux"}],
        [('{"name":"sdxl"}', None, None), ('{"name":"flux"}', None, None)],
        0,
        id="list-of-objects",
    ),
    pytest.param(
        # An object under a score key cannot be a percent: kept as JSON and counted.
        "hive_csam_score",
        {"value": 3},
        [('{"value":3}', None, None)],
        1,
        id="score-object",
    ),
    pytest.param(
        # An empty list: the key is still visible as one row, nothing to parse.
        "hive_csam_score",
        [],
        [("[]", None, None)],
        0,
        id="score-empty-list",
    ),
    pytest.param(
        # A number too large for a double does not crash.
        "hive_csam_score",
        10**400,
        [(str(10**400), None, None)],
        1,
        id="score-huge-int",
    ),
]


@pytest.mark.parametrize(("key", "value", "expected", "failures"), CASES)
def test_context_value_forms(
    key: str, value: Any, expected: list[tuple[Any, Any, Any]], failures: int
) -> None:
    parsed = parse_context(
        {key: value}, job_id="j1", workflow_id="w1", window_date=date(2026, 11, 1), result=RESULT
    )
    assert [(r.value_text, r.score, r.label) for r in parsed.rows] == expected
    assert parsed.parse_failures == failures
    assert [r.item_index for r in parsed.rows] == list(range(len(expected)))
    assert {r.score_name for r in parsed.rows} == {key}
    assert all(r.job_id == "j1" and r.workflow_id == "w1" for r in parsed.rows)


# THE RULE, one row per case: (items of one *_score key, expected 0-100 scores, failures).
RULE = [
    pytest.param(["0.00 %", "12.50 %"], [0.0, 12.5], 0, id="percent-text"),
    pytest.param(["0.00\u00a0%", "12.50\u00a0%"], [0.0, 12.5], 0, id="percent-nbsp"),
    pytest.param(["99.9%", " 7 % "], [99.9, 7.0], 0, id="percent-tight-and-padded"),
    pytest.param(["0.5 %"], [0.5], 0, id="percent-sign-wins-below-1"),
    pytest.param([42.5], [42.5], 0, id="bare-percent"),
    pytest.param([0.0, 12.5], [0.0, 12.5], 0, id="bare-percents-list"),
    pytest.param(["12.5", "3"], [12.5, 3.0], 0, id="bare-percent-strings"),
    pytest.param([0.97], [97.0], 0, id="probability"),
    pytest.param([0.02, 0.91], [2.0, 91.0], 0, id="probabilities"),
    pytest.param(["0.02", "0.91"], [2.0, 91.0], 0, id="probability-strings"),
    pytest.param([0.29, 1], [29.0, 100.0], 0, id="probabilities-up-to-1"),
    pytest.param([0, 0], [0.0, 0.0], 0, id="zeros-read-the-same-either-way"),
    pytest.param([0.5, 42], [0.5, 42.0], 0, id="one-above-1-makes-all-percents"),
    pytest.param(["50 %", 0.5], [50.0, 50.0], 0, id="percent-items-are-not-bare"),
    pytest.param([-5, 0.5], [-5.0, 0.5], 0, id="negative-is-outside-0-1"),
    pytest.param(["n/a"], [None], 0, id="not-available"),
    pytest.param(["N/A ", "1.5 %"], [None, 1.5], 0, id="not-available-case-and-space"),
    pytest.param([""], [None], 0, id="empty"),
    pytest.param([None], [None], 0, id="null"),
    pytest.param(["pending"], [None], 1, id="other-text"),
    pytest.param(["nan %", "inf"], [None, None], 2, id="not-finite"),
    pytest.param([True], [None], 1, id="boolean"),
    pytest.param([{"v": 1}], [None], 1, id="object"),
]


@pytest.mark.parametrize(("items", "expected", "failures"), RULE)
def test_the_scale_rule(items: list[Any], expected: list[float | None], failures: int) -> None:
    scores, failed = percent_scores(items)
    assert scores == [None if e is None else pytest.approx(e, abs=1e-9) for e in expected]
    assert failed == failures
    # The same items as a context value give the same scores, one row per item.
    parsed = parse_context({"some_score": items}, job_id="j")
    assert [r.score for r in parsed.rows] == scores


def test_raw_value_text_is_the_whole_value() -> None:
    parsed = parse_context(
        {"hive_csam_score": "0.00 %, 12.50 %", "list_score": [1, "2 %"], "n": None},
        job_id="j",
    )
    raw = {(r.score_name, r.item_index): r.raw_value_text for r in parsed.rows}
    assert raw[("hive_csam_score", 0)] == raw[("hive_csam_score", 1)] == "0.00 %, 12.50 %"
    assert raw[("list_score", 1)] == '[1,"2 %"]'
    assert raw[("n", 0)] == "null"


def test_blob_id_follows_item_index() -> None:
    parsed = parse_context({"hive_csam_score": "1 %, 2 %, 3 %"}, job_id="j", result=RESULT)
    # The third item has no third output: no blob id rather than a wrong one.
    assert [r.blob_id for r in parsed.rows] == ["A.jpeg", "B.jpeg", None]


@pytest.mark.parametrize(
    "result",
    [
        None,  # a job without results
        {"blobKey": "A.jpeg"},  # not a list
        [{"available": True}, "junk"],  # no blobKey / not an object
    ],
)
def test_blob_id_absent_for_other_result_shapes(result: Any) -> None:
    parsed = parse_context({"hive_csam_score": "1 %, 2 %"}, job_id="j", result=result)
    assert [r.blob_id for r in parsed.rows] == [None, None]


def test_every_key_is_kept_and_max_score() -> None:
    context = {
        "hive_csam_score": "0.00 %, 71.25 %",
        "hive_vlm_summary": "X, No_Child",
        "trace_id": "abc",
        "blocked_reason": None,
    }
    parsed = parse_context(context, job_id="j", result=RESULT)
    assert {r.score_name for r in parsed.rows} == set(context)
    assert parsed.max_score() == 71.25
    assert parse_context({"hive_vlm_summary": "X"}, job_id="j").max_score() is None


@pytest.mark.parametrize(
    ("context", "rows", "failures"),
    [
        (None, 0, 0),  # no context at all: no rows, nothing wrong
        ({}, 0, 0),  # empty context: no scan ran
        ("unexpected text", 1, 1),  # not an object: kept whole under one name and counted
        ([1, 2], 1, 1),  # a list instead of an object: same
    ],
)
def test_context_shapes(context: Any, rows: int, failures: int) -> None:
    parsed = parse_context(context, job_id="j")
    assert len(parsed.rows) == rows
    assert parsed.parse_failures == failures
    if rows:
        assert parsed.rows[0].score_name == NON_OBJECT_CONTEXT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.00 %", 0.0),  # the documented form
        ("100%", 100.0),  # no space
        ("  5 ", 5.0),  # bare number with whitespace
        ("%", None),  # only a percent sign
        ("inf %", None),  # not finite
        ("12,5 %", None),  # decimal comma is not a number here
    ],
)
def test_parse_percent(text: str, expected: float | None) -> None:
    assert parse_percent(text) == expected


def test_signed_urls_are_stripped_from_text() -> None:
    # A signature in a URL is a credential for the blob; the lake must never keep it.
    value = "see https://b.example/x.jpeg?sig=SECRET&exp=1 and https://ok.example/y?page=2"
    parsed = parse_context({"link": value}, job_id="j")
    assert all("SECRET" not in (r.value_text or "") + (r.raw_value_text or "") for r in parsed.rows)
    # The one rule of pipeline.core.redact: every URL loses its query, signed or not.
    assert strip_url_queries(value) == "see https://b.example/x.jpeg and https://ok.example/y"
