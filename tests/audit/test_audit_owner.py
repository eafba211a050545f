"""An audit database serves one connection: the first to open it owns it."""

import datetime as dt
import subprocess
import sys
import threading

import pytest
import sqlalchemy as sa

from ml_connector_dagster.audit.owner import AuditOwnerError
from ml_connector_dagster.audit.store import AuditStore

BACKENDS = ["sqlite", "postgres"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_first_connection_owns_the_database_and_others_are_refused(
    backend: str, empty_database
) -> None:
    with empty_database(backend) as url:
        AuditStore(url, connection="acme").dispose()
        AuditStore(url, connection="acme").dispose()  # its owner opens it again
        AuditStore(url).dispose()  # tools that name no connection (migrations, tests) may
        with pytest.raises(AuditOwnerError) as refused:
            AuditStore(url, connection="globex")
        message = str(refused.value)
        assert "'acme'" in message and "'globex'" in message and "its own" in message
        engine = sa.create_engine(url)
        try:
            with engine.connect() as db:
                rows = db.execute(sa.text("SELECT id, connection FROM audit_owner")).all()
        finally:
            engine.dispose()
        assert [tuple(r) for r in rows] == [(1, "acme")]


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_first_openers_at_once_end_with_one_owner(backend: str, empty_database) -> None:
    """Two processes of different connections open a new database at the same moment."""
    with empty_database(backend) as url:
        AuditStore(url).dispose()  # migrated, not yet owned
        script = (
            "import sys\n"
            "from ml_connector_dagster.audit.owner import AuditOwnerError\n"
            "from ml_connector_dagster.audit.store import AuditStore\n"
            "sys.stdin.readline()\n"
            "try:\n"
            "    AuditStore(sys.argv[1], connection=sys.argv[2]).dispose()\n"
            "except AuditOwnerError:\n"
            "    sys.exit(3)\n"
        )
        children = [
            subprocess.Popen(
                [sys.executable, "-c", script, url, name], stdin=subprocess.PIPE, text=True
            )
            for name in ("acme", "globex")
        ]
        for child in children:  # both imported and waiting: release them together
            child.stdin.write("go\n")
            child.stdin.flush()
        codes = sorted(child.wait(timeout=120) for child in children)
        assert codes == [0, 3]


def test_the_claim_records_when(empty_database) -> None:
    moment = dt.datetime(2026, 11, 20, 18, 0, tzinfo=dt.UTC)
    with empty_database("sqlite") as url:
        AuditStore(url, clock=lambda: moment, connection="acme").dispose()
        engine = sa.create_engine(url)
        try:
            with engine.connect() as db:
                claimed = db.execute(sa.text("SELECT claimed_at FROM audit_owner")).scalar_one()
        finally:
            engine.dispose()
        assert str(claimed).startswith("2026-11-20 18:00")


def test_threads_of_one_connection_all_open(empty_database) -> None:
    with empty_database("sqlite") as url:
        errors: list[BaseException] = []

        def open_once() -> None:
            try:
                AuditStore(url, connection="acme").dispose()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=open_once) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
