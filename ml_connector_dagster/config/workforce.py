"""Workforce sync settings: the optional ``workforce:`` section of the mapping file.

Validated with the rest of the file (``config.mapping``), so an error names its line and key.

```yaml
workforce:
  personnel_number_prefix: "RP-"          # PersonnelNumber = prefix + Rippling worker number
  vendor_group: CONTRACT                   # VendorGroupId of contractor vendors
  vendor_account_template: "{personnel_number}"   # also {number}
  employment_dimensions: true              # keep EmploymentsV2.DimensionDisplayValue current
  department_dimension: Department         # filled with the reference code when unmapped
```
"""

from pydantic import BaseModel, ConfigDict, Field, field_validator

ALLOWED_TEMPLATE_KEYS = ("personnel_number", "number")


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
