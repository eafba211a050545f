"""New, empty audit databases for the audit tests, on SQLite or PostgreSQL."""

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa


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
            with admin.connect() as db:
                # FORCE: a child process's backend may not have noticed yet that it is gone.
                db.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.dispose()

    return make
