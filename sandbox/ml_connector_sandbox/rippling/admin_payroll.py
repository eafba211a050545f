"""Admin endpoints acting as a payroll admin: create payroll runs, move them through their
states, and overwrite a worker payroll record to craft bad data.

A new run's records are generated exactly like the seed's (``company.runs``), for every worker
of the entity employed in the period. Routes and body parsing live in ``admin``.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from decimal import Decimal
from typing import Any

from starlette.requests import Request

from ml_connector_sandbox.company import catalog, payroll, runs
from ml_connector_sandbox.company.ids import IdFactory
from ml_connector_sandbox.rippling.admin_support import (
    AdminError,
    Answer,
    body_date,
    currency_of,
    require,
)
from ml_connector_sandbox.rippling.store import Store

RUN_STATES = ("DRAFT", "APPROVED", "PAID", "FAILED", "CLOSED")
RUN_TYPES = ("REGULAR", "OFF_CYCLE", "CORRECTION", "TERMINATION")
COMMISSION_CODES = frozenset(
    ref for _n, ref, _s, _w, commission in catalog.DEPARTMENTS if commission
)


class PayrollAdmin:
    """Payroll run and record writes."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create_run(self, request: Request, body: dict[str, Any]) -> Answer:
        """A run with records for every worker of the entity employed in the period."""
        entities = self.store.all("company_legal_entities")
        entity = (
            require(
                self.store,
                "company_legal_entities",
                body["company_entity_id"],
                "company legal entity",
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
        start = body_date(body, "start_date", default_start)
        end = body_date(body, "end_date", start + dt.timedelta(days=13))
        check = body_date(body, "check_date", end + dt.timedelta(days=6))
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
        country, currency = currency_of(legal)
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

    def update_run(self, request: Request, body: dict[str, Any]) -> Answer:
        run = require(self.store, "payroll_runs", request.path_params["id"], "payroll run")
        unknown = sorted(set(body) - {"run_state", "title", "check_date"})
        if unknown:
            raise AdminError(400, f"Cannot update {unknown}")
        state = body.get("run_state", run["run_state"])
        if state not in RUN_STATES:
            raise AdminError(400, f"run_state must be one of {RUN_STATES}")
        if "check_date" in body:
            run["check_date"] = body_date(body, "check_date", self.store.today()).isoformat()
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

    def put_record(self, request: Request, body: dict[str, Any]) -> Answer:
        """Replace a record verbatim (no consistency checks: this is how bad data is made)."""
        run_id, record_id = request.path_params["run_id"], request.path_params["id"]
        require(self.store, "payroll_runs", run_id, "payroll run")
        existing = self.store.get("worker_payroll_records", record_id)
        if existing is not None and existing.get("run_id") != run_id:
            raise AdminError(409, f"Record {record_id} belongs to run {existing['run_id']}")
        if not isinstance(body.get("worker_id"), str):
            raise AdminError(400, "'worker_id' is required")
        record = {**body, "id": record_id, "run_id": run_id}
        self.store.put("worker_payroll_records", record)
        return (201 if existing is None else 200), record
