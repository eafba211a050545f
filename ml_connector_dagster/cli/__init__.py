"""``ml-connector``: the command line for operators (click, with rich output).

Each command group lives in its own module here; this one only gathers them.
"""

import warnings

import click

from ml_connector_dagster.cli.approval import approve, reject
from ml_connector_dagster.cli.corrections import correct
from ml_connector_dagster.cli.credentials import credentials
from ml_connector_dagster.cli.home import home
from ml_connector_dagster.cli.journal import journal
from ml_connector_dagster.cli.payroll import audit, replay, run_command
from ml_connector_dagster.cli.ping import ping
from ml_connector_dagster.cli.runs import runs
from ml_connector_dagster.cli.webhooks import webhooks
from ml_connector_dagster.cli.workforce import workforce


@click.group()
@click.version_option(package_name="ml-connector-dagster")
def main() -> None:
    """Rippling payroll and workforce data into the Dynamics 365 F&O general ledger."""
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
