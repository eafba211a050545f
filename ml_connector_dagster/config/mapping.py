"""The mapping finance owns: Rippling ids and pay items to Dynamics companies, accounts, dimensions.

It lives in a YAML file (``ML_CONNECTOR_MAPPING``) that finance edits and reviews. Every reader
(the Dagster resource and every command) loads it with ``load_mapping``: one rule finds the file
(an explicit path, else ``ML_CONNECTOR_MAPPING``), one parser reads it and one check ties it to
this code location's connection. Loading it
validates every key and reports errors by line and key path, because the person fixing it is
looking at the file, not at Python. Precedence for dimension values is
worker override -> job code -> department -> legal entity -> default.
"""

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ml_connector_dagster.config.settings import ConnectorSettings
from ml_connector_dagster.config.workforce import WorkforceSettings

MAIN_ACCOUNT = "MainAccount"

# The payroll item classes that need a main account besides earnings.
LIABILITY_ROLES = (
    "taxes_payable",
    "deductions_payable",
    "garnishments_payable",
    "net_pay_clearing",
)


class MappingError(ValueError):
    """The mapping file is unreadable or invalid; the message names line and key."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DimensionFormatSpec(Strict):
    """The ledger dimension format this mapping was written for (compared with F&O's)."""

    dimensions: tuple[str, ...]
    delimiter: str = "-"

    @model_validator(mode="after")
    def _starts_with_main_account(self) -> "DimensionFormatSpec":
        if not self.dimensions or self.dimensions[0] != MAIN_ACCOUNT:
            raise ValueError(f"dimensions must start with {MAIN_ACCOUNT}")
        if len(set(self.dimensions)) != len(self.dimensions):
            raise ValueError("a dimension is listed twice")
        if not self.delimiter:
            raise ValueError("delimiter must not be empty")
        return self

    @property
    def financial_dimensions(self) -> tuple[str, ...]:
        return self.dimensions[1:]

    @property
    def display(self) -> str:
        return self.delimiter.join(self.dimensions)


class JournalSpec(Strict):
    name: str
    detail_level: Literal["summary", "worker"] = "summary"
    trigger_state: Literal["PAID", "APPROVED"] = "PAID"
    accrual: bool = False  # also post an accrual journal when a run is APPROVED
    # Month end (issue 15): accrue the labor cost of the days between the last paid pay period
    # and month end, estimated from the latest paid regular run, reversed the next day
    # (``ledger/month_end_accrual.py``); needs ``accounts.accrued_payroll``.
    month_end_accrual: bool = False
    # How the unpaid days are counted against the basis run's period: working days (Monday
    # to Friday) or calendar days.
    accrual_days: Literal["working", "calendar"] = "working"
    # Each journal's lines go in one atomic $batch changeset: at most F&O's 5,000 operations.
    max_lines_per_journal: int = Field(default=5000, ge=2, le=5000)
    # automatic: journals that pass every check are written to F&O at once (the default).
    # required: they wait for a finance approval bound to their content (``audit/approvals``,
    # ``posting/approval.py``); nothing is written for the connection without one.
    approval: Literal["automatic", "required"] = "automatic"


AllocationSourceName = Literal["time_entries", "time_split", "job_assignments", "department"]
DEFAULT_ALLOCATION_ORDER: tuple[AllocationSourceName, ...] = (
    "time_entries",
    "time_split",
    "job_assignments",
    "department",
)


class AllocationSpec(Strict):
    """How a worker's cost is placed on job codes (``ledger/time_allocation.py``): the first
    source in ``order`` that has something for the worker places all of it.

    ``time_entries``: hours logged in the run's pay period; ``time_split``: the worker's
    enabled time split; ``job_assignments``: its job codes, equally; ``department``: none of
    them. Each source at most once, and ``department`` last: it places every worker, so a
    source after it would never be used, and without it a worker with none of the others
    would have nowhere to go.
    """

    order: tuple[AllocationSourceName, ...] = DEFAULT_ALLOCATION_ORDER

    @field_validator("order")
    @classmethod
    def _order(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            raise ValueError(f"each source at most once; repeated: {', '.join(repeated)}")
        if not value or value[-1] != "department":
            raise ValueError("the order must end with department (it places every worker)")
        return value


class ReconciliationSpec(Strict):
    """Which accounts the month-end reconciliation covers (``month_end/register.py``).

    By default the labor-cost (expense) accounts only: the payables and the net pay clearing
    account are cleared by bank payments and other processes, so F&O always holds entries of
    other sources there. ``liability_accounts: true`` adds them; ``extra_accounts`` adds any
    other main account finance wants watched (e.g. a payroll suspense account).
    """

    liability_accounts: bool = False
    extra_accounts: tuple[str, ...] = ()


class LegalEntityMap(Strict):
    """One Dynamics company and the Rippling entities that feed it."""

    company: str  # dataAreaId, as finance knows it (USMF)
    currency: str
    rippling_legal_entity_ids: tuple[str, ...] = ()
    rippling_company_entity_ids: tuple[str, ...] = ()
    dimensions: dict[str, str] = Field(default_factory=dict)

    @field_validator("company")
    @classmethod
    def _company_key(cls, value: str) -> str:
        if not value or any(c in value for c in "|,") or value != value.strip():
            raise ValueError("company must be a plain dataAreaId (no spaces, '|' or ',')")
        return value.upper()

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if len(value) != 3 or not value.isalpha():
            raise ValueError("currency must be an ISO 4217 code like USD")
        return value.upper()


class EarningAccounts(Strict):
    by_code: dict[str, str] = Field(default_factory=dict)
    by_category: dict[str, str] = Field(default_factory=dict)
    default: str | None = None


class AccountMap(Strict):
    earnings: EarningAccounts
    employer_taxes: str
    employer_benefits: str
    taxes_payable: str
    deductions_payable: str
    garnishments_payable: str
    net_pay_clearing: str
    # Credit of the month-end accrual (a liability, reversed the next day); required when
    # ``journal.month_end_accrual`` is on.
    accrued_payroll: str | None = None


class PayrollMapping(Strict):
    """The whole mapping file."""

    version: Literal[1] = 1
    connection: str = "default"
    dimension_format: DimensionFormatSpec
    journal: JournalSpec
    legal_entities: tuple[LegalEntityMap, ...]
    accounts: AccountMap
    departments: dict[str, dict[str, str]] = Field(default_factory=dict)
    job_codes: dict[str, dict[str, str]] = Field(default_factory=dict)
    workers: dict[str, dict[str, str]] = Field(default_factory=dict)
    default_dimensions: dict[str, str] = Field(default_factory=dict)
    # Dimensions an expense line may leave blank when nothing maps them.
    optional_dimensions: tuple[str, ...] = ()
    # Worker sync settings (the optional ``workforce:`` section).
    workforce: WorkforceSettings = Field(default_factory=WorkforceSettings)
    # Allocation of a worker's cost across job codes (the optional ``allocation:`` section).
    allocation: AllocationSpec = Field(default_factory=AllocationSpec)
    # The month-end reconciliation's accounts (the optional ``reconciliation:`` section).
    reconciliation: ReconciliationSpec = Field(default_factory=ReconciliationSpec)

    @field_validator("connection")
    @classmethod
    def _connection_name(cls, value: str) -> str:
        if not value.replace("_", "").replace("-", "").isalnum():
            raise ValueError("connection must be letters, digits, '-' or '_'")
        return value

    @field_validator("legal_entities")
    @classmethod
    def _companies_once(cls, value: tuple[LegalEntityMap, ...]) -> tuple[LegalEntityMap, ...]:
        """A company listed twice would have two currencies, two sets of dimensions and two
        lists of Rippling ids, of which ``company()`` silently uses the first: refused by name
        (after upper-casing, so ``usmf`` and ``USMF`` are the same company)."""
        first: dict[str, int] = {}
        for position, entity in enumerate(value):
            earlier = first.get(entity.company)
            if earlier is not None:
                raise ValueError(
                    f"company {entity.company} is listed twice (legal_entities.{earlier}"
                    f" and legal_entities.{position})"
                )
            first[entity.company] = position
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "PayrollMapping":
        known = set(self.dimension_format.financial_dimensions)
        sections: list[tuple[str, Mapping[str, Mapping[str, str]]]] = [
            ("departments", self.departments),
            ("job_codes", self.job_codes),
            ("workers", self.workers),
            ("legal_entities", {le.company: le.dimensions for le in self.legal_entities}),
            ("default_dimensions", {"": self.default_dimensions}),
        ]
        for section, entries in sections:
            for key, dims in entries.items():
                unknown = set(dims) - known
                if unknown:
                    where = f"{section}.{key}" if key else section
                    raise ValueError(
                        f"{where}: unknown dimension(s) {sorted(unknown)}; the format has"
                        f" {sorted(known)}"
                    )
        if self.journal.month_end_accrual and not self.accounts.accrued_payroll:
            raise ValueError(
                "journal.month_end_accrual is on: accounts.accrued_payroll must name the"
                " accrued payroll liability account"
            )
        unknown_optional = set(self.optional_dimensions) - known
        if unknown_optional:
            raise ValueError(f"optional_dimensions: unknown {sorted(unknown_optional)}")
        seen: dict[str, str] = {}
        for le in self.legal_entities:
            for rid in (*le.rippling_legal_entity_ids, *le.rippling_company_entity_ids):
                if rid in seen and seen[rid] != le.company:
                    raise ValueError(f"Rippling id {rid} maps to both {seen[rid]} and {le.company}")
                seen[rid] = le.company
        return self

    # --- lookups -----------------------------------------------------------------------------
    def company_for_legal_entity(self, legal_entity_id: str | None) -> LegalEntityMap | None:
        return next(
            (le for le in self.legal_entities if legal_entity_id in le.rippling_legal_entity_ids),
            None,
        )

    def company_for_company_entity(self, company_entity_id: str | None) -> LegalEntityMap | None:
        return next(
            (
                le
                for le in self.legal_entities
                if company_entity_id in le.rippling_company_entity_ids
            ),
            None,
        )

    def company(self, company: str) -> LegalEntityMap | None:
        return next((le for le in self.legal_entities if le.company == company.upper()), None)

    @property
    def content_hash(self) -> str:
        """A hash of everything the mapping says: journals carry it, and the posting step
        refuses a journal built with a mapping other than the one it holds now.

        The ``allocation`` section counts only when it differs from the default, so a mapping
        that does not use it hashes as it did before the section existed (journals built and
        approved under it stay postable). The ``reconciliation`` section never counts: it
        changes what month end reads, never a journal."""
        exclude: dict[str, Any] = {"reconciliation": True}
        if self.allocation == AllocationSpec():
            exclude["allocation"] = True
        # The month-end accrual's settings count only when used (mappings written before
        # they existed hash as they did).
        if not self.journal.month_end_accrual and self.journal.accrual_days == "working":
            exclude["journal"] = {"month_end_accrual", "accrual_days"}
        if self.accounts.accrued_payroll is None:
            exclude["accounts"] = {"accrued_payroll"}
        return hashlib.sha256(self.model_dump_json(exclude=exclude).encode()).hexdigest()

    @property
    def companies(self) -> tuple[str, ...]:
        return tuple(le.company for le in self.legal_entities)


# --- loading with line numbers -----------------------------------------------------------------
def _line_index(node: yaml.Node, path: tuple[Any, ...] = (), index: dict | None = None) -> dict:
    """Map every key path in the YAML document to its 1-based line."""
    index = {} if index is None else index
    index.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            index[(*path, key)] = key_node.start_mark.line + 1
            _line_index(value_node, (*path, key), index)
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            _line_index(item, (*path, position), index)
    return index


def _nearest_line(index: dict, loc: tuple[Any, ...]) -> int | None:
    for cut in range(len(loc), -1, -1):
        line = index.get(tuple(loc[:cut]))
        if line is not None:
            return line
    return None


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A key written twice in one YAML mapping (the mapping node and both key nodes)."""

    def __init__(self, mapping: yaml.MappingNode, key: Any, first: yaml.Node, again: yaml.Node):
        super().__init__(
            None, None, f"duplicate key {key!r} (first on line {first.start_mark.line + 1})"
        )
        self.mapping = mapping
        self.key = key
        self.first = first
        self.again = again


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key written twice in one mapping is an error.

    Plain YAML keeps the last value without a word, so a second ``SALARY:`` under
    ``by_category`` would silently re-route every salary to another account. Keys brought in by
    a merge (``<<: *defaults``) may still be overridden: that is what a merge is for.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    earlier = seen.get(key)
                except TypeError:  # an unhashable key: the base constructor reports it
                    continue
                if earlier is not None:
                    raise DuplicateKeyError(node, key, earlier, key_node)
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def _path_to(root: yaml.Node, target: yaml.Node, path: tuple[Any, ...] = ()) -> tuple | None:
    """The key path of ``target`` in the composed document (for naming a duplicate key)."""
    if root is target:
        return path
    children: list[tuple[Any, yaml.Node]] = []
    if isinstance(root, yaml.MappingNode):
        children = [(key.value, value) for key, value in root.value]
    elif isinstance(root, yaml.SequenceNode):
        children = list(enumerate(root.value))
    for part, child in children:
        found = _path_to(child, target, (*path, part))
        if found is not None:
            return found
    return None


def load_yaml(text: str, source: str = "<mapping>") -> tuple[yaml.Node | None, Any]:
    """The composed document (for line numbers) and its data, refusing duplicate keys with
    ``source:line: key.path: duplicate key ...``."""
    loader = UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except DuplicateKeyError as exc:
        where = _path_to(node, exc.mapping) if node is not None else None
        key = ".".join(str(part) for part in (*(where or ()), exc.key))
        raise MappingError(
            f"{source}:{exc.again.start_mark.line + 1}: {key}: duplicate key {exc.key!r}, first"
            f" on line {exc.first.start_mark.line + 1}; YAML would silently keep only the last"
        ) from None
    except yaml.YAMLError as exc:
        raise MappingError(f"{source}: not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    return node, data


def parse_mapping(text: str, source: str = "<mapping>") -> PayrollMapping:
    """Validate mapping YAML; every problem is reported as ``source:line: key.path: message``
    (a key written twice in one mapping is one of them: see ``UniqueKeyLoader``)."""
    node, data = load_yaml(text, source)
    if not isinstance(data, dict) or node is None:
        raise MappingError(f"{source}: expected a mapping at the top level")
    try:
        mapping = PayrollMapping.model_validate(data)
    except ValidationError as exc:
        errors = [
            (tuple(error["loc"]), error["msg"].removeprefix("Value error, "))
            for error in exc.errors(include_url=False, include_input=False)
        ]
        raise _located(source, node, errors) from None
    conflicts = delimiter_conflicts(mapping)
    if conflicts:
        raise _located(source, node, conflicts)
    return mapping


def _located(
    source: str, node: yaml.Node, errors: list[tuple[tuple[Any, ...], str]]
) -> MappingError:
    index = _line_index(node)
    problems = []
    for loc, message in errors:
        line = _nearest_line(index, loc)
        key = ".".join(str(part) for part in loc) or "(top level)"
        problems.append(f"{source}:{line or '?'}: {key}: {message}")
    return MappingError("invalid mapping:\n" + "\n".join(problems))


def delimiter_conflicts(mapping: PayrollMapping) -> list[tuple[tuple[Any, ...], str]]:
    """Dimension values that contain the segment delimiter, by key path.

    F&O splits ``AccountDisplayValue`` at the delimiter, so such a value would shift every
    later segment into the wrong dimension (or fail half-way through a write): refused here.
    """
    delimiter = mapping.dimension_format.delimiter
    sections: list[tuple[tuple[Any, ...], Mapping[str, str]]] = [
        *((("departments", key), dims) for key, dims in mapping.departments.items()),
        *((("job_codes", key), dims) for key, dims in mapping.job_codes.items()),
        *((("workers", key), dims) for key, dims in mapping.workers.items()),
        *(
            (("legal_entities", n, "dimensions"), le.dimensions)
            for n, le in enumerate(mapping.legal_entities)
        ),
        (("default_dimensions",), mapping.default_dimensions),
        (("accounts", "earnings", "by_code"), mapping.accounts.earnings.by_code),
        (("accounts", "earnings", "by_category"), mapping.accounts.earnings.by_category),
        (("accounts", "earnings"), {"default": mapping.accounts.earnings.default or ""}),
        (
            ("accounts",),
            {
                name: value
                for name, value in mapping.accounts.model_dump().items()
                if isinstance(value, str)
            },
        ),
    ]
    return [
        (
            (*where, dimension),
            f"value {value!r} contains the segment delimiter {delimiter!r}; F&O would split it"
            " into two segments",
        )
        for where, dims in sections
        for dimension, value in dims.items()
        if delimiter in value
    ]


def read_mapping_file(path: Path) -> PayrollMapping:
    """Parse and validate one mapping file (``config.mapping.load_mapping`` finds which)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise MappingError(f"cannot read mapping file {path}: {exc.strerror}") from None
    return parse_mapping(text, source=str(path))


def mapping_path(settings: ConnectorSettings, path: Path | None = None) -> Path:
    """The mapping file to use: ``path`` if given, else ``ML_CONNECTOR_MAPPING``."""
    chosen = path or settings.mapping
    if chosen is None:
        raise MappingError("no mapping file: set ML_CONNECTOR_MAPPING or pass --mapping")
    return chosen


def load_mapping(settings: ConnectorSettings, path: Path | None = None) -> PayrollMapping:
    """The validated mapping, refused when it belongs to another connection.

    Dynamic partition names and pools carry ``ML_CONNECTOR_CONNECTION``; a mapping of another
    connection would post one connection's periods with another's accounts.
    """
    chosen = mapping_path(settings, path)
    mapping = read_mapping_file(chosen)
    if mapping.connection != settings.connection:
        raise MappingError(
            f"{chosen}: connection {mapping.connection!r} differs from ML_CONNECTOR_CONNECTION"
            f" {settings.connection!r}; the partitions of this code location belong to"
            f" {settings.connection!r}"
        )
    return mapping
