"""The generated company: deterministic, internally consistent, and loadable from a file."""

from __future__ import annotations

import datetime as dt
import json
import re
import warnings
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ml_connector_sandbox
from ml_connector_sandbox.company import (
    CompanyFormatError,
    company_fingerprint,
    generate_company,
    load_company,
    save_company,
)
from ml_connector_sandbox.company.catalog import MAX_LEGAL_ENTITIES, cost_center_value
from ml_connector_sandbox.mapping import sandbox_mapping
from ml_connector_sandbox.rippling import RipplingService

with warnings.catch_warnings():  # Starlette nags about httpx; the test client still works.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

SCHEMA_FILE = Path(ml_connector_sandbox.__file__).parent / "dynamics" / "schema" / "entities.json"


@pytest.fixture(scope="module")
def company() -> dict[str, Any]:
    return generate_company()


def _d(value: str) -> Decimal:
    return Decimal(value)


def assert_record_adds_up(record: dict[str, Any]) -> None:
    """Independent restatement of the payroll identities, item by item."""
    gross, net = _d(record["gross_pay"]), _d(record["net_pay"])
    summary = {k: _d(v) for k, v in record["summary"].items()}
    ee_tax = sum(
        (_d(t["amount"]) for t in record["taxes"] if t["paid_by"] == "EMPLOYEE"), Decimal(0)
    )
    er_tax = sum(
        (_d(t["amount"]) for t in record["taxes"] if t["paid_by"] == "EMPLOYER"), Decimal(0)
    )
    ee_ded = sum((_d(x["employee_amount"]) for x in record["deductions"]), Decimal(0))
    er_ded = sum((_d(x["employer_amount"]) for x in record["deductions"]), Decimal(0))
    garn = sum((_d(x["amount"]) for x in record["garnishments"]), Decimal(0))
    earnings = sum((_d(x["amount"]) for x in record["earnings"]), Decimal(0))
    rid = record["id"]
    assert earnings == gross, rid
    assert summary == {
        "employee_taxes": ee_tax,
        "employer_taxes": er_tax,
        "employee_deductions": ee_ded,
        "employer_contributions": er_ded,
        "total_garnishments": garn,
    }, rid
    assert gross == net + ee_tax + ee_ded + garn, rid
    assert net >= 0, rid
    for amount in (record["gross_pay"], record["net_pay"], *record["summary"].values()):
        assert _d(amount).as_tuple().exponent == -2, (rid, amount)


def test_same_arguments_give_the_same_company_and_another_seed_does_not() -> None:
    a = generate_company(workers=60, pay_periods=3)
    b = generate_company(workers=60, pay_periods=3)
    c = generate_company(workers=60, pay_periods=3, seed=7)
    assert company_fingerprint(a) == company_fingerprint(b)
    assert company_fingerprint(a) != company_fingerprint(c)


def test_every_payroll_record_adds_up(company: dict[str, Any]) -> None:
    records = company["rippling"]["worker_payroll_records"]
    assert len(records) > 4000
    for record in records:
        assert_record_adds_up(record)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    workers=st.integers(5, 60),
    entities=st.integers(1, 3),
    periods=st.integers(1, 4),
)
def test_money_identities_hold_for_any_seed_and_size(
    seed: int, workers: int, entities: int, periods: int
) -> None:
    company = generate_company(
        workers=workers, legal_entities=entities, pay_periods=periods, seed=seed
    )
    for record in company["rippling"]["worker_payroll_records"]:
        assert_record_adds_up(record)


def test_runs_cover_states_types_and_every_entity(company: dict[str, Any]) -> None:
    r = company["rippling"]
    runs = r["payroll_runs"]
    kinds = Counter((run["run_type"], run["run_state"]) for run in runs)
    assert kinds[("REGULAR", "APPROVED")] == 1
    assert kinds[("OFF_CYCLE", "PAID")] == 1
    assert kinds[("REGULAR", "PAID")] == 13 * 3 - 1
    approved = next(run for run in runs if run["run_state"] == "APPROVED")
    assert approved["paid_at"] is None and approved["approved_at"]
    latest_end = max(run["pay_period"]["end_date"] for run in runs)
    assert approved["pay_period"]["end_date"] == latest_end <= "2026-11-20"
    company_entities = {e["id"] for e in r["company_legal_entities"]}
    legal_entities = {e["id"] for e in r["legal_entities"]}
    assert not company_entities & legal_entities
    assert {run["company_entity_id"] for run in runs} == company_entities
    for run in runs:
        assert run["pay_period"]["pay_frequency"] == "BI_WEEKLY"
        assert run["country_code"] in {"US", "GB", "DE"}
    run_ids = {run["id"] for run in runs}
    assert {rec["run_id"] for rec in r["worker_payroll_records"]} <= run_ids
    bonus = next(run for run in runs if run["run_type"] == "OFF_CYCLE")
    bonus_records = [x for x in r["worker_payroll_records"] if x["run_id"] == bonus["id"]]
    assert bonus_records
    assert all(e["earning_category"] == "BONUS" for x in bonus_records for e in x["earnings"])


def test_one_record_per_worker_per_run_with_country_codes(company: dict[str, Any]) -> None:
    r = company["rippling"]
    pairs = Counter((x["run_id"], x["worker_id"]) for x in r["worker_payroll_records"])
    assert max(pairs.values()) == 1
    taxes = {
        x["country_code"]: {t["tax_code"] for t in x["taxes"]}
        for x in r["worker_payroll_records"]
        if x["taxes"]
    }
    assert {"FED_WH", "SS_EE", "SS_ER"} <= taxes["US"]
    assert {"PAYE", "NI_EE", "NI_ER"} <= taxes["GB"]
    assert {"LOHNSTEUER", "RV_AN", "RV_AG"} <= taxes["DE"]
    currencies = {x["country_code"]: x["currency"] for x in r["worker_payroll_records"]}
    assert currencies == {"US": "USD", "GB": "GBP", "DE": "EUR"}
    categories = {e["earning_category"] for x in r["worker_payroll_records"] for e in x["earnings"]}
    assert {
        "SALARY",
        "HOURLY",
        "OVERTIME",
        "BONUS",
        "COMMISSION",
        "PTO",
        "CONTRACTOR_PAYMENT",
    } <= categories
    assert any(x["garnishments"] for x in r["worker_payroll_records"])


def test_contractors_are_paid_without_taxes_or_deductions(company: dict[str, Any]) -> None:
    r = company["rippling"]
    contractor_type = next(t["id"] for t in r["employment_types"] if t["type"] == "CONTRACTOR")
    contractors = {w["id"] for w in r["workers"] if w["employment_type_id"] == contractor_type}
    assert contractors
    paid = [x for x in r["worker_payroll_records"] if x["worker_id"] in contractors]
    assert paid
    for record in paid:
        assert not record["taxes"] and not record["deductions"] and not record["garnishments"]
        assert {e["earning_category"] for e in record["earnings"]} == {"CONTRACTOR_PAYMENT"}
        assert record["net_pay"] == record["gross_pay"]
    hourly = {
        t["id"]
        for t in r["employment_types"]
        if t["type"] == "EMPLOYEE" and t["compensation_time_period"] == "HOURLY"
    }
    assert hourly and any(w["employment_type_id"] in hourly for w in r["workers"])


def test_hires_terminations_and_a_rehire(company: dict[str, Any]) -> None:
    r, d = company["rippling"], company["dynamics"]
    as_of = company["meta"]["as_of"]
    window = company["meta"]["payroll_window"]["start_date"]
    terminated = [w for w in r["workers"] if w["status"] == "TERMINATED"]
    assert terminated
    for w in terminated:
        assert w["end_date"] and w["termination_details"]["type"]
    assert any(window <= w["start_date"] <= as_of for w in r["workers"])
    events = Counter(e["event_type"] for e in r["company_activity"])
    assert events["EMPLOYEE_HIRED"] and events["EMPLOYEE_TERMINATED"] and events["EMPLOYEE_UPDATED"]
    rehired_ids = {
        e["subjects"][0]["instance"]
        for e in r["company_activity"]
        if e["event_type"] == "EMPLOYEE_REHIRED"
    }
    assert rehired_ids
    rehired = next(w for w in r["workers"] if w["id"] in rehired_ids)
    assert rehired["status"] == "ACTIVE" and rehired["end_date"] is None
    assert rehired["start_date"] > company["meta"]["connector_start_date"]
    number = f"RP-{rehired['number']}"
    employments = [e for e in d["EmploymentsV2"] if e["PersonnelNumber"] == number]
    assert len(employments) == 1
    assert employments[0]["EmploymentEndDate"][:10] < rehired["start_date"]
    limit = f"{as_of}T17:00:00+00:00"
    for kind in ("workers", "users", "compensations", "job_assignments"):
        for record in r[kind]:
            assert record["created_at"] <= record["updated_at"] <= limit, record["id"]
    assert all(e["timestamp"] <= limit for e in r["company_activity"])


def test_users_compensation_and_assignments_are_linked(company: dict[str, Any]) -> None:
    r = company["rippling"]
    users = {u["id"]: u for u in r["users"]}
    comps = {c["id"]: c for c in r["compensations"]}
    for w in r["workers"]:
        user = users[w["user_id"]]
        assert user["emails"][0]["value"] == w["work_email"]
        comp = comps[w["compensation_id"]]
        assert comp["worker_id"] == w["id"]
        assert set(comp["annual_compensation"]) == {"currency_type", "value"}
    assert len({w["work_email"] for w in r["workers"]}) == len(r["workers"])
    worker_ids = {w["id"] for w in r["workers"]}
    assert r["job_assignments"]
    assert all(a["worker_id"] in worker_ids for a in r["job_assignments"])
    assert all(j["external_id"].startswith("CC-") for j in r["job_codes"])


def test_dynamics_dimensions_cover_rippling(company: dict[str, Any]) -> None:
    r, d = company["rippling"], company["dynamics"]
    values = {
        (v["FinancialDimension"], v["DimensionValue"]): v for v in d["FinancialDimensionValues"]
    }
    for dept in r["departments"]:
        assert values[("Department", dept["reference_code"])]["IsSuspended"] == "No"
    for code in r["job_codes"]:
        assert ("CostCenter", cost_center_value(code["external_id"])) in values
    assert {v for (dim, v) in values if dim == "BusinessUnit"} == {"001", "002", "003"}
    suspended = [v for v in d["FinancialDimensionValues"] if v["IsSuspended"] == "Yes"]
    used = {dept["reference_code"] for dept in r["departments"]}
    assert suspended and all(v["DimensionValue"] not in used for v in suspended)
    active = [
        f
        for f in d["DimensionIntegrationFormats"]
        if f["IsActive"] == "Yes" and f["DimensionFormatType"] == "DataEntityLedgerDimensionFormat"
    ]
    assert [f["FinancialDimensionFormat"] for f in active] == [
        "MainAccount-BusinessUnit-Department-CostCenter"
    ]
    accounts = {a["MainAccountId"]: a for a in d["MainAccounts"]}
    assert {"600100", "600200", "600300", "220100", "220400"} <= set(accounts)
    assert any(a["IsSuspended"] == "Yes" for a in accounts.values())
    assert {j["dataAreaId"] for j in d["JournalNames"]} == {"usmf", "gbsi", "demf"}
    assert {le["LegalEntityId"] for le in d["LegalEntities"]} == {"USMF", "GBSI", "DEMF"}


def test_dynamics_workers_mirror_staff_hired_before_connector_start(
    company: dict[str, Any],
) -> None:
    r, d = company["rippling"], company["dynamics"]
    start = company["meta"]["connector_start_date"]
    numbers = {w["PersonnelNumber"] for w in d["Workers"]}
    early = {
        f"RP-{w['number']}"
        for w in r["workers"]
        if w["created_at"][:10] < start and w["start_date"] < start
    }
    assert early <= numbers
    late = {f"RP-{w['number']}" for w in r["workers"] if w["created_at"][:10] >= start}
    assert late and not late & numbers
    assert {e["PersonnelNumber"] for e in d["EmploymentsV2"]} == numbers
    assert d["VendorsV2"] and all(v["VendorGroupId"] == "CONTRACT" for v in d["VendorsV2"])


def test_dynamics_rows_use_only_names_and_enum_members_from_metadata(
    company: dict[str, Any],
) -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    enums = schema["enums"]
    for entity, rows in company["dynamics"].items():
        props = {p["name"]: p for p in schema["entities"][entity]["properties"]}
        for row in rows:
            assert set(row) <= set(props), (entity, set(row) - set(props))
            for key, value in row.items():
                enum = props[key]["type"].rsplit(".", 1)[-1]
                if enum in enums:
                    assert value in enums[enum], (entity, key, value)


def test_small_company(tmp_path: Path) -> None:
    small = generate_company(workers=10, legal_entities=1, pay_periods=2)
    r = small["rippling"]
    assert len(r["workers"]) == 10 and len(r["legal_entities"]) == 1
    assert {run["country_code"] for run in r["payroll_runs"]} == {"US"}
    assert any(run["run_state"] == "APPROVED" for run in r["payroll_runs"])
    assert r["worker_payroll_records"]
    for record in r["worker_payroll_records"]:
        assert_record_adds_up(record)
    assert {le["LegalEntityId"] for le in small["dynamics"]["LegalEntities"]} == {"USMF"}


def test_generation_scales_linearly_enough() -> None:
    started = dt.datetime.now()
    big = generate_company(workers=5000, pay_periods=2)
    assert (dt.datetime.now() - started).total_seconds() < 15
    assert len(big["rippling"]["workers"]) == 5000


def test_save_and_load_round_trip(tmp_path: Path, company: dict[str, Any]) -> None:
    path = tmp_path / "company.json"
    save_company(company, path)
    loaded = load_company(path)
    assert loaded == company
    assert company_fingerprint(loaded) == company_fingerprint(company)


def _broken(tmp_path: Path, mutate: Any) -> str:
    company = generate_company(workers=12, legal_entities=1, pay_periods=1)
    mutate(company)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(company))
    with pytest.raises(CompanyFormatError) as info:
        load_company(path)
    return str(info.value)


def test_load_errors_name_the_record_and_field(tmp_path: Path) -> None:
    def bad_status(c: dict[str, Any]) -> None:
        c["rippling"]["workers"][3]["status"] = "ON_LEAVE"

    message = _broken(tmp_path, bad_status)
    assert "rippling.workers[3]" in message and "'status'" in message

    def bad_money(c: dict[str, Any]) -> None:
        c["rippling"]["worker_payroll_records"][0]["deductions"] = [
            {"deduction_code": "X", "employee_amount": "1.5", "employer_amount": "0.00"}
        ]

    message = _broken(tmp_path, bad_money)
    assert "rippling.worker_payroll_records[0]" in message
    assert "deductions[0].employee_amount" in message

    def bad_format(c: dict[str, Any]) -> None:
        c["format"] = "something-else/2"

    assert "'format'" in _broken(tmp_path, bad_format)

    def missing_key(c: dict[str, Any]) -> None:
        del c["dynamics"]["MainAccounts"][0]["MainAccountId"]

    assert "dynamics.MainAccounts[0]: field 'MainAccountId'" in _broken(tmp_path, missing_key)


# --- more legal entities than the catalog ---------------------------------------------------
# sha256 of the canonical JSON (``company_fingerprint``) of companies generated by the code
# BEFORE legal entities could cycle past the catalog's three (computed on that code, not on
# today's): the default company, the small company of tests/conftest.py and a one-entity one.
# Any change to what a company of 1-3 entities looks like fails here.
PRE_CHANGE_DIGESTS = {
    "default": "2eca6c7a9870f83b58cf0a01d83556bd263bb1c1825b4c5d9a5b7d0c3db90f16",
    "conftest small": "e027acb3ab3a8d847b8f2dcce81bdd7ba6c849ca239ed6deab301f54fec653a6",
    "one entity": "aa163c4782ad3491a9c52fccc3b61af84db5e294c2ac395d5fc0d3e271c64639",
}
PARAMETERS: dict[str, dict[str, int]] = {
    "conftest small": {"workers": 40, "legal_entities": 3, "departments": 5, "pay_periods": 4},
    "one entity": {"workers": 10, "legal_entities": 1, "pay_periods": 2},
}
CURRENCY = {"US": "USD", "GB": "GBP", "DE": "EUR"}


@pytest.fixture(scope="module")
def twelve() -> dict[str, Any]:
    return generate_company(workers=60, legal_entities=12, pay_periods=2)


# Issue 15 added time data (its own kinds, drawn from its own random stream), the scopes of
# its three endpoints and the accrued payroll main account (220500, month-end accrual);
# everything else must be exactly as before, so the digests are taken of the company without
# them.
TIME_KINDS = ("worker_time_splits", "time_cards", "time_entries")
TIME_SCOPES = ("worker-time-splits.read", "time-entries.read", "time-cards.read")


def _before_time_data(company: dict[str, Any]) -> dict[str, Any]:
    copy = json.loads(json.dumps(company))
    rippling = copy["rippling"]
    for kind in TIME_KINDS:
        del rippling[kind]
    credentials = rippling["credentials"]
    for holder in (*credentials["api_tokens"], *credentials["oauth_clients"]):
        holder["scopes"] = [s for s in holder["scopes"] if s not in TIME_SCOPES]
    dynamics = copy["dynamics"]
    for table, rows in dynamics.items():
        if isinstance(rows, list):
            dynamics[table] = [
                row
                for row in rows
                if not (isinstance(row, dict) and row.get("MainAccountId") == "220500")
            ]
    return copy


def test_the_default_company_is_unchanged(company: dict[str, Any]) -> None:
    assert company_fingerprint(_before_time_data(company)) == PRE_CHANGE_DIGESTS["default"]


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_small_companies_of_up_to_three_entities_are_unchanged(name: str) -> None:
    company = _before_time_data(generate_company(**PARAMETERS[name]))
    assert company_fingerprint(company) == PRE_CHANGE_DIGESTS[name]


@pytest.mark.parametrize("count", [1, 3, 12])
def test_each_legal_entity_is_a_company_with_every_per_company_row(count: int) -> None:
    company = generate_company(workers=60, legal_entities=count, pay_periods=2)
    r, d = company["rippling"], company["dynamics"]
    assert len(r["legal_entities"]) == len(r["company_legal_entities"]) == count
    countries = [le["country"]["code"] for le in r["legal_entities"]]
    assert countries == (["US", "GB", "DE"] * 4)[:count]  # cycling over the catalog's three
    companies = [le["LegalEntityId"] for le in d["LegalEntities"]]
    assert len(set(companies)) == count
    assert companies[:3] == ["USMF", "GBSI", "DEMF"][:count]
    assert all(re.fullmatch(r"[A-Z0-9]{4}", c) for c in companies)  # F&O: at most 4 chars
    names = [le["Name"] for le in d["LegalEntities"]]
    assert len(set(names)) == count
    assert names == [le["legal_name"] for le in r["legal_entities"]]
    assert [ce["legal_name"] for ce in r["company_legal_entities"]] == names
    assert len({le["tax_identifier"] for le in r["legal_entities"]}) == count
    assert [le["tax_identifier"] for le in r["legal_entities"]] == [
        ce["tax_identifier"] for ce in r["company_legal_entities"]
    ]
    ledgers = {row["LegalEntityId"]: row for row in d["Ledgers"]}
    assert set(ledgers) == set(companies) and len(d["Ledgers"]) == count
    for company_id, country, name in zip(companies, countries, names, strict=True):
        assert ledgers[company_id]["AccountingCurrency"] == CURRENCY[country]
        assert ledgers[company_id]["Name"] == name
    units = {
        row["Description"]: row["DimensionValue"]
        for row in d["FinancialDimensionValues"]
        if row["FinancialDimension"] == "BusinessUnit"
    }
    assert set(units) == set(names) and len(set(units.values())) == count
    journals = Counter(row["dataAreaId"] for row in d["JournalNames"] if row["Name"] == "PAYROLL")
    assert journals == Counter(c.lower() for c in companies)
    staffed = Counter(w["legal_entity_id"] for w in r["workers"])
    assert set(staffed) == {le["id"] for le in r["legal_entities"]}
    employed_in = {e["LegalEntityId"] for e in d["EmploymentsV2"]}
    assert employed_in <= set(companies)


def test_twelve_entities_pay_every_company_in_its_own_currency(twelve: dict[str, Any]) -> None:
    r = twelve["rippling"]
    entity = {ce["id"]: ce for ce in r["company_legal_entities"]}
    runs = {run["id"]: run for run in r["payroll_runs"]}
    assert {run["company_entity_id"] for run in runs.values()} == set(entity)
    paid: Counter[str] = Counter()
    worker_entity = {w["id"]: w["legal_entity_id"] for w in r["workers"]}
    legal_by_name = {le["legal_name"]: le["id"] for le in r["legal_entities"]}
    for record in r["worker_payroll_records"]:
        owner = entity[runs[record["run_id"]]["company_entity_id"]]
        paid[owner["id"]] += 1
        assert record["currency"] == CURRENCY[owner["country_code"]]
        assert record["country_code"] == owner["country_code"]
        # The worker belongs to the legal entity of the same legal name as the run's entity.
        assert worker_entity[record["worker_id"]] == legal_by_name[owner["legal_name"]]
        assert_record_adds_up(record)
    assert set(paid) == set(entity)  # every one of the twelve companies has records


def test_sandbox_mapping_of_twelve_entities(twelve: dict[str, Any]) -> None:
    mapping = sandbox_mapping(twelve)
    entities = mapping["legal_entities"]
    assert len(entities) == 12
    assert len({e["company"] for e in entities}) == 12
    assert len({e["dimensions"]["BusinessUnit"] for e in entities}) == 12
    r = twelve["rippling"]
    assert sorted(i for e in entities for i in e["rippling_legal_entity_ids"]) == sorted(
        le["id"] for le in r["legal_entities"]
    )
    assert sorted(i for e in entities for i in e["rippling_company_entity_ids"]) == sorted(
        ce["id"] for ce in r["company_legal_entities"]
    )
    for e, le in zip(entities, r["legal_entities"], strict=True):
        assert e["rippling_legal_entity_ids"] == [le["id"]]
        assert e["currency"] == CURRENCY[le["country"]["code"]]


def test_legal_entities_outside_the_supported_range_are_refused() -> None:
    for count in (0, MAX_LEGAL_ENTITIES + 1):
        with pytest.raises(ValueError, match="legal_entities"):
            generate_company(workers=20, legal_entities=count, pay_periods=1)
    most = generate_company(workers=120, legal_entities=MAX_LEGAL_ENTITIES, pay_periods=1)
    ids = [le["LegalEntityId"] for le in most["dynamics"]["LegalEntities"]]
    assert len(set(ids)) == MAX_LEGAL_ENTITIES and all(len(i) <= 4 for i in ids)
    assert len({le["tax_identifier"] for le in most["rippling"]["legal_entities"]}) == len(ids)


# --- the Rippling stand-in pages a twelve-entity company as it was generated ----------------
@pytest.fixture
def twelve_client(tmp_path: Path, twelve: dict[str, Any]) -> Iterator[httpx.Client]:
    service = RipplingService(tmp_path, twelve, base_url="https://127.0.0.1:8441")
    token = next(
        t["token"] for t in twelve["rippling"]["credentials"]["api_tokens"] if t["label"] == "full"
    )
    with TestClient(service.app, base_url=service.base_url) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client
    service.close()


def _pages(client: httpx.Client, url: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.text
        body = response.json(parse_float=Decimal)
        out.extend(body["results"])
        url = body["next_link"]
    return out


def _wire_money(compensation: dict[str, Any]) -> dict[str, Any]:
    """A stored compensation as the wire shows it: money values as numbers."""
    return {
        k: {**v, "value": Decimal(v["value"])} if isinstance(v, dict) and "value" in v else v
        for k, v in compensation.items()
    }


def test_pages_hold_every_record_in_order_with_its_expansions(
    twelve: dict[str, Any], twelve_client: httpx.Client
) -> None:
    r = twelve["rippling"]
    by_id = {
        kind: {x["id"]: x for x in r[kind]}
        for kind in ("users", "legal_entities", "departments", "levels", "workers")
    }
    compensations = {c["id"]: _wire_money(c) for c in r["compensations"]}
    workers = _pages(
        twelve_client,
        "/workers/?limit=7&expand=user,legal_entity,department,compensation,manager.level",
    )
    assert [w["id"] for w in workers] == [w["id"] for w in r["workers"]]
    for got, stored in zip(workers, r["workers"], strict=True):
        expanded = {"user", "legal_entity", "department", "compensation", "manager"}
        assert {k: v for k, v in got.items() if k not in expanded} == stored
        assert got["user"] == by_id["users"][stored["user_id"]]
        assert got["legal_entity"] == by_id["legal_entities"][stored["legal_entity_id"]]
        assert got["department"] == by_id["departments"][stored["department_id"]]
        assert got["compensation"] == compensations[stored["compensation_id"]]
        if stored["manager_id"] is None:
            assert got["manager"] is None
        else:
            manager = by_id["workers"][stored["manager_id"]]
            assert got["manager"] == {**manager, "level": by_id["levels"][manager["level_id"]]}
    assignments = _pages(twelve_client, "/job-assignments/?limit=9")
    assert [a["id"] for a in assignments] == [a["id"] for a in r["job_assignments"]]
    assert assignments == r["job_assignments"]
    runs = _pages(twelve_client, "/payroll-runs/?limit=5&order_by=check_date")
    assert sorted(run["id"] for run in runs) == sorted(run["id"] for run in r["payroll_runs"])
    for run in runs:
        stored = [x["id"] for x in r["worker_payroll_records"] if x["run_id"] == run["id"]]
        got = _pages(twelve_client, f"/payroll-runs/{run['id']}/worker-payroll-records/?limit=4")
        assert [x["id"] for x in got] == stored
