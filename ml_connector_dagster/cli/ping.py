"""``ml-connector ping``: check both connections and print a verdict per line."""

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ml_connector_dagster.cli import context
from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.ping import (
    FAIL,
    OK,
    PingResult,
    ping_dynamics,
    ping_rippling,
    verdict,
)
from ml_connector_dagster.ping import (
    as_json as to_json,
)

MARKS = {OK: "[green]OK[/green]", "warn": "[yellow]WARN[/yellow]", FAIL: "[red]FAIL[/red]"}


def _mapping(path: Path | None) -> PayrollMapping | None:
    """The mapping to check the journal name against; ping also runs before there is one."""
    if path is None and context.settings().mapping is None:
        return None
    return context.mapping(path)


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
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the checks as JSON (for automation); the exit status is the same.",
)
@click.option(
    "--write-probe",
    is_flag=True,
    help="Also create an empty journal header in F&O, find it by IntegrationKey and delete it.",
)
def ping(mapping_path: Path | None, as_json: bool, write_probe: bool) -> None:
    """Check Rippling and Dynamics: credentials, scopes and entitlements, formats, journal
    name and vouchers, IntegrationKey, number sequences and the webhook secret. Read-only
    unless --write-probe."""
    connection = context.connection()
    settings = context.settings()
    mapping = _mapping(mapping_path)
    results: list[PingResult] = []
    with connection.rippling() as rippling:
        results += ping_rippling(rippling, settings)
    with connection.dynamics() as dynamics:
        results += ping_dynamics(dynamics, mapping, write_probe=write_probe)
    passed = verdict(results)
    if as_json:
        click.echo(json.dumps(to_json(results), indent=2))
    else:
        console = Console()
        render(results, console)
        if passed:
            console.print("[green]Everything the connector needs answered.[/green]")
        else:
            console.print("[red]Something the connector needs failed: see FAIL lines.[/red]")
    if not passed:
        raise SystemExit(1)
