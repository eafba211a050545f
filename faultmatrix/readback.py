"""After a cell: read F&O, Rippling's seed and the audit trail back, and name what does not hold.

Each check returns the problems it found (empty: it holds). The expectations come from
Rippling's data (the sandbox's seed, which is what its API serves after a reset), never from
what the product computed, so a wrong journal cannot agree with itself.
"""

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from ml_connector_dagster.audit.store import AuditStore, IdentityState, Outcome
from ml_connector_dagster.connections import Connection
from ml_connector_dagster.ledger.entries import JournalIdentity
from ml_connector_dagster.ledger.vocabulary import JournalType
from ml_connector_sandbox.server import Sandbox

NET_PAY_CLEARING = "220400"  # the sandbox mapping's net pay account (sandbox/mapping.py)
ZERO = Decimal("0.00")


def paid_runs(sandbox: Sandbox, period: str, legal_name: str) -> list[dict[str, Any]]:
    rippling = sandbox.company["rippling"]
    entity = next(
        e["id"] for e in rippling["company_legal_entities"] if e["legal_name"] == legal_name
    )
    return [
        r
        for r in rippling["payroll_runs"]
        if r["run_state"] == "PAID"
        and r["company_entity_id"] == entity
        and r["pay_period"]["end_date"] == period
    ]


def expected_totals(sandbox: Sandbox, run_id: str) -> tuple[Decimal, Decimal]:
    """(debit total, net pay) of a run by Rippling's records: gross pay plus the employer's
    taxes and contributions is every debit; net pay is the clearing account's credit."""
    debit = net = ZERO
    for record in sandbox.company["rippling"]["worker_payroll_records"]:
        if record["run_id"] == run_id:
            summary = record["summary"]
            debit += (
                Decimal(record["gross_pay"])
                + Decimal(summary["employer_taxes"])
                + Decimal(summary["employer_contributions"])
            )
            net += Decimal(record["net_pay"])
    return debit, net


def _amount(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else ZERO


def check_payroll(
    sandbox: Sandbox, env: Mapping[str, str], period: str, company: str, legal_name: str
) -> list[str]:
    """One journal per identity, Rippling's totals to the cent, no empty header, a complete
    trail: the guarantees of the posting flow, read back from F&O and the audit store."""
    problems: list[str] = []
    runs = paid_runs(sandbox, period, legal_name)
    if not runs:
        return [f"no paid Rippling run ends {period} for {company}: nothing was tested"]
    identities = {
        r["id"]: JournalIdentity("default", r["id"], company, JournalType.SETTLEMENT) for r in runs
    }
    keys = {identity.integration_key: run_id for run_id, identity in identities.items()}
    with Connection.from_environment(env).dynamics() as client:
        headers = client.list_entities("LedgerJournalHeaders")
        lines = client.list_entities("LedgerJournalLines")
    by_batch: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        by_batch[line["JournalBatchNumber"]].append(line)
    ours = [h for h in headers if h.get("IntegrationKey")]
    counts = Counter(h["IntegrationKey"] for h in ours)
    for key, run_id in keys.items():
        if counts[key] != 1:
            problems.append(f"run {run_id}: {counts[key]} journals in F&O, expected exactly 1")
    for key in set(counts) - set(keys):
        problems.append(f"a journal F&O holds for no paid run of the period: {key}")
    for header in ours:
        number = header["JournalBatchNumber"]
        if not by_batch.get(number):
            problems.append(f"journal {number} ({header['IntegrationKey']}) has no lines")
    for key, run_id in keys.items():
        mine = [h["JournalBatchNumber"] for h in ours if h["IntegrationKey"] == key]
        own_lines = [line for number in mine for line in by_batch.get(number, [])]
        debit = sum((_amount(x.get("DebitAmount")) for x in own_lines), ZERO)
        credit = sum((_amount(x.get("CreditAmount")) for x in own_lines), ZERO)
        net = sum(
            (
                _amount(x.get("CreditAmount"))
                for x in own_lines
                if str(x.get("AccountDisplayValue", "")).startswith(NET_PAY_CLEARING)
            ),
            ZERO,
        )
        want_debit, want_net = expected_totals(sandbox, run_id)
        if mine and (debit, credit, net) != (want_debit, want_debit, want_net):
            problems.append(
                f"run {run_id}: F&O debit {debit} credit {credit} net {net}; Rippling says"
                f" debit = credit = {want_debit}, net {want_net}"
            )
        numbers = sorted(int(x["LineNumber"]) for x in own_lines)
        if numbers != list(range(1, len(numbers) + 1)):
            problems.append(f"run {run_id}: line numbers not 1..n once each")
    problems += _check_trail(env, {i.key: run for run, i in identities.items()}, ours)
    return problems


def _check_trail(
    env: Mapping[str, str], keys: Mapping[str, str], headers: Iterable[dict[str, Any]]
) -> list[str]:
    """Every journal F&O holds is named by the trail, and every identity ended final."""
    problems: list[str] = []
    store = AuditStore(env["ML_CONNECTOR_AUDIT_URL"])
    try:
        attempts = store.attempts()
        unfinished = store.unfinished()
        identities = {i.journal_key: i for i in store.identities()}
    finally:
        store.dispose()
    named = {
        number.strip()
        for a in attempts
        if a["outcome"] in (Outcome.CREATED, Outcome.SKIPPED_DUPLICATE)
        for number in (a["journal_batch_number"] or "").split(",")
    }
    for header in headers:
        if header["JournalBatchNumber"] not in named:
            problems.append(
                f"journal {header['JournalBatchNumber']} is in F&O but no created/skipped"
                " attempt in the audit trail names it"
            )
    for u in unfinished:
        problems.append(f"the trail still lists {u.payroll_run_id} as unfinished ({u.state})")
    for key, run_id in keys.items():
        identity = identities.get(key)
        if identity is None:
            problems.append(f"run {run_id}: no journal identity in the audit store")
        elif identity.state not in (IdentityState.COMPLETE, IdentityState.POSTED):
            problems.append(f"run {run_id}: identity state {identity.state}, not complete")
        elif not any(a["journal_key"] == key for a in attempts):
            problems.append(f"run {run_id}: no attempt recorded")
    return problems


def check_workforce(
    env: Mapping[str, str], today: dt.date, hires: Mapping[str, dict[str, Any]]
) -> list[str]:
    """Dynamics converged on Rippling (a dry-run plan writes nothing), nobody twice (workers by
    e-mail, employments by person, company and start, vendors by e-mail), each hire once, and
    each hire's creation in the audit trail.

    ``hires``: Rippling worker id -> the admin answer of the hire made for this cell."""
    from ml_connector_dagster.config.mapping import read_mapping_file
    from ml_connector_dagster.workforce.sync import sync_workers

    problems: list[str] = []
    mapping = read_mapping_file(Path(env["ML_CONNECTOR_MAPPING"]))
    connection = Connection.from_environment(env)
    store = AuditStore(env["ML_CONNECTOR_AUDIT_URL"])
    try:
        with connection.rippling() as rippling, connection.dynamics() as dynamics:
            outcome = sync_workers(
                list(rippling.workers()),
                dynamics=dynamics,
                store=store,
                mapping=mapping,
                settings=mapping.workforce,
                today=today,
                full=True,
                dry_run=True,
            )
            workers = dynamics.list_entities("Workers")
            employments = dynamics.list_entities("EmploymentsV2")
            vendors = dynamics.list_entities("VendorsV2")
        for action in outcome.plan.writes:
            problems.append(
                f"not converged: a sync would still {action.kind.value}"
                f" for {action.rippling_worker_id}"
            )
        emails = Counter(str(w.get("PrimaryContactEmail") or "").lower() for w in workers)
        for email, n in emails.items():
            if email and n > 1:
                problems.append(f"{n} F&O workers share the e-mail {email}")
        spans = Counter(
            (e["PersonnelNumber"], e["LegalEntityId"].upper(), e["EmploymentStartDate"])
            for e in employments
        )
        for span, n in spans.items():
            if n > 1:
                problems.append(f"employment {span} is in F&O {n} times")
        vendor_emails = Counter(str(v.get("PrimaryEmailAddress") or "").lower() for v in vendors)
        for email, n in vendor_emails.items():
            if email and n > 1:
                problems.append(f"{n} F&O vendors share the e-mail {email}")
        for worker_id, hire in hires.items():
            email = str(hire["work_email"]).lower()
            contractor = hire.get("employment_type") == "CONTRACTOR"
            found = vendor_emails[email] if contractor else emails[email]
            if found != 1:
                kind = "vendor" if contractor else "worker"
                problems.append(f"hire {worker_id}: {found} F&O {kind}s with {email}, expected 1")
            applied = [
                a
                for a in store.workforce_actions(worker_id)
                if a["outcome"] == "applied" and str(a["action"]).startswith("create")
            ]
            if not applied:
                problems.append(f"hire {worker_id}: no applied create in the audit trail")
    finally:
        store.dispose()
    return problems
