"""One pay period end to end through Dagster against the sandbox; prints time per stage.

.venv/bin/python benchmarks/post_period.py --workers 2000 --pay-periods 2
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import dagster as dg

from ml_connector_dagster.connections import Connection
from ml_connector_dagster.defs.headless import run_partition
from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
from ml_connector_dagster.defs.resources import ConnectorResource
from ml_connector_sandbox.server import SandboxConfig, running_sandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2000)
    parser.add_argument("--pay-periods", type=int, default=2)
    parser.add_argument("--detail", choices=("summary", "worker"), default="summary")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        config = SandboxConfig(
            data_dir=root / "sandbox",
            ports={"rippling": 0, "entra": 0, "dynamics": 0},
            workers=args.workers,
            pay_periods=args.pay_periods,
        )
        started = time.perf_counter()
        with running_sandbox(config, timeout=1800) as sandbox:
            os.environ.update(sandbox.env())
            if args.detail == "worker":
                text = sandbox.mapping_path.read_text().replace(
                    "detail_level: summary", "detail_level: worker"
                )
                sandbox.mapping_path.write_text(text)
            ready = time.perf_counter()
            runs = [
                r for r in sandbox.company["rippling"]["payroll_runs"] if r["run_state"] == "PAID"
            ]
            period = max(r["pay_period"]["end_date"] for r in runs)
            resources = {
                "connector": ConnectorResource(audit_url=f"sqlite:///{root / 'audit.sqlite'}"),
                "io_manager": PartitionFilesIOManager(base_dir=str(root / "storage")),
            }
            print(f"workers={args.workers} sandbox start {ready - started:.1f} s; period {period}")
            with dg.instance_for_test() as instance:
                for company in ("USMF", "GBSI", "DEMF"):
                    begun = time.perf_counter()
                    outcome = run_partition(instance, period, company, resources)
                    journals = sum(len(v) for v in outcome.posted.values())
                    elapsed = time.perf_counter() - begun
                    print(f"{company}: ok={outcome.success} journals={journals} {elapsed:.2f} s")
            with Connection.from_environment().dynamics() as client:
                lines = client.list_entities("LedgerJournalLines", select=["LineNumber"])
            print(f"lines in Dynamics: {len(lines)}")


if __name__ == "__main__":
    main()
