"""The matrix as people read it: a rich table on screen, a Markdown page for the README."""

import datetime as dt
from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from faultmatrix.catalogue import FAULTS, KNOWN_LIMITS, NOT_APPLICABLE, STAGES, WEBHOOK_FAULTS
from faultmatrix.cells import CellResult

STYLE = {
    "holds": "green",
    "known limit": "yellow",
    "BROKEN": "bold red",
    "not reached": "bold red",
    "n/a": "dim",
}


def _grid(results: Iterable[CellResult]) -> dict[tuple[str, str], CellResult]:
    return {(r.fault, r.stage): r for r in results}


def cell_text(grid: dict[tuple[str, str], CellResult], fault: str, stage: str) -> str:
    if (fault, stage) in NOT_APPLICABLE:
        return "n/a"
    result = grid.get((fault, stage))
    return result.verdict if result is not None else "not run"


def print_matrix(console: Console, results: Sequence[CellResult]) -> None:
    grid = _grid(results)
    table = Table(title="fault matrix: after the fault clears and replay runs, does it hold?")
    table.add_column("fault")
    for stage in STAGES:
        table.add_column(stage.name, justify="center")
    for fault in FAULTS:
        cells = []
        for stage in STAGES:
            text = cell_text(grid, fault.name, stage.name)
            style = STYLE.get(text, "dim")
            cells.append(f"[{style}]{text}[/{style}]")
        table.add_row(fault.name, *cells)
    console.print(table)
    details = Table(title="cells run")
    for column in ("fault", "stage", "verdict", "faulted command", "replay", "fired", "s", "why"):
        details.add_column(column, overflow="fold")
    for r in results:
        style = STYLE.get(r.verdict, "")
        details.add_row(
            r.fault,
            r.stage,
            f"[{style}]{r.verdict}[/{style}]",
            escape(r.first),
            escape(r.replay),
            str(r.fired),
            f"{r.seconds:.0f}",
            escape("; ".join(r.problems) or "-"),
        )
    console.print(details)


def tally(results: Sequence[CellResult]) -> str:
    """ "55 of 58 cells hold, 1 is a known limit, 2 do not hold"."""
    held = sum(r.verdict == "holds" for r in results)
    limits = sum(r.verdict == "known limit" for r in results)
    broken = len(results) - held - limits
    text = f"{held} of {len(results)} cells hold"
    if limits:
        text += f", {limits} {'is a known limit' if limits == 1 else 'are known limits'}"
    if broken:
        text += f", {broken} {'does' if broken == 1 else 'do'} not hold"
    return text


def markdown(results: Sequence[CellResult], *, command: str, commit: str) -> str:
    """The page ``docs/fault-matrix.md``: the matrix, what each fault and stage is, each cell."""
    grid = _grid(results)
    lines = [
        "# Fault matrix",
        "",
        f"Made by `{command}` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC at commit"
        f" `{commit}`: {tally(results)}.",
        "",
        "Each cell: the sandbox reset to its seed; the fault armed at the stage; the product's"
        " own command run as its own process (`ml-connector run`, `workforce sync`, or"
        " `webhooks serve` fed by a sender playing Rippling); the fault cleared once what it set"
        " in motion has landed; `ml-connector replay` (or the sync once more, or Rippling's"
        " re-deliveries); then F&O, Rippling's data and the audit trail read back. A cell"
        " *holds* when there is exactly one journal per identity, every journal's totals equal"
        " Rippling's to the cent (debit = credit = gross + employer taxes + employer"
        " contributions; net pay on the clearing account), no header without lines, every"
        " journal in F&O named by a created/skipped attempt and no identity left unfinished; for"
        " the worker sync, nothing left to write, nobody twice and each hire's create in the"
        " trail; for webhooks, every event sent pending exactly once. *not reached*: the fault"
        " never fired (the cell tested nothing), which fails the matrix like a break. *known"
        " limit*: it broke in a way no client can prevent (listed below with why), and the"
        " product said so in the words an operator needs.",
        "",
        "| fault | " + " | ".join(s.name for s in STAGES) + " |",
        "|---|" + "---|" * len(STAGES),
    ]
    for fault in FAULTS:
        cells = [cell_text(grid, fault.name, s.name) for s in STAGES]
        lines.append(f"| {fault.name} | " + " | ".join(cells) + " |")
    lines += ["", "## Faults", ""]
    for fault in FAULTS:
        webhook = WEBHOOK_FAULTS.get(fault.name)
        extra = f" At webhook intake: {webhook}." if webhook else ""
        lines.append(f"- **{fault.name}**: {fault.title}.{extra}")
    lines += ["", "## Stages", ""]
    for stage in STAGES:
        where = (
            f"{stage.service} {stage.method or 'any'} {stage.path_prefix or '(every path)'}"
            if stage.service != "receiver"
            else "our receiver, Rippling's deliveries"
        )
        lines.append(f"- **{stage.name}**: {stage.title} ({where}).")
    lines += ["", "## Known limits", ""]
    for (fault_name, stage_name), (why, said) in sorted(KNOWN_LIMITS.items()):
        lines.append(f'- {fault_name} at {stage_name}: {why} (the product must say: "{said}").')
    lines += ["", "## Not applicable", ""]
    for (fault_name, stage_name), why in sorted(NOT_APPLICABLE.items()):
        lines.append(f"- {fault_name} at {stage_name}: {why}.")
    lines += [
        "",
        "## Cells",
        "",
        "| fault | stage | verdict | faulted command | replay | fired | seconds | problems |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        problems = "; ".join(r.problems).replace("|", "\\|") or "-"
        lines.append(
            f"| {r.fault} | {r.stage} | {r.verdict} | {r.first} | {r.replay} | {r.fired}"
            f" | {r.seconds:.0f} | {problems} |"
        )
    return "\n".join(lines) + "\n"
