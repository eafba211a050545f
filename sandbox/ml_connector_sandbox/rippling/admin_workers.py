"""Admin endpoints acting as an HR admin on workers: hire, update, terminate and rehire.

Every write stamps ``updated_at`` with the store's clock, later than every seeded timestamp, so
watermark polling (``updated_at ge ...``) sees it, and appends a ``company_activity`` event, as
Rippling does. Routes and body parsing live in ``admin``.

Every answer also carries the worker's ``employee_id`` and the ``webhook`` form Rippling would
POST for the change (it names the employee id, never the worker id): ``employee.created`` for a
hire, ``employee.updated`` for an update and for a rehire (there is no ``employee.rehired`` in
Rippling's published description), ``employee.terminated`` for a termination. The stand-in
sends nothing itself; a test posts that form to the receiver under test.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from starlette.requests import Request

from ml_connector_sandbox.company import catalog, payroll, staff
from ml_connector_sandbox.rippling import employees
from ml_connector_sandbox.rippling.admin_support import (
    AdminError,
    Answer,
    body_amount,
    body_date,
    currency_of,
    new_id,
    require,
)
from ml_connector_sandbox.rippling.store import Store

DEFAULT_PAY = {"SALARIED": "85000.00", "HOURLY": "32.00", "CONTRACTOR": "95.00"}
UPDATABLE = {
    "given_name",
    "family_name",
    "work_email",
    "department_id",
    "department_reference_code",
    "title",
    "manager_id",
    "level_id",
    "legal_entity_id",
    "employment_type_id",
    "annual_salary",
    "hourly_rate",
}


def pay_kind(employment_type: dict[str, Any]) -> str:
    """SALARIED, HOURLY or CONTRACTOR: how a worker of this employment type is paid."""
    if employment_type.get("type") == "CONTRACTOR":
        return "CONTRACTOR"
    return "HOURLY" if employment_type.get("compensation_time_period") == "HOURLY" else "SALARIED"


class WorkerAdmin:
    """Worker lifecycle writes; ``company_id`` is the company their activity events name."""

    def __init__(self, store: Store, company_id: str) -> None:
        self.store = store
        self.company_id = company_id

    def _event(self, worker: dict[str, Any], user: dict[str, Any], when: str, kind: str) -> None:
        self.store.put(
            "company_activity",
            staff.activity_event(
                new_id(), self.company_id, worker["id"], user.get("display_name", ""), when, kind
            ),
        )

    def _answer(self, worker: dict[str, Any], event_name: str) -> dict[str, Any]:
        """What every worker write answers besides its records: the ids Rippling's other
        surfaces use for this worker and the webhook it would send."""
        return {
            "employee_id": employees.employee_id_for(worker["id"]),
            "webhook": employees.webhook(event_name, self.company_id, worker["id"]),
        }

    def _department(self, body: dict[str, Any]) -> str | None:
        if body.get("department_id"):
            return require(self.store, "departments", body["department_id"], "department")["id"]
        if body.get("department_reference_code"):
            code = str(body["department_reference_code"])
            ids = self.store.ids_where(
                "departments", "json_extract(body, '$.reference_code') = ?", (code,)
            )
            if not ids:
                raise AdminError(400, f"Unknown department reference_code {code!r}")
            return ids[0]
        return None

    def hire(self, request: Request, body: dict[str, Any]) -> Answer:
        """New worker + user + compensation (+ job assignment), ACTIVE from ``start_date``."""
        given, family = body.get("given_name"), body.get("family_name")
        if not isinstance(given, str) or not given or not isinstance(family, str) or not family:
            raise AdminError(400, "'given_name' and 'family_name' are required")
        entities = self.store.all("legal_entities")
        legal = (
            require(self.store, "legal_entities", body["legal_entity_id"], "legal entity")
            if body.get("legal_entity_id")
            else entities[0]
        )
        department_id = self._department(body) or self.store.all("departments")[0]["id"]
        types = self.store.all("employment_types")
        if body.get("employment_type_id"):
            etype = require(
                self.store, "employment_types", body["employment_type_id"], "employment type"
            )
        else:
            wanted = str(body.get("employment_type", "SALARIED"))
            etype = next((t for t in types if pay_kind(t) == wanted), None)
            if etype is None:
                raise AdminError(
                    400, f"Unknown employment_type {wanted!r}; use SALARIED, HOURLY or CONTRACTOR"
                )
        kind = pay_kind(etype)
        country, currency = currency_of(legal)
        today = self.store.today()
        start = body_date(body, "start_date", today)
        now = self.store.tick()
        number = (
            int(
                self.store.scalar(
                    "SELECT MAX(CAST(json_extract(body, '$.number') AS INTEGER)) FROM records "
                    "WHERE kind = 'workers'"
                )
                or staff.FIRST_NUMBER - 1
            )
            + 1
        )
        email = body.get("work_email") or (
            f"{staff._ascii(given)}.{staff._ascii(family)}{number}@{catalog.EMAIL_DOMAIN}"
        )
        if self.store.ids_where("workers", "email = ?", (email,)):
            raise AdminError(409, f"work_email {email!r} is already used")
        pay = body_amount(
            body, "annual_salary" if kind == "SALARIED" else "hourly_rate"
        ) or Decimal(DEFAULT_PAY[kind])
        annual, rate = (
            (pay, payroll.cents(pay / 2080))
            if kind == "SALARIED"
            else (payroll.cents(pay * 2080), pay)
        )
        levels = self.store.all("levels")
        level_id = body.get("level_id") or (levels[1]["id"] if len(levels) > 1 else None)
        worker_id, user_id, comp_id = new_id(), new_id(), new_id()
        user = staff.user_record(
            user_id=user_id,
            created=now,
            given=given,
            family=family,
            email=email,
            number=number,
            country=country,
            active=True,
        )
        worker = staff.worker_record(
            worker_id=worker_id,
            created=now,
            updated=now,
            user_id=user_id,
            number=number,
            email=email,
            status="ACTIVE" if start <= today else "ACCEPTED",
            start=start,
            end=None,
            legal_entity_id=legal["id"],
            country=country,
            work_location_id=str(body.get("work_location_id") or new_id()),
            employment_type_id=etype["id"],
            compensation_id=comp_id,
            department_id=department_id,
            level_id=level_id,
            title=str(body.get("title") or "Consultant"),
            salaried=kind == "SALARIED",
            manager_id=body.get("manager_id"),
            is_manager=False,
            team_ids=[],
        )
        compensation = staff.compensation_record(
            compensation_id=comp_id,
            worker_id=worker_id,
            currency=currency,
            created=now,
            effective=start,
            annual=annual,
            rate=rate,
            pay_kind=kind,
            level=1,
        )
        with self.store.lock:
            self.store.put("users", user)
            self.store.put("workers", worker)
            self.store.put(employees.KIND, employees.link(worker_id))
            self.store.put("compensations", compensation)
            if body.get("job_code_id"):
                code = require(self.store, "job_codes", body["job_code_id"], "job code")
                self.store.put(
                    "job_assignments",
                    {
                        "id": new_id(),
                        "created_at": now,
                        "updated_at": now,
                        "worker_id": worker_id,
                        "job_code_id": code["id"],
                    },
                )
            self._event(worker, user, now, "EMPLOYEE_HIRED")
        return 201, {
            "worker": worker,
            "user": user,
            "compensation": compensation,
            **self._answer(worker, "employee.created"),
        }

    def update_worker(self, request: Request, body: dict[str, Any]) -> Answer:
        unknown = sorted(set(body) - UPDATABLE)
        if unknown:
            raise AdminError(400, f"Cannot update {unknown}; updatable: {sorted(UPDATABLE)}")
        worker = require(self.store, "workers", request.path_params["id"], "worker")
        user = require(self.store, "users", worker["user_id"], "user")
        now = self.store.tick()
        user_changed = False
        if "given_name" in body or "family_name" in body:
            given = body.get("given_name", user["name"]["given_name"])
            family = body.get("family_name", user["name"]["family_name"])
            user["name"].update(
                {
                    "given_name": given,
                    "family_name": family,
                    "preferred_given_name": given,
                    "preferred_family_name": family,
                    "formatted": f"{given} {family}",
                }
            )
            user["display_name"] = f"{given} {family}"
            user_changed = True
        if "work_email" in body:
            worker["work_email"] = body["work_email"]
            user["emails"] = [
                {"value": body["work_email"], "type": "WORK", "display": body["work_email"]}
            ]
            user["username"] = str(body["work_email"]).split("@")[0]
            user_changed = True
        department_id = self._department(body)
        if department_id:
            worker["department_id"] = department_id
        for key, kind, what in (
            ("manager_id", "workers", "manager"),
            ("level_id", "levels", "level"),
            ("legal_entity_id", "legal_entities", "legal entity"),
            ("employment_type_id", "employment_types", "employment type"),
        ):
            if key in body:
                if body[key] is not None:
                    require(self.store, kind, body[key], what)
                worker[key] = body[key]
        if "title" in body:
            worker["title"] = body["title"]
            worker["title_effective_date"] = self.store.today().isoformat()
        compensation = None
        if "annual_salary" in body or "hourly_rate" in body:
            compensation = require(
                self.store, "compensations", worker["compensation_id"], "compensation"
            )
            currency = compensation["annual_compensation"]["currency_type"]
            etype = require(
                self.store, "employment_types", worker["employment_type_id"], "employment type"
            )
            kind = pay_kind(etype)
            salary, hourly = body_amount(body, "annual_salary"), body_amount(body, "hourly_rate")
            annual = salary if salary is not None else payroll.cents((hourly or 0) * 2080)
            rate = hourly if hourly is not None else payroll.cents(annual / 2080)
            fresh = staff.compensation_record(
                compensation_id=compensation["id"],
                worker_id=worker["id"],
                currency=currency,
                created=compensation["created_at"],
                effective=self.store.today(),
                annual=annual,
                rate=rate,
                pay_kind=kind,
                level=1,
            )
            compensation = {**fresh, "updated_at": now}
        worker["updated_at"] = now
        with self.store.lock:
            if user_changed:
                user["updated_at"] = now
                self.store.put("users", user)
            if compensation is not None:
                self.store.put("compensations", compensation)
            self.store.put("workers", worker)
            self._event(worker, user, now, "EMPLOYEE_UPDATED")
        return 200, {
            "worker": worker,
            "user": user,
            "compensation": compensation,
            **self._answer(worker, "employee.updated"),
        }

    def terminate(self, request: Request, body: dict[str, Any]) -> Answer:
        worker = require(self.store, "workers", request.path_params["id"], "worker")
        if worker["status"] == "TERMINATED":
            raise AdminError(409, f"Worker {worker['id']} is already terminated")
        user = require(self.store, "users", worker["user_id"], "user")
        end = body_date(body, "end_date", self.store.today())
        now = self.store.tick()
        worker.update(
            {
                "status": "TERMINATED",
                "end_date": end.isoformat(),
                "updated_at": now,
                "termination_details": {
                    "type": body.get("type", "VOLUNTARY"),
                    "reason": body.get("reason", "Left the company"),
                },
            }
        )
        user.update({"active": False, "updated_at": now})
        with self.store.lock:
            self.store.put("workers", worker)
            self.store.put("users", user)
            self._event(worker, user, now, "EMPLOYEE_TERMINATED")
        return 200, {"worker": worker, **self._answer(worker, "employee.terminated")}

    def rehire(self, request: Request, body: dict[str, Any]) -> Answer:
        """Same worker id back to ACTIVE with a new start_date (the dataset's rehire model)."""
        worker = require(self.store, "workers", request.path_params["id"], "worker")
        if worker["status"] != "TERMINATED":
            raise AdminError(409, f"Worker {worker['id']} is not terminated")
        user = require(self.store, "users", worker["user_id"], "user")
        today = self.store.today()
        start = body_date(body, "start_date", today)
        now = self.store.tick()
        worker.update(
            {
                "status": "ACTIVE" if start <= today else "ACCEPTED",
                "start_date": start.isoformat(),
                "end_date": None,
                "termination_details": None,
                "updated_at": now,
            }
        )
        user.update({"active": True, "updated_at": now})
        with self.store.lock:
            self.store.put("workers", worker)
            self.store.put("users", user)
            self._event(worker, user, now, "EMPLOYEE_REHIRED")
        # Rippling publishes no employee.rehired webhook: a rehire is sent as an update.
        return 200, {"worker": worker, **self._answer(worker, "employee.updated")}
