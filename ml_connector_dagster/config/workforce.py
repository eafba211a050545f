"""Workforce sync settings: the optional ``workforce:`` section of the mapping file.

```yaml
workforce:
  personnel_number_prefix: "RP-"          # PersonnelNumber = prefix + Rippling worker number
  vendor_group: CONTRACT                   # VendorGroupId of contractor vendors
  vendor_account_template: "{personnel_number}"   # also {number}
  employment_dimensions: true              # keep EmploymentsV2.DimensionDisplayValue current
  department_dimension: Department         # filled with the reference code when unmapped
```
"""

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ALLOWED_TEMPLATE_KEYS = ("personnel_number", "number")


class WorkforceSettingsError(ValueError):
    """The ``workforce:`` section is invalid; the message names the key."""


class WorkforceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    personnel_number_prefix: str = Field(default="RP-", max_length=20)
    # Zero-pad the Rippling number to this width (0: as Rippling sends it).
    personnel_number_width: int = Field(default=0, ge=0, le=20)
    vendor_group: str = Field(default="CONTRACT", min_length=1, max_length=20)
    vendor_account_template: str = "{personnel_number}"
    # Keep the department dimension of open employments (and contractor vendors) current.
    employment_dimensions: bool = True
    # The financial dimension that carries the Rippling department when no mapping layer
    # gives it a value (the reference code is used as the value).
    department_dimension: str | None = "Department"
    # Rippling statuses that are synced; INIT (offer not accepted) is not.
    synced_statuses: tuple[str, ...] = ("HIRED", "ACCEPTED", "ACTIVE", "TERMINATED")

    @field_validator("vendor_account_template")
    @classmethod
    def _template(cls, value: str) -> str:
        try:
            value.format(personnel_number="X", number="1")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"vendor_account_template may only use {{personnel_number}} and {{number}}: {exc}"
            ) from None
        return value

    def personnel_number(self, number: int | str) -> str:
        text = str(number).strip()
        if self.personnel_number_width:
            text = text.zfill(self.personnel_number_width)
        return f"{self.personnel_number_prefix}{text}"

    def vendor_account(self, personnel_number: str, number: int | str | None) -> str:
        return self.vendor_account_template.format(
            personnel_number=personnel_number, number="" if number is None else str(number)
        )


def workforce_settings(section: Mapping[str, Any] | None) -> WorkforceSettings:
    """Settings from the ``workforce:`` mapping (None or absent: the defaults)."""
    try:
        return WorkforceSettings.model_validate(dict(section or {}))
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            key = ".".join(str(part) for part in error["loc"])
            problems.append(f"workforce.{key}: {error['msg'].removeprefix('Value error, ')}")
        raise WorkforceSettingsError(
            "invalid workforce settings:\n" + "\n".join(problems)
        ) from None


def settings_from_document(document: Mapping[str, Any] | None) -> WorkforceSettings:
    """Settings from a whole mapping-file document (its optional ``workforce`` key)."""
    section = (document or {}).get("workforce")
    if section is not None and not isinstance(section, Mapping):
        raise WorkforceSettingsError("workforce: expected a mapping of settings")
    return workforce_settings(section)
