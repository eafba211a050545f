"""Service document and a minimal CSDL ``$metadata`` built from the schema subset.

Enough for a client's cheap ``ping`` and for a human to see which sets and properties the
stand-in serves; not the 40 MB document a real environment returns.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import quoteattr

from ml_connector_sandbox.dynamics.schema import NAMESPACE, Schema


def service_document(schema: Schema, environment_url: str) -> dict[str, Any]:
    return {
        "@odata.context": f"{environment_url}/data/$metadata",
        "value": [
            {"name": name, "kind": "EntitySet", "url": name} for name in sorted(schema.entities)
        ],
    }


def metadata_xml(schema: Schema) -> str:
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">',
        "<edmx:DataServices>",
        f'<Schema Namespace="{NAMESPACE}" xmlns="http://docs.oasis-open.org/odata/ns/edm">',
    ]
    enums: dict[str, tuple[str, ...]] = {}
    for entity in schema.entities.values():
        lines.append(f"<EntityType Name={quoteattr(entity.entity_type)}>")
        lines.append(
            "<Key>" + "".join(f"<PropertyRef Name={quoteattr(k)}/>" for k in entity.keys) + "</Key>"
        )
        for prop in entity.properties.values():
            nullable = "" if prop.nullable else ' Nullable="false"'
            lines.append(
                f"<Property Name={quoteattr(prop.name)} Type={quoteattr(prop.type)}{nullable}/>"
            )
            if prop.enum is not None:
                enums[prop.enum] = prop.members or ()
        lines.append("</EntityType>")
    for name, members in sorted(enums.items()):
        lines.append(f"<EnumType Name={quoteattr(name)}>")
        lines += [f'<Member Name={quoteattr(m)} Value="{i}"/>' for i, m in enumerate(members)]
        lines.append("</EnumType>")
    lines.append('<EntityContainer Name="Resources">')
    for entity in schema.entities.values():
        lines.append(
            f"<EntitySet Name={quoteattr(entity.name)} "
            f"EntityType={quoteattr(NAMESPACE + '.' + entity.entity_type)}/>"
        )
    lines += ["</EntityContainer>", "</Schema>", "</edmx:DataServices>", "</edmx:Edmx>"]
    return "\n".join(lines)
