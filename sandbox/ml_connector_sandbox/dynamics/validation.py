"""F&O's write rules for the entities the product writes, and the values F&O assigns itself.

Generic checks (property names, Edm types) happen before these run; here live the business
rules F&O applies (README, "The sandbox"): what a create must carry, number sequences, journal
totals, the posted-journal lock, ledger account validation, worker status and the rehire
refusal. Every refusal is a 400 with F&O's error body, so the product's error handling meets
real texts.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any, ClassVar

from ml_connector_sandbox.clock import SandboxClock
from ml_connector_sandbox.dynamics.edm import DEFAULT_DATETIME, OPEN_END, canonical_decimal
from ml_connector_sandbox.dynamics.errors import write_failed
from ml_connector_sandbox.dynamics.ledger_dimensions import (
    resolve_default_dimensions,
    resolve_ledger_account,
)
from ml_connector_sandbox.dynamics.schema import (
    FIXED_AFTER_CREATE,
    READ_ONLY,
    EntitySchema,
    Schema,
)
from ml_connector_sandbox.dynamics.store import Store, q

__all__ = ["READ_ONLY", "Rules"]  # READ_ONLY lives in schema.py; kept importable from here
# Defaults that differ from "first enum member / empty": what F&O initialises.
ENTITY_DEFAULTS: dict[str, dict[str, Any]] = {
    "LedgerJournalHeaders": {"IsPosted": "No", "PostingLayer": "Current"},
    "LedgerJournalLines": {
        "AccountType": "Ledger",
        "OffsetAccountType": "Ledger",
        "ExchRate": "100",
    },
    "Workers": {"WorkerType": "Employee", "AllowRehire": "Yes", "WorkerStatus": "Pending"},
    "EmploymentsV2": {"WorkerType": "Employee", "EmploymentEndDate": OPEN_END},
    "Employments": {"WorkerType": "Employee", "EmploymentEndDate": OPEN_END},
    "VendorsV2": {"OnHoldStatus": "No"},
}
_CURRENCY = re.compile(r"^[A-Z]{3}$")
# String sizes F&O enforces on the person fields the product writes. The committed schema (and
# the shared reference it was generated from) carries no maxLength, so these are the sizes of
# the extended data types behind the fields: FirstName, MiddleName, LastName 25 (DirPersonName's
# name parts), an e-mail locator (LogisticsElectronicAddressLocator) 255. Counted in UTF-16 code
# units, as SQL Server's nvarchar counts them. The product fits its values to the same sizes
# (ml_connector_dagster.workforce.desired.FIELD_SIZES).
STRING_SIZES: dict[str, dict[str, int]] = {
    "Workers": {"FirstName": 25, "MiddleName": 25, "LastName": 25, "PrimaryContactEmail": 255},
    "VendorsV2": {
        "PersonFirstName": 25,
        "PersonMiddleName": 25,
        "PersonLastName": 25,
        "PrimaryEmailAddress": 255,
    },
}
# The number sequence data types of personnel numbers and vendor accounts.
PERSONNEL_NUMBER_TYPE = "HcmPersonnelNumberId"
VENDOR_ACCOUNT_TYPE = "VendAccount"


def end_of_day(value: str) -> str:
    """An employment's end as F&O's UI stores it: the last second of that (UTC) day."""
    return f"{value[:10]}T23:59:59Z"


def _required(entity: EntitySchema, values: dict[str, Any], *names: str) -> None:
    for name in names:
        value = values.get(name)
        if value in (None, "") or (
            entity.properties[name].type == "Edm.DateTimeOffset" and value == DEFAULT_DATETIME
        ):
            raise write_failed(entity.entity_type, f"Field '{name}' must be filled in.", "Error")


def _check_sizes(entity: EntitySchema, values: dict[str, Any]) -> None:
    """Refuse a string longer than its field, as F&O does, rather than store it whole."""
    for name, size in STRING_SIZES.get(entity.name, {}).items():
        value = values.get(name)
        if isinstance(value, str) and len(value.encode("utf-16-le")) // 2 > size:
            raise write_failed(
                entity.entity_type,
                f"The value of field '{name}' is too long: at most {size} characters are allowed.",
                "Error",
            )


def _compose_name(values: dict[str, Any]) -> str:
    """A worker's Name as F&O composes it from the name parts (it is not writable)."""
    parts = [values.get(n) or "" for n in ("FirstName", "MiddleName", "LastName")]
    return " ".join(p for p in parts if p)


class Rules:
    """Business rules bound to one store; called inside the write's transaction."""

    def __init__(self, store: Store, schema: Schema, clock: SandboxClock) -> None:
        self.store = store
        self.schema = schema
        self.clock = clock

    def e(self, name: str) -> EntitySchema:
        return self.schema.entities[name]

    # --- shared look-ups ---------------------------------------------------------------------

    def legal_entity(self, company: str, entity: EntitySchema, field: str) -> str:
        """The company id as F&O spells it (dataAreaId lowercase); refuse an unknown one."""
        rows = self.store.select(self.e("LegalEntities"), '"LegalEntityId" = ?', [company])
        if not rows:
            raise write_failed(
                entity.entity_type,
                f"The value '{company}' in field '{field}' is not found in the related table "
                "'Legal entities'.",
                "Error",
            )
        return company.lower() if field == "dataAreaId" else rows[0]["LegalEntityId"]

    def header(self, company: str, batch: str) -> dict[str, Any] | None:
        return self.store.get(
            self.e("LedgerJournalHeaders"), {"dataAreaId": company, "JournalBatchNumber": batch}
        )

    def journal_name(self, company: str, name: str) -> dict[str, Any] | None:
        return self.store.get(self.e("JournalNames"), {"dataAreaId": company, "Name": name})

    def _refuse_posted(self, header: dict[str, Any], entity: EntitySchema) -> None:
        if header["IsPosted"] == "Yes":
            raise write_failed(
                entity.entity_type,
                f"Journal {header['JournalBatchNumber']} in company {header['dataAreaId']} is "
                "posted and can no longer be changed; corrections are made in a new journal.",
                "Error",
            )

    def check_read_only(
        self, entity: EntitySchema, provided: dict[str, Any], current: dict[str, Any]
    ) -> None:
        for name in READ_ONLY.get(entity.name, ()):
            if name in provided and provided[name] != current.get(name):
                raise write_failed(
                    entity.entity_type, f"Field '{name}' is read-only and cannot be set.", "Error"
                )

    # --- create -------------------------------------------------------------------------------

    def create(self, entity: EntitySchema, values: dict[str, Any]) -> dict[str, Any]:
        """Fill F&O's defaults into ``values``, check the rules; returns hidden columns."""
        for name, value in ENTITY_DEFAULTS.get(entity.name, {}).items():
            if name in entity.properties:
                values.setdefault(name, value)
        if "dataAreaId" in entity.properties:
            _required(entity, values, "dataAreaId")
            values["dataAreaId"] = self.legal_entity(values["dataAreaId"], entity, "dataAreaId")
        handler = getattr(self, "create_" + entity.name, None)
        hidden = handler(entity, values) if handler else {}
        _required(entity, values, *entity.keys)
        return hidden or {}

    def create_LedgerJournalHeaders(self, entity: EntitySchema, values: dict[str, Any]) -> None:
        self.check_read_only(
            entity, values, {"IsPosted": "No", "JournalTotalDebit": "0", "JournalTotalCredit": "0"}
        )
        _required(entity, values, "JournalName")
        company = values["dataAreaId"]
        jname = self.journal_name(company, values["JournalName"])
        if jname is None:
            raise write_failed(
                entity.entity_type,
                f"The value '{values['JournalName']}' in field 'JournalName' is not found in the "
                "related table 'Journal names'.",
                "Error",
            )
        values["JournalName"] = jname["Name"]
        if not values.get("Description"):
            values["Description"] = jname["Description"]
        if not values.get("JournalBatchNumber"):
            n = self.store.next_number(f"journal:{company}")
            values["JournalBatchNumber"] = f"{company.upper()}-{n:06d}"
        if not values.get("AccountingCurrency"):
            values["AccountingCurrency"] = self._accounting_currency(company)

    def create_LedgerJournalLines(self, entity: EntitySchema, values: dict[str, Any]) -> dict:
        company = values["dataAreaId"]
        _required(entity, values, "JournalBatchNumber")
        header = self.header(company, values["JournalBatchNumber"])
        if header is None:
            raise write_failed(
                entity.entity_type,
                f"Journal batch number {values['JournalBatchNumber']} does not exist in company "
                f"{company}.",
                "Error",
            )
        values["JournalBatchNumber"] = header["JournalBatchNumber"]
        self._refuse_posted(header, entity)
        hidden = self.validate_line(entity, values, header)
        seq = f"line:{company}:{header['JournalBatchNumber']}"
        if values.get("LineNumber") in (None, "0"):
            values["LineNumber"] = str(self.store.next_number(seq))
        else:
            self.store.raise_number(seq, int(Decimal(values["LineNumber"])))
        self._check_voucher(entity, company, header, values)
        if not values.get("Voucher"):
            values["Voucher"] = self._assign_voucher(company, header, values)
        return hidden

    def _check_voucher(
        self, entity: EntitySchema, company: str, header: dict[str, Any], values: dict[str, Any]
    ) -> None:
        """A journal name with new voucher "Manually" wants the voucher on every line; any other
        numbers its lines from its voucher series and refuses a voucher it did not draw. (Our
        reading of F&O, stricter than silently renumbering: no public page settles what OData
        does with a supplied voucher; ``ml-connector ping`` reports the journal name's setting.)
        """
        jname = self.journal_name(company, header["JournalName"]) or {}
        manual = jname.get("NewVoucher") == "Manually"
        if manual and not values.get("Voucher"):
            raise write_failed(
                entity.entity_type,
                f"Voucher must be filled in: journal name {header['JournalName']} takes its "
                "vouchers from the lines (new voucher: Manually).",
                "Error",
            )
        if not manual and values.get("Voucher"):
            raise write_failed(
                entity.entity_type,
                f"Voucher '{values['Voucher']}' cannot be entered: journal name "
                f"{header['JournalName']} draws its vouchers from number sequence "
                f"{jname.get('VoucherSeriesCode') or '(none)'}, which does not allow manual "
                "numbers.",
                "Error",
            )

    def validate_line(
        self, entity: EntitySchema, values: dict[str, Any], header: dict[str, Any]
    ) -> dict[str, Any]:
        """Everything about one line that does not depend on its number: also run on PATCH."""
        _required(entity, values, "AccountDisplayValue", "TransDate", "CurrencyCode")
        if not _CURRENCY.match(values["CurrencyCode"]):
            raise write_failed(
                entity.entity_type, f"Currency '{values['CurrencyCode']}' does not exist.", "Error"
            )
        debit = Decimal(values.get("DebitAmount", "0"))
        credit = Decimal(values.get("CreditAmount", "0"))
        if (debit != 0) == (credit != 0):
            raise write_failed(
                entity.entity_type,
                "Enter either a debit amount or a credit amount on the line, not both and not "
                "neither.",
                "Error",
            )
        jname = self.journal_name(header["dataAreaId"], header["JournalName"]) or {}
        if jname.get("AllowOnlyPositiveDebitsAndCredits") == "Yes" and (debit < 0 or credit < 0):
            raise write_failed(
                entity.entity_type,
                f"Journal name {header['JournalName']} only allows positive debit and credit "
                "amounts.",
                "Error",
            )
        company = values["dataAreaId"]
        applied = self._check_account(
            entity,
            company,
            values.get("AccountType", "Ledger"),
            values["AccountDisplayValue"],
            values["TransDate"],
        )
        if values.get("OffsetAccountDisplayValue"):
            self._check_account(
                entity,
                company,
                values.get("OffsetAccountType", "Ledger"),
                values["OffsetAccountDisplayValue"],
                values["TransDate"],
            )
        return {"_applied_dims": json.dumps(applied)}

    def _check_account(
        self, entity: EntitySchema, company: str, account_type: str, display: str, trans_date: str
    ) -> dict[str, Any]:
        if account_type == "Ledger":
            return resolve_ledger_account(
                self.store, self.schema, company, display, trans_date
            ).as_json()
        if account_type == "Vend":
            vendor = self.store.get(
                self.e("VendorsV2"), {"dataAreaId": company, "VendorAccountNumber": display}
            )
            if vendor is None:
                raise write_failed(
                    entity.entity_type, f"The value '{display}' doesn't exist for Vendor account."
                )
            return {"vendor": vendor["VendorAccountNumber"]}
        raise write_failed(
            entity.entity_type,
            f"Account type '{account_type}' is not supported by this sandbox.",
            "Error",
        )

    def _assign_voucher(self, company: str, header: dict[str, Any], values: dict[str, Any]) -> str:
        """F&O's "new voucher" setting: OneVoucher reuses one number per journal; otherwise
        (BalanceSheet, "in connection with balance") a number stays open until it balances."""
        jname = self.journal_name(company, header["JournalName"]) or {}
        series = jname.get("VoucherSeriesCode") or "GJV"
        state_key = f"voucher:{company}:{header['JournalBatchNumber']}"
        state = json.loads(self.store.get_meta(state_key) or "null")
        amount = Decimal(values.get("DebitAmount", "0")) - Decimal(values.get("CreditAmount", "0"))
        if state is not None and (
            jname.get("NewVoucher") == "OneVoucher" or Decimal(state["balance"]) != 0
        ):
            voucher, balance = state["voucher"], Decimal(state["balance"]) + amount
        else:
            n = self.store.next_number(f"voucher:{company}:{series}")
            voucher, balance = f"{series}-{n:06d}", amount
        self.store.set_meta(
            state_key, json.dumps({"voucher": voucher, "balance": canonical_decimal(balance)})
        )
        return voucher

    # --- number sequences (personnel numbers, vendor accounts) ---------------------------------

    def _sequence_row(self, code: str, company: str | None) -> dict[str, Any] | None:
        rows = self.store.select(self.e("SequenceV2Tables"), '"NumberSequenceCode" = ?', [code])
        rows.sort(key=lambda r: (r["ScopeValue"] or "").lower() != (company or "").lower())
        return rows[0] if rows else None

    def _reference(self, data_type: str, company: str | None) -> str | None:
        rows = self.store.select(
            self.e("NumberSequencesV2References"), '"DataTypeName" = ?', [data_type]
        )
        rows = [
            r
            for r in rows
            if not r["ScopeValue"] or (company and r["ScopeValue"].lower() == company.lower())
        ]
        rows.sort(key=lambda r: not r["ScopeValue"])  # the company's own scope first
        return rows[0]["NumberSequenceCode"] if rows and rows[0]["NumberSequenceCode"] else None

    def personnel_sequence(self) -> dict[str, Any] | None:
        """The HR parameters' personnel number sequence (shared scope), if one is set up."""
        code = self._reference(PERSONNEL_NUMBER_TYPE, None)
        return self._sequence_row(code, None) if code else None

    def vendor_sequence(self, company: str, group: str | None) -> dict[str, Any] | None:
        """The vendor group's own sequence, else the accounts payable parameters' one."""
        if group:
            row = self.store.get(
                self.e("VendorGroups"), {"dataAreaId": company, "VendorGroupId": group}
            )
            if row and row["VendorAccountNumberSequence"]:
                return self._sequence_row(row["VendorAccountNumberSequence"], company)
        params = self.store.select(self.e("VRMParameters"), '"dataAreaId" = ?', [company])
        code = params[0]["VendorAccountNumberSequenceCode"] if params else None
        code = code or self._reference(VENDOR_ACCOUNT_TYPE, company)
        if not code:
            return None
        row = self._sequence_row(code, company)
        if row is None and params:  # only the parameters' flag is known
            manual = params[0]["IsVendorAccountNumberSequenceManual"] or "No"
            row = {"NumberSequenceCode": code, "Manual": manual, "Format": "V######"}
        return row

    def take_number(
        self, entity: EntitySchema, values: dict[str, Any], field: str, seq: dict | None
    ) -> None:
        """F&O's number sequence rules for a key the caller may leave out.

        No sequence, or a Manual one: the caller supplies the number. An automatic one assigns
        the next number and refuses a supplied one, unless it allows changing the number to a
        lower or higher one.
        """
        if seq is None or seq.get("Manual") == "Yes":
            _required(entity, values, field)
            return
        code = seq["NumberSequenceCode"]
        if seq.get("Stopped") == "Yes":
            raise write_failed(entity.entity_type, f"Number sequence {code} is stopped.", "Error")
        if values.get(field):
            if "Yes" in (seq.get("ToALowerNumber"), seq.get("ToAHigherNumber")):
                return
            raise write_failed(
                entity.entity_type,
                f"Manual numbers are not allowed for number sequence {code}: '{field}' cannot "
                f"be set to '{values[field]}'; leave it empty and it is assigned.",
                "Error",
            )
        fmt = seq.get("Format") or "######"
        width = fmt.count("#") or 6
        start = int(seq.get("Next") or 1)
        while True:
            n = self.store.next_number(f"numseq:{code}", at_least=start)
            number = re.sub("#+", str(n).zfill(width), fmt, count=1)
            key = {k: values.get(k) for k in entity.keys}
            key[field] = number
            if all(v is not None for v in key.values()) and self.store.get(entity, key):
                continue  # taken by a supplied number: skip it as F&O would
            values[field] = number
            return

    def create_Workers(self, entity: EntitySchema, values: dict[str, Any]) -> None:
        self.check_read_only(entity, values, {"WorkerStatus": "Pending"})
        _check_sizes(entity, values)
        self.take_number(entity, values, "PersonnelNumber", self.personnel_sequence())
        if not values.get("FirstName") and not values.get("LastName"):
            raise write_failed(
                entity.entity_type, "Field 'FirstName' or 'LastName' must be filled in.", "Error"
            )
        values["Name"] = _compose_name(values)

    def create_EmploymentsV2(self, entity: EntitySchema, values: dict[str, Any]) -> None:
        _required(entity, values, "PersonnelNumber", "LegalEntityId", "EmploymentStartDate")
        worker = self.store.get(self.e("Workers"), {"PersonnelNumber": values["PersonnelNumber"]})
        if worker is None:
            raise write_failed(
                entity.entity_type,
                f"The value '{values['PersonnelNumber']}' in field 'PersonnelNumber' is not found "
                "in the related table 'Worker'.",
                "Error",
            )
        values["PersonnelNumber"] = worker["PersonnelNumber"]
        values["LegalEntityId"] = self.legal_entity(
            values["LegalEntityId"], entity, "LegalEntityId"
        )
        if not values.get("EmploymentId"):
            values["EmploymentId"] = f"EMP-{self.store.next_number('employment'):06d}"
        values["EmploymentEndDate"] = end_of_day(values["EmploymentEndDate"])
        self._check_employment(entity, values, worker, None)
        self._check_default_dimensions(entity, values, "DimensionDisplayValue", "LegalEntityId")

    create_Employments = create_EmploymentsV2

    def _check_employment(
        self,
        entity: EntitySchema,
        values: dict[str, Any],
        worker: dict[str, Any],
        own_id: str | None,
    ) -> None:
        start, end = values["EmploymentStartDate"], values["EmploymentEndDate"]
        if end < start:
            raise write_failed(
                entity.entity_type, "The employment end date is before its start date.", "Error"
            )
        others = self.store.select(
            self.e("EmploymentsV2"), '"PersonnelNumber" = ?', [values["PersonnelNumber"]]
        )
        others = [o for o in others if o["EmploymentId"] != own_id]
        if (
            own_id is None
            and worker["AllowRehire"] == "No"
            and any(o["EmploymentEndDate"] < start for o in others)
        ):
            raise write_failed(
                entity.entity_type,
                f"Worker {worker['PersonnelNumber']} is not eligible for rehire (AllowRehire is "
                "No): a new employment after an ended one is refused.",
                "Error",
            )
        for o in others:
            if (
                o["LegalEntityId"].lower() == values["LegalEntityId"].lower()
                and o["EmploymentStartDate"] <= end
                and start <= o["EmploymentEndDate"]
            ):
                raise write_failed(
                    entity.entity_type,
                    f"The employment of worker {worker['PersonnelNumber']} in legal entity "
                    f"{values['LegalEntityId']} overlaps employment {o['EmploymentId']} "
                    f"({o['EmploymentStartDate'][:10]} to {o['EmploymentEndDate'][:10]}).",
                    "Error",
                )

    def create_VendorsV2(self, entity: EntitySchema, values: dict[str, Any]) -> None:
        _required(entity, values, "VendorGroupId")
        _check_sizes(entity, values)
        if not (
            values.get("VendorOrganizationName")
            or values.get("PersonFirstName")
            or values.get("PersonLastName")
        ):
            raise write_failed(
                entity.entity_type,
                "Field 'VendorOrganizationName' (or 'PersonFirstName'/'PersonLastName') must be "
                "filled in.",
                "Error",
            )
        seq = self.vendor_sequence(values["dataAreaId"], values["VendorGroupId"])
        self.take_number(entity, values, "VendorAccountNumber", seq)
        if not values.get("CurrencyCode"):
            values["CurrencyCode"] = self._accounting_currency(values["dataAreaId"])
        self._check_default_dimensions(
            entity, values, "DefaultLedgerDimensionDisplayValue", "dataAreaId"
        )

    # Where each entity keeps its default dimensions and its company.
    DEFAULT_DIMENSION_FIELDS: ClassVar[dict[str, tuple[str, str]]] = {
        "EmploymentsV2": ("DimensionDisplayValue", "LegalEntityId"),
        "Employments": ("DimensionDisplayValue", "LegalEntityId"),
        "VendorsV2": ("DefaultLedgerDimensionDisplayValue", "dataAreaId"),
    }

    def _check_default_dimensions(
        self, entity: EntitySchema, values: dict[str, Any], field: str, company_field: str
    ) -> None:
        """A non-blank default-dimension value must read right in the default format."""
        display = values.get(field) or ""
        if display:
            resolve_default_dimensions(
                self.store,
                self.schema,
                str(values[company_field]),
                display,
                entity.entity_type,
                self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            )

    def _accounting_currency(self, company: str) -> str:
        rows = self.store.select(self.e("Ledgers"), '"LegalEntityId" = ?', [company])
        return rows[0]["AccountingCurrency"] if rows else ""

    # --- update / delete ----------------------------------------------------------------------

    def update(
        self,
        entity: EntitySchema,
        old: dict[str, Any],
        changes: dict[str, Any],
        merged: dict[str, Any],
    ) -> dict[str, Any]:
        """Check a PATCH; returns hidden columns to store alongside."""
        self.check_read_only(entity, changes, old)
        _check_sizes(entity, changes)
        if entity.name == "LedgerJournalHeaders":
            self._refuse_posted(old, entity)
            if (
                "JournalName" in changes
                and self.journal_name(old["dataAreaId"], merged["JournalName"]) is None
            ):
                raise write_failed(
                    entity.entity_type,
                    f"The value '{merged['JournalName']}' in field 'JournalName' "
                    "is not found in the related table 'Journal names'.",
                    "Error",
                )
        elif entity.name == "LedgerJournalLines":
            header = self.header(old["dataAreaId"], old["JournalBatchNumber"])
            assert header is not None
            self._refuse_posted(header, entity)
            return self.validate_line(entity, merged, header)
        elif entity.name in ("EmploymentsV2", "Employments"):
            for name in FIXED_AFTER_CREATE.get(entity.name, ()):
                if name in changes and changes[name] != old[name]:
                    raise write_failed(
                        entity.entity_type,
                        "The employment start date cannot be changed. A worker who starts on "
                        "another date needs a new employment.",
                        "Error",
                    )
            if "EmploymentEndDate" in changes:
                changes["EmploymentEndDate"] = end_of_day(changes["EmploymentEndDate"])
                merged["EmploymentEndDate"] = changes["EmploymentEndDate"]
            worker = self.store.get(self.e("Workers"), {"PersonnelNumber": old["PersonnelNumber"]})
            assert worker is not None
            self._check_employment(entity, merged, worker, old["EmploymentId"])
        elif entity.name == "Workers" and {"FirstName", "MiddleName", "LastName"} & set(changes):
            changes["Name"] = _compose_name(merged)  # F&O recomposes it; stored with the change
        if entity.name in self.DEFAULT_DIMENSION_FIELDS:
            field, company_field = self.DEFAULT_DIMENSION_FIELDS[entity.name]
            if field in changes:
                self._check_default_dimensions(entity, merged, field, company_field)
        return {}

    def delete(self, entity: EntitySchema, old: dict[str, Any]) -> None:
        if entity.name == "LedgerJournalHeaders":
            if old["IsPosted"] == "Yes":
                batch, company = old["JournalBatchNumber"], old["dataAreaId"]
                raise write_failed(
                    entity.entity_type,
                    f"Journal batch number {batch} is posted and cannot be deleted: journal "
                    f"{batch} in company {company} is posted and can no longer be changed; "
                    "corrections are made in a new journal.",
                    "Error",
                )
            # F&O deletes a journal's lines with it; the sandbox's bookkeeping for the journal
            # (line numbers, the open voucher) goes too, so no orphan of it remains.
            lines = self.e("LedgerJournalLines")
            company, batch = old["dataAreaId"], old["JournalBatchNumber"]
            self.store.execute(
                f'DELETE FROM {q(lines.table)} WHERE "dataAreaId" = ? AND "JournalBatchNumber" = ?',
                [company, batch],
            )
            self.store.execute("DELETE FROM _seq WHERE name = ?", [f"line:{company}:{batch}"])
            self.store.execute("DELETE FROM _meta WHERE k = ?", [f"voucher:{company}:{batch}"])
        elif entity.name == "LedgerJournalLines":
            header = self.header(old["dataAreaId"], old["JournalBatchNumber"])
            if header is not None:
                self._refuse_posted(header, entity)

    # --- after a write ------------------------------------------------------------------------

    def after(
        self, entity: EntitySchema, old: dict[str, Any] | None, new: dict[str, Any] | None
    ) -> None:
        """Keep derived values current: journal totals, worker status."""
        if entity.name == "LedgerJournalLines":
            self._adjust_totals(old, -1)
            self._adjust_totals(new, +1)
        elif entity.name in ("EmploymentsV2", "Employments"):
            for row in (old, new):
                if row is not None:
                    self.refresh_worker_status([row["PersonnelNumber"]])
                    self._refresh_original_hire(row["PersonnelNumber"])

    def _refresh_original_hire(self, personnel_number: str) -> None:
        """F&O derives a worker's original hire date from the first employment's start."""
        workers = self.e("Workers")
        worker = self.store.get(workers, {"PersonnelNumber": personnel_number})
        if worker is None:
            return
        starts = [
            r["EmploymentStartDate"]
            for r in self.store.select(
                self.e("EmploymentsV2"), '"PersonnelNumber" = ?', [personnel_number]
            )
        ]
        first = min(starts) if starts else worker["OriginalHireDateTime"]
        if first != worker["OriginalHireDateTime"]:
            self.store.update(
                workers,
                {"PersonnelNumber": worker["PersonnelNumber"]},
                {"OriginalHireDateTime": first},
            )

    def _adjust_totals(self, line: dict[str, Any] | None, sign: int) -> None:
        if line is None:
            return
        key = {"dataAreaId": line["dataAreaId"], "JournalBatchNumber": line["JournalBatchNumber"]}
        header = self.store.get(self.e("LedgerJournalHeaders"), key)
        if header is None:
            return
        debit = Decimal(header["JournalTotalDebit"]) + sign * Decimal(line["DebitAmount"])
        credit = Decimal(header["JournalTotalCredit"]) + sign * Decimal(line["CreditAmount"])
        self.store.update(
            self.e("LedgerJournalHeaders"),
            key,
            {
                "JournalTotalDebit": canonical_decimal(debit),
                "JournalTotalCredit": canonical_decimal(credit),
            },
        )

    def refresh_worker_status(self, personnel_numbers: list[str] | None = None) -> None:
        """Employed with an employment covering now, Pending before the first starts,
        Terminated once every employment has ended (F&O derives it; clients cannot set it)."""
        now = self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        emp = q(self.e("EmploymentsV2").table)
        sql = (
            f'UPDATE {q("Workers")} SET "WorkerStatus" = CASE'
            f' WHEN EXISTS (SELECT 1 FROM {emp} e WHERE e."PersonnelNumber" ='
            f' {q("Workers")}."PersonnelNumber" AND e."EmploymentStartDate" <= :now AND'
            " e.\"EmploymentEndDate\" >= :now) THEN 'Employed'"
            f' WHEN EXISTS (SELECT 1 FROM {emp} e WHERE e."PersonnelNumber" ='
            f' {q("Workers")}."PersonnelNumber" AND e."EmploymentStartDate" > :now)'
            " THEN 'Pending'"
            f' WHEN EXISTS (SELECT 1 FROM {emp} e WHERE e."PersonnelNumber" ='
            f" {q('Workers')}.\"PersonnelNumber\") THEN 'Terminated'"
            " ELSE 'Pending' END"
        )
        with self.store.lock:
            if personnel_numbers is None:
                self.store.conn.execute(sql, {"now": now})
            else:
                for pn in personnel_numbers:
                    self.store.conn.execute(
                        sql + ' WHERE "PersonnelNumber" = :pn', {"now": now, "pn": pn}
                    )
