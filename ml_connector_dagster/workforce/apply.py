"""Apply a plan through the Dynamics client, one write per action, each one in the audit trail.

Only the plan is applied: nothing is read or decided here. Actions of one worker run in plan
order (worker, employments, vendor); when one of them fails, that worker's later writes are
skipped (an employment needs its worker), other workers go on. A write whose outcome is unknown
(``AmbiguousWriteError``) is recorded as such and never repeated blindly: the next sync reads
Dynamics again and plans from what is really there. Throttling or authentication failures that
outlast the client's retries stop the whole run (after recording the attempt), so a trigger
can try again later.

Numbers F&O assigns: a worker created without a PersonnelNumber gets one from F&O's number
sequence, returned in the 201 body. It is recorded in the worker map at once (so the next sync
finds the person even if this run stops right after) and put into the person's later actions
(employments, the vendor) in place of the pending number. A vendor account F&O assigned is
recorded in the worker map the same way.

A body with a field outside ``dynamics.writable`` (a read-only or computed one) is never sent.
"""

import dataclasses
import json
import logging
from collections.abc import Iterable, Mapping
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
from ml_connector_dagster.dynamics.writable import Operation, unwritable
from ml_connector_dagster.transport import jsonmoney
from ml_connector_dagster.workforce.desired import WorkerIdentity, is_pending_number
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


def _not_writable(action: Action) -> list[str]:
    assert action.entity_set is not None
    operation = Operation.CREATE if action.key is None else Operation.PATCH
    return unwritable(action.entity_set, operation, action.values)


def _with_assigned(action: Action, assigned: Mapping[str, str]) -> Action:
    """The action with a pending number replaced by the one F&O assigned (values included:
    an employment's PersonnelNumber, a vendor account built from the template)."""
    pending = action.personnel_number
    if not pending or pending not in assigned:
        return action
    real = assigned[pending]

    def swap(value: Any) -> Any:
        return value.replace(pending, real) if isinstance(value, str) else value

    return dataclasses.replace(
        action,
        personnel_number=real,
        values={name: swap(value) for name, value in action.values.items()},
        key=None if action.key is None else {k: swap(v) for k, v in action.key.items()},
    )


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
    waiting: dict[str, list[WorkerIdentity]] = {}
    for identity in plan.identities:
        if is_pending_number(identity.personnel_number):
            waiting.setdefault(identity.personnel_number, []).append(identity)
            continue  # recorded once F&O has assigned the number
        store.map_worker(
            identity.rippling_worker_id, identity.personnel_number, identity.rippling_user_id
        )
        result.identities_recorded += 1

    blocked: set[str] = set()
    assigned: dict[str, str] = {}

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

    def learn_numbers(action: Action, answer: Any) -> str | None:
        """Record what F&O assigned on a create; an error text when it gave nothing."""
        row = answer if isinstance(answer, dict) else {}
        pending = action.personnel_number or ""
        if action.kind is ActionKind.CREATE_WORKER and is_pending_number(pending):
            number = row.get("PersonnelNumber")
            if not number:
                return "Dynamics created the worker but returned no PersonnelNumber"
            assigned[pending] = str(number)
            for identity in waiting.pop(pending, []):
                store.map_worker(
                    identity.rippling_worker_id, str(number), identity.rippling_user_id
                )
                result.identities_recorded += 1
        if action.kind is ActionKind.CREATE_VENDOR and action.rippling_worker_id:
            account = row.get("VendorAccountNumber") or action.values.get("VendorAccountNumber")
            if account:
                store.map_vendor(action.rippling_worker_id, str(account))
        return None

    for action in plan.actions:
        if not action.is_write:
            if not _already_reported(store, action):
                record(action, Outcome.REPORTED)
            else:
                result.results.append(ActionResult(action, Outcome.REPORTED))
            continue
        planned_person = action.personnel_number or ""
        if planned_person in blocked:
            record(action, Outcome.SKIPPED, error="an earlier write for this worker failed")
            continue
        action = _with_assigned(action, assigned)
        person = planned_person
        refused = _not_writable(action)
        if refused:
            blocked.add(person)
            record(
                action,
                Outcome.FAILED,
                error=f"not sent: {', '.join(refused)} cannot be written by the connector",
            )
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
        problem = learn_numbers(action, answer)
        if problem is not None:
            blocked.add(person)
            record(action, Outcome.AMBIGUOUS, answer=answer, error=problem)
            continue
        record(action, Outcome.APPLIED, answer=answer)
        log.info("%s %s %s", action.kind, action.personnel_number or "", action.company or "")
    return result


def summarize(results: Iterable[ActionResult]) -> str:
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "nothing to do"
