"""Shared fixtures: a real sandbox over HTTPS, its environment, and PostgreSQL when present.

The sandbox is imported inside the fixtures that start it, so the pure tests (ledger rules,
planning, parsing) never load the stand-ins.
"""

from __future__ import annotations

import datetime as dt
import os
import ssl
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from faketime_site import faketime_sleep

from benchmarks.concurrent_runs import drop_database, postgres_env

if TYPE_CHECKING:
    from ml_connector_sandbox.server import Sandbox

# Under libfaketime only (the suite run with the calendar moved on): a time.sleep that works
# there, in this process and every process the tests spawn (see faketime_site/faketime_sleep.py).
faketime_sleep.install()

# A small company keeps the session fixture fast; benchmarks ask for big ones.
SMALL_COMPANY = {"workers": 40, "legal_entities": 3, "departments": 5, "pay_periods": 4}


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One sandbox for the session, on free ports, serving a small generated company."""
    from ml_connector_sandbox.server import SandboxConfig, running_sandbox

    config = SandboxConfig(
        data_dir=tmp_path_factory.mktemp("sandbox"),
        ports={"rippling": 0, "entra": 0, "dynamics": 0},
        as_of=dt.date(2026, 11, 20),
        dynamics_page_size=10,  # small server pages, so every reader follows nextLinks
        **SMALL_COMPANY,
    )
    with running_sandbox(config) as running:
        yield running


@pytest.fixture
def fresh_sandbox(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The session sandbox reset to its seed, and left without faults afterwards."""
    sandbox.reset()
    yield sandbox
    sandbox.faults.clear()


@pytest.fixture
def sandbox_ssl(sandbox: Sandbox) -> ssl.SSLContext:
    """Trusts the sandbox CA only, as a client configured with ML_CONNECTOR_CA_BUNDLE would."""
    return sandbox.client_ssl_context()


@pytest.fixture
def sandbox_env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The connector's environment pointed at the sandbox."""
    env = {
        **sandbox.env(),
        # After a write with an unknown outcome the poster re-reads F&O for a while before
        # writing again (60 s in production); the sandbox's late commits land within 2 s.
        "ML_CONNECTOR_RECHECK_SECONDS": "6",
        "ML_CONNECTOR_RECHECK_INTERVAL_SECONDS": "0.25",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def _postgres_settings() -> dict[str, str]:
    env = postgres_env()
    return {
        "host": env["DAGSTER_PG_HOST"],
        "port": env["DAGSTER_PG_PORT"],
        "username": env["DAGSTER_PG_USERNAME"],
        "password": env["DAGSTER_PG_PASSWORD"],
        "db": env["DAGSTER_PG_DB"],
    }


@pytest.fixture(scope="session")
def postgres() -> dict[str, str]:
    """Connection settings of a reachable PostgreSQL; CI requires it, elsewhere it may skip."""
    import sqlalchemy

    settings = _postgres_settings()
    url = (
        f"postgresql+psycopg2://{settings['username']}:{settings['password']}"
        f"@{settings['host']}:{settings['port']}/{settings['db']}"
    )
    try:
        engine = sqlalchemy.create_engine(url)
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        if os.environ.get("ML_CONNECTOR_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL required but unreachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable ({exc}); run scripts/ensure-postgres.sh")
    return {**settings, "url": url}


@pytest.fixture
def empty_database(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Callable[[str], AbstractContextManager[str]]:
    """``empty_database("sqlite" | "postgres")``: the URL of a new database, dropped after."""

    @contextmanager
    def make(backend: str) -> Iterator[str]:
        if backend == "sqlite":
            yield f"sqlite:///{tmp_path / f'audit-{uuid.uuid4().hex[:6]}.sqlite'}"
            return
        settings = request.getfixturevalue("postgres")
        name = f"audit_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(settings["url"], isolation_level="AUTOCOMMIT")
        with admin.connect() as db:
            db.exec_driver_sql(f"CREATE DATABASE {name}")
        try:
            yield settings["url"].rsplit("/", 1)[0] + f"/{name}"
        finally:
            drop_database(admin, name)
            admin.dispose()

    return make
