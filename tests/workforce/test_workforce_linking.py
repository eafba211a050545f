"""Linking existing F&O workers, F&O-assigned numbers and end-of-day end dates.

Pure tests of ``desired.link_existing`` and ``current.read_end_date``; sandbox-backed syncs for
a tenant whose number sequences assign the numbers, and for an ambiguous e-mail.
"""

import datetime as dt
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pipeline_support import admin as sandbox_admin
from workforce.test_workforce_plan import (
    MAPPING,
    SETTINGS,
    TODAY,
    dyn_worker,
    employment,
    plan_for,
    worker,
)

from ml_connector_dagster.config.workforce import WorkforceSettings
from ml_connector_dagster.dynamics.writable import Operation, unwritable
from ml_connector_dagster.workforce.current import read_end_date, state_from_rows, wire_end_date
from ml_connector_dagster.workforce.desired import (
    Identities,
    Numbering,
    build_desired,
    link_existing,
)
from ml_connector_dagster.workforce.numbering import Verdict, probe_number_sequences
from ml_connector_dagster.workforce.plan import build_plan
from ml_connector_dagster.workforce.sync import sync_workers
from ml_connector_sandbox.server import Sandbox

# --- pure ----------------------------------------------------------------------------------


def _plan_linked(rows: list[dict[str, Any]], spans: list[dict[str, Any]] = ()):
    workers = [worker()]
    linking = link_existing(
        workers,
        Identities(),
        SETTINGS,
        {r["PersonnelNumber"]: r.get("PrimaryContactEmail") for r in rows},
    )
    desired = build_desired(workers, MAPPING, SETTINGS, linking.identities, blocked=linking.blocked)
    current = state_from_rows(rows, spans, [])
    return linking, build_plan(desired, current, today=TODAY, known_identities=Identities())


def test_an_existing_worker_with_the_same_email_is_linked_not_duplicated() -> None:
    legacy = dyn_worker("000101", PrimaryContactEmail="ADA@example.com")
    linking, plan = _plan_linked([legacy], [employment("000101")])
    assert linking.links == {"w1": ("000101", "e-mail")}
    # Linked: only the e-mail's spelling follows Rippling; no worker, no employment created.
    assert [(a.kind.value, dict(a.values)) for a in plan.actions] == [
        ("update-worker", {"PrimaryContactEmail": "ada@example.com"})
    ]
    assert [(i.rippling_worker_id, i.personnel_number) for i in plan.identities] == [
        ("w1", "000101")
    ]


def test_two_workers_with_the_email_or_email_and_number_disagreeing_are_reported() -> None:
    twins = [
        dyn_worker("000101", PrimaryContactEmail="ada@example.com"),
        dyn_worker("000102", PrimaryContactEmail="ada@example.com"),
    ]
    _, plan = _plan_linked(twins)
    assert [a.kind.value for a in plan.actions] == ["report"]
    assert "000101, 000102" in plan.actions[0].reason and not plan.identities
    crossed = [dyn_worker("000101"), dyn_worker("RP-1001", PrimaryContactEmail="other@x.com")]
    _, plan = _plan_linked(crossed)
    assert [a.kind.value for a in plan.actions] == ["report"]
    assert "number rule gives RP-1001" in plan.actions[0].reason


def test_without_an_email_match_the_number_rule_links() -> None:
    linking, plan = _plan_linked([dyn_worker("RP-1001", PrimaryContactEmail="else@x.com")])
    assert linking.links == {"w1": ("RP-1001", "number")}
    assert [a.kind.value for a in plan.actions] == ["update-worker", "create-employment"]


def test_numbers_fo_assigns_are_left_out_of_the_creates() -> None:
    desired = build_desired(
        [worker(contractor=True)],
        MAPPING,
        SETTINGS,
        numbering=Numbering(personnel_by_dynamics=True, vendor_by_dynamics=frozenset({"USMF"})),
    )
    plan = build_plan(desired, state_from_rows([], [], []), today=TODAY)
    create_worker, _, create_vendor = plan.actions
    assert "PersonnelNumber" not in create_worker.values
    assert "VendorAccountNumber" not in create_vendor.values
    for action in plan.actions:
        op = Operation.CREATE if action.key is None else Operation.PATCH
        assert unwritable(action.entity_set, op, action.values) == []


@given(st.dates(dt.date(2000, 1, 1), dt.date(2100, 12, 31)))
def test_an_end_date_read_back_is_the_day_written(day: dt.date) -> None:
    assert read_end_date(wire_end_date(day)) == day
    assert read_end_date(f"{day}T00:00:00Z") == day  # older writes
    west = dt.datetime.combine(day, dt.time(23, 59, 59)) + dt.timedelta(hours=5)
    assert read_end_date(west.strftime("%Y-%m-%dT%H:%M:%SZ")) == day  # end of day in New York


def test_a_terminated_worker_read_back_plans_nothing() -> None:
    plan = plan_for(
        [worker(status="TERMINATED", end="2026-11-13")],
        [dyn_worker()],
        [employment(end="2026-11-13T23:59:59Z")],
    )
    assert plan.actions == ()


# --- sandbox -------------------------------------------------------------------------------


def _fo_post(sandbox: Sandbox, entity_set: str, values: dict[str, Any]) -> None:
    with sandbox_admin(sandbox, "dynamics") as fo:
        answer = fo.post(f"/_sandbox/entities/{entity_set}", json={"values": values})
        assert answer.status_code < 300, answer.text


def _automatic_sequences(sandbox: Sandbox, companies: tuple[str, ...]) -> None:
    _fo_post(
        sandbox,
        "SequenceV2Tables",
        {
            "NumberSequenceCode": "Pers_1",
            "ScopeType": "Shared",
            "ScopeValue": "",
            "Format": "P-#####",
            "Manual": "No",
        },
    )
    _fo_post(
        sandbox,
        "NumberSequencesV2References",
        {
            "DataTypeName": "HcmPersonnelNumberId",
            "ScopeType": "Shared",
            "ScopeValue": "",
            "NumberSequenceCode": "Pers_1",
        },
    )
    for company in companies:
        _fo_post(
            sandbox,
            "VRMParameters",
            {
                "dataAreaId": company.lower(),
                "Key": 0,
                "VendorAccountNumberSequenceCode": "Vend_1",
                "IsVendorAccountNumberSequenceManual": "No",
            },
        )


def _sync(rippling, dynamics, store, mapping, *ids: str, settings: WorkforceSettings = SETTINGS):
    outcome = sync_workers(
        [rippling.worker(i) for i in ids],
        dynamics=dynamics,
        store=store,
        mapping=mapping,
        settings=settings,
        today=dt.date(2026, 11, 20),
    )
    assert outcome.result is not None and outcome.result.ok, outcome.result
    return outcome


def test_fo_assigned_numbers_are_taken_from_the_201_and_recorded(
    fresh_sandbox: Sandbox, admin, rippling, dynamics, store, wf_mapping
) -> None:
    _automatic_sequences(fresh_sandbox, wf_mapping.companies)
    verdicts = probe_number_sequences(dynamics, wf_mapping.companies)
    assert {(v.workers, v.vendors) for v in verdicts} == {(Verdict.DYNAMICS, Verdict.DYNAMICS)}
    hired = admin.hire(
        given_name="Linus",
        family_name="Numbered",
        start_date="2026-11-16",
        employment_type="CONTRACTOR",
        hourly_rate="90.00",
        work_email="linus.numbered@northwind-advisory.com",
    )
    first = _sync(rippling, dynamics, store, wf_mapping, hired["id"])
    assert [a.kind.value for a in first.plan.writes] == [
        "create-worker",
        "create-employment",
        "create-vendor",
    ]
    number = store.personnel_number(hired["id"])
    assert number == "P-00001"
    assert dynamics.get_entity("Workers", {"PersonnelNumber": number})["LastName"] == "Numbered"
    account = store.vendor_account(hired["id"])
    assert account and account.startswith("V")
    assert dynamics.list_entities("EmploymentsV2", filter=f"PersonnelNumber eq '{number}'")
    assert dynamics.get_entity("Workers", {"PersonnelNumber": f"RP-{hired['number']}"}) is None
    again = _sync(rippling, dynamics, store, wf_mapping, hired["id"])
    assert again.plan.actions == ()


def test_an_ambiguous_email_is_reported_and_nothing_is_created(
    fresh_sandbox: Sandbox, admin, rippling, dynamics, store, wf_mapping
) -> None:
    email = "twin@northwind-advisory.com"
    for number in ("000901", "000902"):
        _fo_post(
            fresh_sandbox,
            "Workers",
            {"PersonnelNumber": number, "LastName": "Twin", "PrimaryContactEmail": email},
        )
    hired = admin.hire(
        given_name="Tess", family_name="Twin", start_date="2026-11-16", work_email=email
    )
    outcome = _sync(rippling, dynamics, store, wf_mapping, hired["id"])
    assert outcome.plan.writes == ()
    [report] = outcome.plan.reports
    assert "ambiguous" in report.reason and "000901, 000902" in report.reason
    assert store.personnel_number(hired["id"]) is None
    assert dynamics.get_entity("Workers", {"PersonnelNumber": f"RP-{hired['number']}"}) is None
