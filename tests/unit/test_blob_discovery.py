"""The blob rule against the OpenAPI document: every place a step output's schema allows a blob
is found, at every depth, and nothing else is.

The schema side is walked by tests/support/openapi_instances.py, written apart from the rule.
"""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.api.blobs import BLOB_TYPES, find_blobs, is_blob
from tests.support.openapi_instances import (
    BLOB_FAMILY,
    BLOB_SHAPED,
    REF,
    InstanceBuilder,
    load_spec,
)

SPEC = load_spec()
STEP_TYPES = sorted(InstanceBuilder(SPEC).step_types())


def test_the_blob_types_are_the_schemas_discriminator_values() -> None:
    mapping = SPEC["components"]["schemas"]["Blob"]["discriminator"]["mapping"]
    assert set(mapping) == BLOB_TYPES
    assert {ref.removeprefix(REF) for ref in mapping.values()} == BLOB_FAMILY - {"Blob"}


def test_only_blob_schemas_have_the_blob_shape() -> None:
    # The rule: a string `id` with `available`, or with a `type` that is a Blob type. Over
    # every schema of the document, exactly the blobs (and the transcode output, which is
    # the blob itself) have that shape.
    builder = InstanceBuilder(SPEC)
    shaped = set()
    for name, schema in SPEC["components"]["schemas"].items():
        props = builder.properties(schema)
        id_type = props.get("id", {}).get("type")
        has_string_id = id_type == "string" or (isinstance(id_type, list) and "string" in id_type)
        type_enum = set(props.get("type", {}).get("enum") or ())
        if has_string_id and ("available" in props or (type_enum and type_enum <= BLOB_TYPES)):
            shaped.add(name)
    assert shaped == BLOB_SHAPED


@pytest.mark.parametrize("step_type", STEP_TYPES)
def test_every_blob_location_of_the_schema_is_found_and_nothing_else(step_type: str) -> None:
    builder = InstanceBuilder(SPEC)
    allowed = builder.blob_locations(step_type)
    placed_patterns: set[str] = set()
    for step, placed in builder.steps(step_type):
        found = [(f.json_path, dict(f.blob)) for f in find_blobs(step.get("output"))]
        assert [path for path, _ in found] == [p.path for p in placed]
        for (_, blob), spot in zip(found, placed, strict=True):
            assert is_blob(blob), spot
        placed_patterns.update(p.pattern for p in placed)
    # Each place the schema allows a blob got one in some generated output.
    assert placed_patterns == allowed


def test_nested_blob_locations_exist_in_the_schema() -> None:
    # The cases the old top-level search missed, as the schema declares them.
    builder = InstanceBuilder(SPEC)
    assert {"$.epochs[*].model", "$.epochs[*].samples[*]"} <= builder.blob_locations("training")
    assert "$.basicAnimations.walkingModel" in builder.blob_locations("polyGen")
    assert "$.results[*].layer" in builder.blob_locations("comfyNodepackSnapshot")
    assert builder.blob_locations("transcode") == {"$"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"id": "a.jpg", "available": False}, True),  # the real sample: no type, no jobId
        ({"id": "a.jpg", "type": "image"}, True),  # no `available`, but a Blob type
        ({"id": "a.jpg", "type": "function"}, False),  # a chat tool call
        ({"id": 7, "available": True}, False),  # the id of a blob is text
        ({"available": True}, False),
        (["a"], False),
    ],
)
def test_the_rule_on_single_values(value: Any, expected: bool) -> None:
    assert is_blob(value) is expected


def test_paths_name_members_plainly_or_quoted() -> None:
    output = {
        "a-b": [{"id": "x", "available": True}],
        "lists": [[], [{"id": "y", "type": "audio"}]],
    }
    assert [f.json_path for f in find_blobs(output)] == ['$["a-b"][0]', "$.lists[1][0]"]
    assert [(f.output_key, f.item_index) for f in find_blobs(output)] == [("a-b", 0), ("lists", 0)]
