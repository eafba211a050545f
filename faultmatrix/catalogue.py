"""The matrix's two axes: the faults and the stages, and the sandbox rule for each pair.

A stage is where in the product's traffic a fault lands: a service of the sandbox plus the
requests of that stage (path prefix and HTTP methods). A fault is what happens to the first
requests of that stage. Together they make one sandbox fault rule (``ml_connector_sandbox
.faults.FaultRule``), so each cell is reproducible from its two names alone.

The webhook-intake stage is different: there Rippling is the sender and our receiver the
server, so its faults are played by the sender (``webhook_intake``), not by a sandbox rule.
"""

from dataclasses import dataclass
from typing import Any

# How long the product waits for an answer during the matrix (environment of every product
# process, see ``product.product_env``): short, so that "latency past the timeout" is cheap.
READ_TIMEOUT_SECONDS = 3
BATCH_TIMEOUT_SECONDS = 10  # ML_CONNECTOR_DYNAMICS_BATCH_TIMEOUT_SECONDS allows no less
# A request held this long is past every timeout above.
PAST_TIMEOUT_MS = (BATCH_TIMEOUT_SECONDS + 2) * 1000
# The kill fault holds the stage's request this long: the harness kills the product while it
# waits, and the held request is then processed anyway (a write landing after its sender died).
KILL_HOLD_MS = 3000


@dataclass(frozen=True)
class Stage:
    name: str
    title: str
    service: str  # "rippling", "entra", "dynamics", or "receiver" (our webhook endpoint)
    flow: str  # "payroll", "workforce" or "webhooks": which product command drives it
    path_prefix: str = ""
    method: str = ""  # "" any; else "POST|PATCH"

    @property
    def timeout_ms(self) -> int:
        return (
            BATCH_TIMEOUT_SECONDS if self.path_prefix == "/data/$batch" else READ_TIMEOUT_SECONDS
        ) * 1000


STAGES: tuple[Stage, ...] = (
    Stage("rippling-reads", "Rippling reads", "rippling", "payroll", method="GET"),
    Stage("rippling-token", "Rippling token refresh", "rippling", "payroll", "/o/token/", "POST"),
    Stage("token-issue", "Entra token issue", "entra", "payroll", method="POST"),
    Stage(
        "header-create",
        "journal header create",
        "dynamics",
        "payroll",
        "/data/LedgerJournalHeaders",
        "POST",
    ),
    Stage("lines-batch", "journal lines $batch", "dynamics", "payroll", "/data/$batch", "POST"),
    Stage(
        "read-back", "journal read-back", "dynamics", "payroll", "/data/LedgerJournalLines", "GET"
    ),
    # Creates: the writes a lost answer could double (a worker, an employment, a vendor).
    Stage("worker-writes", "worker sync creates", "dynamics", "workforce", "/data/", "POST"),
    Stage("webhook-intake", "webhook intake", "receiver", "webhooks"),
)


@dataclass(frozen=True)
class Fault:
    name: str
    title: str
    # The sandbox rule (without path and method), or None where the harness plays the fault.
    rule: dict[str, Any] | None


FAULTS: tuple[Fault, ...] = (
    # Rippling answers 429 without Retry-After, Entra and F&O with it (the sandbox's services
    # differ the way the real ones do); twice in a row, so the retry after the first meets one.
    Fault(
        "429",
        "429 (Rippling: no Retry-After; Entra, F&O: Retry-After 2 s)",
        {"kind": "throttle", "share": 1.0, "times": 2, "retry_after": 2},
    ),
    Fault(
        "5xx",
        "503 before the service acts, twice",
        {"kind": "server_error", "share": 1.0, "times": 2, "status": 503},
    ),
    Fault(
        "drop-before",
        "connection cut before the service acts",
        {"kind": "drop", "share": 1.0, "times": 1},
    ),
    Fault(
        "drop-after",
        "connection cut after the write commits",
        {"kind": "drop", "share": 1.0, "times": 1, "when": "after"},
    ),
    Fault(
        "late-commit",
        "504 at once, the write commits 1.5 s later",
        {"kind": "late_commit", "share": 1.0, "times": 1, "status": 504, "delay_ms": 1500},
    ),
    Fault(
        "latency",
        "answer held past the client's timeout (then processed)",
        {"kind": "latency", "share": 1.0, "times": 1, "latency_ms": PAST_TIMEOUT_MS},
    ),
    Fault(
        "token-expiry",
        "every token expires as the request arrives",
        {"kind": "expire_tokens", "share": 1.0, "times": 1},
    ),
    Fault(
        "kill",
        "SIGKILL of the product while the request is in flight",
        {"kind": "latency", "share": 1.0, "times": 1, "latency_ms": KILL_HOLD_MS},
    ),
)

# What the sender (Rippling) does to our webhook receiver for each fault; None: no such case.
WEBHOOK_FAULTS: dict[str, str | None] = {
    "429": None,
    "5xx": None,
    "drop-before": "the sender hangs up before its body is complete, then delivers again",
    "drop-after": "the sender hangs up before reading our answer, then delivers again",
    "late-commit": "each event delivered twice at once, and once more later",
    "latency": None,
    "token-expiry": None,
    "kill": "the receiver is SIGKILLed mid-burst and restarted; unanswered events re-sent",
}
WEBHOOK_NOT_APPLICABLE = {
    "429": "we never throttle Rippling's deliveries",
    "5xx": "the receiver is ours: its failure is the kill row",
    "latency": "the receiver answers at once; a slow sender is uvicorn's",
    "token-expiry": "the webhook token is static (no expiry)",
}

# Cells that make no sense, with the reason the table shows.
NOT_APPLICABLE: dict[tuple[str, str], str] = {
    ("token-expiry", "token-issue"): "a token request carries no token",
    ("token-expiry", "rippling-token"): "a refresh request carries no access token",
    **{(name, "webhook-intake"): why for name, why in WEBHOOK_NOT_APPLICABLE.items()},
}

# Cells whose break is a limit of the real service, not something the product can hold:
# (fault, stage) -> (why, what the product must have said about it). Such a cell still runs;
# when it breaks *and* the product's output says the expected words, its verdict is
# "known limit" (README "Known limits"), otherwise "BROKEN".
_LOST_ROTATION = (
    "Rippling rotates the refresh token when it is used (as the sandbox does); when the answer"
    " carrying the new one is lost after Rippling processed the refresh, no client can recover"
    " it: the app must be authorized again"
)
KNOWN_LIMITS: dict[tuple[str, str], tuple[str, str]] = {
    ("drop-after", "rippling-token"): (_LOST_ROTATION, "answer was lost"),
    ("late-commit", "rippling-token"): (_LOST_ROTATION, "answer was lost"),
    ("kill", "rippling-token"): (_LOST_ROTATION, "credentials set rippling"),
}

# The rows CI runs (``--fast``): each fault once, at the stage where it is most dangerous,
# plus the worker writes and the webhook intake.
FAST_CELLS: tuple[tuple[str, str], ...] = (
    ("429", "rippling-reads"),
    ("5xx", "lines-batch"),
    ("drop-before", "header-create"),
    ("drop-after", "header-create"),
    ("late-commit", "lines-batch"),
    ("latency", "token-issue"),
    ("token-expiry", "header-create"),
    ("kill", "lines-batch"),
    ("drop-after", "worker-writes"),
    ("kill", "webhook-intake"),
)


def stage(name: str) -> Stage:
    return next(s for s in STAGES if s.name == name)


def fault(name: str) -> Fault:
    return next(f for f in FAULTS if f.name == name)


def sandbox_rule(f: Fault, s: Stage) -> dict[str, Any]:
    """The sandbox fault rule of a cell (sandbox services only)."""
    assert f.rule is not None and s.service != "receiver"
    rule = dict(f.rule)
    if f.name == "latency":
        rule["latency_ms"] = s.timeout_ms + 2000
    if s.path_prefix:
        rule["path_prefix"] = s.path_prefix
    if s.method:
        rule["method"] = s.method
    return rule
