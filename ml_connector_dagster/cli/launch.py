"""What every run-submitting command shares: the code location, the log file, the progress.

``submitting(command, verbose)`` opens the instance of DAGSTER_HOME, starts the code location's
server with Dagster's noise pointed at the log file (``cli/noise.py``), and yields a
``Submitter``: its ``workspace`` goes to ``defs/submit.py`` / ``defs/headless.py``, its
``progress`` shows the run's steps as they start and finish. When the block ends the log file is
named on the terminal. A run that cannot leave the queue (the daemon stopped) becomes a
``click.ClickException`` with exit code ``EXIT_QUEUE_STALLED``.
"""

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import click
from rich.console import Console
from rich.markup import escape
from rich.status import Status

from ml_connector_dagster.cli import context
from ml_connector_dagster.cli.noise import captured, children_write_to, log_file

EXIT_QUEUE_STALLED = 5  # the run waits in the queue for a daemon that stopped (README)

verbose_option = click.option(
    "--verbose",
    is_flag=True,
    help="Show Dagster's own log lines (every event, warnings) on the terminal instead of"
    " writing them to a log file under $DAGSTER_HOME/ml-connector/logs.",
)


class QueueStalledExit(click.ClickException):
    exit_code = EXIT_QUEUE_STALLED


class RunProgress:
    """One line per finished step and check; a spinner naming what runs now."""

    MARKS: ClassVar[dict[str, str]] = {
        "STEP_SUCCESS": "[green]done[/green]",
        "STEP_SKIPPED": "[yellow]skipped[/yellow]",
    }

    def __init__(self, console: Console) -> None:
        self.console = console
        self.status: Status | None = None
        self.label = ""

    def begin(self, label: str) -> None:
        self.label = label
        self.status = self.console.status(f"{label}: submitting")
        self.status.start()

    def end(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None

    def _say(self, text: str) -> None:
        if self.status is not None:
            self.status.update(f"{self.label}: {text}")

    def on_queue(self, state) -> None:
        """A line, not only the spinner: a run that waits must say so in a log or a pipe too."""
        self._say(state.describe())
        self.console.print(f"  {self.label}: {escape(state.describe())}", highlight=False)

    def on_event(self, event) -> None:
        kind = event.event_type_value
        step = escape(event.step_key or "")
        if kind == "PIPELINE_ENQUEUED":
            self._say("queued")
        elif kind == "PIPELINE_START":
            self._say("run started")
        elif kind == "STEP_START":
            self._say(f"running {step}")
        elif kind in self.MARKS:
            self.console.print(f"  {self.label}: {step} {self.MARKS[kind]}", highlight=False)
        elif kind == "STEP_FAILURE":
            self.console.print(f"  {self.label}: {step} [red]failed[/red]", highlight=False)
        elif kind == "ASSET_CHECK_EVALUATION":
            check = event.asset_check_evaluation_data
            if check.passed:
                verdict = "[green]passed[/green]"
            elif check.severity.value == "WARN":  # stops nothing: for finance to read
                verdict = "[yellow]warning[/yellow]"
            else:
                verdict = "[red]did not pass[/red]"
            self.console.print(
                f"  {self.label}: check {escape(check.check_name)} {verdict}", highlight=False
            )


@dataclass
class Submitter:
    workspace: object
    instance: object
    progress: RunProgress
    log: Path | None


@contextmanager
def submitting(command: str, verbose: bool, console: Console) -> Iterator[Submitter]:
    """The instance, the code location (its server's output to the log file), the progress."""
    from ml_connector_dagster.defs.submit import QueueStalled, SubmitError, code_location

    with ExitStack() as stack:
        instance = stack.enter_context(context.dagster_instance())
        log = None if verbose else log_file(Path(instance.root_directory), command)
        stack.enter_context(captured(log))
        progress = RunProgress(console)
        try:
            with children_write_to(log):
                workspace = stack.enter_context(
                    code_location(instance, "info" if verbose else "warning")
                )
            yield Submitter(workspace, instance, progress, log)
        except SubmitError as exc:
            raise click.ClickException(str(exc)) from None
        except QueueStalled as exc:
            raise QueueStalledExit(str(exc)) from None
        finally:
            progress.end()
            if log is not None:
                console.print(f"Dagster log: {log}", soft_wrap=True, highlight=False)
