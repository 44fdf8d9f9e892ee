"""Moderation step outputs -> rows of `moderation_verdicts`, one per verdict.

The members follow the output schemas of the OpenAPI document:

* `mediaRating` (MediaRatingOutput): one verdict. is_blocked = `isBlocked`, blocked_reason =
  `blockedReason`, nsfw_level = `nsfwLevel`, labels = `labels`, csam = `csam`; has_minor =
  `minorDetected` of its `ageClassification` / `bodyAgeClassification` (true when either says
  so, NULL when neither ran).
* `xGuardModeration` (XGuardModerationOutput): one verdict per `results[i]`
  (XGuardLabelResult): category = `label`, score = `score`, is_blocked = `triggered`.
* `shieldstralModeration` (ShieldstralModerationOutput): the same per `results[i]`
  (ShieldstralPolicyResult), category = `policy`.
  Either of them without results gives one verdict from the step's `blocked`, with
  labels = `triggeredLabels` / `triggeredPolicies`.
* `ageClassification` (AgeClassificationOutput): one verdict per detection, i.e. per item of
  `labels[image]` (AgeClassifierLabel): category = `age`, has_minor = `isMinor`, score =
  `topK[age]`; `detail_json` names the image. Without detections, one verdict with
  has_minor = `hasMinor`.

`detail_json` holds the verdict object's members without a column (thresholds, actions,
reasons, detections, unknown members); the whole output stays in `steps.output_json`.
Scores are the API's 0-1 values (`*_ratio`). `job_id` is the step's job when it ran one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.flatten import schemas, values

Verdict = dict[str, Any]

_MEDIA_RATING_TYPED = frozenset({"isBlocked", "blockedReason", "nsfwLevel", "labels", "csam"})
_AGE_TYPED = frozenset({"age", "isMinor"})


def _has_minor(output: Mapping[str, Any]) -> bool | None:
    said = [
        part.get("minorDetected")
        for part in (output.get("ageClassification"), output.get("bodyAgeClassification"))
        if isinstance(part, Mapping) and isinstance(part.get("minorDetected"), bool)
    ]
    return any(said) if said else None


def media_rating(output: Mapping[str, Any]) -> Iterator[Verdict]:
    yield {
        "is_blocked": values.boolean(output.get("isBlocked")),
        "blocked_reason": values.text(output.get("blockedReason")),
        "nsfw_level": values.text(output.get("nsfwLevel")),
        "has_minor": _has_minor(output),
        "csam": values.boolean(output.get("csam")),
        "labels": values.strings(output.get("labels")),
        "detail_json": values.rest(output, _MEDIA_RATING_TYPED),
    }


def _guard(
    category_key: str, triggered_key: str
) -> Callable[[Mapping[str, Any]], Iterator[Verdict]]:
    typed = frozenset({category_key, "score", "triggered"})

    def verdicts(output: Mapping[str, Any]) -> Iterator[Verdict]:
        results = [r for r in output.get("results") or () if isinstance(r, Mapping)]
        for result in results:
            yield {
                "is_blocked": values.boolean(result.get("triggered")),
                "category": values.text(result.get(category_key)),
                "score": values.number(result.get("score")),
                "detail_json": values.rest(result, typed),
            }
        if not results:
            yield {
                "is_blocked": values.boolean(output.get("blocked")),
                "labels": values.strings(output.get(triggered_key)),
                "detail_json": values.rest(output, frozenset({"blocked", triggered_key})),
            }

    return verdicts


def age_classification(output: Mapping[str, Any]) -> Iterator[Verdict]:
    per_image = output.get("labels")
    found = False
    if isinstance(per_image, Mapping):
        for image, detections in per_image.items():
            for detection in detections if isinstance(detections, list) else ():
                if not isinstance(detection, Mapping):
                    continue
                found = True
                top_k = detection.get("topK")
                age = detection.get("age")
                score = (
                    top_k.get(age) if isinstance(top_k, Mapping) and isinstance(age, str) else None
                )
                detail = {
                    "image": image,
                    **{k: v for k, v in detection.items() if k not in _AGE_TYPED},
                }
                yield {
                    "category": values.text(age),
                    "has_minor": values.boolean(detection.get("isMinor")),
                    "score": values.number(score),
                    "detail_json": values.json_text(detail),
                }
    if not found:
        yield {
            "has_minor": values.boolean(output.get("hasMinor")),
            "detail_json": values.rest(output, frozenset({"hasMinor"})),
        }


# Step `$type` -> its verdicts.
MODERATION_STEP_TYPES: dict[str, Callable[[Mapping[str, Any]], Iterator[Verdict]]] = {
    "mediaRating": media_rating,
    "xGuardModeration": _guard("label", "triggeredLabels"),
    "shieldstralModeration": _guard("policy", "triggeredPolicies"),
    "ageClassification": age_classification,
}


def verdict_table(steps: pa.Table, day: Any) -> pa.Table:
    """The verdicts of a batch of step rows (columns workflow_id, step_name, step_type,
    single_job_id, output_json)."""
    wanted = pa.array(list(MODERATION_STEP_TYPES), pa.string())
    picked = steps.filter(pc.fill_null(pc.is_in(steps.column("step_type"), wanted), False))
    columns: dict[str, list[Any]] = {name: [] for name in schemas.MODERATION_VERDICTS.names}
    rows = zip(
        picked.column("workflow_id").to_pylist(),
        picked.column("step_name").to_pylist(),
        picked.column("step_type").to_pylist(),
        picked.column("single_job_id").to_pylist(),
        picked.column("output_json").to_pylist(),
        strict=True,
    )
    for workflow_id, step_name, step_type, job_id, output_json in rows:
        output = orjson.loads(output_json) if output_json else None
        if not isinstance(output, Mapping):
            continue
        for index, verdict in enumerate(MODERATION_STEP_TYPES[step_type](output)):
            row = {
                "workflow_id": workflow_id,
                "step_name": step_name,
                "verdict_index": index,
                "window_date": day,
                "step_type": step_type,
                "job_id": job_id,
                **verdict,
            }
            for name, column in columns.items():
                column.append(row.get(name))
    return pa.Table.from_pydict(columns, schema=schemas.MODERATION_VERDICTS)
