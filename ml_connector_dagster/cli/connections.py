"""``ml-connector connections``: the connections of a connections file, and their workspace.

A Dagster deployment serving several companies runs one code location per connection
(``defs/naming.py``). Each code location's processes must see their connection's environment
from their first import, and ``workspace.yaml`` cannot set a location's environment; it can
name the Python a location runs with (``executable_path``). So ``connections workspace``
writes, per connection, a two-line launcher that sets ``ML_CONNECTOR_CONNECTION`` and runs this
Python, and a workspace file with one ``python_module`` location per connection using it:
``dagster dev -w <file>`` (or the webserver and daemon) then serves them all, and the run
workers each code server starts inherit its connection. Containers do the same with one code
server per connection (README, "Several companies in one deployment").
"""

import shlex
import sys
from pathlib import Path

import click
import yaml
from rich.console import Console
from rich.table import Table

from ml_connector_dagster.config.settings import (
    ENVIRONMENT,
    SettingsError,
    code_location_name,
    current_settings,
)
from ml_connector_dagster.connections_file import (
    CONNECTION_VARIABLE,
    FILE_VARIABLE,
    ConnectionEntry,
    load_connections,
)

DEFINITIONS_MODULE = "ml_connector_dagster.definitions"


def _entries() -> dict[str, ConnectionEntry]:
    path = ENVIRONMENT.get(FILE_VARIABLE)
    if not path:
        raise click.ClickException(
            f"{FILE_VARIABLE} is not set: this deployment serves one connection, configured by"
            " the environment alone"
        )
    try:
        return load_connections(Path(path).expanduser())
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def connections() -> None:
    """The connections (companies) of ML_CONNECTOR_CONNECTIONS."""


@connections.command("list")
def list_command() -> None:
    """Each connection: its code location, mapping and the variables its entry sets."""
    entries = _entries()
    table = Table(title=f"Connections of {ENVIRONMENT[FILE_VARIABLE]}")
    for column in ("connection", "code location", "mapping", "variables set"):
        table.add_column(column)
    for name, entry in sorted(entries.items()):
        mapping = entry.variables["ML_CONNECTOR_MAPPING"]
        table.add_row(
            name, code_location_name(name), mapping, ", ".join(sorted(entry.variables))
        )  # values are not shown: an entry's references name where its secrets come from
    Console().print(table)


def write_launcher(path: Path, connection: str) -> Path:
    """A launcher that runs this Python as ``connection`` (``executable_path`` of a location)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = (
        "#!/bin/sh\n"
        "# Written by `ml-connector connections workspace`: this connection's code location\n"
        "# and its run workers run with the connection's environment.\n"
        f"{CONNECTION_VARIABLE}={shlex.quote(connection)}\n"
        f"export {CONNECTION_VARIABLE}\n"
        f'exec {shlex.quote(sys.executable)} "$@"\n'
    )
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.chmod(0o700)
    partial.replace(path)
    return path


def workspace_document(launchers: dict[str, Path]) -> dict:
    """The workspace: one ``python_module`` code location per connection."""
    return {
        "load_from": [
            {
                "python_module": {
                    "module_name": DEFINITIONS_MODULE,
                    "location_name": code_location_name(name),
                    "executable_path": str(launcher),
                }
            }
            for name, launcher in sorted(launchers.items())
        ]
    }


@connections.command("workspace")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The workspace file to write (default: DAGSTER_HOME/ml-connector/workspace.yaml).",
)
def workspace_command(output: Path | None) -> None:
    """Write a Dagster workspace with one code location per connection."""
    entries = _entries()
    try:
        home = current_settings().dagster_home.expanduser().resolve()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    base = home / "ml-connector"
    launchers = {
        name: write_launcher(base / "connections" / name / "python", name) for name in entries
    }
    output = output or base / "workspace.yaml"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        "# Written by `ml-connector connections workspace`; written again when connections"
        " change.\n" + yaml.safe_dump(workspace_document(launchers), sort_keys=False),
        encoding="utf-8",
    )
    console = Console()
    console.print(f"wrote {output}: {len(launchers)} code locations")
    for name in sorted(launchers):
        console.print(f"  {code_location_name(name)} ({name})")
    console.print(f"serve them: dagster dev -w {shlex.quote(str(output))}")
