"""Admin endpoints under ``/_sandbox/``: act as an HR admin in Rippling during a test.

Hire, update, terminate and rehire workers; create payroll runs (records generated exactly like
the seed's) and move them through their states; overwrite a payroll record to craft bad data.
Every write stamps ``updated_at`` with the store's clock, which is always later than every
seeded timestamp, so watermark polling (``updated_at ge ...``) sees it; worker changes also
append a ``company_activity`` event. No authentication: these routes are the test's hands.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import secrets
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ml_connector_sandbox.company import catalog, payroll, runs, staff
from ml_connector_sandbox.company.ids import IdFactory
from ml_connector_sandbox.rippling.store import Store

PREFIX = "/_sandbox"
RUN_STATES = ("DRAFT", "APPROVED", "PAID", "FAILED", "CLOSED")
RUN_TYPES = ("REGULAR", "OFF_CYCLE", "CORRECTION", "TERMINATION")
COMMISSION_CODES = frozenset(
    ref for _n, ref, _s, _w, commission in catalog.DEPARTMENTS if commission
)
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


class AdminError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _new_id() -> str:
    return secrets.token_hex(12)


def _date(body: dict[str, Any], key: str, default: dt.date) -> dt.date:
    value = body.get(key)
    if value is None:
        return default
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise AdminError(400, f"'{key}' must be a date YYYY-MM-DD") from exc


def _amount(body: dict[str, Any], key: str) -> Decimal | None:
    value = body.get(key)
    if value is None:
        return None
    try:
        return payroll.cents(Decimal(str(value)))
    except InvalidOperation as exc:
        raise AdminError(400, f"'{key}' must be a decimal amount such as \"85000.00\"") from exc


class Admin:
    def __init__(self, store: Store, company_id: str, credentials: Any) -> None:
        self.store = store
        self.company_id = company_id
        self.credentials = credentials

    def routes(self) -> list[Route]:
        return [
            Route(f"{PREFIX}/credentials", self._wrap(self.get_credentials), methods=["GET"]),
            Route(f"{PREFIX}/clock", self._wrap(self.get_clock), methods=["GET"]),
            Route(f"{PREFIX}/workers", self._wrap(self.hire), methods=["POST"]),
            Route(f"{PREFIX}/workers/{{id}}", self._wrap(self.update_worker), methods=["PATCH"]),
            Route(
                f"{PREFIX}/workers/{{id}}/terminate", self._wrap(self.terminate), methods=["POST"]
            ),
            Route(f"{PREFIX}/workers/{{id}}/rehire", self._wrap(self.rehire), methods=["POST"]),
            Route(f"{PREFIX}/payroll-runs", self._wrap(self.create_run), methods=["POST"]),
            Route(f"{PREFIX}/payroll-runs/{{id}}", self._wrap(self.update_run), methods=["PATCH"]),
            Route(
                f"{PREFIX}/payroll-runs/{{run_id}}/worker-payroll-records/{{id}}",
                self._wrap(self.put_record),
                methods=["PUT"],
            ),
        ]

    def _wrap(self, handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            body: dict[str, Any] = {}
            if request.method in ("POST", "PATCH", "PUT"):
                raw = await request.body()
                if raw.strip():
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        return JSONResponse({"detail": "Body must be JSON."}, status_code=400)
                if not isinstance(body, dict):
                    return JSONResponse({"detail": "Body must be a JSON object."}, status_code=400)
            try:
                status, payload = handler(request, body)
            except AdminError as exc:
                return JSONResponse({"detail": exc.detail}, status_code=exc.status)
            return JSONResponse(payload, status_code=status)

        return endpoint

    # --- helpers --------------------------------------------------------------------------------
    def _require(self, kind: str, record_id: Any, what: str) -> dict[str, Any]:
        record = self.store.get(kind, str(record_id)) if record_id else None
        if record is None:
            raise AdminError(
                404 if what == "worker" or what == "payroll run" else 400,
                f"Unknown {what} {record_id!r}",
            )
        return record

    def _event(self, worker: dict[str, Any], user: dict[str, Any], when: str, kind: str) -> None:
        self.store.put(
            "company_activity",
            staff.activity_event(
                _new_id(), self.company_id, worker["id"], user.get("display_name", ""), when, kind
            ),
        )

    def _department(self, body: dict[str, Any]) -> str | None:
        if body.get("department_id"):
            return self._require("departments", body["department_id"], "department")["id"]
        if body.get("department_reference_code"):
            code = str(body["department_reference_code"])
            ids = self.store.ids_where(
                "departments", "json_extract(body, '$.reference_code') = ?", (code,)
            )
            if not ids:
                raise AdminError(400, f"Unknown department reference_code {code!r}")
            return ids[0]
        return None

    def _currency(self, legal_entity: dict[str, Any]) -> tuple[str, str]:
        country = (legal_entity.get("country") or {}).get("code", "US")
        for spec in catalog.ENTITIES:
            if spec.country == country:
                return country, spec.currency
        return country, "USD"

    def _pay_kind(self, employment_type: dict[str, Any]) -> str:
        if employment_type.get("type") == "CONTRACTOR":
            return "CONTRACTOR"
        return (
            "HOURLY"
            if employment_type.get("compensation_time_period") == "HOURLY"
            else ("SALARIED")
        )

    # --- endpoints ------------------------------------------------------------------------------
    def get_credentials(self, request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        return 200, self.credentials()

    def get_clock(self, request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        return 200, {
            "today": self.store.today().isoformat(),
            "last_write": self.store.get_meta("clock"),
        }

    def hire(self, request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        """New worker + user + compensation (+ job assignment), ACTIVE from ``start_date``."""
        given, family = body.get("given_name"), body.get("family_name")
        if not isinstance(given, str) or not given or not isinstance(family, str) or not family:
            raise AdminError(400, "'given_name' and 'family_name' are required")
        entities = self.store.all("legal_entities")
        legal = (
            self._require("legal_entities", body["legal_entity_id"], "legal entity")
            if body.get("legal_entity_id")
            else entities[0]
        )
        department_id = self._department(body) or self.store.all("departments")[0]["id"]
        types = self.store.all("employment_types")
        if body.get("employment_type_id"):
            etype = self._require("employment_types", body["employment_type_id"], "employment type")
        else:
            wanted = str(body.get("employment_type", "SALARIED"))
            etype = next((t for t in types if self._pay_kind(t) == wanted), None)
            if etype is None:
                raise AdminError(
                    400, f"Unknown employment_type {wanted!r}; use SALARIED, HOURLY or CONTRACTOR"
                )
        kind = self._pay_kind(etype)
        country, currency = self._currency(legal)
        today = self.store.today()
        start = _date(body, "start_date", today)
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
        pay = _amount(body, "annual_salary" if kind == "SALARIED" else "hourly_rate") or Decimal(
            DEFAULT_PAY[kind]
        )
        annual, rate = (
            (pay, payroll.cents(pay / 2080))
            if kind == "SALARIED"
            else (payroll.cents(pay * 2080), pay)
        )
        levels = self.store.all("levels")
        level_id = body.get("level_id") or (levels[1]["id"] if len(levels) > 1 else None)
        worker_id, user_id, comp_id = _new_id(), _new_id(), _new_id()
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
            work_location_id=str(body.get("work_location_id") or _new_id()),
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
            self.store.put("compensations", compensation)
            if body.get("job_code_id"):
                code = self._require("job_codes", body["job_code_id"], "job code")
                self.store.put(
                    "job_assignments",
                    {
                        "id": _new_id(),
                        "created_at": now,
                        "updated_at": now,
                        "worker_id": worker_id,
                        "job_code_id": code["id"],
                    },
                )
            self._event(worker, user, now, "EMPLOYEE_HIRED")
        return 201, {"worker": worker, "user": user, "compensation": compensation}

    def update_worker(self, request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        unknown = sorted(set(body) - UPDATABLE)
        if unknown:
            raise AdminError(400, f"Cannot update {unknown}; updatable: {sorted(UPDATABLE)}")
        worker = self._require("workers", request.path_params["id"], "worker")
        user = self._require("users", worker["user_id"], "user")
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
                    self._require(kind, body[key], what)
                worker[key] = body[key]
        if "title" in body:
            worker["title"] = body["title"]
            worker["title_effective_date"] = self.store.today().isoformat()
        compensation = None
        if "annual_salary" in body or "hourly_rate" in body:
            compensation = self._require("compensations", worker["compensation_id"], "compensation")
            currency = compensation["annual_compensation"]["currency_type"]
            etype = self._require(
                "employment_types", worker["employment_type_id"], "employment type"
            )
            kind = self._pay_kind(etype)
            salary, hourly = _amount(body, "annual_salary"), _amount(body, "hourly_rate")
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
        return 200, {"worker": worker, "user": user, "compensation": compensation}

    def terminate(self, request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        worker = self._require("workers", request.path_params["id"], "worker")
        if worker["status"] == "TERMINATED":
            raise AdminError(409, f"Worker {worker['id']} is already terminated")
        user = self._require("users", worker["user_id"], "user")
        end = _date(body, "end_date", self.store.today())
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
        return 200, {"worker": worker}

    def rehire(self, request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        """Same worker id back to ACTIVE with a new start_date (the dataset's rehire model)."""
        worker = self._require("workers", request.path_params["id"], "worker")
        if worker["status"] != "TERMINATED":
            raise AdminError(409, f"Worker {worker['id']} is not terminated")
        user = self._require("users", worker["user_id"], "user")
        today = self.store.today()
        start = _date(body, "start_date", today)
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
        return 200, {"worker": worker}

    # --- payroll --------------------------------------------------------------------------------
    def create_run(self, request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        """A run with records for every worker of the entity employed in the period."""
        entities = self.store.all("company_legal_entities")
        entity = (
            self._require(
                "company_legal_entities", body["company_entity_id"], "company legal entity"
            )
            if body.get("company_entity_id")
            else entities[0]
        )
        run_type = str(body.get("run_type", "REGULAR"))
        state = str(body.get("run_state", "DRAFT"))
        if run_type not in RUN_TYPES or state not in RUN_STATES:
            raise AdminError(
                400, f"run_type must be one of {RUN_TYPES}, run_state one of {RUN_STATES}"
            )
        latest = self.store.scalar(
            "SELECT MAX(json_extract(body, '$.pay_period.end_date')) FROM records "
            "WHERE kind = 'payroll_runs' AND json_extract(body, '$.company_entity_id') = ? "
            "AND json_extract(body, '$.run_type') = 'REGULAR'",
            (entity["id"],),
        )
        default_start = (
            dt.date.fromisoformat(latest) + dt.timedelta(days=1)
            if latest
            else self.store.today() - dt.timedelta(days=13)
        )
        start = _date(body, "start_date", default_start)
        end = _date(body, "end_date", start + dt.timedelta(days=13))
        check = _date(body, "check_date", end + dt.timedelta(days=6))
        legal = next(
            (
                le
                for le in self.store.all("legal_entities")
                if le.get("legal_name") == entity.get("legal_name")
            ),
            None,
        )
        if legal is None:
            raise AdminError(400, f"No legal entity matches company entity {entity['id']}")
        country, currency = self._currency(legal)
        spec = next((s for s in catalog.ENTITIES if s.country == country), catalog.ENTITIES[0])
        ids = IdFactory(random.Random(secrets.randbits(64)))
        run = runs.make_run(
            ids,
            company_entity_id=entity["id"],
            country_code=country,
            payment_type=spec.payment_type,
            period=(start, end),
            check_date=check,
            run_type=run_type,
            run_state=state,
            title=body.get("title"),
        )
        members = self._members(
            legal["id"], country, currency, start, end, check, run_type, body.get("worker_ids")
        )
        records = runs.records_for_run(ids, run, members, random.Random(run["id"]))
        with self.store.transaction():
            self.store.put("payroll_runs", run)
            for record in records:
                self.store.put("worker_payroll_records", record)
        return 201, {"run": run, "records": len(records)}

    def _members(
        self,
        legal_entity_id: str,
        country: str,
        currency: str,
        start: dt.date,
        end: dt.date,
        check: dt.date,
        run_type: str,
        worker_ids: Any,
    ) -> list[tuple[payroll.PayProfile, Decimal]]:
        ids = self.store.ids_where(
            "workers", "json_extract(body, '$.legal_entity_id') = ?", (legal_entity_id,)
        )
        if worker_ids is not None:
            if not isinstance(worker_ids, list):
                raise AdminError(400, "'worker_ids' must be a list")
            ids = [i for i in ids if i in set(worker_ids)]
        workers = self.store.get_many("workers", ids)
        comps = self.store.get_many(
            "compensations", [w.get("compensation_id", "") for w in workers.values()]
        )
        types = {t["id"]: t for t in self.store.all("employment_types")}
        commission = {
            d["id"]
            for d in self.store.all("departments")
            if d.get("reference_code") in COMMISSION_CODES
        }
        out = []
        for worker_id in ids:
            worker = workers[worker_id]
            span = (
                dt.date.fromisoformat(worker["start_date"]),
                dt.date.fromisoformat(worker["end_date"]) if worker.get("end_date") else None,
            )
            if run_type == "OFF_CYCLE":
                fraction = runs.employed_fraction([span], check, check) and Decimal(1)
            else:
                fraction = runs.employed_fraction([span], start, end)
            etype = types[worker["employment_type_id"]]
            if not fraction or (run_type == "OFF_CYCLE" and etype["type"] == "CONTRACTOR"):
                continue
            out.append(
                (
                    payroll.profile_for(
                        worker=worker,
                        compensation=comps.get(worker.get("compensation_id", "")),
                        employment_type=etype,
                        country=country,
                        currency=currency,
                        commission_eligible=worker.get("department_id") in commission,
                    ),
                    fraction,
                )
            )
        return out

    def update_run(self, request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        run = self._require("payroll_runs", request.path_params["id"], "payroll run")
        unknown = sorted(set(body) - {"run_state", "title", "check_date"})
        if unknown:
            raise AdminError(400, f"Cannot update {unknown}")
        state = body.get("run_state", run["run_state"])
        if state not in RUN_STATES:
            raise AdminError(400, f"run_state must be one of {RUN_STATES}")
        if "check_date" in body:
            run["check_date"] = _date(body, "check_date", self.store.today()).isoformat()
        if "title" in body:
            run["title"] = body["title"]
        if state != run["run_state"]:
            now = self.store.tick()
            if state in ("APPROVED", "PAID", "CLOSED") and not run.get("approved_at"):
                run["approved_at"] = now
            if state in ("PAID", "CLOSED") and not run.get("paid_at"):
                run["paid_at"] = now
            if state == "DRAFT":
                run["approved_at"] = run["paid_at"] = None
            run["run_state"] = state
        self.store.put("payroll_runs", run)
        return 200, run

    def put_record(self, request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        """Replace a record verbatim (no consistency checks: this is how bad data is made)."""
        run_id, record_id = request.path_params["run_id"], request.path_params["id"]
        self._require("payroll_runs", run_id, "payroll run")
        existing = self.store.get("worker_payroll_records", record_id)
        if existing is not None and existing.get("run_id") != run_id:
            raise AdminError(409, f"Record {record_id} belongs to run {existing['run_id']}")
        if not isinstance(body.get("worker_id"), str):
            raise AdminError(400, "'worker_id' is required")
        record = {**body, "id": record_id, "run_id": run_id}
        self.store.put("worker_payroll_records", record)
        return (201 if existing is None else 200), record
