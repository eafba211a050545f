"""Who numbers new workers and vendors: the tenant's number sequences, read over OData.

F&O numbers workers (``PersonnelNumber``) and vendors (``VendorAccountNumber``) from number
sequences. A sequence marked *Manual* takes the number the caller supplies; an automatic one
assigns the next number itself and refuses a supplied one, unless it allows changes to a
lower or higher number. The connector must therefore either supply its scheme or leave the
number out, and it asks the tenant which (``probe_number_sequences``; ``ping`` shows the same
verdicts).

Where the answer lives (our reading, see the README's workforce section):

- Vendors, per company: ``VendorGroups.VendorAccountNumberSequence`` of the contractors' vendor
  group when set (a group's own sequence wins over the module's), else ``VRMParameters`` of
  the company: ``IsVendorAccountNumberSequenceManual`` (both entities are in the 10.0.47
  metadata reference). A group sequence's *Manual* flag is read from ``SequenceV2Tables``.
- Workers: the personnel-number sequence of the Human resources parameters. No public
  parameters entity exposes it; the number-sequence entities do: ``NumberSequencesV2References``
  (``NumberSequenceReferenceV2Entity``: ``DataTypeName`` ``HcmPersonnelNumberId`` ->
  ``NumberSequenceCode``, shared scope) and ``SequenceV2Tables``
  (``NumberSequenceTableV2Entity``: ``Manual``, ``ToALowerNumber``, ``ToAHigherNumber``).
  Those entity and field names come from the Common Data Model documentation of the entities
  and public integration code, not from the metadata reference, so this is a documented
  reading, not a certainty: when the entities cannot be read the verdict is ``unknown`` and
  the settings (``personnel_numbers`` / ``vendor_accounts``, default ``probe``) fall back to
  the connector's own numbers, which F&O refuses loudly if they are not allowed.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ml_connector_dagster.config.workforce import WorkforceSettings
from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.dynamics.errors import DynamicsRequestError
from ml_connector_dagster.dynamics.odata import all_of, eq
from ml_connector_dagster.workforce.desired import ALL_COMPANIES, Numbering

PERSONNEL_NUMBER_TYPE = "HcmPersonnelNumberId"  # the number sequence data type of workers
VENDOR_ACCOUNT_TYPE = "VendAccount"
REFERENCES = "NumberSequencesV2References"
SEQUENCES = "SequenceV2Tables"
VENDOR_PARAMETERS = "VRMParameters"
VENDOR_GROUPS = "VendorGroups"


class Verdict(StrEnum):
    """How the tenant numbers one kind of record."""

    CONNECTOR = "connector"  # manual numbers accepted: the connector sends its scheme
    DYNAMICS = "dynamics"  # F&O assigns; a supplied number is refused
    UNKNOWN = "unknown"  # the setup could not be read


@dataclass(frozen=True)
class Finding:
    verdict: Verdict
    detail: str


@dataclass(frozen=True)
class NumberingVerdict:
    """One company's answer, for workers (a shared sequence: the same in every company) and
    for the contractors' vendors."""

    company: str
    workers: Verdict
    vendors: Verdict
    workers_detail: str
    vendors_detail: str

    def describe(self) -> str:
        return (
            f"{self.company}: personnel numbers by {self.workers} ({self.workers_detail});"
            f" vendor accounts by {self.vendors} ({self.vendors_detail})"
        )


def _yes(value: Any) -> bool:
    return str(value or "").strip().lower() == "yes"


def sequence_finding(row: Mapping[str, Any]) -> Finding:
    """A ``SequenceV2Tables`` row's verdict: Manual, or an automatic sequence that lets the
    number be changed, accepts the connector's; otherwise F&O assigns and refuses ours."""
    code = row.get("NumberSequenceCode") or "?"
    if _yes(row.get("Stopped")):
        return Finding(Verdict.UNKNOWN, f"number sequence {code} is stopped")
    if _yes(row.get("Manual")):
        return Finding(Verdict.CONNECTOR, f"number sequence {code} is manual")
    if _yes(row.get("ToALowerNumber")) or _yes(row.get("ToAHigherNumber")):
        return Finding(Verdict.CONNECTOR, f"number sequence {code} allows changed numbers")
    return Finding(Verdict.DYNAMICS, f"number sequence {code} is automatic")


def _rows(client: DynamicsClient, entity_set: str, filter: str) -> list[dict[str, Any]] | str:
    """The rows, or why they could not be read (entity not exposed, no permission)."""
    try:
        return client.list_entities(entity_set, filter=filter)
    except DynamicsRequestError as exc:
        return f"{entity_set} not readable ({exc.status})"


def _sequence(client: DynamicsClient, code: str, company: str | None) -> Finding:
    rows = _rows(client, SEQUENCES, eq("NumberSequenceCode", code))
    if isinstance(rows, str):
        return Finding(Verdict.UNKNOWN, rows)
    if company is not None:  # prefer the company's own scope over a shared one
        rows.sort(key=lambda r: str(r.get("ScopeValue") or "").lower() != company.lower())
    if not rows:
        return Finding(Verdict.UNKNOWN, f"number sequence {code} not found")
    return sequence_finding(rows[0])


def probe_workers(client: DynamicsClient) -> Finding:
    """The personnel-number sequence of the HR parameters (shared scope)."""
    refs = _rows(client, REFERENCES, eq("DataTypeName", PERSONNEL_NUMBER_TYPE))
    if isinstance(refs, str):
        return Finding(Verdict.UNKNOWN, refs)
    codes = sorted({str(r["NumberSequenceCode"]) for r in refs if r.get("NumberSequenceCode")})
    if not codes:
        # No sequence for personnel numbers: F&O needs the number from the caller.
        return Finding(Verdict.CONNECTOR, "no personnel number sequence set up")
    if len(codes) > 1:
        return Finding(Verdict.UNKNOWN, f"several personnel number sequences: {', '.join(codes)}")
    return _sequence(client, codes[0], None)


def probe_vendors(client: DynamicsClient, company: str, vendor_group: str) -> Finding:
    """The vendor account sequence the contractors' group uses in ``company``."""
    area = company.lower()
    groups = _rows(
        client, VENDOR_GROUPS, all_of(eq("dataAreaId", area), eq("VendorGroupId", vendor_group))
    )
    if not isinstance(groups, str) and groups and groups[0].get("VendorAccountNumberSequence"):
        code = str(groups[0]["VendorAccountNumberSequence"])
        found = _sequence(client, code, company)
        return Finding(found.verdict, f"vendor group {vendor_group}: {found.detail}")
    params = _rows(client, VENDOR_PARAMETERS, eq("dataAreaId", area))
    if isinstance(params, str):
        return Finding(Verdict.UNKNOWN, params)
    if not params:
        return Finding(Verdict.UNKNOWN, f"no vendor parameters in {company}")
    row = params[0]
    code = row.get("VendorAccountNumberSequenceCode") or ""
    if not code:
        return Finding(Verdict.CONNECTOR, "no vendor account number sequence set up")
    if _yes(row.get("IsVendorAccountNumberSequenceManual")):
        return Finding(Verdict.CONNECTOR, f"number sequence {code} is manual")
    return Finding(Verdict.DYNAMICS, f"number sequence {code} is automatic")


def probe_number_sequences(
    client: DynamicsClient, companies: Iterable[str], vendor_group: str = "CONTRACT"
) -> list[NumberingVerdict]:
    """Per company: who numbers new workers and the contractors' vendors (reads only)."""
    workers = probe_workers(client)
    verdicts = []
    for company in sorted({c.upper() for c in companies}):
        vendors = probe_vendors(client, company, vendor_group)
        verdicts.append(
            NumberingVerdict(
                company, workers.verdict, vendors.verdict, workers.detail, vendors.detail
            )
        )
    return verdicts


def numbering_for(settings: WorkforceSettings, verdicts: Sequence[NumberingVerdict]) -> Numbering:
    """The settings applied to the probe: an explicit setting wins; ``probe`` follows the
    verdict, and an unknown one keeps the connector's numbers (a refused number fails loudly)."""
    if settings.personnel_numbers == "probe":
        personnel = any(v.workers is Verdict.DYNAMICS for v in verdicts)
    else:
        personnel = settings.personnel_numbers == "dynamics"
    if settings.vendor_accounts == "probe":
        vendors = frozenset(v.company for v in verdicts if v.vendors is Verdict.DYNAMICS)
    elif settings.vendor_accounts == "dynamics":
        vendors = frozenset({ALL_COMPANIES})
    else:
        vendors = frozenset()
    return Numbering(personnel_by_dynamics=personnel, vendor_by_dynamics=vendors)


def resolve_numbering(
    client: DynamicsClient, companies: Iterable[str], settings: WorkforceSettings
) -> tuple[Numbering, list[NumberingVerdict]]:
    """What the sync uses: probes only when a setting says ``probe``."""
    if "probe" not in (settings.personnel_numbers, settings.vendor_accounts):
        return numbering_for(settings, []), []
    verdicts = probe_number_sequences(client, companies, settings.vendor_group)
    return numbering_for(settings, verdicts), verdicts
