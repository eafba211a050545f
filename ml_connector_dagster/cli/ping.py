"""``ml-connector ping``: check both connections and print a verdict per line."""

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ml_connector_dagster.cli import context
from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.ping import FAIL, OK, PingResult, ping_dynamics, ping_rippling, verdict

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
def ping(mapping_path: Path | None) -> None:
    """Check Rippling and Dynamics credentials, scopes, formats and journal name."""
    console = Console()
    connection = context.connection()
    mapping = _mapping(mapping_path)
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
