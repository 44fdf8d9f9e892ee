"""Documents built from the OpenAPI document, with every member of every schema filled.

`InstanceBuilder.step(step_type)` returns a step of that `$type` whose input, output and jobs
carry every property their schemas declare (nullable ones too, with a value), one entry in
every map, one item in every list, and (with `unknown=True`) a member no schema knows in every
object. Discriminated unions (`Blob` by `type`, inputs by `engine`, ...) rotate through their
variants, so calling `steps(step_type)` until it stops returning new variants covers each of
them. Every scalar is unique (a counter), so a value found in a table can only come from its
own place in the document.

It also records where it put a blob-shaped schema (`Blob` and its subtypes, and
`TranscodeOutput`, which is the blob itself), as a concrete JSON path and as a pattern
(`$.epochs[*].samples[*]`, `$.byName.*`), and `blob_locations` lists the patterns a schema
allows, walking the schema alone: the tests compare the three.

Written for the tests only, independently of pipeline.api.blobs.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SPEC_PATH = Path(__file__).resolve().parents[1] / "schemas" / "orchestration-openapi.json"
REF = "#/components/schemas/"
BLOB_FAMILY = frozenset({"Blob", "ImageBlob", "VideoBlob", "AudioBlob", "Model3DBlob"})
# The transcode step's output is the blob itself (id, available, url, jobId), not a Blob ref.
BLOB_SHAPED = BLOB_FAMILY | {"TranscodeOutput"}
UNKNOWN = "zzNobodyKnowsMe"
MAX_DEPTH = 12
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BASE_TIME = datetime(2026, 8, 20, tzinfo=UTC)


def load_spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


def member(path: str, key: str) -> str:
    return f"{path}.{key}" if _PLAIN.match(key) else f"{path}[{json.dumps(key)}]"


@dataclass
class Placed:
    """Where the builder put a blob-shaped object."""

    path: str
    pattern: str
    schema: str


@dataclass
class InstanceBuilder:
    spec: dict[str, Any]
    unknown: bool = True
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    cursor: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    variants_seen: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    placed: list[Placed] = field(default_factory=list)

    @property
    def schemas(self) -> dict[str, Any]:
        return self.spec["components"]["schemas"]

    def step_types(self) -> dict[str, str]:
        mapping = self.schemas["WorkflowStep"]["discriminator"]["mapping"]
        return {tag: ref.removeprefix(REF) for tag, ref in mapping.items()}

    # --- documents -----------------------------------------------------------------------

    def step(self, step_type: str) -> dict[str, Any]:
        """One step of `step_type`; `placed` then lists its blobs (paths within `output`)."""
        self.placed = []
        name = self.step_types()[step_type]
        step = self._named(name, "$step", "$step", 0)
        step["$type"] = step_type
        prefix = "$step.output"
        self.placed = [
            Placed("$" + p.path[len(prefix) :], "$" + p.pattern[len(prefix) :], p.schema)
            for p in self.placed
            if p.path == prefix or p.path.startswith((prefix + ".", prefix + "["))
        ]
        return step

    def steps(self, step_type: str, limit: int = 300) -> list[tuple[dict[str, Any], list[Placed]]]:
        """Steps of `step_type` until every discriminated union reached has shown each variant."""
        out = []
        for _ in range(limit):
            before = sum(len(v) for v in self.variants_seen.values())
            step = self.step(step_type)
            out.append((step, list(self.placed)))
            if sum(len(v) for v in self.variants_seen.values()) == before and len(out) > 1:
                break
        return out

    def workflow(self, workflow_id: str, created_at: str, steps: list[Any]) -> dict[str, Any]:
        doc = self._named("Workflow", "$wf", "$wf", 0)
        doc.update(id=workflow_id, createdAt=created_at, steps=steps)
        return doc

    # --- values --------------------------------------------------------------------------

    def _n(self) -> int:
        return next(self.counter)

    def _resolve(self, schema: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        if "$ref" in schema:
            name = schema["$ref"].removeprefix(REF)
            return name, self.schemas[name]
        return None, schema

    def properties(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Every property of a schema, through allOf (no discriminator dispatch)."""
        props: dict[str, Any] = {}
        for part in schema.get("allOf", []):
            props.update(self.properties(self._resolve(part)[1]))
        props.update(schema.get("properties", {}))
        return props

    def _variant(self, name: str) -> str:
        """The concrete schema to build for `name`: itself, or its next discriminator variant."""
        mapping = self.schemas[name].get("discriminator", {}).get("mapping", {})
        choices = [ref.removeprefix(REF) for ref in mapping.values()]
        choices = [c for c in dict.fromkeys(choices) if c != name]
        if not choices:
            return name
        pick = choices[self.cursor[name] % len(choices)]
        self.cursor[name] += 1
        self.variants_seen[name].add(pick)
        return self._variant(pick) if pick != name else pick

    def _named(self, name: str, path: str, pattern: str, depth: int) -> Any:
        concrete = self._variant(name)
        if concrete in BLOB_SHAPED or name in BLOB_SHAPED:
            self.placed.append(Placed(path, pattern, concrete))
        return self._value(self.schemas[concrete], path, pattern, depth + 1)

    def _value(self, schema: dict[str, Any], path: str, pattern: str, depth: int) -> Any:
        name, schema = self._resolve(schema)
        if name is not None:
            if depth > MAX_DEPTH:
                return None
            return self._named(name, path, pattern, depth)
        types = schema.get("type", "object" if self.properties(schema) else None)
        if isinstance(types, list):
            types = next((t for t in types if t != "null"), "null")
        if types is None and "allOf" in schema:
            types = "object"
        if "enum" in schema:
            values = [v for v in schema["enum"] if v is not None]
            return values[self._n() % len(values)] if values else None
        if types == "object":
            return self._object(schema, path, pattern, depth)
        if types == "array":
            items = schema.get("items", {})
            return [self._value(items, f"{path}[0]", f"{pattern}[*]", depth)]
        return self._scalar(types, schema.get("format"))

    def _object(self, schema: dict[str, Any], path: str, pattern: str, depth: int) -> Any:
        obj: dict[str, Any] = {}
        for key, sub in self.properties(schema).items():
            obj[key] = self._value(sub, member(path, key), member(pattern, key), depth)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            key = f"k{self._n()}"
            obj[key] = self._value(extra, member(path, key), f"{pattern}.*", depth)
        elif extra is True or extra == {}:
            key = f"k{self._n()}"
            obj[key] = f"free{self._n()}"
        if self.unknown:
            obj[UNKNOWN] = f"unknown{self._n()}"
        return obj

    def _scalar(self, type_: str | None, fmt: str | None) -> Any:
        n = self._n()
        if type_ == "boolean":
            return n % 2 == 0
        if type_ == "integer":
            return 1000 + n
        if type_ == "number":
            return n + 0.25
        if type_ == "null":
            return None
        if fmt == "date-time":
            when = _BASE_TIME + timedelta(seconds=n, microseconds=n % 999_999)
            return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if fmt == "date-span":
            return f"{n % 24:02d}:{n % 60:02d}:{(n * 7) % 60:02d}"
        if fmt == "uri":
            return f"https://example.invalid/u{n}"
        return f"s{n}"

    # --- where the schema allows blobs ---------------------------------------------------

    def blob_locations(self, step_type: str) -> set[str]:
        """Patterns (`$.images[*]`) of every place in this step type's output where a
        blob-shaped schema can occur, from the schema alone."""
        step_schema = self.schemas[self.step_types()[step_type]]
        output = self.properties(step_schema).get("output")
        found: set[str] = set()
        if output is not None:
            self._walk(output, "$", found, frozenset())
        return found

    def _walk(self, schema: dict[str, Any], pattern: str, found: set[str], seen: frozenset) -> None:
        name, schema = self._resolve(schema)
        if name is not None:
            if name in BLOB_SHAPED:
                found.add(pattern)
                return
            if (name, pattern) in seen or len(seen) > MAX_DEPTH:
                return
            seen = seen | {(name, pattern)}
            mapping = schema.get("discriminator", {}).get("mapping", {})
            for ref in mapping.values():
                if ref.removeprefix(REF) != name:
                    self._walk({"$ref": ref}, pattern, found, seen)
        for key, sub in self.properties(schema).items():
            self._walk(sub, member(pattern, key), found, seen)
        if isinstance(schema.get("items"), dict):
            self._walk(schema["items"], f"{pattern}[*]", found, seen)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            self._walk(extra, f"{pattern}.*", found, seen)


def pattern_of(path: str) -> str:
    """`$.epochs[0].samples[1]` -> `$.epochs[*].samples[*]` (map keys are `k<n>` here)."""
    path = re.sub(r"\[\d+\]", "[*]", path)
    return re.sub(r"\.k\d+(?=[.\[]|$)", ".*", path)
