"""Scan scores in a v1 job's `lastEvent.context`: every form a consumer must read, and the one
rule that tells a probability from a percent.

The context is typed `Record<string, any>` and its value shapes are only inferred, so the
simulator writes `hive_csam_score` (one item per output blob of the job, in `result` order)
in every form seen or documented:

    text           "0.00 %, 12.50 %"          the main form (civitai's tooling prints it)
    text_nbsp      "0.00\u00a0%, 12.50\u00a0%"  a no-break space before `%`
    text_list      ["0.00 %", "12.50 %"]       a JSON list of strings
    percent        12.5 | [0.0, 12.5]           bare percent numbers (one item: a number)
    probability    0.125 | [0.0, 0.125]         bare 0-1 probabilities (one item: a number)
    na             "n/a"                        nothing readable
and, besides, a null context, a context without scan keys, and keys nobody knows yet
(`vocab.FUTURE_CONTEXT_KEY`, a `*_score` in the text form).

THE SCALE RULE (the pipeline's flattening implements the same rule independently):

    For a key ending in `_score`:
    * a string item is a percent: strip it, drop a trailing `%` and any whitespace before it
      (space or U+00A0), parse a float; if that fails the score is unknown (raw text kept);
    * JSON numbers (the value is a number, or a list of numbers) are judged together, per key
      per context: if every number lies within [0, 1] they are probabilities and are
      multiplied by 100; otherwise they are all percents as given.

    The simulator never writes a percent as JSON numbers when every item would lie within
    [0, 1] unless they are all 0 (where both readings agree): such a job gets the `text` form
    instead. So "all numbers within [0, 1]" is unambiguous here. A probability is written
    rounded to 4 decimals (the percent has 2), so x 100 gives the percent back within 1e-9.

`ScanPlan.percents` holds the intended 0-100 value per item; `SimulatedAccount.scan_truth`
serves it.
"""

from __future__ import annotations

from random import Random
from typing import Any

from simulator import vocab
from simulator.model import NSFW_LABELS, NSFW_ORDER, JobInfo, ScanPlan, Weighted

CSAM_KEY = "hive_csam_score"
VISUAL = frozenset({"image", "video"})
VLM_KEY = "hive_vlm_summary"
NBSP = "\u00a0"
FORMS = ("text", "text_nbsp", "text_list", "percent", "probability", "na")
FORM_PICK = Weighted(
    (
        ("text", 86),
        ("text_nbsp", 3),
        ("text_list", 2),
        ("percent", 3),
        ("probability", 5),
        ("na", 1),
    )
)


def _text(p: float, space: str = " ") -> str:
    return f"{p:.2f}{space}%"


def render(form: str, percents: list[float]) -> tuple[str, Any]:
    """(the form actually used, the served value) for items with these percents."""
    if form == "percent" and not (max(percents) > 1 or not any(percents)):
        form = "text"  # numbers all within [0, 1] would read as probabilities
    one = len(percents) == 1
    if form == "text":
        return form, ", ".join(_text(p) for p in percents)
    if form == "text_nbsp":
        return form, ", ".join(_text(p, NBSP) for p in percents)
    if form == "text_list":
        return form, [_text(p) for p in percents]
    if form == "percent":
        return form, percents[0] if one else list(percents)
    if form == "probability":
        values = [round(p / 100, 4) for p in percents]
        return form, values[0] if one else values
    return "na", "n/a"


def plan_scan(job: JobInfo, rng: Random) -> None:
    """Decide what a finished job's context says: null, metrics only, or scan scores (and
    the job-level reason / blockedReason it carries). Sets `job.scan` and the context kind."""
    r = rng.random
    draw, future, future_value = r(), r() < 0.03, round(r() * 5, 2)
    status = job.status
    if status == "succeeded":
        blobs = job.blobs
        if draw < 0.07:
            job.context_kind = "none"
        elif (
            draw < 0.17
            or job.scan_form is None
            or job.cached
            or not blobs
            or any(b.kind not in VISUAL for b in blobs)
        ):
            # Only generation jobs whose outputs are all images/videos go through the scan.
            job.context_kind = "metrics"
        else:
            job.context_kind = "scan"
            percents = [b.csam_percent for b in blobs]
            form, raw = render(job.scan_form, percents)
            items: list[float | None] = [None] if form == "na" else list(percents)
            job.scan = ScanPlan(form, items, raw)
            if future:
                job.scan.extra[vocab.FUTURE_CONTEXT_KEY] = future_value
        job.reason = None
        if job.context_kind != "none":
            for b in blobs:
                reason = b.blob.get("blockedReason")
                if reason and reason != "none":
                    job.blocked_reason = reason
                    break
        return
    if status == "failed" and draw >= 0.2:
        job.context_kind = "failed"  # its reason was decided with its status
    elif status == "canceled" and draw >= 0.7:
        job.context_kind = "canceled"
        job.reason = "UserCanceled"
    else:
        # A context that is not served carries nothing.
        job.context_kind = "none"
        job.reason = job.blocked_reason = None


def scan_context(job: JobInfo) -> dict[str, Any]:
    """The scan keys of a job whose context kind is `scan`."""
    scan = job.scan
    assert scan is not None
    levels = [b.blob.get("nsfwLevel") for b in job.blobs]
    ranked = [lvl for lvl in levels if lvl in NSFW_ORDER]
    rating = NSFW_LABELS[max(ranked, key=NSFW_ORDER.__getitem__)] if ranked else "PG"
    child = "Child" if max(b.csam_percent for b in job.blobs) >= 50 else "No_Child"
    context: dict[str, Any] = {CSAM_KEY: scan.raw, VLM_KEY: f"{rating}, {child}"}
    for key, value in scan.extra.items():
        context[key] = _text(value)
    return context
