"""The pure part: desired state from Rippling workers, and the plan against Dynamics rows."""

import datetime as dt
from typing import Any

import pytest

from ml_connector_dagster.config.mapping import parse_mapping
from ml_connector_dagster.config.workforce import WorkforceSettings
from ml_connector_dagster.dynamics.readers import DEFAULT_FORMAT, DimensionFormat
from ml_connector_dagster.rippling.models import Worker
from ml_connector_dagster.workforce.current import state_from_rows
from ml_connector_dagster.workforce.desired import Identities, build_desired
from ml_connector_dagster.workforce.plan import ActionKind, Plan, build_plan

TODAY = dt.date(2026, 11, 20)
OPEN = "2154-12-31T23:59:59Z"
MAPPING = parse_mapping(
    """\
version: 1
dimension_format: {dimensions: [MainAccount, BusinessUnit, Department, CostCenter]}
journal: {name: PAYROLL}
legal_entities:
  - {company: USMF, currency: USD, rippling_legal_entity_ids: [le_us],
     dimensions: {BusinessUnit: "001"}}
  - {company: GBSI, currency: GBP, rippling_legal_entity_ids: [le_gb],
     dimensions: {BusinessUnit: "002"}}
accounts:
  earnings: {default: "600190"}
  employer_taxes: "600200"
  employer_benefits: "600300"
  taxes_payable: "220100"
  deductions_payable: "220200"
  garnishments_payable: "220300"
  net_pay_clearing: "220400"
departments:
  D120: {Department: D120, CostCenter: CCTEC}
"""
)
SETTINGS = WorkforceSettings()
# F&O's active default dimension format of these tests (the employments' and vendors' order).
DEFAULT_DIMENSIONS = DimensionFormat(
    "Default", DEFAULT_FORMAT, ("BusinessUnit", "Department", "CostCenter"), "-"
)


def worker(
    worker_id: str = "w1",
    number: int = 1001,
    *,
    status: str = "ACTIVE",
    start: str = "2026-10-01",
    end: str | None = None,
    contractor: bool = False,
    legal_entity: str = "le_us",
    given: str = "Ada",
    family: str = "Lovelace",
    email: str | None = "ada@example.com",
    department: str | None = "D120",
    user_id: str = "u1",
    redacted: tuple[str, ...] = (),
) -> Worker:
    data: dict[str, Any] = {
        "id": worker_id,
        "number": number,
        "user_id": user_id,
        "user": {"id": user_id, "name": {"given_name": given, "family_name": family}},
        "legal_entity_id": legal_entity,
        "status": status,
        "start_date": start,
        "end_date": end,
        "work_email": email,
        "employment_type": {"id": "et", "type": "CONTRACTOR" if contractor else "EMPLOYEE"},
        "redacted": redacted,
    }
    if department:
        data["department_id"] = f"dep_{department}"
        data["department"] = {"id": f"dep_{department}", "reference_code": department}
    for name in redacted:
        data.pop(name, None)
    return Worker.model_validate(data)


def dyn_worker(number: str = "RP-1001", **extra: Any) -> dict[str, Any]:
    return {
        "PersonnelNumber": number,
        "FirstName": "Ada",
        "LastName": "Lovelace",
        "Name": "Ada Lovelace",
        "PrimaryContactEmail": "ada@example.com",
        "WorkerType": "Employee",
        "AllowRehire": "Yes",
        **extra,
    }


def employment(
    number: str = "RP-1001",
    start: str = "2026-10-01",
    end: str = OPEN,
    company: str = "USMF",
    emp_id: str = "E-1",
    dimension: str | None = "001-D120-CCTEC",
) -> dict[str, Any]:
    return {
        "PersonnelNumber": number,
        "LegalEntityId": company,
        "EmploymentId": emp_id,
        "EmploymentStartDate": f"{start}T00:00:00Z",
        "EmploymentEndDate": end,
        "DimensionDisplayValue": dimension,
    }


def vendor(account: str = "RP-1001", on_hold: str = "No", **extra: Any) -> dict[str, Any]:
    return {
        "dataAreaId": "usmf",
        "VendorAccountNumber": account,
        "VendorGroupId": "CONTRACT",
        "PersonFirstName": "Ada",
        "PersonLastName": "Lovelace",
        "PrimaryEmailAddress": "ada@example.com",
        "DefaultLedgerDimensionDisplayValue": "001-D120-CCTEC",
        "OnHoldStatus": on_hold,
        **extra,
    }


def plan_for(
    workers: list[Worker],
    workers_rows: list[dict] = (),
    employments: list[dict] = (),
    vendors: list[dict] = (),
    identities: Identities | None = None,
    settings: WorkforceSettings = SETTINGS,
    default_format: DimensionFormat | None = DEFAULT_DIMENSIONS,
) -> Plan:
    desired = build_desired(workers, MAPPING, settings, identities, default_format)
    current = state_from_rows(workers_rows, employments, vendors)
    return build_plan(desired, current, today=TODAY, known_identities=identities or Identities())


def kinds(plan: Plan) -> list[str]:
    return [a.kind.value for a in plan.actions]


def test_hire_creates_worker_then_employment_with_rippling_start() -> None:
    plan = plan_for([worker()])
    assert kinds(plan) == ["create-worker", "create-employment"]
    create_worker, create_employment = plan.actions
    assert create_worker.entity_set == "Workers" and create_worker.key is None
    assert create_worker.values == {
        "PersonnelNumber": "RP-1001",
        "FirstName": "Ada",
        "LastName": "Lovelace",
        "PrimaryContactEmail": "ada@example.com",
        "WorkerType": "Employee",
    }  # never Name nor OriginalHireDateTime: F&O derives them
    assert create_employment.values == {
        "PersonnelNumber": "RP-1001",
        "LegalEntityId": "USMF",
        "EmploymentStartDate": "2026-10-01T00:00:00Z",
        "EmploymentEndDate": OPEN,
        "WorkerType": "Employee",
        "DimensionDisplayValue": "001-D120-CCTEC",
    }
    assert [(i.rippling_worker_id, i.personnel_number) for i in plan.identities] == [
        ("w1", "RP-1001")
    ]


def test_aligned_records_plan_nothing() -> None:
    plan = plan_for(
        [worker()],
        [dyn_worker()],
        [employment()],
        identities=Identities({"w1": "RP-1001"}, {"u1": "RP-1001"}),
    )
    assert plan.actions == ()
    assert plan.identities == ()
    assert plan.is_empty


def test_termination_sets_the_end_date_through_the_employment_id_key() -> None:
    plan = plan_for([worker(status="TERMINATED", end="2026-11-13")], [dyn_worker()], [employment()])
    assert kinds(plan) == ["end-employment"]
    action = plan.actions[0]
    assert action.entity_set == "EmploymentsV2"
    assert action.key == {
        "PersonnelNumber": "RP-1001",
        "LegalEntityId": "USMF",
        "EmploymentId": "E-1",
    }
    assert action.values == {"EmploymentEndDate": "2026-11-13T23:59:59Z"}


def test_rehire_after_closed_employment_adds_a_new_one() -> None:
    plan = plan_for(
        [worker(start="2026-11-02")],
        [dyn_worker()],
        [employment(start="2025-01-01", end="2026-06-30T00:00:00Z")],
    )
    assert kinds(plan) == ["new-employment"]
    assert plan.actions[0].values["EmploymentStartDate"] == "2026-11-02T00:00:00Z"
    assert plan.actions[0].key is None


def test_rehire_refused_when_allow_rehire_is_no() -> None:
    plan = plan_for(
        [worker(start="2026-11-02")],
        [dyn_worker(AllowRehire="No")],
        [employment(start="2025-01-01", end="2026-06-30T00:00:00Z")],
    )
    assert plan.is_empty
    assert kinds(plan) == ["report"]
    assert "AllowRehire is No" in plan.actions[0].reason


def test_rehire_under_a_new_worker_id_keeps_the_personnel_number() -> None:
    old = worker("w1", 1001, status="TERMINATED", start="2024-01-01", end="2026-06-30")
    new = worker("w9", 1050, start="2026-11-02")  # same user u1
    identities = Identities({"w1": "RP-1001"}, {"u1": "RP-1001"})
    plan = plan_for(
        [old, new],
        [dyn_worker()],
        [employment(start="2024-01-01", end="2026-06-30T00:00:00Z")],
        identities=identities,
    )
    assert kinds(plan) == ["new-employment"]
    assert plan.actions[0].personnel_number == "RP-1001"
    assert [(i.rippling_worker_id, i.personnel_number) for i in plan.identities] == [
        ("w9", "RP-1001")
    ]


def test_missed_termination_before_rehire_ends_the_open_employment_first() -> None:
    plan = plan_for([worker(start="2026-11-02")], [dyn_worker()], [employment(start="2025-01-01")])
    assert kinds(plan) == ["end-employment", "new-employment"]
    assert plan.actions[0].values == {"EmploymentEndDate": "2026-11-01T23:59:59Z"}


def test_moved_start_of_a_pending_employment_is_reported_not_patched() -> None:
    """F&O does not move an employment's start by PATCH: the sync reports it instead."""
    plan = plan_for(
        [worker(status="ACCEPTED", start="2026-12-07")],
        [dyn_worker()],
        [employment(start="2026-12-01")],
    )
    assert kinds(plan) == ["report"]
    assert "does not move an employment's start" in plan.actions[0].reason


def test_earlier_start_than_an_open_employment_is_reported_not_written() -> None:
    plan = plan_for([worker(start="2026-09-01")], [dyn_worker()], [employment()])
    assert kinds(plan) == ["report"]


def test_transfer_to_another_company_is_reported() -> None:
    plan = plan_for([worker(legal_entity="le_gb")], [dyn_worker()], [employment()])
    assert kinds(plan) == ["report"]
    assert "transfer" in plan.actions[0].reason


def test_contractor_gets_a_vendor_in_the_mapped_company() -> None:
    plan = plan_for([worker(contractor=True)])
    assert kinds(plan) == ["create-worker", "create-employment", "create-vendor"]
    values = plan.actions[2].values
    assert values["dataAreaId"] == "usmf"
    assert values["VendorAccountNumber"] == "RP-1001"
    assert values["VendorGroupId"] == "CONTRACT"
    assert values["OnHoldStatus"] == "No"
    assert values["PersonFirstName"] == "Ada" and values["PersonLastName"] == "Lovelace"
    assert plan.actions[0].values["WorkerType"] == "Contractor"


def test_contractor_termination_holds_and_rehire_releases_the_vendor() -> None:
    rows = [dyn_worker(WorkerType="Contractor")]
    ended = plan_for(
        [worker(contractor=True, status="TERMINATED", end="2026-11-13")],
        rows,
        [employment()],
        [vendor()],
    )
    assert kinds(ended) == ["end-employment", "hold-vendor"]
    assert ended.actions[1].values == {"OnHoldStatus": "All"}
    assert ended.actions[1].key == {"dataAreaId": "usmf", "VendorAccountNumber": "RP-1001"}

    back = plan_for(
        [worker(contractor=True, start="2026-11-16")],
        rows,
        [employment(end="2026-11-13T00:00:00Z")],
        [vendor(on_hold="All")],
    )
    assert kinds(back) == ["new-employment", "release-vendor"]
    assert back.actions[1].values == {"OnHoldStatus": "No"}


def test_refused_contractor_rehire_keeps_the_vendor_on_hold() -> None:
    plan = plan_for(
        [worker(contractor=True, start="2026-11-16")],
        [dyn_worker(WorkerType="Contractor", AllowRehire="No")],
        [employment(end="2026-11-13T00:00:00Z")],
        [vendor(on_hold="All")],
    )
    assert kinds(plan) == ["report"]


def test_finance_hold_other_than_all_is_left_alone() -> None:
    plan = plan_for(
        [worker(contractor=True)],
        [dyn_worker(WorkerType="Contractor")],
        [employment()],
        [vendor(on_hold="Invoice")],
    )
    assert plan.actions == ()


def test_name_email_and_department_changes_flow_through() -> None:
    plan = plan_for(
        [worker(family="King", email="ada.king@example.com", department="D130")],
        [dyn_worker()],
        [employment()],
    )
    assert kinds(plan) == ["update-worker", "update-employment"]
    assert plan.actions[0].values == {
        "LastName": "King",
        "PrimaryContactEmail": "ada.king@example.com",
    }
    assert plan.actions[0].key == {"PersonnelNumber": "RP-1001"}
    # D130 is not in the mapping's departments: its reference code fills Department.
    assert plan.actions[1].values == {"DimensionDisplayValue": "001-D130-"}


def test_employment_dimensions_follow_the_default_format_not_the_ledger_order() -> None:
    own_order = DimensionFormat(
        "Default", DEFAULT_FORMAT, ("CostCenter", "Department", "BusinessUnit"), "~"
    )
    plan = plan_for([worker()], default_format=own_order)
    created = next(a for a in plan.actions if a.kind is ActionKind.CREATE_EMPLOYMENT)
    assert created.values["DimensionDisplayValue"] == "CCTEC~D120~001"
    short = DimensionFormat("Default", DEFAULT_FORMAT, ("Department",), "-")
    created = next(
        a
        for a in plan_for([worker()], default_format=short).actions
        if a.kind is ActionKind.CREATE_EMPLOYMENT
    )
    assert created.values["DimensionDisplayValue"] == "D120"


def test_without_a_default_format_no_dimension_is_written_or_changed() -> None:
    plan = plan_for(
        [worker(department="D130")], [dyn_worker()], [employment()], default_format=None
    )
    assert all("DimensionDisplayValue" not in a.values for a in plan.actions)
    created = plan_for([worker()], default_format=None)
    assert all("DimensionDisplayValue" not in a.values for a in created.actions)


@pytest.mark.parametrize(
    "redacted",
    [("user", "work_email", "department", "department_id"), ("user",), ("work_email",)],
)
def test_redacted_fields_are_never_blanked_or_changed(redacted: tuple[str, ...]) -> None:
    changed = worker(family="King", email="x@example.com", department="D130", redacted=redacted)
    plan = plan_for([changed], [dyn_worker()], [employment()])
    for action in plan.writes:
        for value in action.values.values():
            assert value not in ("", None)
        if "user" in redacted:
            assert not {"FirstName", "LastName", "Name"} & set(action.values)
        if "work_email" in redacted:
            assert "PrimaryContactEmail" not in action.values
        if "department" in redacted:
            assert "DimensionDisplayValue" not in action.values


def test_worker_with_withheld_name_is_not_created_but_reported() -> None:
    plan = plan_for([worker(redacted=("user",))])
    assert kinds(plan) == ["report"]


def test_unmapped_entity_and_unaccepted_offer_are_skipped_with_a_reason() -> None:
    plan = plan_for(
        [worker("w1", legal_entity="le_elsewhere"), worker("w2", 1002, status="INIT", user_id="u2")]
    )
    assert kinds(plan) == ["report", "report"]
    assert "not mapped" in plan.actions[0].reason
    assert "INIT" in plan.actions[1].reason


def test_personnel_number_scheme_and_vendor_account_are_configurable() -> None:
    settings = WorkforceSettings(
        personnel_number_prefix="000",
        personnel_number_width=6,
        vendor_group="CONTR",
        vendor_account_template="V-{number}",
    )
    plan = plan_for([worker(contractor=True)], settings=settings)
    assert plan.actions[0].values["PersonnelNumber"] == "000001001"
    assert plan.actions[2].values["VendorAccountNumber"] == "V-1001"
    assert plan.actions[2].values["VendorGroupId"] == "CONTR"


def test_mapped_personnel_number_survives_a_renumbering() -> None:
    plan = plan_for(
        [worker(number=2002)],
        [dyn_worker()],
        [employment()],
        identities=Identities({"w1": "RP-1001"}, {}),
    )
    assert plan.actions == ()


def test_report_kind_is_not_a_write() -> None:
    plan = plan_for([worker(legal_entity="le_elsewhere")])
    assert plan.reports and not plan.writes
    assert plan.actions[0].kind is ActionKind.REPORT


def test_the_vocabularies_keep_the_strings_dynamics_and_the_trail_hold() -> None:
    """StrEnum members compare, hash, format and serialize as their old bare strings."""
    import json

    from ml_connector_dagster.workforce.apply import Outcome
    from ml_connector_dagster.workforce.current import EntitySet, VendorHold
    from ml_connector_dagster.workforce.desired import WorkerType

    assert {e.value for e in EntitySet} == {"Workers", "EmploymentsV2", "VendorsV2"}
    assert (VendorHold.ALL, VendorHold.NONE) == ("All", "No")
    assert (WorkerType.EMPLOYEE, WorkerType.CONTRACTOR) == ("Employee", "Contractor")
    assert {o.value for o in Outcome} == {"applied", "failed", "ambiguous", "skipped", "reported"}
    assert json.dumps({"OnHoldStatus": VendorHold.ALL}) == '{"OnHoldStatus": "All"}'
    assert f"{EntitySet.EMPLOYMENTS}" == "EmploymentsV2"
    assert {"applied": 1}[Outcome.APPLIED] == 1  # a dict keyed by the old strings still finds it


def test_plan_actions_carry_the_vocabulary_members() -> None:
    from ml_connector_dagster.workforce.current import EntitySet, VendorHold

    plan = plan_for(
        [worker(contractor=True, status="TERMINATED", end="2026-11-13")],
        [dyn_worker(WorkerType="Contractor")],
        [employment()],
        [vendor()],
    )
    assert kinds(plan) == ["end-employment", "hold-vendor"]
    end, hold = plan.actions
    assert end.entity_set is EntitySet.EMPLOYMENTS
    assert hold.entity_set is EntitySet.VENDORS
    assert hold.values == {"OnHoldStatus": VendorHold.ALL}


def test_a_missed_termination_ends_the_open_span_and_counts_as_a_rehire() -> None:
    """The open span ended the day before the new start is an earlier employment: the new
    one is a rehire, and it is refused (and reported) when Dynamics forbids rehiring."""
    rows = [employment(start="2026-01-05")]
    allowed = plan_for([worker(start="2026-11-02")], [dyn_worker()], rows)
    assert kinds(allowed) == ["end-employment", "new-employment"]
    assert allowed.actions[0].values == {"EmploymentEndDate": "2026-11-01T23:59:59Z"}
    refused = plan_for([worker(start="2026-11-02")], [dyn_worker(AllowRehire="No")], rows)
    assert kinds(refused) == ["end-employment", "report"]
    assert "AllowRehire is No" in refused.actions[1].reason


def test_a_span_overlapping_a_closed_employment_is_reported() -> None:
    plan = plan_for(
        [worker(start="2026-06-01", status="TERMINATED", end="2026-08-31")],
        [dyn_worker()],
        [employment(start="2026-03-01", end="2026-07-15T00:00:00Z")],
    )
    assert kinds(plan) == ["report"]
    assert "overlaps employment E-1 (2026-03-01..2026-07-15)" in plan.actions[0].reason


def test_an_overlong_name_is_shortened_to_fo_size_and_reported() -> None:
    """Issue 11: a 3,005-character name. Fitted to F&O's 25 (worker and vendor alike), with a
    report line for each field written; an e-mail too long to fit is left out, not cut."""
    long_family = "Lovelace-" + "x" * 2996
    plan = plan_for([worker(family=long_family, email="a" * 300 + "@x.com", contractor=True)])
    create_worker = plan.actions[0]
    assert create_worker.kind is ActionKind.CREATE_WORKER
    assert create_worker.values["LastName"] == long_family[:25]
    assert "PrimaryContactEmail" not in create_worker.values
    vendor = next(a for a in plan.actions if a.kind is ActionKind.CREATE_VENDOR)
    assert vendor.values["PersonLastName"] == long_family[:25]
    reports = [a.reason for a in plan.reports]
    assert "Rippling worker w1: LastName shortened from 3005 to 25 characters (Dynamics' size)" in (
        reports
    )
    assert any(r.startswith("Rippling worker w1: PersonLastName shortened") for r in reports)
    assert any("PrimaryContactEmail left out: 306 characters" in r for r in reports)
    # Dynamics holds the fitted name: nothing to update, nothing reported about it.
    again = plan_for(
        [worker(family=long_family)],
        workers_rows=[dyn_worker(LastName=long_family[:25])],
        employments=[employment()],
    )
    assert [a for a in again.actions if "LastName" in a.reason or "LastName" in a.values] == []


@pytest.mark.parametrize(
    ("field", "kwargs", "named"),
    [
        ("LastName", {"family": "Smi\u202eth"}, "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("FirstName", {"given": "Ad\x00a"}, "U+0000"),
        ("PrimaryContactEmail", {"email": "ada@exa\u2066mple.com"}, "U+2066"),
    ],
)
def test_a_control_or_bidi_character_refuses_the_worker(field: str, kwargs, named: str) -> None:
    plan = plan_for([worker(contractor=True, **kwargs)])
    assert plan.writes == ()
    [report] = plan.reports
    assert report.rippling_worker_id == "w1"
    assert report.reason.startswith(f"skipped: Rippling worker w1: {field} contains {named}")
    assert "\u202e" not in report.reason and "\x00" not in report.reason
