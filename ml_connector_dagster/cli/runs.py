"""``ml-connector runs``: who holds the pool slots, and freeing runs whose process died.

``slots`` lists every step holding or waiting for a concurrency slot, with its run and the
process behind it; ``stale`` lists the runs of this host whose process is gone (``--free`` marks
them failed and frees their slots, as ``run`` and ``replay`` do before they start); ``free``
frees one run by id, for a run of another host or one Dagster started without process tags.
See ``defs/stale_runs.py`` for how a dead run is told from a live one.
"""

import click
from rich.console import Console
from rich.table import Table

from ml_connector_dagster.cli import context
from ml_connector_dagster.cli.payroll import print_freed_runs

console = Console()


@click.group()
def runs() -> None:
    """Runs holding the Dynamics pool slots, and runs whose process died."""


@runs.command()
def slots() -> None:
    """Every step holding (or waiting for) a concurrency pool slot, with its run and process."""
    from ml_connector_dagster.defs.stale_runs import Process, slot_uses

    with context.dagster_instance() as instance:
        uses = slot_uses(instance)
    if not uses:
        console.print("No run holds or waits for a pool slot.")
        return
    table = Table(title="concurrency pool slots")
    for column in ("pool", "limit", "step", "holds", "run", "status", "trigger", "process"):
        table.add_column(column, overflow="fold")
    for use in uses:
        colour = {Process.DEAD: "red", Process.ALIVE: "green"}.get(use.process_state, "yellow")
        process = f"{use.process or '-'} [{colour}]{use.why}[/{colour}]"
        table.add_row(
            use.pool,
            "-" if use.limit is None else str(use.limit),
            use.step_key,
            "holds" if use.holds else "waits",
            use.run_id,
            use.run_status or "deleted",
            use.trigger or "-",
            process,
        )
    console.print(table)
    if any(u.process_state == Process.DEAD for u in uses):
        console.print("Some processes are gone: `ml-connector runs stale --free` frees their runs.")


@runs.command()
@click.option("--free", "free", is_flag=True, help="Mark them failed and free their slots.")
def stale(free: bool) -> None:
    """Runs of this host whose process is gone (killed, crashed) but that are not finished or
    still hold a pool slot. Runs of live processes and of other hosts are never touched."""
    from ml_connector_dagster.defs.stale_runs import find_dead_runs, free_dead_runs

    with context.dagster_instance() as instance:
        dead = (
            free_dead_runs(instance, actor="ml-connector runs stale --free")
            if free
            else find_dead_runs(instance)
        )
    if not dead:
        console.print("No run of this host has lost its process.")
        return
    if free:
        print_freed_runs(dead)
        return
    for run in dead:
        console.print(f"[red]dead[/red] {run.describe()}", soft_wrap=True)
    console.print("`ml-connector runs stale --free` marks them failed and frees their slots.")


@runs.command("free")
@click.argument("run_id")
@click.option("--yes", is_flag=True, help="Do not ask, even when this host cannot see the process.")
def free_command(run_id: str, yes: bool) -> None:
    """Free one run by id: mark it failed if unfinished and free its pool slots.

    Refused while its process runs on this host. For a run of another host (or one without
    process tags) make sure its process is gone first: a run freed while it still writes lets a
    second writer into the pool."""
    from ml_connector_dagster.defs.stale_runs import (
        Process,
        RunStillAlive,
        free_run,
        process_state,
    )

    with context.dagster_instance() as instance:
        run = instance.get_run_by_id(run_id)
        if run is not None and not yes:
            state, why = process_state(dict(run.tags))
            if state in (Process.OTHER_HOST, Process.UNTAGGED):
                click.confirm(
                    f"This host cannot tell whether run {run_id} still runs ({why}). Free it?",
                    abort=True,
                )
        try:
            freed = free_run(instance, run_id, actor="ml-connector runs free")
        except RunStillAlive as exc:
            raise click.ClickException(str(exc)) from None
        except LookupError as exc:
            raise click.ClickException(str(exc)) from None
    print_freed_runs([freed])
