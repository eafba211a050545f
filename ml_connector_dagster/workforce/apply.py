"""Apply a plan through the Dynamics client, one write per action, each one in the audit trail.

Only the plan is applied: nothing is read or decided here. Actions of one worker run in plan
order (worker, employments, vendor); when one of them fails, that worker's later writes are
skipped (an employment needs its worker), other workers go on. A write whose outcome is unknown
(``AmbiguousWriteError``) is recorded as such and never repeated blindly: the next sync reads
Dynamics again and plans from what is really there. Throttling or authentication failures that
outlast the client's retries stop the whole run (after recording the attempt), so a trigger
can try again later.
"""

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ml_connector_dagster.audit.store import AuditStore
from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.dynamics.errors import (
    AmbiguousWriteError,
    DynamicsAuthError,
    DynamicsRequestError,
    DynamicsUnavailableError,
)
from ml_connector_dagster.transport import jsonmoney
from ml_connector_dagster.workforce.plan import Action, ActionKind, Plan

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    """What became of one action; the value is what the audit trail's ``outcome`` holds."""

    APPLIED = "applied"
    FAILED = "failed"
    AMBIGUOUS = "ambiguous"
    SKIPPED = "skipped"  # an earlier write of the same worker failed
    REPORTED = "reported"


@dataclass(frozen=True)
class ActionResult:
    action: Action
    outcome: Outcome
    answer: Any = None  # the row F&O returned for a create; None for a PATCH (204)
    error: str | None = None


@dataclass
class ApplyResult:
    results: list[ActionResult] = field(default_factory=list)
    identities_recorded: int = 0

    def by_outcome(self, outcome: Outcome) -> list[ActionResult]:
        return [r for r in self.results if r.outcome == outcome]

    @property
    def applied(self) -> list[ActionResult]:
        return self.by_outcome(Outcome.APPLIED)

    @property
    def failed(self) -> list[ActionResult]:
        return [r for r in self.results if r.outcome in (Outcome.FAILED, Outcome.AMBIGUOUS)]

    @property
    def ok(self) -> bool:
        return not self.failed

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for result in self.results:
            out[result.outcome] = out.get(result.outcome, 0) + 1
        return out


def _request(action: Action) -> dict[str, Any]:
    body: dict[str, Any] = {"reason": action.reason}
    if action.entity_set:
        body["entity_set"] = action.entity_set
    if action.key:
        body["key"] = dict(action.key)
    if action.values:
        body["values"] = dict(action.values)
    # Through jsonmoney so a Decimal keeps its digits (as text); the column is JSON.
    return json.loads(jsonmoney.dumps(body), parse_float=str)


def _answer_text(answer: Any) -> str | None:
    if answer is None:
        return None
    return jsonmoney.dumps(answer) if not isinstance(answer, str) else answer


def _write(client: DynamicsClient, action: Action) -> Any:
    assert action.entity_set is not None
    if action.key is None:
        return client.create(action.entity_set, action.values)
    client.patch(action.entity_set, action.key, action.values)
    return None


def _already_reported(store: AuditStore, action: Action) -> bool:
    """A report already recorded since the worker's last write is not recorded again, so a
    standing problem (a refused rehire, an unmapped entity) shows once, not on every sync."""
    if not action.rippling_worker_id:
        return False
    for row in reversed(store.workforce_actions(action.rippling_worker_id)):
        if row["action"] != ActionKind.REPORT.value:
            return False
        if (row.get("request") or {}).get("reason") == action.reason:
            return True
    return False


def apply_plan(
    plan: Plan,
    client: DynamicsClient,
    store: AuditStore,
    *,
    connection: str,
    dagster_run_id: str | None = None,
) -> ApplyResult:
    result = ApplyResult()
    for identity in plan.identities:
        store.map_worker(
            identity.rippling_worker_id, identity.personnel_number, identity.rippling_user_id
        )
        result.identities_recorded += 1

    blocked: set[str] = set()

    def record(
        action: Action, outcome: Outcome, answer: Any = None, error: str | None = None
    ) -> None:
        store.record_workforce_action(
            connection=connection,
            dagster_run_id=dagster_run_id,
            rippling_worker_id=action.rippling_worker_id,
            personnel_number=action.personnel_number,
            company=action.company,
            action=action.kind.value,
            request=_request(action),
            outcome=outcome.value,
            dynamics_answer=error if error is not None else _answer_text(answer),
        )
        result.results.append(ActionResult(action, outcome, answer, error))

    for action in plan.actions:
        if not action.is_write:
            if not _already_reported(store, action):
                record(action, Outcome.REPORTED)
            else:
                result.results.append(ActionResult(action, Outcome.REPORTED))
            continue
        person = action.personnel_number or ""
        if person in blocked:
            record(action, Outcome.SKIPPED, error="an earlier write for this worker failed")
            continue
        try:
            answer = _write(client, action)
        except AmbiguousWriteError as exc:
            blocked.add(person)
            record(action, Outcome.AMBIGUOUS, error=str(exc))
            log.warning("%s %s: outcome unknown: %s", action.kind, person, exc)
            continue
        except DynamicsRequestError as exc:
            blocked.add(person)
            record(action, Outcome.FAILED, error=exc.message)
            log.warning("%s %s refused by Dynamics: %s", action.kind, person, exc.message)
            continue
        except (DynamicsUnavailableError, DynamicsAuthError) as exc:
            record(action, Outcome.FAILED, error=str(exc))
            raise
        record(action, Outcome.APPLIED, answer=answer)
        log.info("%s %s %s", action.kind, person, action.company or "")
    return result


def summarize(results: Iterable[ActionResult]) -> str:
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "nothing to do"
