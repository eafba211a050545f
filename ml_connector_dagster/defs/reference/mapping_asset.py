"""The finance mapping file as an asset: observed, its content hash is its data version.

The mapping decides every account and dimension of a journal line, so it sits upstream of the
journals in the lineage: a journal partition built with an older mapping shows as stale once a
new mapping is observed, and each journal materialization records the mapping version it saw
(Dagster's data provenance) beside the hash it was built with (``mapping_hash``).

The version is ``PayrollMapping.content_hash``, the hash of the parsed mapping, the same hash
the journals carry and the posting step compares: a new comment or another indentation in the
file is the same mapping and the same version; any change of meaning is a new one. The file is
read as the journals read it (``ConnectorResource.mapping``: ``ML_CONNECTOR_MAPPING``, checked
against ``ML_CONNECTOR_CONNECTION``); a file that does not load fails the observation with the
loader's own message (file, line, field).
"""

from pathlib import Path

import dagster as dg

from ml_connector_dagster.config.mapping import MappingError, PayrollMapping, mapping_path
from ml_connector_dagster.defs import naming, tables
from ml_connector_dagster.defs.resources import ConnectorResource

MAPPING_KEY = naming.asset_key("finance", "payroll_mapping")
# What the journals' ``mapping_hash`` metadata shows of the content hash (its first characters).
SHOWN_HASH = 12

COMPANY_COLUMNS = (
    tables.text("company", "the F&O dataAreaId"),
    tables.currency("the company's accounting currency"),
    tables.text("Rippling legal entities"),
    tables.text("Rippling company entities"),
    tables.text("dimensions", "the company's own dimension values"),
)


def mapping_metadata(mapping: PayrollMapping, path: Path) -> dict[str, dg.MetadataValue]:
    """What a reviewer reads of one mapping version."""
    return {
        "path": dg.MetadataValue.path(str(path)),
        "content_hash": dg.MetadataValue.text(mapping.content_hash),
        "mapping_hash": dg.MetadataValue.text(mapping.content_hash[:SHOWN_HASH]),
        "companies": tables.table(
            COMPANY_COLUMNS,
            (
                (
                    le.company,
                    le.currency,
                    ", ".join(le.rippling_legal_entity_ids),
                    ", ".join(le.rippling_company_entity_ids),
                    ", ".join(f"{k}={v}" for k, v in sorted(le.dimensions.items())),
                )
                for le in mapping.legal_entities
            ),
        ),
        "dimension_format": dg.MetadataValue.text(mapping.dimension_format.display),
        "dimension_delimiter": dg.MetadataValue.text(mapping.dimension_format.delimiter),
        "journal": dg.MetadataValue.json(mapping.journal.model_dump(mode="json")),
        "departments_mapped": dg.MetadataValue.int(len(mapping.departments)),
        "job_codes_mapped": dg.MetadataValue.int(len(mapping.job_codes)),
        "workers_mapped": dg.MetadataValue.int(len(mapping.workers)),
    }


@dg.observable_source_asset(
    key=MAPPING_KEY,
    group_name=naming.name("reference"),
    kinds={"yaml"},
    description="The finance mapping file (ML_CONNECTOR_MAPPING): Rippling departments, job"
    " codes, workers and pay items to F&O companies, main accounts and dimensions. Its data"
    " version is its content hash, the one the journals carry as mapping_hash.",
)
def payroll_mapping(connector: ConnectorResource) -> dg.ObserveResult:
    try:
        path = mapping_path(
            connector.settings(), Path(connector.mapping_path) if connector.mapping_path else None
        )
        mapping = connector.mapping()
    except MappingError as exc:
        raise dg.Failure(description=f"the mapping file does not load: {exc}") from None
    return dg.ObserveResult(
        data_version=dg.DataVersion(mapping.content_hash),
        metadata=mapping_metadata(mapping, path.resolve()),
    )
