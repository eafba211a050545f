"""Reading Rippling's v2 OpenAPI spec for contract tests: resolve, synthesize, collect examples.

Nothing here knows the client's models: it turns a schema of the published spec into JSON
bodies Rippling could send (required-only, every property, or the spec's own examples), and
lists where the spec allows an enum, so a test can feed them to the models and compare.

The spec gives almost no ``format`` (a timestamp or a date is ``type: string``) and types
payroll amounts as plain strings, so a string value is chosen by what the field is, as its name
and description say: ``SCALAR_HINTS`` below, with the reason for each.
"""

import copy
import datetime as dt
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

SPEC_PATH = (
    Path(__file__).resolve().parents[2].parent / "shared/reference/rippling/rippling-v2-rest.yaml"
)

# The spec's ``type: string`` fields whose value has a shape the spec only says in prose.
# Timestamps: ``created_at``/``updated_at`` ("Record creation/update date", ISO 8601 with an
# offset in every Rippling answer), ``approved_at``/``paid_at`` ("Timestamp when ..."),
# ``*_deadline`` ("Deadline for ..."). Dates: ``*_date`` and ``date_of_birth``.
# Decimal strings: the ``WorkerPayroll*`` amounts ("... amount for the current period"), and
# ``hours``/``rate`` of an earning ("Hours worked", "Hourly rate applied").
DECIMAL_STRINGS = frozenset(
    {
        "amount",
        "gross_pay",
        "net_pay",
        "employee_amount",
        "employer_amount",
        "employer_taxes",
        "employee_taxes",
        "employee_deductions",
        "employer_contributions",
        "total_garnishments",
        "hours",
        "rate",
    }
)


def is_timestamp_name(name: str) -> bool:
    return name.endswith("_at") or name.endswith("_deadline")


def is_date_name(name: str) -> bool:
    return name.endswith("_date") or name == "date_of_birth"


class Spec:
    """A loaded OpenAPI document with ``$ref``/``allOf`` resolution."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    def pointer(self, ref: str) -> dict[str, Any]:
        assert ref.startswith("#/"), f"only local $refs are expected: {ref}"
        node: Any = self.doc
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def flatten(self, schema: dict[str, Any]) -> tuple[dict[str, Any], frozenset[str]]:
        """The schema with ``$ref`` followed and ``allOf`` merged, and the refs it went through.

        ``allOf`` parts contribute their properties and required lists; other keywords of the
        schema itself win over the parts' (``type: object`` plus a description, in this spec).
        """
        refs: set[str] = set()

        def go(node: dict[str, Any]) -> dict[str, Any]:
            if "$ref" in node:
                refs.add(node["$ref"])
                return go(self.pointer(node["$ref"]))
            out = {k: v for k, v in node.items() if k not in ("allOf", "properties", "required")}
            properties: dict[str, Any] = {}
            required: list[str] = []
            for part in node.get("allOf", []):
                flat = go(part)
                properties.update(flat.get("properties", {}))
                required += flat.get("required", [])
                for key, value in flat.items():
                    if key not in ("properties", "required"):
                        out.setdefault(key, value)
            properties.update(node.get("properties", {}))
            required += node.get("required", [])
            if properties:
                out["properties"] = properties
            if required:
                out["required"] = list(dict.fromkeys(required))
            return out

        return go(schema), frozenset(refs)

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        return self.flatten(schema)[0]

    def operation(self, template: str, method: str = "get") -> dict[str, Any]:
        operation = (self.doc["paths"].get(template) or {}).get(method)
        assert operation is not None, f"{method.upper()} {template} is not in the v2 spec"
        return operation

    def response(self, template: str, status: str = "200") -> dict[str, Any]:
        """The ``application/json`` media object of a response (schema, example, examples)."""
        responses = self.operation(template)["responses"]
        assert status in responses, f"{template} documents no {status} response"
        response = responses[status]
        if "$ref" in response:
            response = self.pointer(response["$ref"])
        return response["content"]["application/json"]

    def at(self, schema: dict[str, Any], path: str) -> dict[str, Any] | None:
        """The flattened schema at a dotted property path (``emails[].type``), or None."""
        flat = self.resolve(schema)
        for segment in path.split("."):
            is_list = segment.endswith("[]")
            name = segment.removesuffix("[]")
            prop = flat.get("properties", {}).get(name)
            if prop is None:
                return None
            flat = self.resolve(prop)
            if is_list:
                if flat.get("type") != "array":
                    return None
                flat = self.resolve(flat["items"])
        return flat


def _is_object(flat: dict[str, Any]) -> bool:
    return flat.get("type") == "object" or "properties" in flat or "additionalProperties" in flat


class Synthesizer:
    """Bodies built from a schema: ``minimal`` (required properties only, at every level),
    ``maximal`` (every property, at every level) or ``shallow`` (every property of the
    top object, required-only objects below it). Arrays get one element; an enum its first
    member. A schema that refers back to one being built (``Worker.manager``) is built
    required-only there, so the body is finite.

    Values are distinct (a counter), so a model reading one field from another's key shows.
    ``enum_sites`` lists, for the last body built, each place an enum sits and its members.
    """

    MODES = ("minimal", "maximal", "shallow")

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.counter = 0
        self.enum_sites: list[tuple[tuple[str | int, ...], list[Any]]] = []

    def build(self, schema: dict[str, Any], mode: str) -> Any:
        assert mode in self.MODES, mode
        self.enum_sites = []
        return self._value(schema, mode, "", (), frozenset())

    def _value(
        self,
        schema: dict[str, Any],
        mode: str,
        name: str,
        path: tuple[str | int, ...],
        stack: frozenset[str],
    ) -> Any:
        flat, refs = self.spec.flatten(schema)
        if "enum" in flat:
            self.enum_sites.append((path, list(flat["enum"])))
            return flat["enum"][0]
        if flat.get("type") == "array":
            return [self._value(flat["items"], mode, name, (*path, 0), stack)]
        if _is_object(flat):
            properties = flat.get("properties", {})
            if refs & stack:
                mode = "minimal"
            keys = list(properties) if mode != "minimal" else flat.get("required", [])
            child_mode = "minimal" if mode == "shallow" else mode
            return {
                key: self._value(properties[key], child_mode, key, (*path, key), stack | refs)
                for key in keys
            }
        return self.scalar(name, flat)

    def scalar(self, name: str, flat: dict[str, Any]) -> Any:
        self.counter += 1
        n = self.counter
        kind = flat.get("type")
        fmt = flat.get("format")
        if kind == "boolean":
            return n % 2 == 0
        if kind == "integer":
            return 1000 + n
        if kind == "number":
            return Decimal(f"{1000 + n}.{n % 100:02d}")
        if fmt == "date-time" or is_timestamp_name(name):
            # Alternate UTC ('Z') and a +02:00 offset: both are aware.
            offset = "Z" if n % 2 else "+02:00"
            return f"2026-11-19T08:{n % 60:02d}:{(n * 7) % 60:02d}{offset}"
        if fmt == "date" or is_date_name(name):
            return (dt.date(2026, 1, 1) + dt.timedelta(days=n)).isoformat()
        if name in DECIMAL_STRINGS:
            return f"{1000 + n}.{n % 100:02d}"
        if fmt == "uri":
            return f"https://rest.ripplingapis.com/{name or 'link'}/{n}/"
        if fmt == "email":
            return f"{name or 'someone'}.{n}@example.com"
        return f"{name or 'value'}-{n}"


def with_value(body: Any, path: tuple[str | int, ...], value: Any) -> Any:
    """A deep copy of ``body`` with the value at ``path`` replaced."""
    out = copy.deepcopy(body)
    node = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return out


MISSING = object()


def schema_examples(flat: dict[str, Any]) -> list[Any]:
    """The examples a (flattened) schema gives itself: ``example``, or ``examples`` as a list
    (JSON Schema) or as OpenAPI's ``{name: {value}}`` map."""
    found: list[Any] = []
    if "example" in flat:
        found.append(flat["example"])
    examples = flat.get("examples")
    if isinstance(examples, list):
        found += examples
    elif isinstance(examples, dict):
        found += [e["value"] for e in examples.values() if isinstance(e, dict) and "value" in e]
    return found


class ExampleAssembler:
    """A body made of the spec's examples: a schema's own example where it gives one, else an
    object of its properties' examples; required properties without one are filled with the
    ``minimal`` synthesized value. ``found`` counts the examples used."""

    def __init__(self, spec: Spec, synth: Synthesizer) -> None:
        self.spec = spec
        self.synth = synth
        self.found = 0

    def assemble(self, schema: dict[str, Any], stack: frozenset[str] = frozenset()) -> Any:
        flat, refs = self.spec.flatten(schema)
        own = schema_examples(flat)
        if own:
            self.found += 1
            return own[0]
        if refs & stack:
            return MISSING
        if flat.get("type") == "array":
            item = self.assemble(flat["items"], stack | refs)
            return MISSING if item is MISSING else [item]
        if not _is_object(flat):
            return MISSING
        out: dict[str, Any] = {}
        required = set(flat.get("required", []))
        for key, prop in flat.get("properties", {}).items():
            value = self.assemble(prop, stack | refs)
            if value is MISSING and key in required:
                value = self.synth._value(prop, "minimal", key, (key,), stack | refs)
            if value is not MISSING:
                out[key] = value
        return out if out or required else MISSING


def to_json(body: Any) -> bytes:
    """JSON text as Rippling sends it: a ``Decimal`` is written as a JSON number, exactly."""
    tokens: dict[str, str] = {}

    def encode(value: Any) -> Any:
        if isinstance(value, Decimal):
            token = f"@@decimal{len(tokens)}@@"
            tokens[token] = str(value)
            return token
        raise TypeError(type(value))

    text = json.dumps(body, default=encode)
    text = re.sub(r'"(@@decimal\d+@@)"', lambda m: tokens[m.group(1)], text)
    return text.encode()


def walk_pairs(value: Any, raw: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """Leaves of ``raw`` paired with what sits at the same place in ``value``."""
    if isinstance(raw, dict):
        for key, item in raw.items():
            yield from walk_pairs(child(value, key), item, f"{path}.{key}" if path else key)
    elif isinstance(raw, list):
        assert isinstance(value, list | tuple) and len(value) == len(raw), (path, value)
        for index, item in enumerate(raw):
            yield from walk_pairs(value[index], item, f"{path}[{index}]")
    else:
        yield path, value, raw


def child(value: Any, key: str | int) -> Any:
    """A field of a parsed model (declared, aliased or kept as an extra), or of a dict/list."""
    if isinstance(value, dict | list | tuple):
        return value[key]  # type: ignore[index]
    assert isinstance(key, str)
    fields = type(value).model_fields
    for name, info in fields.items():
        if key in (name, info.alias):
            return getattr(value, name)
    extra = value.model_extra or {}
    assert key in extra, f"{type(value).__name__} lost the field {key!r}"
    return extra[key]


def dig(value: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        value = child(value, part)
    return value
