"""The client's pydantic models read what Rippling's published v2 spec says it sends.

For every endpoint ``RipplingClient`` reads, the spec's 200 response schema (``$ref``/``allOf``
resolved; a list answer is the ``results``/``next_link``/``__meta`` envelope) is turned into
JSON bodies that are served to the real client over a mock transport, so each body goes
through the same JSON parsing (numbers as ``Decimal``), envelope handling and model the
product uses:

1. the spec's own examples, assembled into a body (required gaps filled), are read back;
2. a required-only body, an every-property body with required-only objects below, and an
   every-property body at every level are read back, value for value; every member of every
   enum the spec allows is read (``test_every_enum_member_is_read``);
3. every field the models declare (aliases included) is a property of the spec's schema at the
   same place (``test_model_field_is_in_the_spec``).

"Read back" means every value of the body is found on the parsed record, equal to what was
sent: money as ``Decimal`` (never float), timestamps as aware datetimes, dates as dates, enums
as their values; fields the model does not declare are kept (``extra="allow"``).

The spec lives in the shared reference beside the repository; the module skips when it is not
mounted. Where a model disagrees with the spec, the case is left out (not skipped) and named in
``SPEC_MISMATCHES`` below.
"""

import datetime as dt
import inspect
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any, Union, get_args, get_origin

import httpx
import pytest
import yaml
from pydantic import BaseModel, SecretStr
from rippling.spec_support import (
    MISSING,
    SPEC_PATH,
    ExampleAssembler,
    Spec,
    Synthesizer,
    dig,
    is_date_name,
    is_timestamp_name,
    schema_examples,
    to_json,
    walk_pairs,
    with_value,
)

from ml_connector_dagster.credentials.models import RipplingCredentials
from ml_connector_dagster.rippling import models
from ml_connector_dagster.rippling.client import WORKER_EXPANDS, RipplingClient

BASE_URL = "https://rippling.contract.test"


@dataclass(frozen=True)
class Endpoint:
    """A GET the client issues, the model it parses with, and the client call that reads it."""

    template: str
    model: type[models.RipplingModel]
    read: Callable[[RipplingClient], list[Any]]
    single: bool = False  # one object (``allOf: [MetaResponse, X]``), not a list envelope
    redaction: bool = True  # the client marks the record with ``__meta.redacted_fields``


ENDPOINTS = [
    Endpoint("/workers/", models.Worker, lambda c: list(c.workers())),
    Endpoint("/workers/{id}/", models.Worker, lambda c: [c.worker("wrk_1")], single=True),
    Endpoint("/departments/", models.Department, lambda c: list(c.departments())),
    Endpoint("/legal-entities/", models.LegalEntity, lambda c: list(c.legal_entities())),
    Endpoint(
        "/company-legal-entities/",
        models.CompanyLegalEntity,
        lambda c: list(c.company_legal_entities()),
    ),
    Endpoint("/employment-types/", models.EmploymentType, lambda c: list(c.employment_types())),
    Endpoint("/job-dimensions/", models.JobDimension, lambda c: list(c.job_dimensions())),
    Endpoint("/job-codes/", models.JobCode, lambda c: list(c.job_codes())),
    Endpoint("/job-assignments/", models.JobAssignment, lambda c: list(c.job_assignments())),
    Endpoint("/compensations/", models.Compensation, lambda c: list(c.compensations())),
    Endpoint("/payroll-runs/", models.PayrollRun, lambda c: list(c.payroll_runs())),
    Endpoint(
        "/payroll-runs/{id}/",
        models.PayrollRun,
        lambda c: [c.payroll_run("run_1")],
        single=True,
        redaction=False,  # payroll_run() drops __meta without marking the record
    ),
    Endpoint(
        "/payroll-runs/{run_id}/worker-payroll-records/",
        models.WorkerPayrollRecord,
        lambda c: list(c.worker_payroll_records("run_1")),
    ),
    Endpoint("/entitlements/", models.Entitlement, lambda c: list(c.entitlements())),
    Endpoint(
        "/worker-time-splits/", models.WorkerTimeSplit, lambda c: list(c.worker_time_splits())
    ),
    Endpoint("/time-entries/", models.TimeEntry, lambda c: list(c.time_entries())),
]
BY_TEMPLATE = {e.template: e for e in ENDPOINTS}

# Where the model and the spec disagree, the case below is left out of the tests (it would
# fail) and reported. Keyed by (test, endpoint template[, field path]); the value is what the
# spec says.
_PAYROLL_RUN_REQUIRES = (
    "PayrollRun schema has no `required`; the model requires `id` (Record) and PayPeriod "
    "requires `start_date` and `end_date` (PayrollRunPayPeriod has no `required`)"
)
_WPR_REQUIRES = (
    "WorkerPayrollRecord and its line items have no `required`; the model requires `id`, "
    "`run_id`, `worker_id`, `currency`, `gross_pay`, `net_pay`, and `amount` of Earning, Tax "
    "and Garnishment"
)
_NOT_IN_PAYROLL_RUN = "PayrollRun schema has no such property (inherited from models.Record)"
SPEC_MISMATCHES: dict[tuple[str, ...], str] = {
    ("minimal", "/payroll-runs/"): _PAYROLL_RUN_REQUIRES,
    ("minimal", "/payroll-runs/{id}/"): _PAYROLL_RUN_REQUIRES,
    ("minimal", "/payroll-runs/{run_id}/worker-payroll-records/"): _WPR_REQUIRES,
    ("shallow", "/payroll-runs/"): _PAYROLL_RUN_REQUIRES,
    ("shallow", "/payroll-runs/{id}/"): _PAYROLL_RUN_REQUIRES,
    ("shallow", "/payroll-runs/{run_id}/worker-payroll-records/"): _WPR_REQUIRES,
    ("field", "/payroll-runs/", "created_at"): _NOT_IN_PAYROLL_RUN,
    ("field", "/payroll-runs/", "updated_at"): _NOT_IN_PAYROLL_RUN,
    ("field", "/payroll-runs/{id}/", "created_at"): _NOT_IN_PAYROLL_RUN,
    ("field", "/payroll-runs/{id}/", "updated_at"): _NOT_IN_PAYROLL_RUN,
}

# Model fields that are not Rippling fields, so not in the spec: ``redacted`` is set by the
# client from the page's ``__meta.redacted_fields``. (The expansions the client asks for,
# ``user``, ``legal_entity``, ``department``, ``employment_type``, ``compensation``, are
# properties of the spec's Worker schema, so they need no exception.)
NOT_RIPPLING_FIELDS = {"redacted": "set by the client from __meta.redacted_fields"}

# Endpoints whose 200 response carries no example at all in the spec (so test 1 has nothing
# to read there); asserted, so an example added to the spec is picked up.
NO_EXAMPLES = {"/payroll-runs/{run_id}/worker-payroll-records/"}
# Envelopes the spec gives no ``__meta`` (the only examples are RedactedField's, under __meta).
NO_META = {"/payroll-runs/{run_id}/worker-payroll-records/"}


# Endpoints whose record schema (nested ones included) has no enum: the spec types
# PayrollRun's and WorkerPayrollRecord's states and codes as free strings.
NO_ENUMS = {
    "/departments/",
    "/payroll-runs/",
    "/payroll-runs/{id}/",
    "/payroll-runs/{run_id}/worker-payroll-records/",
    "/entitlements/",
}


def _params(kind: str) -> list[Any]:
    return [
        pytest.param(e, id=e.template)
        for e in ENDPOINTS
        if (kind, e.template) not in SPEC_MISMATCHES
    ]


@pytest.fixture(scope="module")
def spec() -> Spec:
    if not SPEC_PATH.exists():
        pytest.skip("shared reference not mounted")
    return Spec(yaml.safe_load(SPEC_PATH.read_text()))


# --- the spec side ------------------------------------------------------------------------------
def response_schema(spec: Spec, endpoint: Endpoint) -> dict[str, Any]:
    return spec.response(endpoint.template)["schema"]


def record_schema(spec: Spec, endpoint: Endpoint) -> dict[str, Any]:
    """The record's schema: the envelope's ``results`` items, or the single object minus
    ``__meta`` (which ``allOf: [MetaResponse, X]`` merges in)."""
    schema = response_schema(spec, endpoint)
    if endpoint.single:
        parts = [p for p in schema["allOf"] if set(spec.resolve(p)["properties"]) != {"__meta"}]
        assert len(parts) == 1, endpoint.template
        return parts[0]
    flat = spec.resolve(schema)
    results = spec.resolve(flat["properties"]["results"])
    assert results.get("type") == "array", endpoint.template
    return results["items"]


def meta_schema(spec: Spec, endpoint: Endpoint) -> dict[str, Any] | None:
    return spec.resolve(response_schema(spec, endpoint)).get("properties", {}).get("__meta")


def body_for(spec: Spec, endpoint: Endpoint, mode: str) -> dict[str, Any]:
    """A whole 200 body. The envelope's ``next_link`` is left out (a last page) and, in the
    required-only body, ``__meta`` too: the spec requires neither."""
    synth = Synthesizer(spec)
    record = synth.build(record_schema(spec, endpoint), mode)
    meta = meta_schema(spec, endpoint)
    extra = {} if meta is None or mode == "minimal" else {"__meta": synth.build(meta, "maximal")}
    return {**record, **extra} if endpoint.single else {**extra, "results": [record]}


def records_of(endpoint: Endpoint, body: dict[str, Any]) -> list[dict[str, Any]]:
    if endpoint.single:
        return [{k: v for k, v in body.items() if k != "__meta"}]
    return body["results"]


# --- the client side ----------------------------------------------------------------------------
def serve(endpoint: Endpoint, body: dict[str, Any]) -> list[Any]:
    """What the client's own method returns when Rippling answers ``body`` (one page)."""
    pattern = endpoint.template.replace("{id}", "[^/]+").replace("{run_id}", "[^/]+")
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        content = to_json(body)
        return httpx.Response(200, content=content, headers={"content-type": "application/json"})

    creds = RipplingCredentials(base_url=BASE_URL, api_token=SecretStr("contract-test"))
    client = RipplingClient(creds, ssl_context=ssl.create_default_context())
    client._http = httpx.Client(transport=httpx.MockTransport(handler))
    try:
        records = endpoint.read(client)
    finally:
        client.close()

    assert len(paths) == 1 and re.fullmatch(pattern, paths[0]), (endpoint.template, paths)
    return records


def assert_same(value: Any, expected: Any, where: str) -> None:
    """One leaf of a body against what the model made of it."""
    leaf = where.rsplit(".", 1)[-1].split("[", 1)[0]
    if isinstance(value, Enum):
        value = value.value
    if expected is None or isinstance(expected, bool):
        assert value is expected, where
    elif isinstance(value, Decimal) or isinstance(expected, Decimal):
        assert isinstance(value, Decimal), f"{where}: read as {type(value).__name__}, not Decimal"
        assert value == Decimal(str(expected)), where
    elif isinstance(value, float):
        pytest.fail(f"{where}: read as a float")
    elif isinstance(value, dt.datetime):
        assert value.tzinfo is not None, f"{where}: naive datetime"
        assert value == dt.datetime.fromisoformat(expected), where
    elif isinstance(value, dt.date):
        assert value == dt.date.fromisoformat(expected), where
    else:
        assert type(value) is type(expected) and value == expected, (where, value, expected)
    if isinstance(expected, str) and is_timestamp_name(leaf):
        stamp = models.parse_timestamp(value if isinstance(value, str) else value.isoformat())
        assert stamp.tzinfo is not None, where
        assert stamp == dt.datetime.fromisoformat(expected), where
    if isinstance(expected, str) and is_date_name(leaf) and isinstance(value, str):
        dt.date.fromisoformat(value)  # the model keeps it as text; it is still a date


def assert_read(endpoint: Endpoint, records: list[Any], body: dict[str, Any]) -> None:
    raws = records_of(endpoint, body)
    assert len(records) == len(raws), endpoint.template
    for record, raw in zip(records, raws, strict=True):
        assert type(record) is endpoint.model, endpoint.template
        for path, value, expected in walk_pairs(record, raw):
            assert_same(value, expected, f"{endpoint.template} {path}")
        if isinstance(record, models.Record) and raw.get("updated_at"):
            assert record.updated == dt.datetime.fromisoformat(raw["updated_at"])
            assert record.updated.tzinfo is not None
        names = {r.get("name") for r in (body.get("__meta") or {}).get("redacted_fields") or []}
        if endpoint.redaction:
            assert record.redacted == tuple(sorted(n for n in names if n and n not in raw))


# --- 1. the spec's examples -----------------------------------------------------------------
@pytest.mark.parametrize("endpoint", _params("examples"))
def test_the_spec_examples_are_read(spec: Spec, endpoint: Endpoint) -> None:
    media = spec.response(endpoint.template)
    synth = Synthesizer(spec)
    assembler = ExampleAssembler(spec, synth)
    bodies = schema_examples(media)  # response-level examples, whole bodies
    assembled = assembler.assemble(media["schema"])
    if assembled is not MISSING:
        bodies.append(assembled)
    if not (schema_examples(media) or assembler.found):
        assert endpoint.template in NO_EXAMPLES, "the spec gives no example here: list it"
        return
    assert endpoint.template not in NO_EXAMPLES, "the spec gives an example now"
    for body in bodies:
        # The examples say nothing of the records' fields: every property is filled in (the
        # required-only record is test 2's), less the fields the example marks redacted.
        redacted = {r.get("name") for r in (body.get("__meta") or {}).get("redacted_fields") or []}
        full = synth.build(record_schema(spec, endpoint), "maximal")
        full = {k: v for k, v in full.items() if k not in redacted}
        if endpoint.single:
            body = {**full, **body}
        elif "results" not in body:
            record = assembler.assemble(record_schema(spec, endpoint))
            body = {**body, "results": [full if record is MISSING else {**full, **record}]}
        records = serve(endpoint, body)
        assert_read(endpoint, records, body)
        # the envelope's own examples: the redacted-field example parses as RedactedField
        for item in (body.get("__meta") or {}).get("redacted_fields") or []:
            parsed = models.RedactedField.model_validate(item)
            for path, value, expected in walk_pairs(parsed, item):
                assert_same(value, expected, f"{endpoint.template} __meta {path}")


# --- 2. synthesized bodies --------------------------------------------------------------------
@pytest.mark.parametrize("endpoint", _params("minimal"))
def test_a_required_only_body_is_read(spec: Spec, endpoint: Endpoint) -> None:
    body = body_for(spec, endpoint, "minimal")
    assert_read(endpoint, serve(endpoint, body), body)


@pytest.mark.parametrize("endpoint", _params("shallow"))
def test_every_property_with_required_only_objects_below_is_read(
    spec: Spec, endpoint: Endpoint
) -> None:
    body = body_for(spec, endpoint, "shallow")
    assert_read(endpoint, serve(endpoint, body), body)


@pytest.mark.parametrize("endpoint", _params("maximal"))
def test_every_property_at_every_level_is_read(spec: Spec, endpoint: Endpoint) -> None:
    body = body_for(spec, endpoint, "maximal")
    assert_read(endpoint, serve(endpoint, body), body)


@pytest.mark.parametrize("endpoint", _params("enums"))
def test_every_enum_member_is_read(spec: Spec, endpoint: Endpoint) -> None:
    """Each enum of the record (nested ones included) takes each of its members in turn."""
    synth = Synthesizer(spec)
    record = synth.build(record_schema(spec, endpoint), "maximal")
    sites = synth.enum_sites
    assert bool(sites) == (endpoint.template not in NO_ENUMS), "list it in NO_ENUMS, or not"
    checked = 0
    for path, members in sites:
        for member in members:
            raw = with_value(record, path, member)
            parsed = endpoint.model.model_validate(raw)
            where = f"{endpoint.template} {'.'.join(map(str, path))}={member!r}"
            assert_same(dig(parsed, path), member, where)
            checked += 1
    assert checked == sum(len(m) for _, m in sites)


# --- 3. every field the models declare is the spec's ------------------------------------------
def _nested_model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model a field holds (through Optional/Union) and whether it holds a list of them."""
    origin = get_origin(annotation)
    if origin in (list, tuple):
        inner, _ = _nested_model(get_args(annotation)[0])
        return inner, True
    if origin is Union or (origin is not None and type(None) in get_args(annotation)):
        for arg in get_args(annotation):
            inner, is_list = _nested_model(arg)
            if inner is not None:
                return inner, is_list
        return None, False
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    return None, False


def model_field_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every field a model declares, by the key Rippling sends (alias if any), nested models
    followed: ``user.name.given_name``, ``emails[].type``."""
    paths: list[str] = []
    for name, info in model.model_fields.items():
        if name in NOT_RIPPLING_FIELDS:
            continue
        key = info.alias or name
        path = f"{prefix}{key}"
        paths.append(path)
        nested, is_list = _nested_model(info.annotation)
        if nested is not None:
            paths += model_field_paths(nested, f"{path}[]." if is_list else f"{path}.")
    return paths


def _field_params() -> list[Any]:
    params = []
    for endpoint in ENDPOINTS:
        fields = [("record", p) for p in model_field_paths(endpoint.model)]
        # the envelope the client reads: results, next_link, __meta.redacted_fields
        if not endpoint.single:
            fields += [("envelope", "results"), ("envelope", "next_link")]
        if endpoint.template not in NO_META:
            meta = model_field_paths(models.RedactedField, "__meta.redacted_fields[].")
            fields += [("envelope", p) for p in meta]
        for where, path in fields:
            if ("field", endpoint.template, path) in SPEC_MISMATCHES:
                continue
            params.append(pytest.param(endpoint, where, path, id=f"{endpoint.template}:{path}"))
    return params


@pytest.mark.parametrize(("endpoint", "where", "path"), _field_params())
def test_model_field_is_in_the_spec(spec: Spec, endpoint: Endpoint, where: str, path: str) -> None:
    schema = (
        response_schema(spec, endpoint) if where == "envelope" else record_schema(spec, endpoint)
    )
    assert spec.at(schema, path) is not None, (
        f"{endpoint.model.__name__} reads {path!r}, which {endpoint.template} never sends"
    )


def test_only_the_listed_envelopes_lack_meta(spec: Spec) -> None:
    lacking = {e.template for e in ENDPOINTS if meta_schema(spec, e) is None}
    assert lacking == NO_META


def test_the_worker_expansions_are_expandable_fields(spec: Spec) -> None:
    """The client's ``expand`` names are the Worker schema's ``x-rippling-expandable-fields``,
    each the property of the model that reads it."""
    worker = spec.resolve(record_schema(spec, BY_TEMPLATE["/workers/"]))
    assert set(WORKER_EXPANDS) <= set(worker["x-rippling-expandable-fields"])
    for name in WORKER_EXPANDS:
        assert name in worker["properties"] and name in models.Worker.model_fields, name


def test_every_reading_method_is_covered() -> None:
    """Each public method of the client that reads a v2 model endpoint is in ``ENDPOINTS``."""

    read = {
        name
        for name, fn in inspect.getmembers(RipplingClient, inspect.isfunction)
        if not name.startswith("_")
    }
    covered = {
        "workers",
        "worker",
        "departments",
        "legal_entities",
        "company_legal_entities",
        "employment_types",
        "job_dimensions",
        "job_codes",
        "job_assignments",
        "compensations",
        "payroll_runs",
        "payroll_run",
        "worker_payroll_records",
        "entitlements",
        "worker_time_splits",
        "time_entries",
    }
    assert len(covered) == len(ENDPOINTS)
    # plumbing, or not a v2 model endpoint (v1 activity is raw dicts; v1 employee is v1's spec)
    others = {"close", "get_json", "iter_pages", "iter_records", "workers_updated_since"}
    others |= {"company_activity", "employee"}
    assert read - others == covered
