"""Which Rippling entitlement each endpoint the connector calls needs, as the v2 spec says.

A Rippling company must hold an *entitlement* (a product switched on for the company, such as
``Global_Payroll``) before an endpoint answers, whatever scopes the token has: a tenant without
it answers 403 even to a token with the right scope. The v2 spec lists them per operation as
``x-rippling-entitlements``; this table repeats them for the endpoints the client calls, so a
403 can name the entitlement and ``ping`` can say what to ask Rippling for
(``tests/rippling/test_entitlements_contract.py`` compares it with the spec).

The v1 ``company_activity`` endpoint has no entitlement in its spec: ``required_entitlement``
answers ``None`` for it, and a 403 there names the scope only.
"""

API_TIER_1 = "API_Tier_1"
API_TIER_2 = "API_Tier_2"
GLOBAL_PAYROLL = "Global_Payroll"

# The spec's path templates (``{...}`` is one path segment) of every GET the client sends.
ENDPOINT_ENTITLEMENTS: dict[str, str] = {
    "/workers/": API_TIER_1,
    "/workers/{id}/": API_TIER_1,
    "/departments/": API_TIER_1,
    "/employment-types/": API_TIER_1,
    "/entitlements/": API_TIER_1,
    "/legal-entities/": API_TIER_2,
    "/company-legal-entities/": API_TIER_2,
    "/job-dimensions/": API_TIER_2,
    "/job-codes/": API_TIER_2,
    "/job-assignments/": API_TIER_2,
    "/compensations/": API_TIER_2,
    "/worker-time-splits/": API_TIER_2,
    "/time-entries/": API_TIER_2,
    "/payroll-runs/": GLOBAL_PAYROLL,
    "/payroll-runs/{id}/": GLOBAL_PAYROLL,
    "/payroll-runs/{run_id}/worker-payroll-records/": GLOBAL_PAYROLL,
}

# What each entitlement unlocks, in words for an error message or the ping table.
ENTITLEMENT_PRODUCTS: dict[str, str] = {
    API_TIER_1: "API Tier 1",
    API_TIER_2: "API Tier 2",
    GLOBAL_PAYROLL: "Global Payroll",
}


def _segments(path: str) -> list[str]:
    return [s for s in path.split("?", 1)[0].split("/") if s]


def endpoint_template(path: str) -> str | None:
    """The spec template a concrete path (``/payroll-runs/r1/``) falls under, if the client
    calls it."""
    segments = _segments(path)
    for template in ENDPOINT_ENTITLEMENTS:
        pattern = _segments(template)
        if len(pattern) == len(segments) and all(
            p.startswith("{") or p == s for p, s in zip(pattern, segments, strict=True)
        ):
            return template
    return None


def required_entitlement(path: str) -> str | None:
    """The entitlement a v2 path needs, or ``None`` for a path outside the table (v1)."""
    template = endpoint_template(path)
    return None if template is None else ENDPOINT_ENTITLEMENTS[template]
