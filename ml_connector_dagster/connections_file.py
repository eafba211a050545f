"""Several companies in one deployment: the connections file and the environment it gives one.

A deployment that serves several customers lists them in a small YAML file named by
``ML_CONNECTOR_CONNECTIONS``::

    connections:
      acme:
        ML_CONNECTOR_MAPPING: /etc/ml-connector/acme/mapping.yaml
        RIPPLING_API_TOKEN: ${ACME_RIPPLING_API_TOKEN}
        DYNAMICS_ENVIRONMENT_URL: https://acme.operations.dynamics.com
        DYNAMICS_CLIENT_SECRET: ${ACME_DYNAMICS_CLIENT_SECRET}
      globex:
        ...

Each entry is the connection's own view of the environment: any variable the connector reads,
set to a literal (never for a secret) or to ``${VARIABLE}``, a variable of the process
environment (how a secret gets in, from the platform's secret store). A process serves one
connection, chosen by ``ML_CONNECTOR_CONNECTION`` (``ml-connector --connection``, or the
per-connection code location ``ml-connector connections workspace`` writes), and
``apply_selected_connection`` turns the process environment into that connection's view
before anything reads a setting. Every later reader (settings, credentials, Dagster's
``EnvVar``, the code servers and run workers the process starts) then sees the one view.

Why the environment and not a second configuration system: every setting already has one
name, parser and error text (``settings.py``); a connection only needs different values.

What must never cross from one connection to another is *connection-scoped*: its credentials
(every Rippling and Dynamics variable, the alert secrets, the credentials store file), its
mapping and its audit database. A connection's view never inherits those from the shared
process environment: what its entry does not set is unset, so connection B can never post
with connection A's token because A's token happened to be exported for everyone. Other
settings (timeouts, the CA bundle, DAGSTER_HOME, the credentials key, where step outputs live:
their paths carry the connection's asset key prefix) are inherited unless the entry sets
them.
"""

import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import SecretStr

from ml_connector_dagster.config.settings import (
    ENVIRONMENT,
    PREFIX,
    ConnectorSettings,
    SettingsError,
    replace_process_environment,
)
from ml_connector_dagster.credentials import envvars

FILE_VARIABLE = "ML_CONNECTOR_CONNECTIONS"
CONNECTION_VARIABLE = "ML_CONNECTOR_CONNECTION"
# A connection's name becomes part of Dagster names (asset key prefixes, jobs, sensors, pools,
# code locations), which allow letters, digits and underscores only.
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")

# Credentials and mapping: never inherited from the shared process environment.
SCOPED = frozenset(
    {
        *envvars.RIPPLING.values(),
        *envvars.DYNAMICS.values(),
        *envvars.ALERTS.values(),
        envvars.STORE_FILE,
        "ML_CONNECTOR_MAPPING",
        "ML_CONNECTOR_AUDIT_URL",  # one database per connection (``audit/owner.py``)
    }
)


class ConnectionsFileError(SettingsError):
    """The connections file, or the connection chosen from it, cannot be used; says where."""


def _settings_variables() -> dict[str, bool]:
    """Every variable ``ConnectorSettings`` reads -> whether its value is a secret."""
    names: dict[str, bool] = {}
    for field_name, info in ConnectorSettings.model_fields.items():
        alias = info.validation_alias if isinstance(info.validation_alias, str) else None
        variable = alias or f"{PREFIX}{field_name.upper()}"
        annotation = info.annotation
        names[variable] = annotation is SecretStr or SecretStr in typing.get_args(annotation)
    return names


def known_variables() -> dict[str, bool]:
    """Every variable an entry may set -> whether it is a secret (a reference is required)."""
    from ml_connector_dagster.credentials.resolve import is_secret

    known = _settings_variables()
    for side, fields in envvars.SIDES.items():
        for field_name, variable in fields.items():
            known[variable] = is_secret(side, field_name)  # type: ignore[arg-type]
    known[envvars.CA_BUNDLE] = False
    known.pop(CONNECTION_VARIABLE, None)  # the entry's name is its connection
    known.pop(FILE_VARIABLE, None)
    return known


@dataclass(frozen=True)
class ConnectionEntry:
    """One connection of the file: its name and the variables it sets (values unresolved)."""

    name: str
    variables: Mapping[str, str]

    def __repr__(self) -> str:  # values may name secrets' variables only, but stay quiet
        return f"ConnectionEntry(name={self.name!r}, variables={sorted(self.variables)!r})"


def load_connections(path: Path) -> dict[str, ConnectionEntry]:
    """The file's connections, validated: names, known variables, secrets only by reference."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConnectionsFileError(f"{FILE_VARIABLE}: cannot read {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConnectionsFileError(f"{path}: not YAML ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("connections"), dict):
        raise ConnectionsFileError(f"{path}: expected a mapping with a 'connections:' mapping")
    if set(document) - {"connections"}:
        extra = ", ".join(sorted(map(str, set(document) - {"connections"})))
        raise ConnectionsFileError(f"{path}: unknown top-level key(s) {extra}")
    known = known_variables()
    entries: dict[str, ConnectionEntry] = {}
    for name, body in document["connections"].items():
        where = f"{path}: connection {name!r}"
        if not isinstance(name, str) or not NAME.match(name):
            raise ConnectionsFileError(
                f"{where}: a name is a letter then letters, digits or '_' (at most 40)"
            )
        if name.lower() in {n.lower() for n in entries}:
            raise ConnectionsFileError(f"{where}: listed twice (names ignore case)")
        if not isinstance(body, dict):
            raise ConnectionsFileError(f"{where}: expected a mapping of variables")
        variables: dict[str, str] = {}
        for variable, value in body.items():
            variables[str(variable)] = _checked_value(where, str(variable), value, known)
        if "ML_CONNECTOR_MAPPING" not in variables:
            raise ConnectionsFileError(
                f"{where}: ML_CONNECTOR_MAPPING is required (each connection has its own"
                " finance mapping)"
            )
        entries[name] = ConnectionEntry(name, variables)
    if not entries:
        raise ConnectionsFileError(f"{path}: 'connections:' lists no connection")
    return entries


def _checked_value(where: str, variable: str, value: object, known: Mapping[str, bool]) -> str:
    if variable in (CONNECTION_VARIABLE, FILE_VARIABLE):
        raise ConnectionsFileError(f"{where}: {variable} cannot be set inside an entry")
    if variable not in known:
        raise ConnectionsFileError(f"{where}: {variable} is not a variable the connector reads")
    if isinstance(value, bool):
        value = "true" if value else "false"
    if not isinstance(value, str | int | float) or value is None:
        raise ConnectionsFileError(f"{where}: {variable} must be a single value")
    text = str(value)
    if known[variable] and not _REFERENCE.match(text):
        # The message never echoes the value: it is probably the secret itself.
        raise ConnectionsFileError(
            f"{where}: {variable} is a secret; write ${{SOME_VARIABLE}} and set that variable"
            " from your secret store (a secret is never written in the connections file)"
        )
    return text


def connection_environment(
    env: Mapping[str, str], entries: Mapping[str, ConnectionEntry], name: str
) -> dict[str, str]:
    """``env`` as connection ``name`` sees it (pure: tests and the apply step share it)."""
    if name not in entries:
        listed = ", ".join(sorted(entries))
        raise ConnectionsFileError(
            f"{CONNECTION_VARIABLE}={name!r} is not in the connections file (it lists {listed})"
        )
    entry = entries[name]
    view = {k: v for k, v in env.items() if k not in SCOPED or k in entry.variables}
    for variable, value in entry.variables.items():
        reference = _REFERENCE.match(value)
        if reference is None:
            view[variable] = value
            continue
        source = reference.group(1)
        if not env.get(source):
            raise ConnectionsFileError(
                f"connection {name!r}: {variable} refers to ${{{source}}}, which is not set"
            )
        view[variable] = env[source]
    view[CONNECTION_VARIABLE] = name
    return view


def selected_connection(env: Mapping[str, str]) -> str | None:
    """The connection a file-configured process serves, or None without a connections file."""
    if not env.get(FILE_VARIABLE):
        return None
    name = env.get(CONNECTION_VARIABLE, "")
    if not name:
        entries = load_connections(Path(env[FILE_VARIABLE]).expanduser())
        raise ConnectionsFileError(
            f"{FILE_VARIABLE} lists several connections: choose one with"
            f" {CONNECTION_VARIABLE} or `ml-connector --connection NAME`"
            f" ({', '.join(sorted(entries))})"
        )
    return name


def apply_selected_connection(env: Mapping[str, str] = ENVIRONMENT) -> str | None:
    """Turn this process's environment into its connection's view; the connection's name.

    Without ``ML_CONNECTOR_CONNECTIONS`` nothing changes (one connection, the environment as
    it is). Applying twice gives the same environment, so a child process that applies again
    (a code server, a run worker) sees what its parent saw.
    """
    name = selected_connection(env)
    if name is None:
        return None
    entries = load_connections(Path(env[FILE_VARIABLE]).expanduser())
    replace_process_environment(connection_environment(env, entries, name))
    return name
