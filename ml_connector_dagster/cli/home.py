"""``ml-connector home DIR``: prepare a Dagster home with this product's instance file.

``ml-connector-dev`` (the sandbox package, which imports nothing from here) calls it before it
starts ``dagster dev``; operators can use it to set up a home for the daemon or the webserver.
"""

from pathlib import Path

import click

from ml_connector_dagster.instance import InstanceConfigError, prepare_dagster_home


@click.command("home")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def home(directory: Path) -> None:
    """Create DIRECTORY with dagster.yaml unless it has one; print its absolute path.

    SQLite by default, PostgreSQL with ML_CONNECTOR_INSTANCE=postgres."""
    try:
        click.echo(str(prepare_dagster_home(directory)))
    except InstanceConfigError as exc:
        raise click.ClickException(str(exc)) from None
