"""Fault switches on demand (latency, throttling, server errors, dropped connections, expired
tokens, late commits): the rules, their config, and the board that decides which fire for a
request. The ASGI middleware that acts on the board's decisions is ``fault_middleware``.

Each service (``rippling``, ``entra``, ``dynamics``) has its own list of rules and its own
seeded random generator, so a failing test can be replayed exactly. Rules fire either on a share
of requests (``share=0.1``) or on the Nth matching request (``nth=3``), optionally only for paths
starting with a prefix (and, with ``method``, only for those HTTP methods: ``POST|PATCH``) and
at most ``times`` times. Everything is off by default.

The services differ where the real ones differ: Rippling answers 429 **without** Retry-After,
Dynamics (and Entra) answer 429 **with** ``Retry-After``. Rules are set by a config file, by
``--fault`` flags, or at run time through ``PUT /_sandbox/faults`` on the service's own port.

Most faults answer *instead of* the service, so the request never happened. Real gateways also
fail after the backend committed: ``server_error`` and ``drop`` take ``when: after`` (the request
is processed, its answer discarded, then the fault answered), and ``late_commit`` answers a
gateway error at once and processes the request ``delay_ms`` later in the background.
"""

import random
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

FaultKind = Literal[
    "latency", "throttle", "server_error", "drop", "expire_tokens", "late_commit", "refuse"
]
FAULT_KINDS: tuple[str, ...] = (
    "latency",
    "throttle",
    "server_error",
    "drop",
    "expire_tokens",
    "late_commit",
    "refuse",
)
FaultWhen = Literal["before", "after"]
WHEN_VALUES: tuple[str, ...] = ("before", "after")
AFTER_KINDS: tuple[str, ...] = ("server_error", "drop")  # the kinds that take ``when: after``
SERVICES: tuple[str, ...] = ("rippling", "entra", "dynamics")
HTTP_METHODS: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE")
ADMIN_PREFIX = "/_sandbox"


class FaultConfigError(ValueError):
    """A fault rule or file that cannot be understood; the message names the offending part."""


@dataclass
class FaultRule:
    """One switch. ``share`` and ``nth`` may be combined with ``times`` to bound it.

    ``when`` (``server_error``, ``drop``): ``before`` answers instead of the service, ``after``
    lets the service process the request first and discards its answer. ``late_commit`` answers
    ``status`` at once and processes the request ``delay_ms`` milliseconds later. ``refuse``
    answers a 4xx OData error (the service refusing the request as invalid) instead of the
    service. ``status`` defaults to 504 for ``late_commit``, 400 for ``refuse``, else 503.
    """

    kind: FaultKind
    share: float = 0.0
    nth: int | None = None
    times: int | None = None
    path_prefix: str = ""
    method: str = ""  # "" for any; else HTTP methods separated by "|": "POST|PATCH"
    latency_ms: int = 0
    status: int | None = None
    retry_after: int = 2
    when: FaultWhen = "before"
    delay_ms: int = 2000
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise FaultConfigError(
                f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}"
            )
        if not 0.0 <= float(self.share) <= 1.0:
            raise FaultConfigError(
                f"fault {self.kind}: share must be within 0..1, got {self.share}"
            )
        if self.nth is not None and int(self.nth) < 1:
            raise FaultConfigError(f"fault {self.kind}: nth counts from 1, got {self.nth}")
        if self.share == 0.0 and self.nth is None:
            raise FaultConfigError(f"fault {self.kind}: give share (0..1] or nth (>= 1)")
        if self.status is None:
            self.status = {"late_commit": 504, "refuse": 400}.get(self.kind, 503)
        if self.kind == "refuse" and not 400 <= int(self.status) <= 499:
            raise FaultConfigError(f"fault refuse: status must be 4xx, got {self.status}")
        if self.kind in ("server_error", "late_commit") and not 500 <= int(self.status) <= 599:
            raise FaultConfigError(f"fault {self.kind}: status must be 5xx, got {self.status}")
        self.method = str(self.method or "").upper()
        methods = [m for m in self.method.split("|") if m]
        if any(m not in HTTP_METHODS for m in methods):
            raise FaultConfigError(
                f"fault {self.kind}: method must be HTTP methods separated by '|'"
                f" ({'|'.join(HTTP_METHODS)}), got {self.method!r}"
            )
        if self.when not in WHEN_VALUES:
            raise FaultConfigError(
                f"fault {self.kind}: when must be 'before' or 'after', got {self.when!r}"
            )
        if self.when == "after" and self.kind not in AFTER_KINDS:
            raise FaultConfigError(
                f"fault {self.kind}: when=after applies only to {' and '.join(AFTER_KINDS)}"
                " (late_commit is the delayed variant)"
            )
        if (
            isinstance(self.delay_ms, bool)
            or not isinstance(self.delay_ms, int | float)
            or self.delay_ms < 0
        ):
            raise FaultConfigError(
                f"fault {self.kind}: delay_ms must be a number of milliseconds >= 0,"
                f" got {self.delay_ms!r}"
            )

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> "FaultRule":
        known = {f for f in cls.__dataclass_fields__ if f != "fired"}
        unknown = set(raw) - known
        if unknown:
            raise FaultConfigError(
                f"unknown fault option(s) {sorted(unknown)}; known: {sorted(known)}"
            )
        if "kind" not in raw:
            raise FaultConfigError("a fault rule needs a kind")
        return cls(**dict(raw))

    def applies_to(self, method: str, path: str) -> bool:
        """Whether a request is one this rule watches (before ``times`` and the draw)."""
        if self.path_prefix and not path.startswith(self.path_prefix):
            return False
        return not self.method or method.upper() in self.method.split("|")


@dataclass
class ServiceFaults:
    """The rules of one service plus the counters that make them deterministic."""

    rules: list[FaultRule] = field(default_factory=list)
    seed: int = 0
    requests: int = 0
    _matching: dict[int, int] = field(default_factory=dict)
    _rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def decide(self, path: str, method: str = "GET") -> list[FaultRule]:
        """Count this request and return the rules that fire for it, in order."""
        self.requests += 1
        firing: list[FaultRule] = []
        for index, rule in enumerate(self.rules):
            if not rule.applies_to(method, path):
                continue
            if rule.times is not None and rule.fired >= rule.times:
                continue
            count = self._matching.get(index, 0) + 1
            self._matching[index] = count
            # Draw for every matching request so the sequence depends only on the seed.
            draw = self._rng.random()
            hit = (rule.nth is not None and count == rule.nth) or (
                rule.share > 0 and draw < rule.share
            )
            if hit:
                rule.fired += 1
                firing.append(rule)
        return firing

    def describe(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "requests": self.requests,
            "rules": [asdict(r) for r in self.rules],
        }


def _late_counters() -> dict[str, Any]:
    return {"pending": 0, "answered": {}, "failed": 0, "dropped": 0}


class FaultBoard:
    """All services' fault settings; thread-safe since tests poke it from another thread.

    It also keeps count of each service's ``late_commit`` requests: ``pending`` (waiting or
    being processed), ``answered`` (processed, by the status the service gave), ``failed`` (the
    service raised) and ``dropped`` (never processed: the sandbox stopped first). ``clear``
    (``DELETE /_sandbox/faults`` and every reset) forgets the counters and drops the late commits
    still waiting, so a reset sandbox never receives a write from before the reset.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._services: dict[str, ServiceFaults] = {name: ServiceFaults() for name in SERVICES}
        self._generation = 0
        self._late: dict[str, dict[str, Any]] = {name: _late_counters() for name in SERVICES}

    def set(self, service: str, rules: list[FaultRule], seed: int = 0) -> None:
        if service not in SERVICES:
            raise FaultConfigError(f"unknown service {service!r}; expected one of {SERVICES}")
        with self._lock:
            self._services[service] = ServiceFaults(rules=list(rules), seed=seed)

    def clear(self) -> None:
        with self._lock:
            self._services = {name: ServiceFaults() for name in SERVICES}
            self._generation += 1
            self._late = {name: _late_counters() for name in SERVICES}

    def decide(self, service: str, path: str, method: str = "GET") -> list[FaultRule]:
        with self._lock:
            return self._services[service].decide(path, method)

    def describe(self, service: str) -> dict[str, Any]:
        with self._lock:
            described = self._services[service].describe()
            late = self._late[service]
            described["late_commits"] = {**late, "answered": dict(late["answered"])}
            return described

    # --- late commits (kept here so that clear() can drop the ones still waiting) -----------

    def late_commit_scheduled(self, service: str) -> int:
        """Count a late commit as pending; returns the generation it belongs to."""
        with self._lock:
            self._late[service]["pending"] += 1
            return self._generation

    def late_commit_current(self, generation: int) -> bool:
        """False once ``clear`` ran after the late commit was scheduled: drop it."""
        with self._lock:
            return generation == self._generation

    def late_commit_finished(
        self, service: str, generation: int, *, status: int | None = None, outcome: str
    ) -> None:
        """Record the end of a late commit: ``answered`` (with ``status``), ``failed`` or
        ``dropped``. Late commits of a generation that ``clear`` ended are not counted."""
        with self._lock:
            if generation != self._generation:
                return
            late = self._late[service]
            late["pending"] -= 1
            if outcome == "answered":
                key = str(status)
                late["answered"][key] = late["answered"].get(key, 0) + 1
            else:
                late[outcome] += 1

    def load(self, config: Mapping[str, Any]) -> None:
        """Apply a config mapping: ``{"seed": 7, "dynamics": [{...}], "rippling": [...]}``."""
        seed = int(config.get("seed", 0))
        unknown = set(config) - set(SERVICES) - {"seed"}
        if unknown:
            raise FaultConfigError(f"unknown key(s) in fault config: {sorted(unknown)}")
        for service in SERVICES:
            raw_rules = config.get(service) or []
            if not isinstance(raw_rules, list):
                raise FaultConfigError(f"fault config {service}: expected a list of rules")
            rules = []
            for position, raw in enumerate(raw_rules, start=1):
                try:
                    rules.append(FaultRule.from_mapping(raw))
                except (TypeError, FaultConfigError) as exc:
                    raise FaultConfigError(
                        f"fault config {service} rule {position}: {exc}"
                    ) from exc
            self.set(service, rules, seed=seed)


def load_fault_file(path: Path) -> dict[str, Any]:
    """Read a YAML (or JSON) fault config file."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise FaultConfigError(f"cannot read fault file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise FaultConfigError(f"fault file {path}: expected a mapping at the top level")
    return data


def parse_fault_flag(flag: str) -> tuple[str, FaultRule]:
    """Parse ``service:kind[:key=value,...]``: ``dynamics:throttle:share=0.2,retry_after=3``."""
    parts = flag.split(":", 2)
    if len(parts) < 2:
        raise FaultConfigError(f"--fault {flag!r}: expected service:kind[:key=value,...]")
    service, kind = parts[0], parts[1]
    if service not in SERVICES:
        raise FaultConfigError(f"--fault {flag!r}: unknown service {service!r}")
    options: dict[str, Any] = {"kind": kind}
    if len(parts) == 3 and parts[2]:
        for item in parts[2].split(","):
            key, sep, value = item.partition("=")
            if not sep:
                raise FaultConfigError(f"--fault {flag!r}: option {item!r} needs key=value")
            options[key.strip()] = _coerce(value.strip())
    try:
        return service, FaultRule.from_mapping(options)
    except TypeError as exc:
        raise FaultConfigError(f"--fault {flag!r}: {exc}") from exc


def _coerce(value: str) -> Any:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value
