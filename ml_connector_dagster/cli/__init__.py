"""``ml-connector``: the command line for operators (click, with rich output).

Each command group lives in its own module here; this one only gathers them.
"""

import warnings

import click

from ml_connector_dagster.cli.approval import approve, reject
from ml_connector_dagster.cli.connections import connections
from ml_connector_dagster.cli.corrections import correct
from ml_connector_dagster.cli.credentials import credentials
from ml_connector_dagster.cli.home import home
from ml_connector_dagster.cli.journal import journal
from ml_connector_dagster.cli.month_end import accrue_command, reconcile_command
from ml_connector_dagster.cli.payroll import audit, replay, run_command
from ml_connector_dagster.cli.ping import ping
from ml_connector_dagster.cli.runs import runs
from ml_connector_dagster.cli.webhooks import webhooks
from ml_connector_dagster.cli.workforce import workforce


@click.group()
@click.version_option(package_name="ml-connector-dagster")
@click.option(
    "--connection",
    metavar="NAME",
    default=None,
    help="The connection of ML_CONNECTOR_CONNECTIONS this command serves (default:"
    " ML_CONNECTOR_CONNECTION).",
)
@click.pass_context
def main(ctx: click.Context, connection: str | None) -> None:
    """Rippling payroll and workforce data into the Dynamics 365 F&O general ledger."""
    from ml_connector_dagster.config.settings import (
        ENVIRONMENT,
        SettingsError,
        set_process_variable,
    )
    from ml_connector_dagster.connections_file import (
        CONNECTION_VARIABLE,
        FILE_VARIABLE,
        apply_selected_connection,
    )

    if connection:
        set_process_variable(CONNECTION_VARIABLE, connection)
    # With a connections file, every command but `connections` serves one connection, and sees
    # only its environment (``connections_file.py``), before anything reads a setting.
    if ctx.invoked_subcommand != "connections" or connection:
        if ENVIRONMENT.get(FILE_VARIABLE) and not ENVIRONMENT.get(CONNECTION_VARIABLE):
            raise click.UsageError(
                f"{FILE_VARIABLE} is set: choose a connection with --connection NAME"
                " (`ml-connector connections list` shows them)"
            )
        try:
            apply_selected_connection()
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from None
    # Dagster's notes about features in preview or beta (partitioned checks, backfill policies)
    # are for the engineer who pins Dagster, not for finance reading a command's result.
    warnings.filterwarnings("ignore", message=r".*is currently in (preview|beta)")


main.add_command(home)
main.add_command(credentials)
main.add_command(ping)
main.add_command(workforce)
main.add_command(webhooks)
main.add_command(run_command)
main.add_command(replay)
main.add_command(audit)
main.add_command(correct)
main.add_command(approve)
main.add_command(reject)
main.add_command(runs)
main.add_command(journal)
main.add_command(connections)
main.add_command(reconcile_command)
main.add_command(accrue_command)
