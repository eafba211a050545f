"""Reference data on both sides, and the mapping validated against them (unpartitioned).

These refresh on a schedule; the payroll assets name them as dependencies for lineage but read
fresh data themselves, so a posting never waits for a stale reference refresh. Each one's data
version is a hash of its content (``versions.py``), so a refresh that read the same data leaves
the journal partitions downstream fresh, and one that read a change marks them stale.
"""

import datetime as dt

import dagster as dg

from ml_connector_dagster.defs import naming, tables
from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
from ml_connector_dagster.defs.reference.mapping_asset import MAPPING_KEY
from ml_connector_dagster.defs.reference.versions import content_version
from ml_connector_dagster.defs.resources import ConnectorResource
from ml_connector_dagster.dynamics import readers

GROUP = naming.name("reference")


def _records(items) -> list[dict]:
    return [item.model_dump(mode="json") for item in items]


@dg.asset(key_prefix=naming.key_prefix("rippling"), group_name=GROUP, kinds={"rippling"})
def legal_entities(connector: ConnectorResource) -> dg.Output[dict]:
    """Rippling legal entities and company legal entities (payroll runs point at the latter)."""
    with connector.rippling() as rippling:
        value = {
            "legal_entities": _records(rippling.legal_entities()),
            "company_legal_entities": _records(rippling.company_legal_entities()),
        }
    return dg.Output(
        value,
        metadata={
            "legal_entities": len(value["legal_entities"]),
            "company_legal_entities": len(value["company_legal_entities"]),
        },
        data_version=content_version(value),
    )


@dg.asset(key_prefix=naming.key_prefix("rippling"), group_name=GROUP, kinds={"rippling"})
def departments(connector: ConnectorResource) -> dg.Output[list[dict]]:
    with connector.rippling() as rippling:
        value = _records(rippling.departments())
    return dg.Output(
        value,
        metadata={
            "count": len(value),
            "without_reference_code": sum(1 for d in value if not d.get("reference_code")),
        },
        data_version=content_version(value),
    )


@dg.asset(key_prefix=naming.key_prefix("rippling"), group_name=GROUP, kinds={"rippling"})
def job_codes(connector: ConnectorResource) -> dg.Output[list[dict]]:
    with connector.rippling() as rippling:
        value = _records(rippling.job_codes())
    return dg.Output(value, metadata={"count": len(value)}, data_version=content_version(value))


@dg.asset(key_prefix=naming.key_prefix("rippling"), group_name=GROUP, kinds={"rippling"})
def employment_types(connector: ConnectorResource) -> dg.Output[list[dict]]:
    with connector.rippling() as rippling:
        value = _records(rippling.employment_types())
    return dg.Output(
        value,
        metadata={
            "count": len(value),
            "contractor_types": sum(1 for t in value if t.get("type") == "CONTRACTOR"),
        },
        data_version=content_version(value),
    )


@dg.asset(key_prefix=naming.key_prefix("rippling"), group_name=GROUP, kinds={"rippling"})
def workers(
    context: dg.AssetExecutionContext,
    connector: ConnectorResource,
    io_manager: dg.ResourceParam[PartitionFilesIOManager],
) -> dg.Output[list[dict]]:
    """Workers with their user, department, employment type and compensation (expanded).

    Incremental: after the first read only workers updated since the stored watermark (minus
    an overlap) are fetched and merged by id. Redactions are recorded: a worker whose
    compensation the token may not read is listed, and the compensation stays absent.
    """
    previous = io_manager.load_previous(context.asset_key)
    watermark = _last_watermark(context) if previous is not None else None
    with connector.rippling() as rippling:
        result = rippling.workers_updated_since(watermark)
    merged = {w["id"]: w for w in previous or []}
    changed = _records(result.records)
    merged.update({w["id"]: w for w in changed})
    value = sorted(merged.values(), key=lambda w: w["id"])
    redacted = {w["id"]: w["redacted"] for w in value if w.get("redacted")}
    statuses: dict[str, int] = {}
    for worker in value:
        statuses[str(worker.get("status"))] = statuses.get(str(worker.get("status")), 0) + 1
    return dg.Output(
        value,
        metadata={
            "count": len(value),
            "read": "incremental" if watermark else "full",
            "changed_since_last_read": len(changed),
            "by_status": dg.MetadataValue.json(statuses),
            "watermark": (result.watermark or watermark).isoformat()
            if (result.watermark or watermark)
            else "",
            "redacted_workers": len(redacted),
            "redactions": dg.MetadataValue.json(dict(list(redacted.items())[:200])),
        },
        data_version=content_version(value),
    )


def _last_watermark(context: dg.AssetExecutionContext) -> dt.datetime | None:
    event = context.instance.get_latest_materialization_event(context.asset_key)
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get("watermark")
    text = getattr(value, "value", None) or getattr(value, "text", None)
    return dt.datetime.fromisoformat(text) if text else None


@dg.asset(key_prefix=naming.key_prefix("dynamics"), group_name=GROUP, kinds={"dynamics365"})
def ledger_dimensions(connector: ConnectorResource) -> dg.Output[dict]:
    """The active ledger dimension format and delimiter, and the financial dimension values."""
    with connector.dynamics() as dynamics:
        active = readers.active_format(dynamics)
        values = readers.financial_dimension_values(dynamics)
    suspended = [
        (v["FinancialDimension"], v["DimensionValue"])
        for v in values
        if v.get("IsSuspended") == "Yes"
    ]
    value = {"format": list(active.dimensions), "delimiter": active.delimiter, "values": values}
    return dg.Output(
        value,
        metadata={
            "active_format": active.display,
            "delimiter": active.delimiter,
            "values": len(values),
            "suspended": tables.table((tables.text("dimension"), tables.text("value")), suspended),
        },
        data_version=content_version(value),
    )


@dg.asset(
    key_prefix=naming.key_prefix("ledger"),
    group_name=GROUP,
    kinds={"python"},
    ins={
        "departments": dg.AssetIn(key=departments.key),
        "job_codes": dg.AssetIn(key=job_codes.key),
        "ledger_dimensions": dg.AssetIn(key=ledger_dimensions.key),
    },
    deps=[MAPPING_KEY],
)
def dimension_mapping(
    connector: ConnectorResource,
    departments: list[dict],
    job_codes: list[dict],
    ledger_dimensions: dict,
) -> dg.Output[dict]:
    """The finance mapping resolved against both sides: what Rippling has that the mapping
    lacks, and mapped values F&O does not list or has suspended."""
    mapping = connector.mapping()
    known = {(v["FinancialDimension"], v["DimensionValue"]): v for v in ledger_dimensions["values"]}
    gaps = []
    for department in departments:
        key = department.get("reference_code") or department["id"]
        if key not in mapping.departments:
            gaps.append(("Rippling department", key, "not in the mapping"))
    for code in job_codes:
        key = code.get("external_id") or code["id"]
        if key not in mapping.job_codes:
            gaps.append(("Rippling job code", key, "not in the mapping (department values apply)"))
    for section in (mapping.departments, mapping.job_codes, mapping.workers):
        for dims in section.values():
            for dimension, value in dims.items():
                row = known.get((dimension, value))
                if row is None:
                    gaps.append((dimension, value, "not listed in F&O"))
                elif row.get("IsSuspended") == "Yes":
                    gaps.append((dimension, value, "suspended in F&O"))
    format_matches = (
        list(mapping.dimension_format.dimensions) == ledger_dimensions["format"]
        and mapping.dimension_format.delimiter == ledger_dimensions["delimiter"]
    )
    return dg.Output(
        {"gaps": gaps, "format_matches": format_matches},
        metadata={
            "format_matches_fo": format_matches,
            "gaps": len(sorted(set(gaps))),
            "details": tables.table(
                (tables.text("what"), tables.text("key"), tables.text("finding")),
                sorted(set(gaps)),
            ),
        },
        # the gaps in a fixed order: the same findings are the same version
        data_version=content_version({"gaps": sorted(set(gaps)), "format": format_matches}),
    )


REFERENCE_ASSETS = [
    legal_entities,
    departments,
    job_codes,
    employment_types,
    workers,
    ledger_dimensions,
    dimension_mapping,
]
