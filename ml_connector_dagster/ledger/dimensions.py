"""Financial dimension values for a line, and the display string F&O parses.

F&O reads ``AccountDisplayValue`` segment by segment in the order of the active ledger format;
a value containing the delimiter would shift every later segment, so it is refused here.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ml_connector_dagster.config.mapping import DimensionFormatSpec, LegalEntityMap, PayrollMapping
from ml_connector_dagster.ledger.inputs import WorkerContext

# Re-exported: callers import these from here.
__all__ = [
    "DimensionFormatSpec",
    "DisplayValueError",
    "Unmapped",
    "WorkerContext",
    "balance_sheet_dimensions",
    "display_value",
    "resolve_expense_dimensions",
]


@dataclass(frozen=True)
class Unmapped:
    """A dimension no mapping level could fill, with what was looked for."""

    worker_id: str
    dimension: str
    looked_for: str
    # The worker's department (key and Rippling's name): the usual root cause, a department
    # the mapping file does not list, is told to finance by it (``ledger/causes.py``).
    department_key: str | None = None
    department_name: str | None = None
    department_listed: bool = False  # the mapping file lists the department (for other values)


def resolve_expense_dimensions(
    mapping: PayrollMapping,
    company: LegalEntityMap,
    worker: WorkerContext,
    job_code: str | Sequence[str] | None,
) -> tuple[dict[str, str], list[Unmapped]]:
    """Dimension values by precedence: worker -> job code -> department -> entity -> default.

    ``job_code`` may be a combination (a Rippling split row or job shift names one job code
    per job dimension): each is a layer, in the order given (the pieces give them in job code
    id order), so where two of them map the same dimension the first one's value is used. The
    spec is silent on how a combination maps to one cost: the combination is one place."""
    codes = (job_code,) if isinstance(job_code, str) else tuple(job_code or ())
    layers: list[Mapping[str, str]] = [
        mapping.workers.get(worker.worker_id, {}),
        *(mapping.job_codes.get(code, {}) for code in codes if code),
        mapping.departments.get(worker.department_key or "", {}),
        company.dimensions,
        mapping.default_dimensions,
    ]
    values: dict[str, str] = {}
    missing: list[Unmapped] = []
    for dimension in mapping.dimension_format.financial_dimensions:
        value = next((layer[dimension] for layer in layers if dimension in layer), None)
        if value is None:
            if dimension not in mapping.optional_dimensions:
                sources = [f"worker {worker.worker_id}"]
                sources.extend(f"job code {code}" for code in codes if code)
                sources.append(
                    f"department {worker.department_key}"
                    if worker.department_key
                    else "no department"
                )
                missing.append(
                    Unmapped(
                        worker.worker_id,
                        dimension,
                        ", ".join(sources),
                        worker.department_key,
                        worker.department_name,
                        (worker.department_key or "") in mapping.departments,
                    )
                )
            value = ""
        values[dimension] = value
    return values, missing


def balance_sheet_dimensions(mapping: PayrollMapping, company: LegalEntityMap) -> dict[str, str]:
    """Liability lines carry the legal entity's dimensions only."""
    return {
        dimension: company.dimensions.get(dimension, "")
        for dimension in mapping.dimension_format.financial_dimensions
    }


class DisplayValueError(ValueError):
    """A segment value that would corrupt the display string."""


def display_value(
    spec: DimensionFormatSpec, main_account: str, dimensions: Mapping[str, str]
) -> str:
    """``600100-001-D100-CC-ENG``-style string in the format's order, blanks kept in place."""
    segments = [main_account, *(dimensions.get(d, "") for d in spec.financial_dimensions)]
    for name, value in zip(spec.dimensions, segments, strict=True):
        if spec.delimiter in value:
            raise DisplayValueError(
                f"{name} value {value!r} contains the segment delimiter {spec.delimiter!r}"
            )
    return spec.delimiter.join(segments)
