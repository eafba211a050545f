"""The posting gate: no journal reaches F&O without a passing verdict of all five checks.

The verdict is computed in the posting step itself, on exactly the journal it is about to
write (its payload) and the mapping it holds now, whatever launched the step: the full job, a
"Materialize" of the posting asset alone in the UI, ``dagster asset materialize``, a replay or a
correction. Re-running the pure checks there is cheaper and sounder than trusting a verdict
recorded by another run: they are pure functions of the snapshot and the journal (milliseconds
for thousands of lines), and a recorded verdict would still have to be matched to this exact
content and mapping. The F&O facts (format, delimiter, accounts, suspended values, journal
name) are read fresh by the poster right before its first write of each journal.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.ledger.checks import (
    DynamicsReference,
    Finding,
    check_balanced,
    check_currency,
    check_dynamics_values,
    check_format,
    check_reconciled,
    check_source,
    withhold_amounts,
)
from ml_connector_dagster.ledger.inputs import PayrollRecord
from ml_connector_dagster.ledger.journal import JournalBuild, JournalType

CHECK_NAMES = ("source_sane", "balanced", "reconciled", "fully_mapped", "valid_in_dynamics")


@dataclass(frozen=True)
class Verdict:
    """Blocking findings per check name (absent or empty: passed) and non-blocking warnings."""

    findings: dict[str, list[Finding]] = field(default_factory=dict)
    warnings: list[Finding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(self.findings.values())

    @property
    def failed_checks(self) -> list[str]:
        return [name for name, found in self.findings.items() if found]

    def summary(self, limit: int = 3, *, detail_level: str = "summary") -> str:
        """One line per failed check with its first findings, for the trail, the CLI and the
        posted journals' table in the UI. A finding about one record or worker shows no
        amount unless ``detail_level`` is ``worker`` (``ledger.checks.withhold_amounts``)."""
        parts = []
        for name in self.failed_checks:
            found = self.findings[name]
            if detail_level != "worker":
                found = [withhold_amounts(f) for f in found]
            shown = "; ".join(
                f"{f.subject} {f.item}: {f.message or f'expected {f.expected}, got {f.actual}'}"
                for f in found[:limit]
            )
            more = f" (+{len(found) - limit} more)" if len(found) > limit else ""
            parts.append(f"{name}: {shown}{more}")
        return " | ".join(parts)


def mapping_findings(build: JournalBuild, mapping: PayrollMapping) -> list[Finding]:
    """fully_mapped: every worker and item placed, with the mapping held now."""
    journal = build.journal
    findings = [
        Finding(
            f"worker {p.worker_id}",
            p.item,
            "mapped",
            p.missing,
            f"record {p.record_id}",
            cause=p.cause,
            records=(p.record_id,),
        )
        for p in build.problems
    ]
    if journal.mapping_hash != mapping.content_hash:
        findings.append(
            Finding(
                f"journal {journal.identity.run_id} {journal.company}",
                "mapping",
                mapping.content_hash[:12],
                journal.mapping_hash[:12] or "unknown",
                "the journal was built with another version of the mapping file; materialize"
                " the journals again (or run the whole payroll_to_ledger job) before posting",
            )
        )
    return findings


def currency_findings(
    build: JournalBuild, records: Iterable[PayrollRecord], mapping: PayrollMapping
) -> list[Finding]:
    """fully_mapped, currency: every record in the accounting currency the mapping gives the
    journal's company. A record in another currency has no mapping into that company's ledger
    (it would need an exchange rate the connector does not have), so it is refused by name
    rather than posted as if its amounts were the company's currency (``check_currency``)."""
    company = mapping.company(build.journal.company)
    if company is None:
        return [
            Finding(
                f"journal {build.journal.identity.run_id} {build.journal.company}",
                "company",
                "in the mapping",
                "absent",
                f"company {build.journal.company} is not in the mapping's legal_entities",
            )
        ]
    return check_currency(records, company)


def pure_verdict(
    build: JournalBuild, records: Iterable[PayrollRecord], mapping: PayrollMapping
) -> Verdict:
    """source_sane, balanced, reconciled and fully_mapped (with the currency of every record)
    for one journal and its records."""
    records = list(records)
    if build.journal.identity.journal_type is JournalType.MONTH_END_ACCRUAL:
        # An estimate scaled from a paid run (``ledger/month_end_accrual.py``), not one run's
        # records: there is no Rippling total to reconcile it to, and its basis run's records
        # were sane when they were read. It must balance and be fully mapped like any journal.
        return Verdict(
            {
                "balanced": check_balanced(build.journal),
                "fully_mapped": mapping_findings(build, mapping),
            }
        )
    return Verdict(
        {
            "source_sane": check_source(records),
            "balanced": check_balanced(build.journal),
            "reconciled": check_reconciled(build.journal, records),
            "fully_mapped": mapping_findings(build, mapping)
            + currency_findings(build, records, mapping),
        }
    )


def dynamics_verdict(
    build: JournalBuild,
    mapping: PayrollMapping,
    reference: DynamicsReference,
    *,
    with_format: bool = True,
) -> Verdict:
    """valid_in_dynamics for one journal against F&O's reference data (``with_format=False``
    leaves out the format comparison, which a caller checking many journals lists once)."""
    blocking, warnings = check_dynamics_values(build.journal, reference)
    if with_format:
        blocking = check_format(mapping.dimension_format, reference) + blocking
    return Verdict({"valid_in_dynamics": blocking}, warnings)
