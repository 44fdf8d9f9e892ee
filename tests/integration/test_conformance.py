"""The simulator's responses validate against the published OpenAPI document.

The document (OpenAPI 3.1, i.e. JSON Schema 2020-12) cannot be used as is:

* Polymorphic types are NSwag-style: the base (`WorkflowStep`, `Blob`, `ImageGenInput`, ...)
  says `additionalProperties: false` and each subtype is `allOf: [base, {its own fields,
  additionalProperties: false}]`. Read literally no subtype instance can ever validate, since
  each half forbids the other half's fields. Here each subtype is flattened into one object
  schema (the union of the chain's properties and required names, closed if any part is);
  equivalent to `unevaluatedProperties: false` over the chain, and much faster to check.
* `discriminator` is an OpenAPI keyword JSON Schema ignores. Each base referenced from a
  property becomes a dispatcher (a custom `x-dispatch` keyword): a known discriminator value validates against its subtype
  (recursively: `imageGen` -> engine `gemini` -> model `2.5-flash` -> operation ...). An
  unknown value is a type newer than the document (the simulator serves a `hyperGen9` step
  for that reason): only the base's own fields are checked, extra fields allowed.
* Patterns use .NET named groups `(?<name>...)`; Python's `re` needs `(?P<name>...)`.

Formats are checked with a small checker (date-time with .NET's 0-7 fractional digits,
`date-span`, absolute `uri`), because jsonschema skips them unless told. A `date-span` is a
.NET TimeSpan (`00:20:00`, `1.00:00:00`: what the real sample shows) or an ISO-8601 duration
(`PT20M`: what the developer docs describe); the simulator serves both.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from simulator import Faults, SimulatedAccount, SimulatorConfig
from simulator.vocab import FUTURE_FIELDS, FUTURE_STEP_TYPE
from tests.support.simulated import DOCUMENTED_STEP_TYPES, STEP_TYPES

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "failed_workflow_redacted.json"
SPEC_URI = "urn:civitai-orchestration-sync:openapi-components"
TOKEN = "sim-token"

_REF = "#/components/schemas/"
_NAMED_GROUP = re.compile(r"\(\?<(?![=!])")


# --- turning the OpenAPI components into a usable JSON Schema ------------------------------
def _own_discriminator(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The discriminator a schema declares itself (top level or an inline allOf part);
    one inherited through an allOf `$ref` belongs to the base, not to this schema."""
    if "discriminator" in schema:
        return schema["discriminator"]
    for part in schema.get("allOf", ()):
        if "$ref" not in part and "discriminator" in part:
            return part["discriminator"]
    return None


def _rewrite(node: Any, *, opening: bool = False) -> Any:
    """Copy a schema node: refs point into $defs, patterns become Python regexes, OpenAPI-only
    keywords go. `opening` drops a top-level `additionalProperties: false`."""
    if isinstance(node, list):
        return [_rewrite(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("discriminator", "example", "xml", "externalDocs"):
            continue
        if key == "additionalProperties" and value is False and opening:
            continue
        if key == "$ref" and isinstance(value, str) and value.startswith(_REF):
            out[key] = "#/$defs/" + value[len(_REF) :]
        elif key == "pattern" and isinstance(value, str):
            out[key] = _NAMED_GROUP.sub("(?P<", value)
        elif key in ("properties", "patternProperties", "$defs"):
            out[key] = {name: _rewrite(sub) for name, sub in value.items()}
        else:
            out[key] = _rewrite(value)
    return out


def _flatten(name: str, components: dict[str, Any]) -> tuple[dict[str, Any], list[str], bool]:
    """Properties, required names and closedness of a subtype with its whole allOf chain
    merged. A property both halves define must satisfy both (e.g. `$type: string` in the
    base, `$type: enum [textToImage]` in the subtype)."""
    schema = components[name]
    parts = schema.get("allOf", [schema])
    props: dict[str, Any] = {}
    required: list[str] = []
    closes = False
    for part in parts:
        if "$ref" in part:
            sub_props, sub_required, sub_closes = _flatten(part["$ref"][len(_REF) :], components)
        else:
            sub_props = part.get("properties", {})
            sub_required = part.get("required", [])
            sub_closes = part.get("additionalProperties") is False
        for key, value in sub_props.items():
            props[key] = value if key not in props else {"allOf": [props[key], value]}
        required += [r for r in sub_required if r not in required]
        closes = closes or sub_closes
    return props, required, closes


def build_spec_schema(components: dict[str, Any]) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    for name, schema in components.items():
        if "allOf" in schema:
            props, required, closes = _flatten(name, components)
            opened = {
                "type": "object",
                "properties": {k: _rewrite(v) for k, v in props.items()},
                "required": required,
            }
            closed = {**opened, "additionalProperties": False} if closes else opened
        else:
            opened = _rewrite(schema, opening=True)
            closed = _rewrite(schema)
        defs[name + "__open"] = opened
        defs[name + "__closed"] = closed
        disc = _own_discriminator(schema)
        if disc is None:
            defs[name] = {"$ref": f"#/$defs/{name}__closed"}
            continue
        mapping = {
            value: f"#/$defs/{target[len(_REF) :]}"
            if target[len(_REF) :] != name
            else f"#/$defs/{name}__closed"
            for value, target in disc.get("mapping", {}).items()
        }
        # A discriminator value newer than the document: check the base fields only.
        defs[name] = {
            DISPATCH: {
                "propertyName": disc["propertyName"],
                "mapping": mapping,
                "fallback": f"#/$defs/{name}__open",
            }
        }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SPEC_URI,
        "$defs": defs,
    }


# JSON Schema has no switch; 45 `if/then` branches per step made validation ~25 ms per
# workflow. This keyword dispatches on the discriminator value in one lookup.
DISPATCH = "x-dispatch"


def _dispatch(validator: Any, spec: dict[str, Any], instance: Any, schema: Any) -> Any:
    if not validator.is_type(instance, "object"):
        return
    value = instance.get(spec["propertyName"])
    target = spec["mapping"].get(value) if isinstance(value, str) else None
    yield from validator.descend(instance, {"$ref": target or spec["fallback"]})


SpecValidator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {DISPATCH: _dispatch})


_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?(Z|[+-]\d{2}:\d{2})$")
_TIME_SPAN = re.compile(r"^-?(\d+\.)?\d{1,2}:\d{2}:\d{2}(\.\d{1,7})?$")
_ISO_DURATION = re.compile(r"^P(?!$)(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(formats=())

    @checker.checks("date-time")
    def _date_time(value: object) -> bool:
        return not isinstance(value, str) or bool(_DATE_TIME.match(value))

    @checker.checks("date-span")
    def _date_span(value: object) -> bool:
        if not isinstance(value, str):
            return True
        return bool(_TIME_SPAN.match(value) or _ISO_DURATION.match(value))

    @checker.checks("uri")
    def _uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return bool(parts.scheme and parts.netloc)

    return checker


@cache
def _registry() -> tuple[Registry, dict[str, Any]]:
    spec = json.loads((SCHEMA_DIR / "orchestration-openapi.json").read_text())
    schema = build_spec_schema(spec["components"]["schemas"])
    v1 = json.loads((SCHEMA_DIR / "v1_job_status.json").read_text())
    registry = Registry().with_resources(
        [
            (SPEC_URI, Resource.from_contents(schema, default_specification=DRAFT202012)),
            (v1["$id"], Resource.from_contents(v1, default_specification=DRAFT202012)),
        ]
    )
    return registry, v1


@cache
def validator(component: str) -> Any:
    registry, _ = _registry()
    return SpecValidator(
        {"$ref": f"{SPEC_URI}#/$defs/{component}"},
        registry=registry,
        format_checker=_format_checker(),
    )


@cache
def v1_validator() -> jsonschema.Draft202012Validator:
    registry, v1 = _registry()
    return jsonschema.Draft202012Validator(v1, registry=registry, format_checker=_format_checker())


def errors(component: str, instance: Any) -> list[str]:
    return [_describe(e) for e in validator(component).iter_errors(instance)]


def _describe(error: jsonschema.ValidationError) -> str:
    leaves = list(_leaf_errors(error))
    return "; ".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in leaves)


def _leaf_errors(error: jsonschema.ValidationError) -> Iterator[jsonschema.ValidationError]:
    if not error.context:
        yield error
        return
    for sub in error.context:
        yield from _leaf_errors(sub)


# --- deviations the simulator serves on purpose --------------------------------------------
def without_known_deviations(workflow: dict[str, Any]) -> dict[str, Any]:
    """The workflow minus what the simulator adds *because* the real API does it and the
    document does not describe it:

    * fields newer than the document (`FUTURE_FIELDS`) on workflows, steps, blobs (at any
      depth of an output) and training epochs;
    * image blobs shaped like the real sample's (no `type`, `nsfwLevel`, `jobId` although the
      document requires `type`): given `type: image` here. A transcode output is a blob
      without `type` by the document itself and stays as it is.

    Unknown step `$type`s need no change (the dispatcher checks their base fields only).
    """
    doc = copy.deepcopy(workflow)
    doc.pop(FUTURE_FIELDS["workflow"], None)
    for step in doc.get("steps") or ():
        step.pop(FUTURE_FIELDS["step"], None)
        output = step.get("output")
        if isinstance(output, dict):
            for epoch in output.get("epochs") or ():
                if isinstance(epoch, dict):
                    epoch.pop(FUTURE_FIELDS["epoch"], None)
            for blob in _nested_blobs(output, top=True):
                blob.pop(FUTURE_FIELDS["blob"], None)
                blob.setdefault("type", "image")
    return doc


def _nested_blobs(node: Any, *, top: bool = False) -> Iterator[dict[str, Any]]:
    """Objects with a string `id` and `available` anywhere below `node` (`node` itself
    only when it is not the output: a transcode output is a blob of its own kind)."""
    if isinstance(node, dict):
        if not top and isinstance(node.get("id"), str) and "available" in node:
            yield node
            return
        for value in node.values():
            yield from _nested_blobs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _nested_blobs(value)


# --- fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    from simulator import SimulatorConfig, SimulatorServer

    config = SimulatorConfig(seed=11, days=2, workflows_per_day=200, running_share=0.1)
    with SimulatorServer(config) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        yield c


def _all_workflows(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = client.get(
            "/v2/consumer/workflows",
            params={"take": 100, **params, **({"cursor": cursor} if cursor else {})},
        )
        assert page.status_code == 200
        body = page.json()
        items.extend(body["items"])
        cursor = body.get("next")
        if not cursor:
            return items


# --- the tests -----------------------------------------------------------------------------
def test_schema_transform_rejects_what_the_spec_rejects() -> None:
    """The rewritten schema is not a rubber stamp."""
    assert errors("WorkflowStepJob", {"id": "x", "status": "succeeded", "cost": 1}) == []
    assert errors("WorkflowStepJob", {"id": "x", "status": "done", "cost": 1})
    assert errors("WorkflowStepJob", {"id": "x", "status": "succeeded", "cost": 1, "extra": 1})
    image = {"type": "image", "id": "A.jpeg", "available": True, "width": 5}
    assert errors("Blob", image) == []
    assert errors("Blob", {**image, "duration": 1.0})  # an audio field on an image
    assert errors("Blob", {**image, "createdAt": "x"})
    step = {
        "$type": "textToImage",
        "name": "$0",
        "priority": "low",
        "status": "succeeded",
        "metadata": {},
        "input": {
            "prompt": "p",
            "seed": 1,
            "cfgScale": 7,
            "model": "urn:air:sdxl:checkpoint:civitai:101055@128078",
        },
    }
    assert errors("WorkflowStep", step) == []
    assert errors("WorkflowStep", {**step, "input": {**step["input"], "cfgScale": 99}})
    assert errors("WorkflowStep", {**step, "input": {**step["input"], "model": "no air"}})
    assert errors("WorkflowStep", {**step, "timeout": "20 minutes"})
    assert errors("WorkflowStep", {**step, "startedAt": "2026-11-01 10:00"})
    gemini = {
        "engine": "gemini",
        "model": "2.5-flash",
        "operation": "createImage",
        "prompt": "p",
        "quantity": 1,
    }
    assert errors("ImageGenInput", gemini) == []
    assert errors("ImageGenInput", {**gemini, "quantity": 9})
    assert errors("ImageGenInput", {**gemini, "images": ["u"]})  # createImage takes none
    future = {**step, "$type": FUTURE_STEP_TYPE, "input": {"anything": 1}, "output": {}}
    assert errors("WorkflowStep", future) == []
    assert errors("WorkflowStep", {**future, "status": "nope"})


def test_list_pages_and_workflows_conform(client: httpx.Client, server: Any) -> None:
    items = _all_workflows(client, hideMatureContent="false")
    assert len(items) == 2 * 200
    page = client.get("/v2/consumer/workflows", params={"take": 7}).json()
    assert (
        errors(
            "CursedArrayOfTelemetryCursorAndWorkflow",
            {**page, "items": [without_known_deviations(w) for w in page["items"]]},
        )
        == []
    )
    seen_types: set[str] = set()
    failures = []
    for workflow in items:
        problems = errors("Workflow", without_known_deviations(workflow))
        if problems:
            failures.append((workflow["id"], problems[:3]))
        seen_types.update(step["$type"] for step in workflow["steps"])
    assert failures == []
    # Every step type the simulator makes was exercised, the future one included.
    assert seen_types >= STEP_TYPES


def test_hidden_mature_content_conforms(client: httpx.Client) -> None:
    items = _all_workflows(client)  # hideMatureContent defaults to true here
    hidden = 0
    for workflow in items:
        mature = [
            blob
            for step in workflow["steps"]
            for blob in _blobs(step)
            if blob.get("nsfwLevel") in ("r", "x", "xxx")
        ]
        if not mature:
            continue  # served exactly as with hideMatureContent=false (checked above)
        assert errors("Workflow", without_known_deviations(workflow)) == []
        assert all(not b["available"] and "url" not in b for b in mature)
        hidden += len(mature)
    assert hidden > 0


def _blobs(step: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from _nested_blobs(step.get("output"))


def test_the_last_page_omits_next_which_the_document_requires(client: httpx.Client) -> None:
    """The document requires `next`; the simulator leaves it out on the last page (civitai's
    own tooling sees it absent). Everything else on that page conforms."""
    last = client.get(
        "/v2/consumer/workflows",
        params={"take": 50, "fromDate": "2026-11-01T00:00:00Z", "toDate": "2026-11-01T01:00:00Z"},
    ).json()
    assert "next" not in last
    assert errors(
        "CursedArrayOfTelemetryCursorAndWorkflow",
        {**last, "items": [without_known_deviations(w) for w in last["items"]]},
    ) == [": 'next' is a required property"]


def test_get_workflow_and_step_conform(client: httpx.Client, server: Any) -> None:
    day = server.account.days[0]
    checked_steps = 0
    for n, workflow in enumerate(server.account.workflows(day)):
        if n % 5:
            continue
        got = client.get(f"/v2/consumer/workflows/{workflow['id']}")
        assert got.status_code == 200
        assert errors("Workflow", without_known_deviations(got.json())) == []
        for step in workflow["steps"]:
            resp = client.get(f"/v2/consumer/workflows/{workflow['id']}/steps/{step['name']}")
            assert resp.status_code == 200
            body = without_known_deviations({"steps": [resp.json()]})["steps"][0]
            assert errors("WorkflowStep", body) == []
            checked_steps += 1
    assert checked_steps >= 30


def test_problem_details_conform(client: httpx.Client, server: Any) -> None:
    bodies = [
        httpx.get(f"{server.url}/v2/consumer/workflows"),
        client.get("/v2/consumer/workflows/123-20261101000000000"),
        client.get("/v2/consumer/workflows/nope/steps/$0"),
        client.get("/v1/consumer/jobs/00000000-0000-4000-8000-000000000000"),
        client.get("/v2/consumer/blobs/NOPE.jpeg"),
        client.get("/v2/consumer/workflows", params={"take": "many"}),
    ]
    assert [b.status_code for b in bodies] == [401, 404, 404, 404, 404, 400]
    for body in bodies:
        assert body.headers["content-type"].startswith("application/problem+json")
        assert errors("ProblemDetails", body.json()) == []
    assert "take" in bodies[-1].json()["errors"]  # ValidationProblemDetails


def test_rate_limit_problem_conforms(make_simulator: Any) -> None:
    sim = make_simulator(days=1, workflows_per_day=5, faults=Faults(rate_429=1.0))
    resp = httpx.get(
        f"{sim.url}/v2/consumer/workflows", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert resp.status_code == 429
    assert errors("ProblemDetails", resp.json()) == []


def test_v1_jobs_conform(client: httpx.Client, server: Any) -> None:
    checked = 0
    contexts: set[str] = set()
    for workflow in server.account.workflows(server.account.days[1]):
        for step in workflow["steps"]:
            for job in step.get("jobs") or ():
                resp = client.get(f"/v1/consumer/jobs/{job['id']}", params={"detailed": "true"})
                if resp.status_code == 404:
                    continue
                doc = resp.json()
                problems = [str(e.message) for e in v1_validator().iter_errors(doc)]
                assert problems == [], (job["id"], problems)
                assert doc["job"]["properties"]["workflowId"] == workflow["id"]
                context = doc["lastEvent"]["context"]
                contexts.add(type(context).__name__)
                checked += 1
    assert checked > 150
    assert contexts == {"dict", "NoneType"}
    # The schema is not a rubber stamp either.
    assert list(v1_validator().iter_errors({"jobId": "x", "lastEvent": {"type": "ok"}}))


def test_the_real_sample_deviates_from_the_document_in_known_ways() -> None:
    """The redacted real GetWorkflow response does not validate as published, in exactly
    these ways (so the pipeline parses leniently, and the simulator mirrors the first):

    1. its image blobs have no `type` (required by `Blob`), nor `nsfwLevel`/`jobId`;
    2. its `gemini` imageGen input has no `model`/`operation`, which the document requires,
       and carries `images`, `quantity`, which only the `2.5-flash` edit subtype declares.
    """
    sample = json.loads(FIXTURE.read_text())
    found = errors("Workflow", sample)
    joined = " | ".join(found)
    assert "'type' is a required property" in joined
    assert "'model' is a required property" in joined
    # With the blob shape normalised, only the input deviation remains.
    normalised = without_known_deviations(sample)
    remaining = " | ".join(errors("Workflow", normalised))
    assert "'type' is a required property" not in remaining
    assert "steps/0/input" in remaining and "'model' is a required property" in remaining
    # Giving the input what the document asks for makes the sample valid.
    normalised["steps"][0]["input"].update(model="2.5-flash", operation="editImage")
    assert errors("Workflow", normalised) == []


def test_the_v1_schema_accepts_the_documented_example() -> None:
    example = {
        "jobId": "58de87d7-d594-4d71-ae43-dd8fc1bcbd23",
        "cost": 2,
        "job": {
            "id": "58de87d7-d594-4d71-ae43-dd8fc1bcbd23",
            "type": "TextToImageV2",
            "createdAt": "2026-01-21T22:21:26.400Z",
            "properties": {"workflowId": "8484131-20260121222126332"},
            "params": {"prompt": "p", "negativePrompt": "n"},
            "promptClassificationResult": {
                "sexual": True,
                "young": True,
                "cr": False,
                "scan": True,
            },
        },
        "result": [{"blobKey": "JNFDW54JNTATNW42HACYCWSQP0.jpeg", "available": True}],
        "lastEvent": {
            "jobId": "58de87d7-d594-4d71-ae43-dd8fc1bcbd23",
            "type": "Succeeded",
            "dateTime": "2026-01-21T22:21:39.400Z",
            "provider": "ValdiAI",
            "workerId": "w",
            "jobDuration": "00:00:12.3900000",
            "retryAttempt": 0,
            "context": {"hive_csam_score": "0.00 %, 0.00 %", "hive_vlm_summary": "X, No_Child"},
        },
        "serviceProviders": {},
        "scheduled": True,
    }
    assert list(v1_validator().iter_errors(example)) == []


def test_dates_in_served_documents_use_dotnet_precision(server: Any) -> None:
    digits = set()
    for workflow in server.account.workflows(date(2026, 11, 1)):
        created = workflow["createdAt"]
        assert _DATE_TIME.match(created)
        frac = created[19:-1]
        digits.add(len(frac) - 1 if frac else 0)
    assert 0 in digits or 1 in digits or 2 in digits
    assert 3 in digits and 7 in digits


# --- every step type, input and output -----------------------------------------------------
@cache
def _default_steps() -> dict[str, list[dict[str, Any]]]:
    """The default account's steps (3 days x 200 workflows, all finished), by `$type`."""
    account = SimulatedAccount(SimulatorConfig(running_share=0))
    by_type: dict[str, list[dict[str, Any]]] = {}
    for day in account.days:
        for workflow in account.workflows(day):
            for step in without_known_deviations(workflow)["steps"]:
                by_type.setdefault(step["$type"], []).append(step)
    return by_type


@cache
def _io_components(step_type: str) -> tuple[Any, Any]:
    """The schemas the document gives one step type's `input` and `output`: a component
    name, or the inline schema itself (`imageUpload`'s input is a plain string)."""
    spec = json.loads((SCHEMA_DIR / "orchestration-openapi.json").read_text())
    components = spec["components"]["schemas"]
    target = components["WorkflowStep"]["discriminator"]["mapping"][step_type]
    props, _required, _closed = _flatten(target[len(_REF) :], components)
    out: list[Any] = []
    for key in ("input", "output"):
        schema = props[key]
        while "allOf" in schema and len(schema["allOf"]) == 2:  # base `{}` merged with the type's
            schema = schema["allOf"][1]
        ref = schema.get("$ref", "")
        out.append(ref[len(_REF) :] if ref.startswith(_REF) else schema)
    return out[0], out[1]


def _errors_against(schema: Any, instance: Any) -> list[str]:
    if isinstance(schema, str):
        return errors(schema, instance)
    return [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(instance)]


@pytest.mark.parametrize("step_type", sorted(DOCUMENTED_STEP_TYPES))
def test_each_step_type_serves_inputs_and_outputs_its_schema_accepts(step_type: str) -> None:
    steps = _default_steps().get(step_type, [])
    produced = [s for s in steps if s.get("output") is not None]
    assert produced, f"the default account has no {step_type} step with an output"
    input_schema, output_schema = _io_components(step_type)
    for step in steps:
        assert errors("WorkflowStep", step) == [], (step["name"], step_type)
        assert _errors_against(input_schema, step["input"]) == []
        if "output" in step:
            assert _errors_against(output_schema, step["output"]) == []


def test_the_io_schemas_are_the_types_own_and_not_rubber_stamps() -> None:
    assert _io_components("training") == ("TrainingInput", "TrainingOutput")
    assert _io_components("imageUpload")[0] == {
        "type": "string",
        "description": "The workflow's input.",
    }
    training = next(s for s in _default_steps()["training"] if "output" in s)
    broken = copy.deepcopy(training["output"])
    broken["epochs"][0]["samples"][0].pop("id")
    assert errors("TrainingOutput", broken)
    assert _errors_against(_io_components("imageUpload")[0], {"url": "x"})
    transcode = next(s for s in _default_steps()["transcode"] if "output" in s)
    assert errors("TranscodeOutput", {**transcode["output"], "type": "video"})  # not a Blob


def test_the_default_account_covers_every_step_type() -> None:
    config = SimulatorConfig()
    assert (config.days, config.workflows_per_day) == (3, 200)
    account = SimulatedAccount(config)
    seen = {s["$type"] for day in account.days for w in account.workflows(day) for s in w["steps"]}
    assert seen >= STEP_TYPES, sorted(STEP_TYPES - seen)
    assert len(DOCUMENTED_STEP_TYPES) == 45


def test_timeouts_in_every_form_conform() -> None:
    timeouts = {s["timeout"] for steps in _default_steps().values() for s in steps}
    assert {"00:20:00", "1.00:00:00"} <= timeouts
    assert any(t.startswith("PT") for t in timeouts) and "P1D" in timeouts
    step = next(s for s in _default_steps()["textToImage"] if "output" in s)
    for good in ("00:20:00", "1.00:00:00", "PT20M", "P1D", "PT1H30M"):
        assert errors("WorkflowStep", {**step, "timeout": good}) == []
    for bad in ("20 minutes", "P", "PT", "1:2"):
        assert errors("WorkflowStep", {**step, "timeout": bad})
