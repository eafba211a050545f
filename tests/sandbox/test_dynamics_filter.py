"""$filter, $select, $orderby, paging and keyed URLs of the F&O stand-in."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

with warnings.catch_warnings():  # starlette warns about httpx at import; harmless here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from ml_connector_sandbox.dynamics import DynamicsService
from ml_connector_sandbox.dynamics.errors import ODataError
from ml_connector_sandbox.dynamics.odata_filter import (
    Comparison,
    Literal,
    Logical,
    Not,
    PropertyRef,
    parse_filter,
    quote,
    tokenize,
    unquote,
)
from ml_connector_sandbox.dynamics.sample import sample_company

ENV = "https://127.0.0.1:8443"


@pytest.fixture
def fo_client(tmp_path: Path) -> Iterator[httpx.Client]:
    service = DynamicsService(
        tmp_path, sample_company(), ENV, lambda t: t == "good-token", page_size=5
    )
    with TestClient(
        service.app, base_url=ENV, headers={"Authorization": "Bearer good-token"}
    ) as client:
        yield client


def values(resp: httpx.Response) -> list[dict]:
    assert resp.status_code == 200, resp.text
    return resp.json()["value"]


def inner(resp: httpx.Response) -> str:
    body = resp.json()
    assert body["error"]["message"] == "An error has occurred."
    return body["error"]["innererror"]["message"]


# --- parser ----------------------------------------------------------------------------------


def test_each_comparison_operator_parses() -> None:
    for op in ("eq", "ne", "gt", "ge", "lt", "le"):
        expected = Comparison(op, PropertyRef("Key"), Literal("number", 3))
        assert parse_filter(f"Key {op} 3") == expected


def test_and_binds_tighter_than_or_and_parentheses_override() -> None:
    a, b, c = (Comparison("eq", PropertyRef(n), Literal("number", 1)) for n in "ABC")
    assert parse_filter("A eq 1 or B eq 1 and C eq 1") == Logical("or", a, Logical("and", b, c))
    assert parse_filter("(A eq 1 or B eq 1) and C eq 1") == Logical("and", Logical("or", a, b), c)
    assert parse_filter("not (A eq 1)") == Not(a)


def test_literals_string_escape_enum_datetime_bool_null() -> None:
    assert parse_filter("N eq 'O''Brien'").right == Literal("string", "O'Brien")
    enum = parse_filter("IsPosted eq Microsoft.Dynamics.DataEntities.NoYes'Yes'").right
    assert enum == Literal("enum", "Yes", "Microsoft.Dynamics.DataEntities.NoYes")
    assert parse_filter("D ge 2026-11-15T00:00:00Z").right == Literal(
        "datetime", "2026-11-15T00:00:00Z"
    )
    assert parse_filter("D ge 2026-11-15T01:00:00+01:00").right.value == "2026-11-15T00:00:00Z"
    assert parse_filter("B eq true").right == Literal("boolean", True)
    assert parse_filter("B eq null").right == Literal("null", None)
    assert parse_filter("X eq 1.50").right.kind == "number"


@pytest.mark.parametrize(
    "text",
    [
        "Name in ('a','b')",
        "IsPosted has Microsoft.Dynamics.DataEntities.NoYes'Yes'",
        "contains(Name,'a')",
        "startswith(Name,'a')",
        "Amount add 1 eq 2",
        "Lines/any(l: l/Amount gt 0)",
        "Name eq",
        "(Name eq 'a'",
        "Name eq 'a' Name",
    ],
)
def test_unsupported_or_malformed_filters_are_refused(text: str) -> None:
    with pytest.raises(ODataError) as err:
        parse_filter(text)
    assert err.value.status == 400


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_string_literal_quoting_round_trips(value: str) -> None:
    literal = quote(value)
    tokens = tokenize(f"Name eq {literal}")
    assert [t.kind for t in tokens] == ["ident", "ident", "string"]
    assert unquote(tokens[2].text) == value
    assert parse_filter(f"Name eq {literal}").right == Literal("string", value)


# --- evaluation over HTTP ---------------------------------------------------------------------


def names(rows: list[dict], field: str = "PersonnelNumber") -> list[str]:
    return [r[field] for r in rows]


def test_filter_operators_select_the_right_rows(fo_client: httpx.Client) -> None:
    def pn(f: str) -> list[str]:
        return names(values(fo_client.get("/data/Workers", params={"$filter": f})))

    assert pn("PersonnelNumber eq 'RP-000123'") == ["RP-000123"]
    assert pn("PersonnelNumber eq 'rp-000123'") == ["RP-000123"]  # SQL Server collation
    assert pn("PersonnelNumber ne 'RP-000123'") == ["RP-000200", "RP-O'BRIEN"]
    assert pn("PersonnelNumber gt 'RP-000123'") == ["RP-000200", "RP-O'BRIEN"]
    assert pn("PersonnelNumber ge 'RP-000200'") == ["RP-000200", "RP-O'BRIEN"]
    assert pn("PersonnelNumber lt 'RP-000200'") == ["RP-000123"]
    assert pn("PersonnelNumber le 'RP-000200'") == ["RP-000123", "RP-000200"]
    assert pn("LastName eq 'O''Brien'") == ["RP-O'BRIEN"]
    assert pn("FirstName eq 'Ada' or FirstName eq 'Bob' and LastName eq 'Nope'") == ["RP-000123"]
    assert pn("(FirstName eq 'Ada' or FirstName eq 'Bob') and LastName eq 'Stone'") == ["RP-000200"]
    assert pn("not (FirstName eq 'Ada')") == ["RP-000200", "RP-O'BRIEN"]
    assert pn("AllowRehire eq Microsoft.Dynamics.DataEntities.NoYes'No'") == ["RP-000200"]
    assert pn("Name eq '*o*'") == ["RP-000123", "RP-000200", "RP-O'BRIEN"]
    assert pn("Name eq 'Bob*'") == ["RP-000200"]
    assert pn("Name eq '*Lovelace'") == ["RP-000123"]
    assert pn("Name ne '*o*'") == []


def test_datetime_and_decimal_filters(fo_client: httpx.Client) -> None:
    rows = values(
        fo_client.get(
            "/data/EmploymentsV2", params={"$filter": "EmploymentEndDate lt 2154-12-31T23:59:59Z"}
        )
    )
    assert names(rows) == ["RP-000200"]
    rows = values(
        fo_client.get(
            "/data/EmploymentsV2", params={"$filter": "EmploymentStartDate ge 2020-01-01T00:00:00Z"}
        )
    )
    assert names(rows) == ["RP-000123"]
    rows = values(fo_client.get("/data/DimensionParameters", params={"$filter": "Key eq 0"}))
    assert rows == [{"Key": 0, "DimensionSegmentDelimiter": "Hyphen"}]


@pytest.mark.parametrize(
    ("flt", "needle"),
    [
        ("AllowRehire eq 'No'", "incompatible types"),
        ("BirthDate eq '2020-01-01'", "incompatible types"),
        ("Nope eq 'x'", "Could not find a property named 'Nope'"),
        ("AllowRehire eq Microsoft.Dynamics.DataEntities.NoYes'Maybe'", "not a valid enumerated"),
        ("PersonnelNumber eq 5", "incompatible types"),
        ("contains(Name,'a')", "function 'contains' is not supported"),
        ("PersonnelNumber in ('RP-000123')", "operator 'in' is not supported"),
        ("not FirstName eq 'Ada'", "incompatible"),
    ],
)
def test_bad_filters_are_400_with_odata_error(
    fo_client: httpx.Client, flt: str, needle: str
) -> None:
    resp = fo_client.get("/data/Workers", params={"$filter": flt})
    assert resp.status_code == 400
    assert needle in inner(resp)


def test_select_top_skip_orderby_count(fo_client: httpx.Client) -> None:
    resp = fo_client.get(
        "/data/Workers",
        params={
            "$select": "PersonnelNumber,LastName",
            "$orderby": "LastName desc",
            "$top": "2",
            "$skip": "0",
            "$count": "true",
        },
    )
    body = resp.json()
    assert body["@odata.context"] == f"{ENV}/data/$metadata#Workers(PersonnelNumber,LastName)"
    assert body["@odata.count"] == 3
    assert body["value"] == [
        {"PersonnelNumber": "RP-000200", "LastName": "Stone"},
        {"PersonnelNumber": "RP-O'BRIEN", "LastName": "O'Brien"},
    ]
    rows = values(
        fo_client.get(
            "/data/Workers",
            params={"$orderby": "LastName desc", "$skip": "2", "$select": "LastName"},
        )
    )
    assert rows == [{"LastName": "Lovelace"}]
    rows = values(
        fo_client.get(
            "/data/FinancialDimensionValues",
            params={
                "$orderby": "FinancialDimension asc,DimensionValue desc",
                "$select": "FinancialDimension,DimensionValue",
                "$top": "3",
            },
        )
    )
    assert [r["DimensionValue"] for r in rows] == ["002", "001", "200"]
    assert fo_client.get("/data/Workers/$count").text == "3"


@pytest.mark.parametrize(
    "params",
    [
        {"$select": "Nope"},
        {"$orderby": "Nope"},
        {"$top": "-1"},
        {"$expand": "X"},
        {"$orderby": "Name up"},
    ],
)
def test_bad_query_options_are_400(fo_client: httpx.Client, params: dict) -> None:
    assert fo_client.get("/data/Workers", params=params).status_code == 400


def test_unknown_entity_set_is_404(fo_client: httpx.Client) -> None:
    resp = fo_client.get("/data/CustomersV3")
    assert resp.status_code == 404
    assert "CustomersV3" in inner(resp)


def test_next_link_pages_through_everything(fo_client: httpx.Client) -> None:
    for i in range(12):
        resp = fo_client.post(
            "/data/Workers", json={"PersonnelNumber": f"RP-9{i:05d}", "LastName": f"Page{i}"}
        )
        assert resp.status_code == 201, resp.text
    url: str | None = "/data/Workers?$select=PersonnelNumber&$filter=LastName eq 'Page*'"
    seen: list[str] = []
    pages = 0
    while url:
        body = fo_client.get(url).json()
        assert len(body["value"]) <= 5
        seen += names(body["value"])
        url = body.get("@odata.nextLink")
        if url:
            assert url.startswith(f"{ENV}/data/Workers?")
        pages += 1
    assert pages == 3
    assert seen == [f"RP-9{i:05d}" for i in range(12)]
    # $top across pages: 7 rows, pages of 5 then 2
    body = fo_client.get(
        "/data/Workers", params={"$top": "7", "$filter": "LastName eq 'Page*'"}
    ).json()
    assert len(body["value"]) == 5
    rest = fo_client.get(body["@odata.nextLink"]).json()
    assert len(rest["value"]) == 2 and "@odata.nextLink" not in rest


def test_cross_company_visibility(fo_client: httpx.Client) -> None:
    default = values(fo_client.get("/data/VendorsV2", params={"$select": "VendorAccountNumber"}))
    assert names(default, "VendorAccountNumber") == ["V-1001", "V-O'NEIL"]
    everything = values(
        fo_client.get(
            "/data/VendorsV2",
            params={"cross-company": "true", "$select": "dataAreaId,VendorAccountNumber"},
        )
    )
    assert {r["dataAreaId"] for r in everything} == {"usmf", "demf"}
    only_demf = values(
        fo_client.get(
            "/data/VendorsV2", params={"cross-company": "true", "$filter": "dataAreaId eq 'DEMF'"}
        )
    )
    assert names(only_demf, "VendorAccountNumber") == ["V-2001"]
    hidden = fo_client.get("/data/VendorsV2(dataAreaId='demf',VendorAccountNumber='V-2001')")
    assert hidden.status_code == 404
    shown = fo_client.get(
        "/data/VendorsV2(dataAreaId='demf',VendorAccountNumber='V-2001')?cross-company=true"
    )
    assert shown.json()["VendorOrganizationName"] == "Beispiel GmbH"
    # Workers are not company-bound: all visible without cross-company.
    assert len(values(fo_client.get("/data/Workers"))) == 3


def test_keyed_urls_with_apostrophes_and_encoding(fo_client: httpx.Client) -> None:
    resp = fo_client.get("/data/VendorsV2(dataAreaId='usmf',VendorAccountNumber='V-O''NEIL')")
    assert resp.status_code == 200
    assert resp.json()["PersonLastName"] == "O'Neil"
    assert resp.json()["@odata.context"] == f"{ENV}/data/$metadata#VendorsV2/$entity"
    encoded = fo_client.get("/data/Workers('RP-O%27%27BRIEN')")
    assert encoded.json()["Name"] == "Aoife O'Brien"
    named = fo_client.get("/data/Workers(PersonnelNumber='RP-000123')?$select=Name")
    assert named.json() == {
        "@odata.context": f"{ENV}/data/$metadata#Workers(Name)/$entity",
        "Name": "Ada Lovelace",
    }
    missing = fo_client.get("/data/Workers('RP-404')")
    assert missing.status_code == 404 and "RP-404" in inner(missing)
    partial = fo_client.get("/data/VendorsV2(VendorAccountNumber='V-1001')")
    assert partial.status_code == 400


def test_service_document_and_metadata(fo_client: httpx.Client) -> None:
    doc = fo_client.get("/data/").json()
    assert {"name": "LedgerJournalLines", "kind": "EntitySet", "url": "LedgerJournalLines"} in doc[
        "value"
    ]
    xml = fo_client.get("/data/$metadata")
    assert xml.status_code == 200
    assert '<EntitySet Name="EmploymentsV2"' in xml.text
    assert '<Property Name="JournalBatchNumber" Type="Edm.String" Nullable="false"/>' in xml.text
