"""Generate the sandbox's F&O schema subset from the published reference (run by hand).

The product and the sandbox never read ``../shared`` at run time: this script derives
``sandbox/ml_connector_sandbox/dynamics/schema/entities.json`` from the Dynamics entity schemas
in ``../shared/reference/d365`` (derived from a real ``$metadata``), and the result is
committed. ``tests/sandbox/test_dynamics_schema.py`` re-runs it, when the reference is present,
so the two cannot drift apart unnoticed.

    .venv/bin/python scripts/fo_schema.py          # rewrite entities.json
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ml_connector_sandbox.dynamics.schema import SCHEMA_FILE

# shared/ sits beside the repository (the developers' and CI's layout); the product never reads it.
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "d365"
NAMESPACE = "Microsoft.Dynamics.DataEntities."
ENTITY_SETS = (
    "LedgerJournalHeaders",
    "LedgerJournalLines",
    "DimensionIntegrationFormats",
    "DimensionParameters",
    "MainAccounts",
    "MainAccountLegalEntities",
    "FinancialDimensionValues",
    "FinancialDimensionValueLegalEntityOverrides",
    "JournalNames",
    "LegalEntities",
    "Ledgers",
    "Workers",
    "Employments",
    "EmploymentsV2",
    "VendorsV2",
)
_OPENAPI_TYPES = {
    ("number", "decimal"): "Edm.Decimal",
    ("number", "double"): "Edm.Double",
    ("integer", "int32"): "Edm.Int32",
    ("integer", "int64"): "Edm.Int64",
    ("boolean", None): "Edm.Boolean",
}


def _parse_txt(text: str) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    """Entities (keys + camelCased fields) and enums from entity-fields-from-metadata.txt."""
    entities: dict[str, dict[str, Any]] = {}
    enums: dict[str, list[str]] = {}
    for block in re.split(r"^## ", text, flags=re.M)[1:]:
        head, _, body = block.partition("\n")
        if head.startswith("enum "):
            enums[head.split()[1]] = re.findall(r"(\w+)='", body)
            continue
        lines = [line for line in block.splitlines() if line.strip()]
        keys = re.findall(r"'(\w+)'", "\n".join(lines[:-1]))
        fields = []
        for item in lines[-1].split(","):
            fname, _, ftype = item.strip().partition(":")
            fields.append((fname, ftype.rstrip("?"), ftype.endswith("?")))
        entities[head.split()[0]] = {"keys": keys, "fields": fields}
    return entities, enums


def _openapi_entity(doc: dict[str, Any], entity_set: str) -> tuple[str, list[str], dict] | None:
    paths = doc["paths"]
    if "/" + entity_set not in paths:
        return None
    keyed = next(p for p in paths if p.startswith("/" + entity_set + "("))
    ref = keyed_ref = paths[keyed]["get"]["responses"]["200"]["content"]["application/json"]
    ref = keyed_ref["schema"]["$ref"].rsplit("/", 1)[-1]
    inner = keyed[len(entity_set) + 2 : -1]
    keys = [part.split("=")[0] for part in inner.split(",")] if "=" in inner else []
    schema = doc["components"]["schemas"][ref]
    if not keys:  # single-key form `/Ledgers({legalEntityId})`
        keys = [k for k in schema["properties"] if k.lower() == inner.strip("{}").lower()]
    return ref, keys, schema


def generate_entities_json(reference: Path = REFERENCE) -> dict[str, Any]:
    """Build the schema subset: property names, Edm types, keys and nullability per entity set.

    OpenAPI is preferred (10.0.47 metadata); it has lost the DateTimeOffset format, so a string
    property that is non-nullable and not a key is a DateTimeOffset (F&O strings are nullable),
    and the txt's type is used wherever the txt knows the property. Txt-only entities get their
    camelCased names re-cased from the OpenAPI vocabulary (``primaryContactUrl`` ->
    ``PrimaryContactURL``), else by capitalising the first letter.
    """
    docs = {
        f: json.loads((reference / f"openapi-{f}.json").read_text())
        for f in ("ledger", "hr", "payable", "core")
    }
    txt_entities, txt_enums = _parse_txt(
        (reference / "entity-fields-from-metadata.txt").read_text()
    )
    vocabulary: dict[str, set[str]] = {}
    enum_members: dict[str, list[str]] = {}
    for doc in docs.values():
        for sname, schema in doc["components"]["schemas"].items():
            if "enum" in schema:
                enum_members.setdefault(sname, schema["enum"])
            for pname in schema.get("properties", {}):
                vocabulary.setdefault(pname.lower(), set()).add(pname)
    case_insensitive_enums = {k.lower(): k for k in enum_members}  # OpenAPI spelling wins
    for ename, members in txt_enums.items():
        if ename.lower() not in case_insensitive_enums:
            enum_members[ename] = members
            case_insensitive_enums[ename.lower()] = ename

    def wire(camel: str) -> str:
        if camel == "dataAreaId":
            return camel
        known = vocabulary.get(camel.lower(), set())
        return next(iter(known)) if len(known) == 1 else camel[0].upper() + camel[1:]

    def enum_name(name: str) -> str:
        return case_insensitive_enums.get(name.lower(), name)

    used_enums: set[str] = set()
    out: dict[str, Any] = {}
    for entity_set in ENTITY_SETS:
        txt = txt_entities.get(entity_set)
        txt_types = {}
        if txt:
            txt_types = {wire(n).lower(): (t, nullable) for n, t, nullable in txt["fields"]}
        found = None
        for fname, doc in docs.items():
            hit = _openapi_entity(doc, entity_set)
            if hit:
                found = (fname, *hit)
                break
        props: list[dict[str, Any]] = []
        if found:
            fname, type_name, keys, schema = found
            required = set(schema.get("required", []))
            for pname, spec in schema["properties"].items():
                if pname.lower() in txt_types:
                    edm, nullable = txt_types[pname.lower()]
                    if not edm.startswith("Edm."):
                        edm = NAMESPACE + enum_name(edm)
                elif "allOf" in spec:
                    edm = NAMESPACE + spec["allOf"][0]["$ref"].rsplit("/", 1)[-1]
                    nullable = pname not in required
                else:
                    key = (spec.get("type"), spec.get("format"))
                    if key in _OPENAPI_TYPES:
                        edm = _OPENAPI_TYPES[key]
                    elif pname in required and pname not in keys:
                        edm = "Edm.DateTimeOffset"
                    else:
                        edm = "Edm.String"
                    nullable = pname not in required
                props.append({"name": pname, "type": edm, "nullable": nullable})
            source = f"openapi-{fname}.json"
        else:
            assert txt, f"{entity_set} is in neither reference"
            keys = txt["keys"]
            type_name = re.sub(r"s(V\d+)?$", r"\1", entity_set)
            for n, t, nullable in txt["fields"]:
                edm = t if t.startswith("Edm.") else NAMESPACE + enum_name(t)
                props.append({"name": wire(n), "type": edm, "nullable": nullable})
            source = "entity-fields-from-metadata.txt"
        for p in props:
            if p["type"].startswith(NAMESPACE):
                used_enums.add(p["type"][len(NAMESPACE) :])
        out[entity_set] = {
            "entity_type": type_name,
            "keys": keys,
            "source": source,
            "properties": props,
        }
    missing = sorted(e for e in used_enums if e not in enum_members)
    enums = {e: enum_members[e] for e in sorted(used_enums) if e in enum_members}
    return {
        "comment": (
            "Generated from the shared F&O reference (see NOTICE). Property names, Edm types,"
            " keys and nullability only. Enums whose members the reference does not list are"
            " in 'open_enums': any member is accepted for them."
        ),
        "namespace": NAMESPACE.rstrip("."),
        "entities": out,
        "enums": enums,
        "open_enums": missing,
    }


def write() -> None:
    """Regenerate the committed file (run by hand when the reference changes)."""
    data = generate_entities_json()
    SCHEMA_FILE.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")


if __name__ == "__main__":
    write()
