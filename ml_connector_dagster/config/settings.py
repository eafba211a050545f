"""Every setting the connector reads from the environment, in one model.

This module is the only code of the product that reads ``os.environ``: everything else is
handed a ``ConnectorSettings`` (or, for credentials, the mapping this module returns), so a
value has one name, one default, one parser and one error text. The rules, once:

- the prefix is ``ML_CONNECTOR_`` (``DAGSTER_HOME`` is Dagster's own name);
- an empty variable counts as unset (compose files define variables as empty);
- booleans accept true/false, 1/0, yes/no, on/off in any case (pydantic's rule), nothing else;
- an invalid value raises ``SettingsError`` naming the variable, never echoing a secret.

Tests and subprocesses pass their own environment with ``ConnectorSettings.from_env(env)``;
the same pydantic-settings source parses it, so there is no second parser to drift.
"""

import datetime as dt
import os
import re
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, TypeAdapter, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

PREFIX = "ML_CONNECTOR_"

Seconds = Annotated[float, Field(ge=0)]
# A timeout: zero would fail every request, and "inf" would wait for ever again.
TimeoutSeconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class SettingsError(ValueError):
    """An environment variable holds a value the connector cannot use; the text names it."""


class _GivenEnvironment(EnvSettingsSource):
    """pydantic-settings' own environment source, reading a given mapping, not ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._given = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._given, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


class ConnectorSettings(BaseSettings):
    """The connector's environment. Field ``x`` is variable ``ML_CONNECTOR_X``."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
        case_sensitive=False,
    )

    # Which connection this code location serves; names its partitions and pools.
    connection: str = Field(default="default", pattern=r"^[A-Za-z0-9_-]{1,40}$")
    # A deployment serving several connections lists them in this YAML file, one entry of
    # variables per connection (``connections_file.py``); ML_CONNECTOR_CONNECTION picks
    # the one a process serves. Unset: one connection, configured by the environment alone.
    connections: Path | None = None
    # The finance mapping file (YAML).
    mapping: Path | None = None
    # The audit store; default: SQLite under DAGSTER_HOME.
    audit_url: SecretStr | None = None  # a database URL may carry a password
    dagster_home: Path = Field(default=Path(".dagster_home"), validation_alias="DAGSTER_HOME")
    # Where asset values are kept between steps (sealed either way): unset, files under
    # DAGSTER_HOME (one machine); ``audit``, the audit database; or a database URL
    # (``postgresql://...``, ``sqlite:///...``). Run launchers that start containers need a
    # database every container reaches.
    storage_url: SecretStr | None = None  # a database URL may carry a password
    # The Dagster instance template ``ml-connector`` prepares a DAGSTER_HOME with.
    instance: Literal["sqlite", "postgres"] = "sqlite"
    dagster_yaml: Path | None = None

    # Steps that write to this connection's Dynamics environment at once (the pool
    # ``dynamics__<connection>``): set on the instance explicitly when the code location loads
    # and when ``ml-connector`` prepares a DAGSTER_HOME (``defs/pools.py``).
    dynamics_pool_limit: int = Field(default=1, ge=1, le=100)
    # A run still going after this long is stopped and marked failed by the daemon's run
    # monitoring (the ``dagster/max_runtime`` tag on every job; seconds, 0: no limit).
    max_runtime_seconds: int = Field(default=10800, ge=0)

    # Automation: sensors and schedules start running when the code location loads.
    automation_on: bool = False
    webhooks: bool = False
    # With webhooks on, the ``updated_at`` poll keeps running this often as a safety net
    # (webhooks fire only for employees provisioned to the app).
    safety_poll_seconds: Annotated[float, Field(ge=300)] = 21600.0
    # Also read v1 ``company_activity`` when polling (needs v1 scopes; optional, never fatal).
    company_activity: bool = False
    sensor_interval: int = Field(default=60, ge=1)
    reference_cron: str = "0 5 * * *"
    workforce_cron: str = "30 5 * * *"
    # How often the mapping file is observed (its content hash is its data version) and F&O is
    # read back for the journals the connector created (posted by finance? totals unchanged?).
    mapping_cron: str = "0 * * * *"
    fo_observation_cron: str = "0 7 * * *"
    # The IANA time zone the schedules' cron times are in: finance's, set on purpose.
    schedule_timezone: str = "UTC"
    # Links in the UI (``defs/payroll/links.py``): the F&O page a created journal is opened
    # from ({environment}: DYNAMICS_ENVIRONMENT_URL, {company}, {journal}: JournalBatchNumber)
    # and a Rippling pay run's page ({run_id}); empty: no link.
    fo_journal_url: str = "{environment}/?cmp={company}&mi=LedgerJournalTable5"
    rippling_pay_run_url: str = ""
    # The first pay period the pay-run sensor considers (default: the newest paid one).
    sync_from: dt.date | None = None
    # The first month of the month-end partitions (reconciliation, accrual): YYYY-MM.
    first_month: str = Field(default="2025-01", pattern=r"^\d{4}-(0[1-9]|1[0-2])$")

    # How long one read of the company-wide Rippling workforce (workers, job assignments, job
    # codes) is shared by the company runs of a pay period and the periods of a backfill
    # (seconds; 0: every run reads its own). ``defs/payroll/workforce.py``.
    workforce_max_age_seconds: Annotated[float, Field(ge=0)] = 3600.0
    # Rippling requests one step may have in flight at once (independent lists read side by
    # side; each list's pages still follow each other). Rippling publishes no rate limit: its
    # 429s are backed off, so a cap that is too high costs time, not data.
    rippling_concurrency: int = Field(default=3, ge=1, le=16)
    # Requests in flight at once per service across every process of this machine (every run,
    # the daemon, the CLI; ``transport/inflight.py``); 0: no cap.
    rippling_max_in_flight: int = Field(default=6, ge=0, le=64)
    dynamics_max_in_flight: int = Field(default=6, ge=0, le=64)

    # How old a read of F&O's reference data (accounts, dimension values, formats, journal
    # names) the checks of a run may take from another run (seconds; 0: each reads its own).
    # The write itself never uses one older than a minute (``posting/reference.py``).
    dynamics_reference_max_age_seconds: Annotated[float, Field(ge=0)] = 300.0

    # Posting: waits and leases (seconds).
    claim_wait_seconds: Seconds = 600.0
    claim_lease_seconds: Annotated[float, Field(ge=30)] = 900.0
    recheck_seconds: Seconds = 60.0
    recheck_interval_seconds: Annotated[float, Field(ge=0.05)] = 2.0

    # Dynamics client.
    dynamics_changeset_size: int = Field(default=1000, ge=1, le=5000)
    dynamics_batch_timeout_seconds: Annotated[float, Field(ge=10)] = 900.0

    # Read timeouts per request (seconds); the connect timeout is 10 s, or the read timeout
    # if smaller. A service that does not answer within it ends in an error naming it.
    rippling_timeout_seconds: TimeoutSeconds = 30.0  # Rippling API and its OAuth token calls
    dynamics_timeout_seconds: TimeoutSeconds = 120.0  # F&O OData (``$batch`` has its own)
    token_timeout_seconds: TimeoutSeconds = 30.0  # Entra ID (discovery and token requests)

    # Credentials and TLS.
    credentials_file: Path | None = None
    credentials_key: SecretStr | None = None
    credentials_key_file: Path | None = None
    allow_key_beside_store: bool = False
    ca_bundle: Path | None = None

    # Webhooks (Rippling has no signature: a bearer token and/or a secret URL path).
    webhook_token: SecretStr | None = None
    webhook_path_secret: SecretStr | None = None
    rippling_company_ids: str | None = None

    # Alerts (``alerts/``). Teams is on when its webhook credential is set
    # (ML_CONNECTOR_TEAMS_WEBHOOK_URL or the store); e-mail when a host, a sender and recipients
    # are. The SMTP password is a credential too (ML_CONNECTOR_SMTP_PASSWORD), never a setting.
    # The Dagster webserver finance can open: messages link to ``<dagster_url>/runs/<run id>``.
    dagster_url: str = Field(default="http://127.0.0.1:3000", pattern=r"^https?://[^\s]+$")
    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535)  # default by smtp_security
    # STARTTLS on a plain port (587) or TLS from the first byte (465); never plain text.
    smtp_security: Literal["starttls", "tls"] = "starttls"
    smtp_from: str | None = Field(default=None, pattern=r"^[^@\s,]+@[^@\s,]+$")
    smtp_to: str | None = None  # comma-separated addresses
    smtp_user: str | None = None  # log in only when set (the password is a credential)
    # A journal the connector created and finance has not posted in F&O this many days after
    # its pay date raises an UNPOSTED alert.
    alert_unposted_days: int = Field(default=5, ge=1, le=365)
    # Per channel: a failed send is tried again later (backing off), at most this many times.
    alert_max_attempts: int = Field(default=10, ge=1, le=100)
    alert_timeout_seconds: TimeoutSeconds = 30.0  # one Teams POST or one SMTP session

    @field_validator("smtp_to")
    @classmethod
    def _addresses(cls, value: str | None) -> str | None:
        """Comma-separated mail addresses, each ``name@domain`` (no display names)."""
        if value is None:
            return None
        addresses = [part.strip() for part in value.split(",") if part.strip()]
        bad = [a for a in addresses if not re.fullmatch(r"[^@\s]+@[^@\s]+", a)]
        if bad:
            raise ValueError(f"not a mail address: {', '.join(repr(a) for a in bad)}")
        return ",".join(addresses) or None

    def smtp_recipients(self) -> tuple[str, ...]:
        """``ML_CONNECTOR_SMTP_TO`` as addresses (empty when unset)."""
        return tuple(self.smtp_to.split(",")) if self.smtp_to else ()

    def smtp_port_or_default(self) -> int:
        """The configured port, else 587 for STARTTLS and 465 for implicit TLS."""
        if self.smtp_port is not None:
            return self.smtp_port
        return 465 if self.smtp_security == "tls" else 587

    def email_configured(self) -> bool:
        """Whether alerts go out by e-mail: a host, a sender and at least one recipient."""
        return bool(self.smtp_host and self.smtp_from and self.smtp_recipients())

    @field_validator("schedule_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        """An IANA name this machine knows (``Europe/Berlin``), not an offset or a typo."""
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not an IANA time zone name known here (e.g. America/Chicago)"
            ) from None
        return value

    @field_validator("fo_journal_url", "rippling_pay_run_url")
    @classmethod
    def _link_template(cls, value: str, info: Any) -> str:
        """An https link template with only the placeholders its link fills."""
        allowed = (
            {"environment", "company", "journal"}
            if info.field_name == "fo_journal_url"
            else {"run_id"}
        )
        if not value:
            return value
        try:
            names = {n for _, n, _, _ in string.Formatter().parse(value) if n is not None}
        except ValueError as exc:
            raise ValueError(f"not a link template ({exc})") from None
        if not names <= allowed:
            unknown = ", ".join(sorted(names - allowed))
            known = ", ".join("{" + n + "}" for n in sorted(allowed))
            raise ValueError(f"unknown placeholder(s) {unknown}; this link knows {known}")
        if not (value.startswith("https://") or value.startswith("{environment}")):
            raise ValueError("a link must start with https:// (or {environment})")
        return value

    @field_validator("storage_url")
    @classmethod
    def _storage_url(cls, value: SecretStr | None) -> SecretStr | None:
        """``audit`` or a PostgreSQL / SQLite URL; the message never echoes the value."""
        if value is None:
            return None
        text = value.get_secret_value()
        if text != "audit" and not re.match(r"^(postgresql|sqlite)(\+\w+)?://.", text):
            raise ValueError(
                "must be empty (files under DAGSTER_HOME), audit (the audit database), or a"
                " postgresql:// or sqlite:/// URL"
            )
        return value

    @field_validator("*", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        """A stray space around a value (``KEY= on``) is not part of it."""
        return value.strip() if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # No dotenv or secrets directory: what runs is what the environment says.
        return (init_settings, env_settings)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "ConnectorSettings":
        """The settings of ``env`` (default: this process's environment)."""
        try:
            if env is None:
                return cls()
            return cls(**_GivenEnvironment(cls, env)())
        except ValidationError as exc:
            raise SettingsError(_describe(exc)) from None

    def connection_directory(self) -> Path:
        """Where this connection keeps its files under DAGSTER_HOME (not created here).

        ``ml-connector/`` for a deployment of one connection (where it always was), and
        ``ml-connector/connections/<name>/`` for a connection of a connections file, so two
        connections never share an audit file, an export or an in-flight cap by default.
        """
        base = self.dagster_home / "ml-connector"
        return base / "connections" / self.connection if self.connections else base

    def name_prefix(self) -> str | None:
        """What this connection's Dagster names start with (``defs/naming.py``), or None for a
        deployment of one connection (the names it always had)."""
        return None if self.connections is None else self.connection.replace("-", "_")

    def dagster_name(self, base: str) -> str:
        """A job, sensor, schedule or group name of this connection."""
        prefix = self.name_prefix()
        return base if prefix is None else f"{prefix}__{base}"

    def location_name(self) -> str:
        """This connection's Dagster code location (``workspace.yaml``, the commands)."""
        return code_location_name(self.name_prefix())

    def command(self) -> str:
        """How an operator calls the commands for this connection, in messages to copy."""
        return (
            f"ml-connector --connection {self.connection}" if self.connections else "ml-connector"
        )

    def audit_database_url(self) -> str:
        """``ML_CONNECTOR_AUDIT_URL``, else a SQLite file under DAGSTER_HOME (created)."""
        if self.audit_url is not None:
            return self.audit_url.get_secret_value()
        directory = self.connection_directory()
        directory.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(directory / 'audit.sqlite').resolve()}"

    def storage_database_url(self) -> str | None:
        """The database asset values are kept in, or None: files under DAGSTER_HOME."""
        if self.storage_url is None:
            return None
        url = self.storage_url.get_secret_value()
        return self.audit_database_url() if url == "audit" else url


# The code location of a deployment of one connection; a connection of a connections file
# serves ``<this>__<connection>`` (``defs/naming.py``, ``ml-connector connections workspace``).
BASE_LOCATION_NAME = "ml_connector_dagster"


def code_location_name(prefix: str | None) -> str:
    """The code location of the connection whose names start with ``prefix`` (None: one
    connection, no prefix)."""
    return BASE_LOCATION_NAME if prefix is None else f"{BASE_LOCATION_NAME}__{prefix}"


_BOOL = TypeAdapter(bool)


def parse_bool(name: str, value: str) -> bool:
    """The one boolean rule (pydantic's): true/false, 1/0, yes/no, on/off, t/f, y/n, any case."""
    try:
        return _BOOL.validate_python(value.strip())
    except ValidationError:
        raise SettingsError(f"{name} must be true or false, got {value!r}") from None


def variable_name(field: str) -> str:
    """The environment variable behind a settings field."""
    info = ConnectorSettings.model_fields[field]
    alias = info.validation_alias
    return alias if isinstance(alias, str) else f"{PREFIX}{field.upper()}"


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        name = variable_name(field) if field in ConnectorSettings.model_fields else field
        problems.append(f"{name}: {error['msg']}")
    return "invalid environment setting: " + "; ".join(problems)


# The live process environment, for the code that resolves credentials from it. Credentials
# have their own names (``RIPPLING_*``, ``DYNAMICS_*``) and their own resolution (environment
# over the encrypted store, per field); they take a mapping, this one by default, so that tests
# and commands can hand them another.
ENVIRONMENT: Mapping[str, str] = os.environ


def set_process_variable(name: str, value: str) -> None:
    """Set one variable of this process's environment (``ml-connector --connection``)."""
    os.environ[name] = value


def replace_process_environment(view: Mapping[str, str]) -> None:
    """Make this process's environment exactly ``view``: a connection's view of it
    (``connections_file.apply_selected_connection``), inherited by every child process."""
    for name in [name for name in os.environ if name not in view]:
        del os.environ[name]
    os.environ.update(view)


def set_dagster_home(home: Path) -> None:
    """Point this process's Dagster at ``home`` (commands prepare it before the instance)."""
    os.environ["DAGSTER_HOME"] = str(home)


def current_settings() -> ConnectorSettings:
    """This process's settings, read now (commands and runs read them once, at their start)."""
    return ConnectorSettings.from_env()
