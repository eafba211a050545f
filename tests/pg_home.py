"""A Dagster home on a PostgreSQL database of its own, for the pool tests.

The pool tests need a database nobody else has touched (a pool that does not exist yet, slots
nobody holds), so each gets a new one, dropped afterwards; the instance file is the shipped
``dagster.postgres.yaml`` with what the test changes (granularity, run queue size).
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from benchmarks.concurrent_runs import drop_database

ROOT = Path(__file__).resolve().parents[1]


def instance_yaml(changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """The shipped ``dagster.postgres.yaml``, with ``changes`` merged in (one level deep)."""
    config = yaml.safe_load((ROOT / "dagster.postgres.yaml").read_text())
    for key, value in (changes or {}).items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            for inner, inner_value in value.items():
                if isinstance(inner_value, dict) and isinstance(config[key].get(inner), dict):
                    config[key][inner] = {**config[key][inner], **inner_value}
                else:
                    config[key][inner] = inner_value
        else:
            config[key] = value
    return config


@contextmanager
def postgres_home(
    postgres: dict[str, str], home: Path, monkeypatch: Any, changes: dict | None = None
) -> Iterator[dict[str, str]]:
    """``home`` holding the instance file, on a new database; this process's environment (and
    so its children's) points DAGSTER_HOME and DAGSTER_PG_* at it. Yields those variables."""
    name = f"pools_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(postgres["url"], isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.exec_driver_sql(f"CREATE DATABASE {name}")
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance_yaml(changes)))
    env = {
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": postgres["host"],
        "DAGSTER_PG_PORT": postgres["port"],
        "DAGSTER_PG_USERNAME": postgres["username"],
        "DAGSTER_PG_PASSWORD": postgres["password"],
        "DAGSTER_PG_DB": name,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    try:
        yield {**env, "url": postgres["url"].rsplit("/", 1)[0] + f"/{name}"}
    finally:
        drop_database(admin, name)
        admin.dispose()
