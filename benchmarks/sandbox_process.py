"""The sandbox for ``benchmarks/payperiod.py`` in a process of its own.

.venv/bin/python -m benchmarks.sandbox_process --data-dir DIR --workers 400 --legal-entities 3

Started by ``payperiod.py`` so that the connector's CPU and peak RSS are measured without the
sandbox's (its company, SQLite, TLS and JSON work run here). Prints one JSON line when ready
(``info``, ``env``, the company ``summary`` of ``minimal_requests.company_summary`` and the
start time), then answers on stdin: ``usage`` -> one JSON line with this process's CPU
seconds and peak RSS; ``stop`` or end of input -> stops the sandbox and exits.

The SQLite state of ``DIR`` is removed first (every measurement starts from the seeded
company); ``company.json`` is kept, so a second run with the same sizes skips generating it.
"""

import argparse
import datetime as dt
import json
import resource
import sys
import time
from pathlib import Path

from benchmarks.minimal_requests import company_summary
from ml_connector_sandbox.mapping import sandbox_mapping
from ml_connector_sandbox.server import SandboxConfig, running_sandbox


def usage() -> dict[str, float]:
    return {
        "cpu_s": time.process_time(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def config_from(args: argparse.Namespace) -> SandboxConfig:
    return SandboxConfig(
        data_dir=Path(args.data_dir),
        ports={"rippling": 0, "entra": 0, "dynamics": 0},
        workers=args.workers,
        legal_entities=args.legal_entities,
        departments=args.departments,
        pay_periods=args.pay_periods,
        seed=args.seed,
        as_of=dt.date.fromisoformat(args.as_of),
    )


def fresh_state(data_dir: Path) -> None:
    """Remove the SQLite state (not the cached company): the sandbox seeds it again."""
    if data_dir.is_dir():
        for stale in data_dir.glob("*.sqlite*"):
            stale.unlink()


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--legal-entities", type=int, required=True)
    parser.add_argument("--departments", type=int, default=12)
    parser.add_argument("--pay-periods", type=int, required=True)
    parser.add_argument("--seed", type=int, default=SandboxConfig.seed)
    parser.add_argument("--as-of", default=SandboxConfig.as_of.isoformat())
    return parser


def main() -> None:
    config = config_from(argument_parser().parse_args())
    fresh_state(config.data_dir)
    started = time.perf_counter()
    with running_sandbox(config, timeout=3600) as sandbox:
        ready = {
            "info": sandbox.info(),
            "env": sandbox.env(),
            "summary": company_summary(sandbox.company, sandbox_mapping(sandbox.company)),
            "ready_s": round(time.perf_counter() - started, 1),
            "dynamics_page_size": sandbox.dynamics.page_size,
        }
        print(json.dumps(ready, default=str), flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "usage":
                print(json.dumps(usage()), flush=True)
            elif command == "stop":
                break


if __name__ == "__main__":
    main()
