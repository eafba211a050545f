"""``ping``: add your credentials, ping your real systems, and see if we fit.

Each check is cheap (one page of one record at most), read-only and independent: a failure is
recorded with a verdict and the next check still runs, so one run shows everything that needs
fixing. On the Rippling side every endpoint the connector reads gets a line naming the scope and
the entitlement it needs; a 403 says which of the two is missing (or both, when Rippling's
answer does not tell), and the company's entitlements are listed when ``/entitlements/`` is
readable.
"""

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ml_connector_dagster import clock
from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.dynamics import readers
from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.dynamics.errors import DynamicsError
from ml_connector_dagster.dynamics.odata import eq
from ml_connector_dagster.rippling.client import RipplingClient, required_scope
from ml_connector_dagster.rippling.entitlements import ENDPOINT_ENTITLEMENTS, required_entitlement
from ml_connector_dagster.rippling.errors import RipplingError, RipplingPermissionError

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
)
ACTIVITY_SCOPE = "company:activity"  # v1: no entitlement in its spec


@dataclass(frozen=True)
class PingResult:
    system: str
    check: str
    verdict: str  # ok | warn | fail
    detail: str


def _run(system: str, check: str, probe: Callable[[], tuple[str, str]]) -> PingResult:
    try:
        verdict, detail = probe()
    except (RipplingError, DynamicsError) as exc:
        return PingResult(system, check, FAIL, str(exc))
    return PingResult(system, check, verdict, detail)


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


def _activity(client: RipplingClient) -> tuple[str, str]:
    """v1 ``company_activity`` is optional to polling: a refusal is a warning, not a failure."""
    needs = f"scope {ACTIVITY_SCOPE}, entitlement none"
    try:
        client.company_activity(start=clock.now() - dt.timedelta(hours=1), limit=1000)
    except RipplingPermissionError as exc:
        return WARN, f"optional (polling reads /workers/ without it): {exc}"
    return OK, f"{needs}: 200"


def ping_rippling(client: RipplingClient) -> list[PingResult]:
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
    results.append(_run("Rippling", "company activity (v1)", lambda: _activity(client)))
    results.append(_run("Rippling", "entitlements", lambda: _entitlements(client)))
    return results


def ping_dynamics(client: DynamicsClient, mapping: PayrollMapping | None) -> list[PingResult]:
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

    for check, probe in (
        ("OData read", service),
        ("legal entities visible", legal_entities),
        ("active ledger dimension format", ledger_format),
        ("journal name", journal_name),
    ):
        results.append(_run("Dynamics", check, probe))
    return results


def verdict(results: Iterable[PingResult]) -> bool:
    """True when nothing the connector needs failed (warnings are allowed)."""
    return all(r.verdict != FAIL for r in results)
