"""Read-only Rippling v2 client: bearer auth, ``next_link`` paging, throttle-aware retries.

Rippling is the system of record; this client issues GETs only (plus the OAuth token call),
so nothing in the product can write to Rippling. Pages are streamed: callers iterate and never
hold more than one page of a tenant in memory. JSON numbers are parsed as ``Decimal``.

Sending is ``transport``'s: the bearer token and its one refresh after a 401 are a
``RefreshingBearerAuth`` flow, throttling and server errors are retried by a ``Sender``
(Rippling's 429 carries no Retry-After, so it backs off with jitter). This module only maps the
final answer to a precise ``RipplingError``.
"""

import datetime as dt
import json
import logging
import ssl
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr, ValidationError

from ml_connector_dagster.credentials.models import RipplingCredentials
from ml_connector_dagster.rippling import models
from ml_connector_dagster.rippling.auth import RipplingAuth, auth_from_credentials
from ml_connector_dagster.rippling.entitlements import required_entitlement
from ml_connector_dagster.rippling.errors import (
    PermissionCause,
    RipplingAuthError,
    RipplingDataError,
    RipplingPermissionError,
    RipplingRequestError,
    RipplingUnavailableError,
)
from ml_connector_dagster.rippling.ids import path_segment
from ml_connector_dagster.rippling.paging import PageWalk, resolve_next_link
from ml_connector_dagster.transport.auth import RefreshingBearerAuth
from ml_connector_dagster.transport.inflight import InFlightCap
from ml_connector_dagster.transport.retry import TRANSIENT_SERVER_ERRORS, RetryPolicy
from ml_connector_dagster.transport.send import Sender
from ml_connector_dagster.transport.tls import build_ssl_context

log = logging.getLogger(__name__)

PAGE_SIZE = 100  # Rippling's reported maximum; above it the API answers 400
WORKER_EXPANDS = ("user", "legal_entity", "department", "employment_type", "compensation")
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)

M = TypeVar("M", bound=models.RipplingModel)


@dataclass(frozen=True)
class Page:
    """One page of a list endpoint, with the fields the token could not read on it."""

    results: list[dict[str, Any]]
    redacted_fields: tuple[models.RedactedField, ...]
    next_link: str | None


# The v1 endpoints the client calls and the scopes their spec's ``security`` lists (v1 scopes
# have no ``.read`` suffix; ``company_activity`` lists two).
V1_SCOPES = {"company_activity": "company, company:activity", "employees": "employee"}


def required_scope(path: str) -> str:
    """The OAuth scope an endpoint needs, as the spec's ``security`` lists it."""
    segments = [s for s in urlsplit(path).path.split("/") if s]
    if "worker-payroll-records" in segments:
        return "worker-payroll-records.read"
    if segments[:2] == ["platform", "api"]:
        segments = segments[2:]
        return V1_SCOPES.get(segments[0], "unknown") if segments else "unknown"
    return f"{segments[0]}.read" if segments else "unknown"


@dataclass
class ActivityResult:
    """v1 activity events read so far and the cursor to resume from next time."""

    events: list[dict[str, Any]]
    cursor: str | None


@dataclass
class IncrementalResult:
    """Records changed since a watermark, deduplicated, and the watermark to store next."""

    records: list[models.Worker] = field(default_factory=list)
    watermark: dt.datetime | None = None


class RipplingClient:
    """One client per connection. Use as a context manager, or call ``close``."""

    def __init__(
        self,
        credentials: RipplingCredentials,
        *,
        ssl_context: ssl.SSLContext | None = None,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        page_size: int = PAGE_SIZE,
        on_refresh_token: Callable[[SecretStr], None] | None = None,
        auth: RipplingAuth | None = None,
        in_flight: InFlightCap | None = None,
    ) -> None:
        if not 1 <= page_size <= PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{PAGE_SIZE}")
        self.base_url = credentials.base_url.rstrip("/")
        self.v1_base_url = credentials.v1_base_url.rstrip("/")
        self.page_size = page_size
        self.retry = retry or RetryPolicy()
        self._auth = auth or auth_from_credentials(credentials, on_refresh_token)
        headers = {"Accept": "application/json", "User-Agent": "ml-connector-dagster"}
        if credentials.api_version:
            headers["Rippling-Api-Version"] = credentials.api_version
        self._http = httpx.Client(
            verify=ssl_context or build_ssl_context(),
            timeout=timeout,
            headers=headers,
            follow_redirects=False,
        )
        self.requests_sent = 0
        self._sender = Sender(
            service="Rippling",
            policy=self.retry,
            auth=RefreshingBearerAuth(self._token, self._auth.invalidate, self._count),
            unavailable=RipplingUnavailableError,  # read-only: nothing is ever ambiguous
            server_errors=TRANSIENT_SERVER_ERRORS,
            log=log,
            cap=in_flight,
        )

    def __repr__(self) -> str:
        return f"RipplingClient(base_url={self.base_url!r})"

    def __enter__(self) -> "RipplingClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- transport ----------------------------------------------------------------------------
    def _token(self) -> str:
        # Read at call time: an OAuth refresh goes through whichever client is current.
        return self._auth.token(self._http)

    def _count(self, request: httpx.Request) -> None:
        self.requests_sent += 1

    def _get(self, url: str, params: dict[str, Any] | None = None) -> httpx.Response:
        """A successful answer, or the precise error for the final one."""
        endpoint = urlsplit(url).path
        request = self._http.build_request("GET", url, params=params)
        response = self._sender.send(self._http, request, path=endpoint, label=endpoint)
        status = response.status_code
        if status == 401:
            # The auth flow already refreshed once (an API token raised instead).
            raise RipplingAuthError(
                f"Rippling still answers 401 to {endpoint} after a token refresh:"
                " the credential was revoked or lacks access to this company"
            )
        if status == 403:
            raise _permission_error(endpoint, response)
        if status >= 400:
            raise RipplingRequestError(endpoint, status, response.text)
        return response

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        return json.loads(response.content, parse_float=Decimal)

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._json(self._get(self.base_url + path, params))

    # --- paging ------------------------------------------------------------------------------
    def iter_pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[Page]:
        """Every page of a list endpoint, following ``next_link`` on the same origin only."""
        url = self.base_url + path
        query: dict[str, Any] | None = {**(params or {}), "limit": self.page_size}
        walk = PageWalk(path)
        while True:
            if query is None:
                walk.follow(url)
            response = self._get(url, query)
            body = self._json(response)
            meta = body.get("__meta") or {}
            redacted = tuple(
                models.RedactedField.model_validate(r) for r in meta.get("redacted_fields") or []
            )
            next_link = body.get("next_link")
            results = [
                r
                for r in body.get("results") or []
                if not isinstance(r, dict) or walk.first_time(r)
            ]
            yield Page(results, redacted, next_link)
            if not next_link:
                return
            url = resolve_next_link(self.base_url, str(response.url), next_link)
            query = None  # the link carries cursor, filter, expand and limit

    def iter_records(
        self, path: str, model: type[M], params: dict[str, Any] | None = None
    ) -> Iterator[M]:
        """Typed records, each told which of its fields were redacted on its page."""
        for page in self.iter_pages(path, params):
            names = {r.name for r in page.redacted_fields}
            for raw in page.results:
                withheld = tuple(sorted(n for n in names if n not in raw))
                yield _validate(model, {**raw, "redacted": withheld}, path)

    # --- resources ---------------------------------------------------------------------------
    def workers(
        self,
        *,
        expand: Iterable[str] = WORKER_EXPANDS,
        filter: str | None = None,
        order_by: str | None = None,
    ) -> Iterator[models.Worker]:
        params: dict[str, Any] = {}
        if expand:
            params["expand"] = ",".join(expand)
        if filter:
            params["filter"] = filter
        if order_by:
            params["order_by"] = order_by
        return self.iter_records("/workers/", models.Worker, params)

    def worker(self, worker_id: str, expand: Iterable[str] = WORKER_EXPANDS) -> models.Worker:
        """One worker by id, expanded; a webhook hint is re-read this way, never trusted."""
        # Every id is escaped into one segment (``ids.path_segment``): it may come from outside.
        body = self.get_json(f"/workers/{path_segment(worker_id)}/", {"expand": ",".join(expand)})
        meta = body.pop("__meta", None) or {}
        names = {r.get("name") for r in meta.get("redacted_fields") or []}
        withheld = tuple(sorted(n for n in names if n and n not in body))
        return models.Worker.model_validate({**body, "redacted": withheld})

    def workers_updated_since(
        self, watermark: dt.datetime | None, overlap: dt.timedelta = dt.timedelta(minutes=10)
    ) -> IncrementalResult:
        """Workers changed at or after ``watermark - overlap``, deduplicated on id.

        The overlap re-reads a window already seen, because a record updated while the last
        read was paging may carry an ``updated_at`` just below the stored watermark.
        """
        filter_ = None
        if watermark is not None:
            since = (watermark - overlap).astimezone(dt.UTC)
            filter_ = f"updated_at ge {since.strftime('%Y-%m-%dT%H:%M:%S')}"
        latest: dict[str, models.Worker] = {}
        newest = watermark
        for worker in self.workers(filter=filter_, order_by="updated_at"):
            known = latest.get(worker.id)
            if known is None or (worker.updated or _EPOCH) >= (known.updated or _EPOCH):
                latest[worker.id] = worker
            if worker.updated and (newest is None or worker.updated > newest):
                newest = worker.updated
        return IncrementalResult(records=list(latest.values()), watermark=newest)

    def departments(self) -> Iterator[models.Department]:
        return self.iter_records("/departments/", models.Department)

    def legal_entities(self) -> Iterator[models.LegalEntity]:
        return self.iter_records("/legal-entities/", models.LegalEntity)

    def company_legal_entities(self) -> Iterator[models.CompanyLegalEntity]:
        return self.iter_records("/company-legal-entities/", models.CompanyLegalEntity)

    def employment_types(self) -> Iterator[models.EmploymentType]:
        return self.iter_records("/employment-types/", models.EmploymentType)

    def job_dimensions(self) -> Iterator[models.JobDimension]:
        return self.iter_records("/job-dimensions/", models.JobDimension)

    def job_codes(self) -> Iterator[models.JobCode]:
        return self.iter_records("/job-codes/", models.JobCode)

    def job_assignments(self) -> Iterator[models.JobAssignment]:
        return self.iter_records("/job-assignments/", models.JobAssignment)

    def compensations(self) -> Iterator[models.Compensation]:
        return self.iter_records("/compensations/", models.Compensation)

    def payroll_runs(self, order_by: str = "check_date") -> Iterator[models.PayrollRun]:
        return self.iter_records("/payroll-runs/", models.PayrollRun, {"order_by": order_by})

    def company_activity(
        self,
        start: dt.date | None = None,
        *,
        cursor: str | None = None,
        end: dt.date | None = None,
        limit: int = 1000,
        max_pages: int | None = None,
    ) -> ActivityResult:
        """v1 ``company_activity`` events since the day of ``start`` or since a stored ``cursor``.

        The spec types ``startDate`` and ``endDate`` as ``format: date`` (both inclusive), so
        they are sent as ``YYYY-MM-DD``; a datetime given here is reduced to its UTC day, which
        re-reads part of that day (callers deduplicate). ``startDate`` may reach at most 90
        days back; callers keep their window inside it.

        v1's ``next`` is a resume cursor, returned even on the last page (the spec: "pause and
        repeat"), so reading stops at a short page (or after ``max_pages``) and the cursor is
        handed back for the next poll. The endpoint needs the v1 scopes ``company`` and
        ``company:activity``, which a v2 token may lack: callers treat it as optional.
        """
        if start is None and cursor is None:
            raise ValueError("company_activity needs a start date or a cursor")
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["next"] = cursor
        else:
            assert start is not None
            params["startDate"] = v1_date(start)
        if end is not None:
            params["endDate"] = v1_date(end)
        url = self.v1_base_url + "/company_activity"
        result = ActivityResult(events=[], cursor=cursor)
        pages = 0
        while True:
            body = self._json(self._get(url, params))
            if body.get("error"):
                raise RipplingRequestError("/company_activity", 200, str(body["error"]))
            data = body.get("data") or {}
            events = list(data.get("events") or [])
            result.events.extend(events)
            result.cursor = data.get("next") or result.cursor
            pages += 1
            if len(events) < limit or not data.get("next"):
                return result
            if max_pages is not None and pages >= max_pages:
                return result
            params = {"limit": limit, "next": data["next"]}
            if end is not None:
                params["endDate"] = v1_date(end)

    def employee(self, employee_id: str) -> models.V1Employee:
        """One v1 employee (``GET {v1}/employees/{employeeId}``, v1 scope ``employee``).

        Only used to resolve an employee id (what webhooks and v1 activity carry) to a v2
        worker: its ``workEmail`` is a filter v2 ``/workers/`` accepts.
        """
        url = f"{self.v1_base_url}/employees/{path_segment(employee_id)}"
        body = self._json(self._get(url))
        if not isinstance(body, dict):
            raise RipplingDataError(f"Rippling v1 /employees/{employee_id!r} is not an object")
        return _validate(models.V1Employee, body, "/employees/{employeeId}")

    def payroll_run(self, run_id: str) -> models.PayrollRun:
        body = self.get_json(f"/payroll-runs/{path_segment(run_id)}/")
        body.pop("__meta", None)
        return models.PayrollRun.model_validate(body)

    def worker_payroll_records(self, run_id: str) -> Iterator[models.WorkerPayrollRecord]:
        return self.iter_records(
            f"/payroll-runs/{path_segment(run_id)}/worker-payroll-records/",
            models.WorkerPayrollRecord,
        )

    def worker_time_splits(self) -> Iterator[models.WorkerTimeSplit]:
        """Every worker's time split (``worker-time-splits.read``, ``API_Tier_2``), enabled or
        not: the caller keeps the enabled ones. No ``is_enabled`` filter is sent: the spec
        names the field filterable but shows no boolean literal, so it is not guessed."""
        return self.iter_records("/worker-time-splits/", models.WorkerTimeSplit)

    def time_entries(self, pay_period_start: dt.date | None = None) -> Iterator[models.TimeEntry]:
        """Time entries (``time-entries.read``, ``API_Tier_2``), those of the pay period that
        starts on ``pay_period_start`` when given (``pay_period.start_date`` is filterable;
        the date unquoted, as Rippling's filters take dates)."""
        params = None
        if pay_period_start is not None:
            params = {"filter": f"pay_period.start_date eq {pay_period_start.isoformat()}"}
        return self.iter_records("/time-entries/", models.TimeEntry, params)

    def entitlements(self) -> Iterator[models.Entitlement]:
        """The company's entitlements (``GET /entitlements/``: scope ``entitlements.read``)."""
        return self.iter_records("/entitlements/", models.Entitlement)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def v1_date(value: dt.date) -> str:
    """A v1 ``format: date`` parameter: ``YYYY-MM-DD``; a datetime counts by its UTC day.

    Rippling answers 400 to a datetime where the spec says ``date``.
    """
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        value = aware.astimezone(dt.UTC).date()
    return value.isoformat()


def _validate(model: type[M], raw: dict[str, Any], path: str) -> M:
    """A typed record, or an error naming the endpoint, the record id and each bad field."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        fields = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        raise RipplingDataError(
            f"Rippling {path} record {raw.get('id', '?')} is not usable: {fields}"
        ) from None


def _permission_error(endpoint: str, response: httpx.Response) -> RipplingPermissionError:
    """The 403 as an error naming the scope and/or the entitlement the endpoint needs.

    Rippling documents no body for a 403, and in particular not what one caused by a missing
    entitlement looks like (the stand-in's ``required_entitlement`` body is our own
    assumption). So the body is only read for hints: one naming an entitlement means the
    entitlement, one naming a scope means the scope, anything else names both as possible
    causes. An endpoint without an entitlement (v1) can only be missing its scope.
    """
    entitlement = required_entitlement(endpoint)
    text = response.text.lower()
    try:
        body = response.json()
    except ValueError:
        body = None
    keys = set(body) if isinstance(body, dict) else set()
    if "required_entitlement" in keys or "entitlement" in text:
        cause = PermissionCause.ENTITLEMENT
    elif "required_scope" in keys or "scope" in text:
        cause = PermissionCause.SCOPE
    else:
        cause = PermissionCause.SCOPE_OR_ENTITLEMENT
    return RipplingPermissionError(
        endpoint,
        required_scope(endpoint),
        _detail(response),
        entitlement=entitlement,
        cause=cause,
    )


def _detail(response: httpx.Response) -> str:
    """A short, defensive reading of an error body (no schema is documented)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        for key in ("detail", "message", "error"):
            if isinstance(body.get(key), str):
                return body[key][:200]
    return str(body)[:200]
