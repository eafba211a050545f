"""``ml-connector-sandbox`` and ``ml-connector-dev``: the stand-ins, alone or with the Dagster UI.

The sandbox is its own package and imports nothing from the product: ``dev`` prepares the
Dagster home with the product's own command (``ml-connector home``) and starts ``dagster dev``
on the product's code location, both as processes.
"""

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from ml_connector_sandbox.company.catalog import MAX_LEGAL_ENTITIES

console = Console(stderr=True)

DEFAULT_SANDBOX_DIR = Path(os.environ.get("ML_CONNECTOR_SANDBOX_DIR", ".sandbox"))


def _sandbox_options(func: Any) -> Any:
    options = [
        click.option(
            "--data-dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=DEFAULT_SANDBOX_DIR,
            show_default=True,
            help="Where the sandbox keeps its state, CA file, sandbox.json and sandbox.env.",
        ),
        click.option("--host", default="127.0.0.1", show_default=True),
        click.option("--rippling-port", type=int, default=8441, show_default=True),
        click.option("--entra-port", type=int, default=8442, show_default=True),
        click.option("--dynamics-port", type=int, default=8443, show_default=True),
        click.option(
            "--company-file",
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            help="Serve this company (JSON; docs/sandbox-dataset.md) instead of generating one.",
        ),
        click.option("--workers", type=int, default=400, show_default=True),
        click.option(
            "--legal-entities",
            type=click.IntRange(1, MAX_LEGAL_ENTITIES),
            default=3,
            show_default=True,
            help="Legal entities (F&O companies): USMF, GBSI, DEMF, then US02, GB02, DE02, "
            "US03... cycling over their countries and currencies.",
        ),
        click.option("--departments", type=int, default=12, show_default=True),
        click.option("--pay-periods", type=int, default=13, show_default=True),
        click.option("--seed", type=int, default=20261120, show_default=True),
        click.option(
            "--as-of",
            type=click.DateTime(formats=["%Y-%m-%d"]),
            default="2026-11-20",
            show_default=True,
            help="The generated company's 'today': the latest pay run ends on or before it.",
        ),
        click.option(
            "--fault",
            "fault_flags",
            multiple=True,
            help="service:kind[:key=value,...], e.g. dynamics:throttle:share=0.2,retry_after=3.",
        ),
        click.option(
            "--faults-file",
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            help="YAML fault config (see README, 'Faults on demand').",
        ),
        click.option("--fault-seed", type=int, default=0, show_default=True),
        click.option("--reset", is_flag=True, help="Discard the saved state and reseed."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _sandbox_config(**kwargs: Any) -> Any:
    from ml_connector_sandbox.faults import (
        FaultConfigError,
        load_fault_file,
        parse_fault_flag,
    )
    from ml_connector_sandbox.server import SandboxConfig

    faults: dict[str, Any] = {}
    try:
        if kwargs["faults_file"]:
            faults = load_fault_file(kwargs["faults_file"])
        for flag in kwargs["fault_flags"]:
            service, rule = parse_fault_flag(flag)
            faults.setdefault(service, []).append(
                {k: v for k, v in vars(rule).items() if k != "fired"}
            )
    except FaultConfigError as exc:
        raise click.BadParameter(str(exc)) from exc
    if faults and "seed" not in faults:
        faults["seed"] = kwargs["fault_seed"]
    as_of: dt.datetime = kwargs["as_of"]
    return SandboxConfig(
        data_dir=kwargs["data_dir"].resolve(),
        host=kwargs["host"],
        ports={
            "rippling": kwargs["rippling_port"],
            "entra": kwargs["entra_port"],
            "dynamics": kwargs["dynamics_port"],
        },
        company_file=kwargs["company_file"],
        workers=kwargs["workers"],
        legal_entities=kwargs["legal_entities"],
        departments=kwargs["departments"],
        pay_periods=kwargs["pay_periods"],
        seed=kwargs["seed"],
        as_of=as_of.date(),
        faults=faults or None,
        reset=kwargs["reset"],
    )


def _print_sandbox(sandbox: Any) -> None:
    table = Table(title="ml-connector-sandbox", show_header=True)
    table.add_column("service")
    table.add_column("URL")
    table.add_row("Rippling v2", sandbox.urls["rippling"])
    table.add_row("Rippling v1", sandbox.urls["rippling"] + "/platform/api")
    table.add_row("Entra ID", f"{sandbox.urls['entra']}/{sandbox.entra.tenant_id}")
    table.add_row("Dynamics F&O", sandbox.urls["dynamics"] + "/data/")
    console.print(table)
    meta = sandbox.company["meta"]
    console.print(f"company: {meta.get('name')} (as of {meta.get('as_of')})")
    console.print(f"CA file: [bold]{sandbox.tls.ca_cert}[/bold]")
    data_dir = sandbox.config.data_dir
    console.print(
        f"credentials: {data_dir / 'sandbox.json'}; connector env: {data_dir / 'sandbox.env'}"
    )


@click.command()
@_sandbox_options
def sandbox(**kwargs: Any) -> None:
    """Serve the Rippling, Entra ID and Dynamics F&O stand-ins over HTTPS until interrupted."""
    import asyncio

    from ml_connector_sandbox.server import Sandbox

    config = _sandbox_config(**kwargs)
    with console.status("generating the sandbox company and certificates"):
        running = Sandbox(config)
    _print_sandbox(running)
    console.print("serving; Ctrl-C stops")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(running.serve())


def _prepare_dagster_home(home: Path) -> Path:
    """The product's instance file in ``home``, through its own command (no import)."""
    command = [str(Path(sys.executable).parent / "ml-connector"), "home", str(home)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise click.ClickException(f"ml-connector home {home}: {done.stderr.strip()}")
    return Path(done.stdout.strip())


# The repository's workspace.yaml names the code location (``ml_connector_dagster``) exactly as
# the product's commands submit runs to it and as ``[tool.dagster]`` / ``[tool.dg]`` do: with
# ``dagster dev -m`` it would be named after the module, and the sensors' cursors and run
# history of one would not carry over to the other (tests/test_code_location_name.py).
WORKSPACE_FILE = Path(__file__).resolve().parents[2] / "workspace.yaml"


def dagster_dev_command(port: int) -> list[str]:
    """``dagster dev`` over the repository's workspace.yaml, on 127.0.0.1:``port``."""
    return [
        sys.executable, "-m", "dagster", "dev",
        "-w", str(WORKSPACE_FILE),
        "-h", "127.0.0.1", "-p", str(port),
    ]  # fmt: skip


def shell_hint(bin_dir: Path, env_file: Path) -> str:
    """What to type in another terminal so the README's bare ``ml-connector ...`` works."""
    return f"source {bin_dir}/activate && set -a && . {env_file} && set +a"


@click.command()
@_sandbox_options
@click.option("--dagster-port", type=int, default=3000, show_default=True)
@click.option(
    "--dagster-home",
    type=click.Path(file_okay=False, path_type=Path),
    default=lambda: os.environ.get("DAGSTER_HOME", ".dagster_home"),
    show_default=".dagster_home or $DAGSTER_HOME",
)
def dev(dagster_port: int, dagster_home: Path, **kwargs: Any) -> None:
    """Run the sandbox and the Dagster UI wired to it: the product on its built-in demo data."""
    from ml_connector_sandbox.server import running_sandbox

    config = _sandbox_config(**kwargs)
    home = _prepare_dagster_home(Path(dagster_home))
    with console.status("generating the sandbox company and certificates"):
        context = running_sandbox(config)
        running = context.__enter__()
    try:
        _print_sandbox(running)
        env = {
            **os.environ,
            **running.env(),
            "DAGSTER_HOME": str(home),
            # the demo runs itself: pay-run sensor and reference schedule start switched on
            "ML_CONNECTOR_AUTOMATION_ON": "true",
            "ML_CONNECTOR_SENSOR_INTERVAL": os.environ.get("ML_CONNECTOR_SENSOR_INTERVAL", "30"),
        }
        command = dagster_dev_command(dagster_port)
        console.print(
            f"Dagster UI: [bold]http://127.0.0.1:{dagster_port}[/bold] (DAGSTER_HOME={home})"
        )
        hint = shell_hint(
            Path(os.path.relpath(Path(sys.executable).parent)),
            Path(os.path.relpath(running.config.data_dir / "sandbox.env")),
        )
        console.print(f"The ml-connector command, in another terminal: {hint}", soft_wrap=True)
        # Run from DAGSTER_HOME: Dagster warns about the repository's dagster.yaml template.
        process = subprocess.Popen(command, env=env, cwd=home)
        try:
            waiter = threading.Event()  # not time.sleep: libfaketime breaks it
            while process.poll() is None:
                waiter.wait(0.5)
        except KeyboardInterrupt:
            process.send_signal(signal.SIGINT)
            process.wait(30)
        if process.returncode not in (0, None, -signal.SIGINT):
            raise SystemExit(process.returncode)
    finally:
        context.__exit__(None, None, None)
