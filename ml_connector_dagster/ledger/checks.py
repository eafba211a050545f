"""The five checks finance reviews before anything posts, as pure functions.

Each returns a list of findings (empty = passed) that the Dagster layer turns into a blocking
asset check with a table in its metadata. Reconciliation compares the journal with Rippling's
own reported totals (``gross_pay``, ``net_pay``, ``summary``), never with sums recomputed from
the same line items the journal was built from, which could not fail.
"""

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation

from ml_connector_dagster.config.mapping import DimensionFormatSpec, LegalEntityMap
from ml_connector_dagster.ledger.company_reference import state_on
from ml_connector_dagster.ledger.inputs import PayrollRecord
from ml_connector_dagster.ledger.journal import Journal
from ml_connector_dagster.ledger.vocabulary import DEBIT_ROLES, LineRole

ZERO = Decimal("0.00")
WITHHELD = "[amount withheld: summary detail level]"


@dataclass(frozen=True)
class Finding:
    """One failed rule: what (subject), which field/category, expected vs actual, and why.

    ``personal``: the finding is about one record or one worker, so its amounts are that
    person's pay; where per-person amounts may not be shown (``withhold_amounts``) it still
    names the record, the worker and the field, without the amounts.
    """

    subject: str
    item: str
    expected: str
    actual: str
    message: str = ""
    personal: bool = False
    # The root cause in finance's words, shared by every finding it explains, and the payroll
    # records whose money the finding holds back: the checks group findings by cause and say
    # how much each holds back (``ledger/causes.py``). Empty: the finding is its own cause.
    cause: str = ""
    records: tuple[str, ...] = ()


# A number standing on its own: not part of an id (wpr_12ab), a path (earnings[0].amount), a
# date (2026-11-15) or a journal number (USMF-000007).
_NUMBER = re.compile(r"(?<![\w.\[\-])[-+]?\d+(?:,\d{3})*(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w\[\]\-])")
_WORD = re.compile(r"[^\s()]+")


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        return None


def mask_amounts(text: str, keep: Iterable[str] = (), amounts: Iterable[Decimal] = ()) -> str:
    """``text`` with every amount replaced by ``WITHHELD``.

    An amount is a number standing on its own (``1234.56``, ``-50.00``, ``1E+11``, ``1,200``):
    any number with a sign, a decimal part, an exponent or three digits or more, and any number
    equal to one of ``amounts``. Left as they are: words of ``keep`` (the ids a finding names)
    and small counts (``3 earlier gross``, ``12 digits``), which say nothing of anyone's pay.
    """
    kept = set(keep)
    known = set(amounts)

    def one(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in kept:
            return token
        count = token.isdigit() and len(token) <= 2
        return token if count and _number(token) not in known else WITHHELD

    return _NUMBER.sub(one, text)


def withhold_amounts(finding: Finding) -> Finding:
    """A personal finding without its amounts (record, worker and field still named); any other
    finding (a journal, voucher, account or the dimension format) as it is."""
    if not finding.personal:
        return finding
    keep = _WORD.findall(f"{finding.subject} {finding.item}")
    cells = (_number(finding.expected), _number(finding.actual))
    amounts = [a for a in cells if a is not None and a.is_finite()]
    return replace(
        finding,
        expected=mask_amounts(finding.expected, keep, amounts),
        actual=mask_amounts(finding.actual, keep, amounts),
        message=mask_amounts(finding.message, keep, amounts),
    )


# --- 1. balanced ---------------------------------------------------------------------------
def check_balanced(journal: Journal) -> list[Finding]:
    findings = []
    if journal.total_debit != journal.total_credit:
        findings.append(
            Finding(
                f"journal {journal.identity.run_id} {journal.company}",
                "total",
                f"debit {journal.total_debit}",
                f"credit {journal.total_credit}",
                "debits and credits differ",
            )
        )
    per_voucher: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for line in journal.lines:
        sums = per_voucher[(line.voucher, line.currency)]
        sums[0] += line.debit
        sums[1] += line.credit
    for (voucher, currency), (debit, credit) in sorted(per_voucher.items()):
        if debit != credit:
            findings.append(
                Finding(
                    f"voucher {voucher}",
                    currency,
                    f"debit {debit}",
                    f"credit {credit}",
                    "voucher does not balance",
                )
            )
    return findings


# --- 2. reconciled -------------------------------------------------------------------------
def rippling_totals(records: Iterable[PayrollRecord]) -> dict[tuple[str, LineRole], Decimal]:
    """Rippling's own reported totals per (currency, category): gross and net pay and the
    record's summary, never its line items."""
    totals: dict[tuple[str, LineRole], Decimal] = defaultdict(lambda: ZERO)
    for record in records:
        currency = record.currency.upper()
        summary = record.summary
        totals[(currency, LineRole.EARNINGS)] += record.gross_pay
        totals[(currency, LineRole.EMPLOYER_TAX)] += summary.employer_taxes
        totals[(currency, LineRole.EMPLOYER_BENEFIT)] += summary.employer_contributions
        totals[(currency, LineRole.TAXES_PAYABLE)] += (
            summary.employee_taxes + summary.employer_taxes
        )
        totals[(currency, LineRole.DEDUCTIONS_PAYABLE)] += (
            summary.employee_deductions + summary.employer_contributions
        )
        totals[(currency, LineRole.GARNISHMENTS_PAYABLE)] += summary.total_garnishments
        totals[(currency, LineRole.NET_PAY)] += record.net_pay
    return dict(totals)


def journal_totals(journal: Journal) -> dict[tuple[str, LineRole], Decimal]:
    """The journal's net amount per (currency, category), on the category's natural side."""
    totals: dict[tuple[str, LineRole], Decimal] = defaultdict(lambda: ZERO)
    for line in journal.lines:
        natural = line.debit - line.credit
        if line.role not in DEBIT_ROLES:
            natural = -natural
        totals[(line.currency, line.role)] += natural
    return dict(totals)


def check_reconciled(journal: Journal, records: Iterable[PayrollRecord]) -> list[Finding]:
    expected = rippling_totals(records)
    actual = journal_totals(journal)
    findings = []
    for key in sorted(set(expected) | set(actual)):
        want, got = expected.get(key, ZERO), actual.get(key, ZERO)
        if want != got:
            currency, role = key
            findings.append(
                Finding(
                    f"run {journal.identity.run_id} {journal.company}",
                    f"{role.value} {currency}",
                    str(want),
                    str(got),
                    f"differs by {got - want}",
                )
            )
    return findings


# --- 5. source sane ------------------------------------------------------------------------
def missing_findings(record: PayrollRecord) -> list[Finding]:
    """Every amount Rippling did not give, by record id and field: never read as zero."""
    subject = f"record {record.id} (worker {record.worker_id})"
    return [
        Finding(
            subject,
            gap.field,
            "an amount",
            gap.reason,
            f"record {record.id}: {gap.field} is missing ({gap.reason}); a missing amount is"
            " not zero, so the worker's cost would post incomplete",
            personal=True,
            cause=f"Rippling did not give some amounts ({gap.reason})",
            records=(record.id,),
        )
        for gap in record.missing
    ]


def _summary_against_items(
    record: PayrollRecord,
    field: str,
    reported: Decimal,
    items: list[Decimal],
    item_fields: tuple[str, ...],
    what: str,
    item: str | None = None,
    gaps: set[str] | None = None,
) -> Finding | None:
    """One summary total against its items, both ways: a summary with no items behind it, items
    whose summary is missing, or two amounts that differ.

    ``item_fields`` are the source paths the items came from (a missing one is already its own
    finding, and then the comparison against a placeholder would say nothing more). ``gaps``:
    the record's missing fields, when the caller has them already.
    """
    subject = f"record {record.id} (worker {record.worker_id})"
    item = item or field
    if gaps is None:
        gaps = {gap.field for gap in record.missing}
    summary_missing = field in gaps
    items_missing = bool(gaps) and any(path in gaps for path in item_fields)
    total = sum(items, ZERO)
    if summary_missing and items:
        return Finding(
            subject,
            item,
            str(total),
            "missing",
            f"{len(items)} {what} item(s) are present but {field} is missing",
            personal=True,
        )
    if summary_missing or items_missing:
        return None
    if reported != 0 and not items:
        return Finding(
            subject,
            item,
            str(reported),
            f"no {what} items",
            f"{field} reports {reported} but the record lists no {what} items",
            personal=True,
        )
    if reported != total:
        return Finding(
            subject,
            item,
            str(reported),
            str(total),
            f"summary differs from {what} items",
            personal=True,
        )
    return None


def check_source_record(record: PayrollRecord) -> list[Finding]:
    """gross = net + employee taxes + employee deductions + garnishments; summaries = items,
    checked both ways; and no amount missing (``PayrollRecord.missing``)."""
    subject = f"record {record.id} (worker {record.worker_id})"
    s = record.summary
    found = missing_findings(record)
    gaps = {gap.field for gap in record.missing}

    identity_fields = {
        "gross_pay",
        "net_pay",
        "summary.employee_taxes",
        "summary.employee_deductions",
        "summary.total_garnishments",
    }
    if not identity_fields & gaps:
        expected = s.employee_taxes + s.employee_deductions + s.total_garnishments + record.net_pay
        if expected != record.gross_pay:
            found.append(
                Finding(
                    subject,
                    "gross_pay",
                    str(expected),
                    str(record.gross_pay),
                    "gross != net + employee taxes + employee deductions + garnishments",
                    personal=True,
                )
            )
    # The item paths only matter when something is missing (most records: nothing).
    earning_paths = (
        tuple(f"earnings[{n}].amount" for n in range(len(record.earnings))) if gaps else ()
    )
    tax_paths = tuple(f"taxes[{n}].amount" for n in range(len(record.taxes))) if gaps else ()
    comparisons = [
        _summary_against_items(
            record,
            "gross_pay",
            record.gross_pay,
            [e.amount for e in record.earnings],
            earning_paths,
            "earning",
            item="earnings",
            gaps=gaps,
        ),
        _summary_against_items(
            record,
            "summary.employee_taxes",
            s.employee_taxes,
            [t.amount for t in record.taxes if not t.employer_paid],
            tax_paths,
            "employee tax",
            gaps=gaps,
        ),
        _summary_against_items(
            record,
            "summary.employer_taxes",
            s.employer_taxes,
            [t.amount for t in record.taxes if t.employer_paid],
            tax_paths,
            "employer tax",
            gaps=gaps,
        ),
        _summary_against_items(
            record,
            "summary.employee_deductions",
            s.employee_deductions,
            [d.employee_amount for d in record.deductions],
            tuple(f"deductions[{n}].employee_amount" for n in range(len(record.deductions)))
            if gaps
            else (),
            "deduction",
            gaps=gaps,
        ),
        _summary_against_items(
            record,
            "summary.employer_contributions",
            s.employer_contributions,
            [d.employer_amount for d in record.deductions],
            tuple(f"deductions[{n}].employer_amount" for n in range(len(record.deductions)))
            if gaps
            else (),
            "employer contribution",
            gaps=gaps,
        ),
        _summary_against_items(
            record,
            "summary.total_garnishments",
            s.total_garnishments,
            list(record.garnishments),
            tuple(f"garnishments[{n}].amount" for n in range(len(record.garnishments)))
            if gaps
            else (),
            "garnishment",
            gaps=gaps,
        ),
    ]
    found.extend(finding for finding in comparisons if finding is not None)
    return found


def check_source(records: Iterable[PayrollRecord]) -> list[Finding]:
    """Every record's findings, each naming the record whose money it holds back."""
    return [
        finding if finding.records else replace(finding, records=(record.id,))
        for record in records
        for finding in check_source_record(record)
    ]


# --- currency (part of fully_mapped) -------------------------------------------------------
def check_currency(records: Iterable[PayrollRecord], company: LegalEntityMap) -> list[Finding]:
    """Every record must be in the company's accounting currency (the mapping's ``currency``).

    Multi-currency runs are refused, not converted: posting a EUR record into a USD company
    needs exchange rates (which rate, of which day, who books the difference) that neither
    Rippling's record nor the mapping carries, and a EUR amount posted as if it were USD is
    simply wrong money. Each such record is named with its currency and the company's.
    """
    findings = []
    for record in records:
        currency = record.currency.strip().upper()
        if currency != company.currency:
            findings.append(
                Finding(
                    f"record {record.id} (worker {record.worker_id})",
                    "currency",
                    f"{company.currency} ({company.company})",
                    record.currency or "none",
                    f"record {record.id} is in {record.currency or 'no currency'} but"
                    f" {company.company} books in {company.currency}; foreign-currency payroll"
                    " needs exchange rates the connector does not have, so it is not posted",
                    personal=True,
                    cause=f"Payroll in {record.currency or 'no currency'} for"
                    f" {company.company}, which books in {company.currency}",
                    records=(record.id,),
                )
            )
    return findings


# --- 4. valid in Dynamics --------------------------------------------------------------------
@dataclass(frozen=True)
class DynamicsReference:
    """What F&O says about the accounts and values a journal uses (read before any write)."""

    ledger_format: tuple[str, ...]
    delimiter: str
    # Resolved for the journal's company (``ledger.company_reference``): its own rows over the
    # shared ones, narrowed by its overrides; dates are checked against the journal date.
    main_accounts: Mapping[str, Mapping[str, str]]  # MainAccountId -> row (IsSuspended, ...)
    dimension_values: Mapping[tuple[str, str], Mapping[str, str]]  # (dimension, value) -> row
    journal_names: frozenset[str]


def check_format(spec: DimensionFormatSpec, reference: DynamicsReference) -> list[Finding]:
    """The configured display format must equal the active F&O ledger format and delimiter."""
    findings = []
    if tuple(spec.dimensions) != tuple(reference.ledger_format):
        findings.append(
            Finding(
                "ledger dimension format",
                "order",
                spec.display,
                reference.delimiter.join(reference.ledger_format),
                "the mapping's format differs from the active F&O ledger format",
            )
        )
    if spec.delimiter != reference.delimiter:
        findings.append(
            Finding(
                "ledger dimension format",
                "delimiter",
                repr(spec.delimiter),
                repr(reference.delimiter),
                "the segment delimiter differs",
            )
        )
    return findings


def check_dynamics_values(
    journal: Journal, reference: DynamicsReference
) -> tuple[list[Finding], list[Finding]]:
    """(blocking findings, warnings): suspended/unknown accounts and suspended values block;
    a value F&O does not list is only a warning (F&O lists only used values)."""
    blocking: list[Finding] = []
    warnings: list[Finding] = []
    subject = f"journal {journal.identity.run_id} {journal.company}"
    if journal.journal_name not in reference.journal_names:
        blocking.append(
            Finding(
                subject,
                "journal name",
                journal.journal_name,
                "absent",
                f"journal name {journal.journal_name} does not exist in {journal.company}",
            )
        )
    seen: set[tuple[str, str]] = set()
    for line in journal.lines:
        account = reference.main_accounts.get(line.account)
        if ("MainAccount", line.account) not in seen:
            seen.add(("MainAccount", line.account))
            if account is None:
                blocking.append(
                    Finding(
                        subject,
                        f"main account {line.account}",
                        "exists",
                        "absent",
                        "main account does not exist in the chart of accounts",
                    )
                )
            elif account.get("IsSuspended") == "Yes":
                blocking.append(
                    Finding(
                        subject,
                        f"main account {line.account}",
                        "active",
                        "suspended",
                        "main account is suspended"
                        + (f" in {journal.company}" if account.get("overridden_for") else ""),
                    )
                )
            elif (state := state_on(account, journal.trans_date)) is not None:
                blocking.append(
                    Finding(
                        subject,
                        f"main account {line.account}",
                        f"active on {journal.trans_date.isoformat()}",
                        state,
                        f"main account is {state}",
                    )
                )
            elif account.get("DoNotAllowManualEntry") == "Yes":
                blocking.append(
                    Finding(
                        subject,
                        f"main account {line.account}",
                        "manual entry",
                        "not allowed",
                        "main account does not allow manual entry",
                    )
                )
        for dimension, value in line.dimensions:
            if not value or (dimension, value) in seen:
                continue
            seen.add((dimension, value))
            row = reference.dimension_values.get((dimension, value))
            if row is None:
                warnings.append(
                    Finding(
                        subject,
                        f"{dimension} {value}",
                        "listed",
                        "not listed",
                        "F&O lists only used values; its write validation decides",
                    )
                )
            elif (state := state_on(row, journal.trans_date)) is not None:
                where = f" in {journal.company}" if row.get("overridden_for") else ""
                blocking.append(
                    Finding(
                        subject,
                        f"{dimension} {value}",
                        f"active on {journal.trans_date.isoformat()}",
                        state,
                        f"{dimension} value {value} is {state}{where}",
                    )
                )
    return blocking, warnings
