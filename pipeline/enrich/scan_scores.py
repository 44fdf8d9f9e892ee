"""Turn a v1 job event `context` into long `scan_scores` rows.

The context is typed `Record<string, any>` and its value shapes are only inferred, so the
parser accepts every shape and never raises:

* a string of comma-separated items, one per output (`"0.00 %, 12.50 %"`, `"X, No_Child"`);
  civitai's own tooling prints these with `${value}`, and a JS array would print without the
  space, which is why the real wire shape is believed to be one string;
* a number (one item);
* a list (each element one item; string elements are not split again);
* an object, or a string holding a JSON object/array: kept whole as one row of JSON text,
  because splitting JSON on commas would only produce garbage.

Item `i` belongs to output `i`, so its `blob_id` is `result[i].blobKey` when the job has one.

Every key becomes rows, not only the known scan keys (`hive_csam_score`, `hive_vlm_summary`):
the set of keys grows without notice and an analyst can still reach an unknown metric. The
whole value is kept as `raw_value_text`, each item as `value_text`.

`score` is always a percent on one 0-100 scale. For keys ending in `_score` it follows
`percent_scores` (THE RULE, written once there); for other keys an item written with `%` is a
percent, a bare number is a metric in unknown units (no score, `value_text` only) and any
other text is a `label`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson

from pipeline.core.redact import strip_url_queries

SCORE_SUFFIX = "_score"
CSAM_SCORE_KEY = "hive_csam_score"
# A context that is not an object at all still becomes one row, under this name.
NON_OBJECT_CONTEXT = "_context"


def json_text(value: Any) -> str:
    """JSON-encode a value for a text column, signatures stripped."""
    try:
        text = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        # orjson refuses integers beyond 64 bits; the stdlib encoder keeps them exactly.
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return strip_url_queries(text)


@dataclass(frozen=True)
class ScanScoreRow:
    job_id: str
    score_name: str
    item_index: int
    workflow_id: str | None
    window_date: date | None
    blob_id: str | None
    value_text: str | None
    score: float | None
    label: str | None
    raw_value_text: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "score_name": self.score_name,
            "item_index": self.item_index,
            "workflow_id": self.workflow_id,
            "window_date": self.window_date,
            "blob_id": self.blob_id,
            "value_text": self.value_text,
            "score": self.score,
            "label": self.label,
            "raw_value_text": self.raw_value_text,
        }


@dataclass
class ParsedContext:
    rows: list[ScanScoreRow] = field(default_factory=list)
    parse_failures: int = 0

    def max_score(self, score_name: str = CSAM_SCORE_KEY) -> float | None:
        """Highest parsed score of one key (e.g. the job's worst `hive_csam_score`), else None."""
        scores = [r.score for r in self.rows if r.score_name == score_name and r.score is not None]
        return max(scores) if scores else None


def parse_percent(text: str) -> float | None:
    """`"12.50 %"` / `"12.5%"` / `"12.5\u00a0%"` / `"12.5"` -> 12.5; anything else (incl.
    nan/inf) -> None. Whitespace, the no-break space included, may stand before the `%`."""
    body = text.strip()
    if body.endswith("%"):
        body = body[:-1].rstrip()
    if not body:
        return None
    try:
        number = float(body)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


# Items that say "no score here": a row with a NULL score, not a parse failure.
NOT_AVAILABLE = frozenset({"", "n/a"})


def _bare_number(item: Any) -> float | None:
    """A JSON number, or a string that is a plain number (no `%`); else None."""
    if isinstance(item, bool):
        return None
    if isinstance(item, int | float):
        return _finite_float(item)
    if isinstance(item, str) and "%" not in item:
        return parse_percent(item)
    return None


def percent_scores(items: Sequence[Any]) -> tuple[list[float | None], int]:
    """THE RULE: the 0-100 scores of the items of one `*_score` key of one job's context,
    and how many items could not be read.

    * An item with a `%` sign is a percent: `"12.50 %"`, `"12.5%"`, `"12.50\u00a0%"` -> 12.5.
    * Bare numbers (JSON numbers, or strings that are plain numbers) are judged together,
      per key: if every bare value of the key lies in [0, 1] they are probabilities and are
      multiplied by 100 (`0.97` -> 97, `[0.02, 0.91]` -> 2, 91); otherwise they are all
      percents as given (`[0.5, 42]` -> 0.5, 42).
    * `"n/a"`, an empty item and null give a NULL score (not a failure).
    * Anything else (other text, booleans, objects, non-finite numbers) gives a NULL score and
      counts as a failure.
    """
    bare = [_bare_number(item) for item in items]
    present = [value for value in bare if value is not None]
    factor = 100.0 if present and all(0.0 <= value <= 1.0 for value in present) else 1.0
    scores: list[float | None] = []
    failures = 0
    for item, number in zip(items, bare, strict=True):
        if number is not None:
            # Rounded so that 0.29 reads back as 29, not 28.999999999999996.
            scores.append(round(number * factor, 9))
        elif isinstance(item, str) and "%" in item and (pct := parse_percent(item)) is not None:
            scores.append(pct)
        else:
            scores.append(None)
            empty = isinstance(item, list | dict) and not item
            if not (item is None or empty or _is_not_available(item)):
                failures += 1
    return scores, failures


def _is_not_available(item: Any) -> bool:
    return isinstance(item, str) and item.strip().lower() in NOT_AVAILABLE


def blob_keys(result: Any) -> list[str | None]:
    """`result[i].blobKey` per output index; other result shapes have no blob mapping."""
    if not isinstance(result, list):
        return []
    return [
        item.get("blobKey")
        if isinstance(item, Mapping) and isinstance(item.get("blobKey"), str)
        else None
        for item in result
    ]


def _looks_like_json_container(text: str) -> bool:
    stripped = text.strip()
    if not stripped or stripped[0] not in "{[":
        return False
    try:
        return isinstance(orjson.loads(stripped), dict | list)
    except orjson.JSONDecodeError:
        return False


def split_items(value: Any) -> list[Any]:
    """The per-output items of one context value (see the module docstring)."""
    if isinstance(value, str):
        if _looks_like_json_container(value):
            return [value]
        return [part.strip() for part in value.split(",")]
    if isinstance(value, list) and value:
        return list(value)
    return [value]


def _item_text(item: Any) -> str | None:
    if item is None:
        return None
    if isinstance(item, str):
        return strip_url_queries(item)
    return json_text(item)


def _is_nested(item: Any) -> bool:
    return isinstance(item, dict | list) or (
        isinstance(item, str) and _looks_like_json_container(item)
    )


def _finite_float(number: float) -> float | None:
    try:
        result = float(number)
    except OverflowError:
        return None
    return result if math.isfinite(result) else None


def _is_number(item: Any) -> bool:
    return isinstance(item, int | float) and not isinstance(item, bool)


def _metric_items(items: Sequence[Any]) -> tuple[list[float | None], list[str | None]]:
    """(scores, labels) of the items of a key that is not a `*_score`: `%` items are
    percents, bare numbers are metrics in unknown units (neither), other scalars are labels."""
    scores: list[float | None] = []
    labels: list[str | None] = []
    for item in items:
        score: float | None = None
        label: str | None = None
        if item is None or _is_nested(item) or _bare_number(item) is not None:
            pass
        elif isinstance(item, str):
            score = parse_percent(item) if "%" in item else None
            label = None if score is not None else (item or None)
        else:
            label = _item_text(item)  # booleans and other scalars
        scores.append(score)
        labels.append(label)
    return scores, labels


def parse_context(
    context: Any,
    *,
    job_id: str,
    workflow_id: str | None = None,
    window_date: date | None = None,
    result: Any = None,
) -> ParsedContext:
    """All `scan_scores` rows of one job's `lastEvent.context`; never raises.

    `parse_failures` counts items of `*_score` keys that could not be read as a percent (and a
    context that is not an object at all); those items are still kept as rows.
    """
    parsed = ParsedContext()
    if context is None:
        return parsed
    keys = blob_keys(result)
    if not isinstance(context, Mapping):
        # Not the documented shape; keep it whole so nothing is lost, and flag it.
        parsed.parse_failures += 1
        text = context if isinstance(context, str) else json_text(context)
        text = strip_url_queries(text)
        parsed.rows.append(
            ScanScoreRow(
                job_id=job_id,
                score_name=NON_OBJECT_CONTEXT,
                item_index=0,
                workflow_id=workflow_id,
                window_date=window_date,
                blob_id=keys[0] if keys else None,
                value_text=text,
                score=None,
                label=None,
                raw_value_text=text,
            )
        )
        return parsed

    for raw_key, value in context.items():
        name = str(raw_key)
        raw_text = strip_url_queries(value) if isinstance(value, str) else json_text(value)
        items = split_items(value)
        if name.lower().endswith(SCORE_SUFFIX):
            scores, failures = percent_scores(items)
            parsed.parse_failures += failures
            labels: list[str | None] = [None] * len(items)
        else:
            scores, labels = _metric_items(items)
        for index, item in enumerate(items):
            parsed.rows.append(
                ScanScoreRow(
                    job_id=job_id,
                    score_name=name,
                    item_index=index,
                    workflow_id=workflow_id,
                    window_date=window_date,
                    blob_id=keys[index] if index < len(keys) else None,
                    value_text=_item_text(item),
                    score=scores[index],
                    label=labels[index],
                    raw_value_text=raw_text,
                )
            )
    return parsed
