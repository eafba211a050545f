"""``python -m faultmatrix``: run the matrix (or part of it) and print it; exit 1 unless every
cell run holds.

    make fault-matrix        every cell, writes docs/fault-matrix.md
    make fault-matrix-fast   the CI rows (catalogue.FAST_CELLS)
"""

import datetime as dt
import shutil
import subprocess
import tempfile
from pathlib import Path

import click
from rich.console import Console
from rich.progress import Progress

from faultmatrix.catalogue import FAST_CELLS, FAULTS, NOT_APPLICABLE, STAGES
from faultmatrix.report import markdown, print_matrix, tally
from faultmatrix.runner import run_cells

# The matrix has nine columns: never squeeze it into a pipe's default 80.
console = Console(width=max(shutil.get_terminal_size((160, 24)).columns, 160))


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


@click.command()
@click.option("--fast", is_flag=True, help="Only the rows CI runs.")
@click.option("--fault", "faults", multiple=True, type=click.Choice([f.name for f in FAULTS]))
@click.option("--stage", "stages", multiple=True, type=click.Choice([s.name for s in STAGES]))
@click.option("--workers", default=40, show_default=True, help="Size of the sandbox company.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the Markdown page here (the full matrix: docs/fault-matrix.md).",
)
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep each cell's files (product logs, audit database) under this directory.",
)
def main(
    fast: bool,
    faults: tuple[str, ...],
    stages: tuple[str, ...],
    workers: int,
    output: Path | None,
    keep: Path | None,
) -> None:
    """Every fault at every stage against the sandbox; then replay; then F&O read back."""
    pairs = [
        (f.name, s.name)
        for f in FAULTS
        for s in STAGES
        if (not faults or f.name in faults)
        and (not stages or s.name in stages)
        and (f.name, s.name) not in NOT_APPLICABLE
    ]
    if fast:
        pairs = [p for p in pairs if p in FAST_CELLS]
    if not pairs:
        raise click.UsageError("that selection has no cell to run")
    root = keep or Path(tempfile.mkdtemp(prefix="fault-matrix-"))
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("cells", total=len(pairs))

        def advance(label: str) -> None:
            progress.console.print(label)  # a line per cell: a long matrix shows its way
            progress.update(task, advance=1)

        results = run_cells(pairs, root, workers=workers, on_cell=advance)
    print_matrix(console, results)
    if output is not None:
        command = "make fault-matrix" if not (fast or faults or stages) else "python -m faultmatrix"
        output.write_text(markdown(results, command=command, commit=_commit()))
        console.print(f"wrote {output}")
    broken = [r for r in results if not r.holds]
    console.print(f"cell files: {root}")
    if broken:
        console.print(f"[bold red]{tally(results)}[/bold red]")
        raise SystemExit(1)
    console.print(f"[green]{tally(results)}[/green] ({dt.datetime.now():%H:%M})")
