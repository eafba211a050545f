"""Employee ids: what v1 and webhooks call a worker, deliberately unlike the v2 worker id.

Rippling's webhooks carry an *employee* id, v1 serves ``/employees/{employeeId}`` and names
employees (``ROLE`` subjects) in ``company_activity``; v2 serves ``/workers/{id}/``. Rippling
does not document that the two ids are equal, so the stand-in makes them differ: a connector
that took one for the other would find nothing here. The employee id is derived from the worker
id (24 hex digits, like Rippling's ids) and the link is stored as an ``employees`` record (the
store seeds them, so this module imports no store), so ``GET /employees/{id}`` (``api``) finds
its worker. Storage stays in worker ids; only the v1 and webhook surfaces speak employee ids.

The v1 ``Employee`` served carries what the v1 schema lists (``workEmail`` among them) and no
``userId`` (the schema has none): a connector resolves an employee to a v2 worker through the
work email.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ml_connector_sandbox.company import catalog

KIND = "employees"


def employee_id_for(worker_id: str) -> str:
    """The employee id of a worker: stable, and never equal to a worker or user id."""
    return hashlib.sha256(f"employee:{worker_id}".encode()).hexdigest()[:24]


def link(worker_id: str) -> dict[str, Any]:
    """The stored ``employees`` record linking an employee id to its worker."""
    return {"id": employee_id_for(worker_id), "worker_id": worker_id}


def v1_event(event: dict[str, Any]) -> dict[str, Any]:
    """A stored activity event as v1 serves it: its ``ROLE`` subjects and owner are employees."""
    out = dict(event)
    subjects = []
    for subject in event.get("subjects") or []:
        if subject.get("type") == "ROLE" and subject.get("instance"):
            subject = {**subject, "instance": employee_id_for(subject["instance"])}
        subjects.append(subject)
    out["subjects"] = subjects
    if event.get("owner"):
        out["owner"] = employee_id_for(event["owner"])
    return out


def webhook(event_name: str, company_id: str, worker_id: str) -> dict[str, str]:
    """The form Rippling would POST to an app's webhook URL for this change (employee id)."""
    return {
        "event_name": event_name,
        "company_id": company_id,
        "company_primary_email": f"hr@{catalog.EMAIL_DOMAIN}",
        "id": employee_id_for(worker_id),
    }
