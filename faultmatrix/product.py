"""The product as production runs it: ``ml-connector`` commands in their own processes.

Each cell gets its own working directory (Dagster home, audit database, credential store,
storage), so a cell starts from nothing but the sandbox's seed, and a killed process is a real
process killed with SIGKILL, its whole process group with it.
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from faultmatrix.catalogue import BATCH_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS
from ml_connector_sandbox.server import Sandbox

CLI = str(Path(sys.executable).parent / "ml-connector")
# A product command that runs longer than this is hung: the cell fails, the matrix goes on.
COMMAND_DEADLINE_SECONDS = 900


def pause(seconds: float) -> None:
    """Wait ``seconds``. Not ``time.sleep``: under libfaketime (the suite run with a moved
    calendar) it fails with EINVAL, where a thread event's timed wait works."""
    threading.Event().wait(seconds)


@dataclass
class Finished:
    command: str
    returncode: int
    output: str

    def tail(self, lines: int = 12) -> str:
        return "\n".join(self.output.strip().splitlines()[-lines:])


def product_env(sandbox: Sandbox, workdir: Path) -> dict[str, str]:
    """The connector's environment for one cell: the sandbox, Rippling over OAuth (so tokens
    expire and refresh tokens rotate, as in production), short timeouts, the cell's own files.

    The process environment is passed through (PATH, and libfaketime's variables when the
    matrix itself runs under a moved calendar), minus any connector setting of the caller's.
    """
    rippling = sandbox.rippling.credentials()
    client = rippling["oauth_clients"][0]
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ML_CONNECTOR_", "RIPPLING_", "DYNAMICS_", "DAGSTER_"))
    }
    sandbox_env = {k: v for k, v in sandbox.env().items() if k != "RIPPLING_API_TOKEN"}
    return {
        **inherited,
        **sandbox_env,
        "RIPPLING_OAUTH_CLIENT_ID": client["client_id"],
        "RIPPLING_OAUTH_CLIENT_SECRET": client["client_secret"],
        "RIPPLING_OAUTH_REFRESH_TOKEN": client["refresh_token"],
        "RIPPLING_OAUTH_TOKEN_URL": rippling["token_url"],
        "DAGSTER_HOME": str(workdir / "dagster_home"),
        "ML_CONNECTOR_AUDIT_URL": f"sqlite:///{workdir / 'audit.sqlite'}",
        "ML_CONNECTOR_MAPPING": str(sandbox.mapping_path),
        "ML_CONNECTOR_RIPPLING_TIMEOUT_SECONDS": str(READ_TIMEOUT_SECONDS),
        "ML_CONNECTOR_DYNAMICS_TIMEOUT_SECONDS": str(READ_TIMEOUT_SECONDS),
        "ML_CONNECTOR_TOKEN_TIMEOUT_SECONDS": str(READ_TIMEOUT_SECONDS),
        "ML_CONNECTOR_DYNAMICS_BATCH_TIMEOUT_SECONDS": str(BATCH_TIMEOUT_SECONDS),
        # After an unknown outcome the poster re-reads F&O this long before writing again
        # (60 s in production); the sandbox's late commits land within 2 s.
        "ML_CONNECTOR_RECHECK_SECONDS": "6",
        "ML_CONNECTOR_RECHECK_INTERVAL_SECONDS": "0.25",
        "COLUMNS": "200",
    }


@dataclass
class Product:
    env: dict[str, str]
    workdir: Path

    def __post_init__(self) -> None:
        (self.workdir / "dagster_home").mkdir(parents=True, exist_ok=True)
        self._logs = 0

    def _log_path(self, args: tuple[str, ...]) -> Path:
        self._logs += 1
        return self.workdir / f"{self._logs:02d}-{'-'.join(args[:2])}.log"

    def start(self, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
        """Start ``ml-connector ARGS`` in its own process group; its output goes to a file."""
        log = self._log_path(args)
        with log.open("wb") as out:
            process = subprocess.Popen(
                [CLI, *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a group of its own: SIGKILL takes its children too
            )
        return process, log

    def output(self) -> str:
        """Everything every command of this cell printed, in order."""
        return "\n".join(
            log.read_text(errors="replace") for log in sorted(self.workdir.glob("*.log"))
        )

    def run(self, *args: str) -> Finished:
        """Run ``ml-connector ARGS`` to its end; one that outlives the deadline is killed and
        reported as hung (a watchdog thread: ``Popen.wait(timeout=)`` sleeps with
        ``time.sleep``, see ``pause``)."""
        process, log = self.start(*args)
        hung = threading.Event()

        def watchdog() -> None:
            if not finished.wait(COMMAND_DEADLINE_SECONDS):
                hung.set()
                kill(process)

        finished = threading.Event()
        guard = threading.Thread(target=watchdog, daemon=True)
        guard.start()
        process.wait()
        finished.set()
        guard.join()
        output = log.read_text(errors="replace")
        if hung.is_set():
            return Finished(" ".join(args), -1, output + "\n[hung]")
        return Finished(" ".join(args), process.returncode, output)


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process and its group: no handler runs, nothing is flushed or released."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
