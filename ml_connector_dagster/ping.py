"""``ping``: add your credentials, ping your real systems, and see if we fit.

Each check is cheap (one page of one record at most), read-only and independent: a failure is
recorded with a verdict and the next check still runs, so one run shows everything that needs
fixing. On the Rippling side every endpoint the connector reads gets a line naming the scope and
the entitlement it needs; a 403 says which of the two is missing (or both, when Rippling's
answer does not tell), and the company's entitlements are listed when ``/entitlements/`` is
readable.
"""

import datetime as dt
import ssl
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import httpx
import requests

from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.config.settings import ConnectorSettings
from ml_connector_dagster.dynamics import readers
from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.dynamics.errors import DynamicsError, DynamicsRequestError
from ml_connector_dagster.dynamics.odata import all_of, eq
from ml_connector_dagster.posting.ledger_view import refuses_integration_key
from ml_connector_dagster.posting.vouchers import read_voucher_settings
from ml_connector_dagster.rippling.client import RipplingClient, required_scope
from ml_connector_dagster.rippling.entitlements import ENDPOINT_ENTITLEMENTS, required_entitlement
from ml_connector_dagster.rippling.errors import RipplingError, RipplingPermissionError
from ml_connector_dagster.transport.tls import describe_connection_failure
from ml_connector_dagster.workforce.activity import probe_company_activity
from ml_connector_dagster.workforce.numbering import Verdict, probe_number_sequences

OK, WARN, FAIL = "ok", "warn", "fail"

# The list endpoints the connector reads; a by-id read (``/workers/{id}/``, ``/payroll-runs/{id}/``)
# needs the same scope and entitlement as its list, so it gets no probe of its own.
RIPPLING_ENDPOINTS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("workers", "/workers/", {"expand": "compensation"}),
    ("departments", "/departments/", {}),
    ("legal entities", "/legal-entities/", {}),
    ("company legal entities", "/company-legal-entities/", {}),
    ("employment types", "/employment-types/", {}),
    ("job dimensions", "/job-dimensions/", {}),
    ("job codes", "/job-codes/", {}),
    ("job assignments", "/job-assignments/", {}),
    ("compensations", "/compensations/", {}),
    ("payroll runs", "/payroll-runs/", {}),
    # The time allocation sources of the mapping's default ``allocation.order`` (issue 15).
    ("worker time splits", "/worker-time-splits/", {}),
    ("time entries", "/time-entries/", {}),
)
# An IntegrationKey no journal carries: filtering on it proves the field is filterable.
PROBE_KEY = "mlc-ping-probe"


@dataclass(frozen=True)
class PingResult:
    system: str
    check: str
    verdict: str  # ok | warn | fail
    detail: str


def _run(system: str, check: str, probe: Callable[[], tuple[str, str]]) -> PingResult:
    """One check; a failure is a FAIL line with a verdict, never a traceback.

    The clients turn transport failures into their own errors (naming the host and, for an
    untrusted certificate, ``ML_CONNECTOR_CA_BUNDLE``); a bare TLS or connection error that
    still escapes them is described the same way here, so ping always ends in a verdict.
    """
    try:
        verdict, detail = probe()
    except (RipplingError, DynamicsError) as exc:
        return PingResult(system, check, FAIL, str(exc))
    except (httpx.TransportError, requests.RequestException, ssl.SSLError, ConnectionError) as exc:
        return PingResult(system, check, FAIL, describe_connection_failure(exc, _host(exc, system)))
    return PingResult(system, check, verdict, detail)


def _host(error: Exception, system: str) -> str:
    """The host a transport error was about, from the request it carries, else the system."""
    request = getattr(error, "request", None)
    try:
        url = str(request.url) if request is not None else ""
    except RuntimeError:  # httpx: an error raised without a request attached
        url = ""
    return urlsplit(url).netloc or f"the {system} host"


def _needs(path: str) -> str:
    """What an endpoint needs, e.g. ``scope payroll-runs.read, entitlement Global_Payroll``."""
    entitlement = required_entitlement(path)
    return f"scope {required_scope(path)}, entitlement {entitlement or 'none'}"


def _page(client: RipplingClient, path: str, extra: dict[str, str]) -> tuple[str, str]:
    body = client.get_json(path, {"limit": "1", **extra})
    redacted = [r.get("name") for r in (body.get("__meta") or {}).get("redacted_fields") or []]
    if redacted:
        return WARN, f"{_needs(path)}: 200, redacted on this page: {', '.join(map(str, redacted))}"
    return OK, f"{_needs(path)}: 200"


def _entitlements(client: RipplingClient) -> tuple[str, str]:
    """The company's entitlements, against those the connector's endpoints need."""
    try:
        held = sorted(e.id for e in client.entitlements())
    except RipplingPermissionError as exc:
        return WARN, f"not readable, so judged by the lines above only: {exc}"
    missing = sorted(set(ENDPOINT_ENTITLEMENTS.values()) - set(held))
    text = f"the company has {', '.join(held) or 'none'}"
    if missing:
        return FAIL, f"{text}; missing {', '.join(missing)}: ask Rippling to enable it"
    return OK, text


def _activity(client: RipplingClient, enabled: bool) -> tuple[str, str]:
    """v1 ``company_activity`` is optional to polling (``ML_CONNECTOR_COMPANY_ACTIVITY``, off
    by default): worth turning on only when it answers and carries employee events."""
    probe = probe_company_activity(client)
    setting = f"ML_CONNECTOR_COMPANY_ACTIVITY is {'on' if enabled else 'off'}"
    if probe.answers and probe.employee_events:
        advice = "" if enabled else "; turning it on adds a second witness to the poll"
        return OK, f"{probe.detail} ({setting}{advice})"
    if enabled:
        return WARN, f"{probe.detail}; {setting}: turn it off, the updated_at poll suffices"
    return OK, f"{probe.detail} ({setting}: the updated_at poll suffices)"


def _webhooks(settings: ConnectorSettings) -> tuple[str, str]:
    """Whether the webhook receiver can authenticate deliveries (never shows the secret)."""
    if not settings.webhooks:
        return OK, "webhooks off (ML_CONNECTOR_WEBHOOKS): workers are found by polling"
    held = [
        name
        for name, value in (
            ("bearer token ML_CONNECTOR_WEBHOOK_TOKEN", settings.webhook_token),
            ("URL path secret ML_CONNECTOR_WEBHOOK_PATH_SECRET", settings.webhook_path_secret),
        )
        if value is not None and value.get_secret_value()
    ]
    if not held:
        return FAIL, (
            "webhooks on but no secret is set: set ML_CONNECTOR_WEBHOOK_TOKEN (and the same"
            " bearer token in Rippling's webhook setup) or ML_CONNECTOR_WEBHOOK_PATH_SECRET"
        )
    if not settings.rippling_company_ids:
        return FAIL, "webhooks on but ML_CONNECTOR_RIPPLING_COMPANY_IDS is empty"
    poll = dt.timedelta(seconds=settings.safety_poll_seconds)
    return OK, f"{' and '.join(held)} set; a safety-net poll runs every {poll}"


def ping_rippling(
    client: RipplingClient, settings: ConnectorSettings | None = None
) -> list[PingResult]:
    results = [_run("Rippling", "token valid", lambda: _page(client, "/workers/", {}))]
    if results[0].verdict == FAIL:
        return results
    for name, path, extra in RIPPLING_ENDPOINTS:
        results.append(_run("Rippling", name, lambda p=path, e=extra: _page(client, p, e)))

    def records() -> tuple[str, str]:
        try:
            runs = client.get_json("/payroll-runs/", {"limit": "1"}).get("results") or []
        except RipplingPermissionError as exc:
            needs = _needs("/payroll-runs/{run_id}/worker-payroll-records/")
            return FAIL, f"{needs}: not probed, no payroll run is readable ({exc})"
        if not runs:
            return WARN, "no payroll run to read records from"
        return _page(client, f"/payroll-runs/{runs[0]['id']}/worker-payroll-records/", {})

    results.append(_run("Rippling", "payroll records", records))
    activity_on = settings.company_activity if settings else False
    results.append(
        _run("Rippling", "company activity (v1)", lambda: _activity(client, activity_on))
    )
    results.append(_run("Rippling", "entitlements", lambda: _entitlements(client)))
    if settings is not None:
        results.append(_run("Rippling", "webhook secret", lambda: _webhooks(settings)))
    return results


def ping_dynamics(
    client: DynamicsClient, mapping: PayrollMapping | None, *, write_probe: bool = False
) -> list[PingResult]:
    def token() -> tuple[str, str]:
        client.tokens.token()
        return OK, f"Entra ID issued a token for {client.environment_url}"

    results = [_run("Dynamics", "token issued", token)]
    if results[0].verdict == FAIL:
        return results

    def service() -> tuple[str, str]:
        client.metadata_ok()
        return OK, "OData service document read"

    def legal_entities() -> tuple[str, str]:
        rows = readers.legal_entities(client)
        ids = sorted(str(r.get("LegalEntityId", "")).upper() for r in rows)
        if not ids:
            return FAIL, "no legal entity visible to this app"
        missing = sorted(set(mapping.companies) - set(ids)) if mapping else []
        if missing:
            return FAIL, f"visible: {', '.join(ids)}; the mapping needs {', '.join(missing)}"
        return OK, ", ".join(ids)

    def ledger_format() -> tuple[str, str]:
        active = readers.active_format(client)
        text = f"{active.name}: {active.display} (delimiter {active.delimiter!r})"
        if mapping and (
            tuple(mapping.dimension_format.dimensions) != active.dimensions
            or mapping.dimension_format.delimiter != active.delimiter
        ):
            return FAIL, f"{text}; the mapping was written for {mapping.dimension_format.display}"
        return OK, text

    def journal_name() -> tuple[str, str]:
        if mapping is None:
            return WARN, "no mapping configured (ML_CONNECTOR_MAPPING): journal name not checked"
        name = mapping.journal.name
        rows = client.list_entities("JournalNames", filter=eq("Name", name))
        have = {str(r.get("dataAreaId", "")).upper() for r in rows}
        missing = sorted(set(mapping.companies) - have)
        if missing:
            return FAIL, f"journal name {name} missing in {', '.join(missing)}"
        return OK, f"{name} in {', '.join(sorted(have))}"

    def default_format() -> tuple[str, str]:
        try:
            active = readers.active_format(client, readers.DEFAULT_FORMAT)
        except readers.ReferenceDataError as exc:
            return FAIL, (
                f"{exc}: employments' and vendors' default dimensions are not written until"
                " one is active (the workforce plan reports it)"
            )
        return OK, (
            f"{active.name}: {active.display} (delimiter {active.delimiter!r}); employments"
            " and vendors are written in this order"
        )

    def vouchers() -> tuple[str, str]:
        if mapping is None:
            return WARN, "no mapping configured (ML_CONNECTOR_MAPPING): not checked"
        found = [
            read_voucher_settings(client, mapping.journal.name, company)
            for company in sorted(mapping.companies)
        ]
        texts = [f.describe() for f in found if f is not None]
        if not texts:
            return FAIL, f"journal name {mapping.journal.name} missing"
        return OK, "; ".join(texts)

    def integration_key() -> tuple[str, str]:
        try:
            client.list_entities(
                "LedgerJournalHeaders", filter=eq("IntegrationKey", PROBE_KEY), top=1
            )
        except DynamicsRequestError as exc:
            if refuses_integration_key(exc):
                return WARN, (
                    "LedgerJournalHeaders has no filterable IntegrationKey: journals are found"
                    " by the marker in Description, which finance must not edit"
                )
            raise
        return OK, "LedgerJournalHeaders filters on IntegrationKey eq: journals found exactly"

    def numbering() -> tuple[str, str]:
        if mapping is None:
            return WARN, "no mapping configured (ML_CONNECTOR_MAPPING): not checked"
        verdicts = probe_number_sequences(client, mapping.companies, mapping.workforce.vendor_group)
        text = "; ".join(v.describe() for v in verdicts)
        unknown = any(Verdict.UNKNOWN in (v.workers, v.vendors) for v in verdicts)
        return (WARN if unknown else OK), text

    for check, probe in (
        ("OData read", service),
        ("legal entities visible", legal_entities),
        ("active ledger dimension format", ledger_format),
        ("active default dimension format", default_format),
        ("journal name", journal_name),
        ("journal name vouchers", vouchers),
        ("IntegrationKey filterable", integration_key),
        ("number sequences", numbering),
    ):
        results.append(_run("Dynamics", check, probe))
    if write_probe:
        results.append(_run("Dynamics", "write probe", lambda: _write_probe(client, mapping)))
    return results


def _write_probe(client: DynamicsClient, mapping: PayrollMapping | None) -> tuple[str, str]:
    """``--write-probe``: create an empty journal header carrying a probe IntegrationKey, find
    it by that key, and delete it. Proves the app may create and delete journals and that
    IntegrationKey is stored and filterable; nothing is left behind (an empty, unposted header
    deleted at once), and a failed delete is reported with the journal number to remove."""
    if mapping is None:
        return WARN, "no mapping configured (ML_CONNECTOR_MAPPING): not probed"
    company = sorted(mapping.companies)[0].lower()
    key = f"{PROBE_KEY}-{uuid.uuid4().hex[:8]}"
    header = client.create(
        "LedgerJournalHeaders",
        {
            "dataAreaId": company,
            "JournalName": mapping.journal.name,
            "Description": f"ml-connector ping write probe {key}",
            "IntegrationKey": key,
        },
    )
    number = str(header["JournalBatchNumber"])
    try:
        found = client.list_entities(
            "LedgerJournalHeaders",
            filter=all_of(eq("dataAreaId", company), eq("IntegrationKey", key)),
        )
    finally:
        try:
            client.delete(
                "LedgerJournalHeaders", {"dataAreaId": company, "JournalBatchNumber": number}
            )
        except DynamicsError as exc:
            return FAIL, f"created journal {number} in {company} but could not delete it: {exc}"
    if [str(r.get("JournalBatchNumber")) for r in found] != [number]:
        return FAIL, f"journal {number} was created but IntegrationKey eq did not find it"
    return OK, f"created, found by IntegrationKey and deleted journal {number} in {company}"


def verdict(results: Iterable[PingResult]) -> bool:
    """True when nothing the connector needs failed (warnings are allowed)."""
    return all(r.verdict != FAIL for r in results)


def as_json(results: list[PingResult]) -> dict[str, object]:
    """``ping --json``: every line, and the overall verdict, for automation."""
    return {"passed": verdict(results), "checks": [asdict(r) for r in results]}
