"""Read every worker (with expand) from the Rippling stand-in and print requests and time.

.venv/bin/python benchmarks/rippling_paging.py --workers 50000
"""

import argparse
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr

from ml_connector_dagster.credentials.models import RipplingCredentials
from ml_connector_dagster.rippling.client import RipplingClient
from ml_connector_sandbox.server import SandboxConfig, running_sandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        config = SandboxConfig(
            data_dir=Path(directory),
            ports={"rippling": 0, "entra": 0, "dynamics": 0},
            workers=args.workers,
            pay_periods=1,
        )
        started = time.perf_counter()
        with running_sandbox(config, timeout=1800) as sandbox:
            ready = time.perf_counter()
            token = next(
                t["token"]
                for t in sandbox.rippling.credentials()["api_tokens"]
                if t["label"] == "full"
            )
            creds = RipplingCredentials(
                base_url=sandbox.urls["rippling"], api_token=SecretStr(token)
            )
            with RipplingClient(creds, ssl_context=sandbox.client_ssl_context()) as client:
                count = sum(1 for _ in client.workers())
                read = time.perf_counter()
                print(f"workers={count} sandbox start {ready - started:.1f} s")
                print(
                    f"read with expand: {client.requests_sent} requests, {read - ready:.2f} s,"
                    f" {count / (read - ready):,.0f} workers/s"
                )


if __name__ == "__main__":
    main()
