"""The matrix's read-back can fail: a second journal, a wrong amount, a journal the trail does
not know, a worker twice, an event missing are each named (else a green matrix means nothing)."""

from decimal import Decimal
from pathlib import Path

from faultmatrix import readback
from faultmatrix.cells import HIRES, _hire, payroll_scenario, sandbox_today
from faultmatrix.product import Product, product_env
from faultmatrix.webhook_intake import _check_inbox
from ml_connector_dagster.connections import Connection
from ml_connector_sandbox.rippling.employees import webhook
from ml_connector_sandbox.server import Sandbox


def test_payroll_read_back_names_a_duplicate_an_empty_header_and_a_wrong_amount(
    fresh_sandbox: Sandbox, tmp_path: Path
) -> None:
    scenario = payroll_scenario(fresh_sandbox)
    env = product_env(fresh_sandbox, tmp_path)
    ran = Product(env, tmp_path).run(
        "run", "--pay-period", scenario.period, "--legal-entity", scenario.company
    )
    assert ran.returncode == 0, ran.tail()

    def problems() -> list[str]:
        return readback.check_payroll(
            fresh_sandbox, env, scenario.period, scenario.company, scenario.legal_name
        )

    assert problems() == []
    with Connection.from_environment(env).dynamics() as client:
        [first, *_] = client.list_entities("LedgerJournalHeaders")
        copy = client.create(
            "LedgerJournalHeaders",
            {
                "dataAreaId": first["dataAreaId"],
                "JournalName": first["JournalName"],
                "Description": "a second copy",
                "IntegrationKey": first["IntegrationKey"],
            },
        )
        found = problems()
        assert any("2 journals in F&O, expected exactly 1" in p for p in found), found
        assert any(f"journal {copy['JournalBatchNumber']}" in p and "no lines" in p for p in found)
        assert any("no created/skipped attempt" in p for p in found), found
        client.delete(
            "LedgerJournalHeaders",
            {"dataAreaId": copy["dataAreaId"], "JournalBatchNumber": copy["JournalBatchNumber"]},
        )
        assert problems() == []
        line = next(
            x
            for x in client.list_entities("LedgerJournalLines")
            if x["JournalBatchNumber"] == first["JournalBatchNumber"] and x["DebitAmount"]
        )
        client.patch(
            "LedgerJournalLines",
            {
                "dataAreaId": line["dataAreaId"],
                "JournalBatchNumber": line["JournalBatchNumber"],
                "LineNumber": line["LineNumber"],
            },
            {"DebitAmount": Decimal(str(line["DebitAmount"])) + Decimal("0.01")},
        )
    found = problems()
    assert any("Rippling says" in p for p in found), found  # one cent off is named


def test_workforce_read_back_names_a_hire_created_twice(
    fresh_sandbox: Sandbox, tmp_path: Path
) -> None:
    env = product_env(fresh_sandbox, tmp_path)
    hires = _hire(fresh_sandbox)
    today = sandbox_today(fresh_sandbox)
    synced = Product(env, tmp_path).run("workforce", "sync", "--today", today.isoformat())
    assert synced.returncode == 0, synced.tail()
    assert readback.check_workforce(env, today, hires) == []
    employee = next(i for i, h in hires.items() if h["employment_type"] == "SALARIED")
    with Connection.from_environment(env).dynamics() as client:
        client.create(
            "Workers",
            {
                "PersonnelNumber": "DUP-1",
                "FirstName": HIRES[0]["given_name"],
                "LastName": HIRES[0]["family_name"],
                "PrimaryContactEmail": hires[employee]["work_email"],
                "WorkerType": "Employee",
            },
        )
    found = readback.check_workforce(env, today, hires)
    assert any("2 F&O workers share the e-mail" in p for p in found), found
    assert any(f"hire {employee}: 2 F&O workers" in p for p in found), found


def test_the_inbox_check_names_a_lost_and_a_doubled_event(
    fresh_sandbox: Sandbox, tmp_path: Path
) -> None:
    from ml_connector_dagster.audit.store import AuditStore

    url = f"sqlite:///{tmp_path / 'audit.sqlite'}"
    company = fresh_sandbox.company["rippling"]["company_id"]
    workers = [w["id"] for w in fresh_sandbox.company["rippling"]["workers"][:3]]
    forms = [webhook("employee.updated", company, w) for w in workers]
    store = AuditStore(url)
    for form in forms[:2]:  # the third never arrived
        store.enqueue_webhook(company, form["event_name"], form["id"])
    store.dispose()
    found = _check_inbox({"ML_CONNECTOR_AUDIT_URL": url}, company, forms, {0, 1, 2})
    assert found == [f"event {forms[2]['id']}: pending 0 times, expected 1"]
    found = _check_inbox({"ML_CONNECTOR_AUDIT_URL": url}, company, forms[:2], {0})
    assert found == ["1 events never acknowledged"]
