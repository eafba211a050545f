"""``ml-connector ping``: check both connections and print a verdict per line."""

import os
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ml_connector_dagster.connections import Connection
from ml_connector_dagster.credentials.models import CredentialsError
from ml_connector_dagster.ledger.mapping import MappingError, PayrollMapping, load_mapping
from ml_connector_dagster.ping import FAIL, OK, PingResult, ping_dynamics, ping_rippling, verdict

MARKS = {OK: "[green]OK[/green]", "warn": "[yellow]WARN[/yellow]", FAIL: "[red]FAIL[/red]"}


def _mapping(path: Path | None) -> PayrollMapping | None:
    configured = path or (Path(p) if (p := os.environ.get("ML_CONNECTOR_MAPPING")) else None)
    return load_mapping(configured) if configured else None


def render(results: list[PingResult], console: Console) -> None:
    table = Table(title="ml-connector ping")
    for column in ("system", "check", "verdict", "detail"):
        table.add_column(column, overflow="fold")
    for result in results:
        table.add_row(result.system, result.check, MARKS[result.verdict], result.detail)
    console.print(table)


@click.command()
@click.option(
    "--mapping",
    "mapping_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Mapping file to check against (default: $ML_CONNECTOR_MAPPING).",
)
def ping(mapping_path: Path | None) -> None:
    """Check Rippling and Dynamics credentials, scopes, formats and journal name."""
    console = Console()
    try:
        connection = Connection.from_environment()
        mapping = _mapping(mapping_path)
    except (CredentialsError, MappingError) as exc:
        raise click.ClickException(str(exc)) from None
    results: list[PingResult] = []
    with connection.rippling() as rippling:
        results += ping_rippling(rippling)
    with connection.dynamics() as dynamics:
        results += ping_dynamics(dynamics, mapping)
    render(results, console)
    if verdict(results):
        console.print("[green]Everything the connector needs answered.[/green]")
    else:
        console.print("[red]Something the connector needs failed: see FAIL lines.[/red]")
        raise SystemExit(1)
