"""Workforce sync settings: the optional ``workforce:`` section of the mapping file.

Validated with the rest of the file (``config.mapping``), so an error names its line and key.

```yaml
workforce:
  personnel_number_prefix: "RP-"          # PersonnelNumber = prefix + Rippling worker number
  vendor_group: CONTRACT                   # VendorGroupId of contractor vendors
  vendor_account_template: "{personnel_number}"   # also {number}
  employment_dimensions: true              # keep EmploymentsV2.DimensionDisplayValue current
  department_dimension: Department         # filled with the reference code when unmapped
  link_by_email: true                      # link existing F&O workers by work e-mail first
  personnel_numbers: probe                 # probe | connector | dynamics (see below)
  vendor_accounts: probe                   # probe | connector | dynamics
```

Who numbers new workers and vendors: ``connector`` sends the configured scheme (the tenant's
number sequence must accept manual numbers), ``dynamics`` leaves the number out so F&O assigns
it from its number sequence (the 201 answer carries it and the worker map records it), ``probe``
reads the tenant's number-sequence setup on every sync (``workforce.numbering``) and falls back
to ``connector`` when the setup cannot be read: the safe choice, because a refused manual number
fails loudly on the create instead of silently numbering people differently.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ALLOWED_TEMPLATE_KEYS = ("personnel_number", "number")
NumberSource = Literal["probe", "connector", "dynamics"]


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
    # Before creating a worker, look for an existing F&O worker with the same work e-mail
    # (Workers.PrimaryContactEmail), then with the configured number: a tenant that already
    # has its people gets no duplicates on the first sync.
    link_by_email: bool = True
    personnel_numbers: NumberSource = "probe"
    vendor_accounts: NumberSource = "probe"

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
