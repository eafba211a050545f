"""The storage benchmark runs on every backend, measures a real round trip, and leaves no
PostgreSQL database behind (no timing is asserted: the figures are for the README)."""

import sys

import pytest
import sqlalchemy as sa

from benchmarks import storage_backends


def _databases(url: str) -> set[str]:
    engine = sa.create_engine(url)
    with engine.connect() as db:
        names = {row[0] for row in db.exec_driver_sql("SELECT datname FROM pg_database")}
    engine.dispose()
    return names


@pytest.mark.postgres
def test_it_prints_a_row_per_size_and_backend(postgres: dict, monkeypatch, capsys) -> None:
    before = _databases(postgres["url"])
    argv = ["storage_backends", "--workers", "12", "30", "--repeat", "2", "--backends"]
    monkeypatch.setattr(sys, "argv", [*argv, "local", "sqlite", "postgres"])
    storage_backends.main()
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    assert [(r[0], r[3]) for r in rows] == [
        (w, b) for w in ("12", "30") for b in ("local", "sqlite", "postgres")
    ]
    assert all(int(r[1]) > 0 and float(r[4]) > 0 and float(r[5]) > 0 for r in rows)
    assert _databases(postgres["url"]) == before
