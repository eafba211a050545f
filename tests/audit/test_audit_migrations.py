"""The audit schema's Alembic migrations: fresh databases, adoption, concurrency, no drift.

Processes are real subprocesses gated on their stdin, so they open the store together without
any timer (libfaketime breaks ``time.sleep`` and timed waits; the suite also runs under it).
"""

import datetime as dt
import subprocess
import sys
import textwrap
import threading

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ml_connector_dagster.audit.migrate import (
    VERSION_TABLE,
    alembic_config,
    current_revision,
    include_name,
)
from ml_connector_dagster.audit.schema import metadata
from ml_connector_dagster.audit.store import AuditStore, Outcome

BACKENDS = ["sqlite", "postgres"]
T0 = dt.datetime(2026, 11, 20, 18, 0, 5, tzinfo=dt.UTC)


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _revision(url: str) -> str | None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return current_revision(connection)
    finally:
        engine.dispose()


def _table_names(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _create_before_migrations(url: str, *, without: tuple[str, ...] = ()) -> None:
    """A database as the store made it before migrations: ``create_all`` plus its triggers."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as db:
            tables = [t for name, t in metadata.tables.items() if name not in without]
            metadata.create_all(db, tables=tables)
            for table in ("posting_attempts", "workforce_actions"):
                if db.dialect.name == "sqlite":
                    for verb in ("UPDATE", "DELETE"):
                        db.exec_driver_sql(
                            f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()} BEFORE"
                            f" {verb} ON {table} BEGIN SELECT RAISE(ABORT, '{table} is"
                            " append-only'); END"
                        )
                else:
                    db.exec_driver_sql(
                        "CREATE OR REPLACE FUNCTION ml_connector_append_only() RETURNS trigger"
                        " LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '%% is append-only',"
                        " TG_TABLE_NAME; END $$"
                    )
                    db.exec_driver_sql(
                        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
                        " FOR EACH ROW EXECUTE FUNCTION ml_connector_append_only()"
                    )
            db.execute(
                metadata.tables["posting_attempts"]
                .insert()
                .values(
                    at=T0,
                    connection="acme",
                    journal_key="k-old",
                    payroll_run_id="run_old",
                    company="USMF",
                    journal_type="settlement",
                    outcome="created",
                )
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_new_database_is_upgraded_to_head(backend: str, empty_database) -> None:
    with empty_database(backend) as url:
        AuditStore(url).dispose()
        assert _revision(url) == _head()
        tables = _table_names(url)
        assert set(metadata.tables) | {VERSION_TABLE} == tables
        assert "alembic_version" not in tables  # Dagster's name, left to Dagster
        AuditStore(url).dispose()  # opening again: already at head, nothing to do
        assert _revision(url) == _head()


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_migrations_make_exactly_the_schema_module(backend: str, empty_database) -> None:
    """The migrations and ``audit/schema.py`` cannot drift: autogenerate finds nothing to do."""
    with empty_database(backend) as url:
        AuditStore(url).dispose()
        engine = sa.create_engine(url)
        try:
            with engine.connect() as connection:
                context = MigrationContext.configure(
                    connection,
                    opts={
                        "version_table": VERSION_TABLE,
                        "include_name": include_name,
                        "compare_type": True,
                    },
                )
                assert compare_metadata(context, metadata) == []
        finally:
            engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("missing", [(), ("journal_claims",)], ids=["today", "before-claims"])
def test_a_database_from_before_migrations_is_adopted(
    backend: str, missing: tuple[str, ...], empty_database
) -> None:
    """Tables and rows kept, what an older release lacked added, the version stamped."""
    with empty_database(backend) as url:
        _create_before_migrations(url, without=missing)
        assert _revision(url) is None
        store = AuditStore(url, clock=lambda: T0)
        try:
            assert _revision(url) == _head()  # adopted at INITIAL_REVISION, then upgraded
            [old] = store.attempts(journal_key="k-old")
            assert old["payroll_run_id"] == "run_old"
            store.record_attempt(
                connection="acme",
                journal_key="k-new",
                payroll_run_id="run_new",
                company="USMF",
                journal_type="settlement",
                outcome=Outcome.CREATED,
            )
            assert [a["journal_key"] for a in store.attempts()] == ["k-old", "k-new"]
            refused = pytest.raises(sa.exc.DatabaseError, match="append-only")
            with refused, store.engine.begin() as db:
                db.exec_driver_sql("DELETE FROM posting_attempts")
            assert store.claims.try_acquire("k-new", dt.timedelta(hours=1)) is None
            assert store.claims.holder("k-new").owner == store.claims.owner
        finally:
            store.dispose()


def test_dagsters_alembic_version_in_the_same_database_is_left_alone(empty_database) -> None:
    """The audit store may share PostgreSQL with Dagster's storage and its ``alembic_version``."""
    with empty_database("postgres") as url:
        engine = sa.create_engine(url)
        with engine.begin() as db:
            db.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
            db.exec_driver_sql("INSERT INTO alembic_version VALUES ('dagster-rev')")
        AuditStore(url).dispose()
        with engine.connect() as db:
            assert db.exec_driver_sql("SELECT version_num FROM alembic_version").all() == [
                ("dagster-rev",)
            ]
        engine.dispose()
        assert _revision(url) == _head()


@pytest.mark.parametrize("backend", BACKENDS)
def test_downgrade_to_base_and_upgrade_again(backend: str, empty_database) -> None:
    """Each revision's downgrade undoes its upgrade (what a rollback of a release relies on)."""
    with empty_database(backend) as url:
        AuditStore(url).dispose()
        engine = sa.create_engine(url)
        try:
            with engine.begin() as connection:
                command.downgrade(alembic_config(connection), "base")
            assert _table_names(url) == {VERSION_TABLE}
            with engine.begin() as connection:
                command.upgrade(alembic_config(connection), "head")
        finally:
            engine.dispose()
        assert _revision(url) == _head()


def test_threads_opening_different_new_databases_at_once_all_start(tmp_path) -> None:
    """Alembic keeps its running migration in module globals: threads must not interleave."""
    urls = [f"sqlite:///{tmp_path / f'audit-{n}.sqlite'}" for n in range(4)]
    barrier = threading.Barrier(len(urls))
    errors: list[BaseException] = []

    def open_store(url: str) -> None:
        barrier.wait()
        try:
            AuditStore(url).dispose()
        except BaseException as exc:  # the failure this test is about
            errors.append(exc)

    threads = [threading.Thread(target=open_store, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [_revision(url) for url in urls] == [_head()] * len(urls)


# A child process: imports first, says it is ready, waits for the go (its stdin closing), then
# opens the store and reports the revision it found.
_CHILD = textwrap.dedent(
    """
    import sys
    from ml_connector_dagster.audit.store import AuditStore
    from ml_connector_dagster.audit.migrate import current_revision
    print("ready", flush=True)
    sys.stdin.read()
    store = AuditStore(sys.argv[1])
    with store.engine.connect() as connection:
        print("opened", current_revision(connection), flush=True)
    store.dispose()
    """
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_processes_opening_a_new_database_together_all_start(backend: str, empty_database) -> None:
    """Separate processes first started together on one new database: none fails."""
    with empty_database(backend) as url:
        children = [
            subprocess.Popen(
                [sys.executable, "-c", _CHILD, url],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(4)
        ]
        try:
            for child in children:
                assert child.stdout.readline().strip() == "ready"
            for child in children:
                child.stdin.close()  # go, all at once
            outputs = [child.stdout.read() for child in children]
            for child in children:
                child.wait()
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
                    child.wait()
        for child, output in zip(children, outputs, strict=True):
            assert child.returncode == 0, output
            assert output.strip().splitlines()[-1] == f"opened {_head()}", output
        assert _revision(url) == _head()


@pytest.mark.parametrize("backend", BACKENDS)
def test_0003_rekeys_the_inbox_and_merges_repeats_that_did_not_collapse(
    backend: str, empty_database
) -> None:
    """Rows of the old keying (``|1``, ``|2`` after a processed event, several pending rows of
    one key) become one pending row per key with the deliveries added up; answered rows get
    ``#<id>``, so a later delivery collapses into the pending row again."""
    key = "co|employee.updated|w1"
    with empty_database(backend) as url:
        engine = sa.create_engine(url)
        try:
            with engine.begin() as connection:
                command.upgrade(alembic_config(connection), "0002")
            with engine.begin() as db:
                for dedupe_key, deliveries, processed in (
                    (key, 1, T0),
                    (f"{key}|1", 2, None),
                    (f"{key}|2", 3, None),
                    ("co|employee.updated|w2", 1, None),
                ):
                    db.execute(
                        sa.text(
                            "INSERT INTO webhook_inbox (dedupe_key, received_at, company_id,"
                            " event_name, object_id, deliveries, processed_at) VALUES"
                            " (:k, :t, 'co', 'employee.updated', :o, :n, :p)"
                        ),
                        {
                            "k": dedupe_key,
                            "t": T0,
                            "o": dedupe_key.split("|")[2],
                            "n": deliveries,
                            "p": processed,
                        },
                    )
            with engine.begin() as connection:
                command.upgrade(alembic_config(connection), "head")
        finally:
            engine.dispose()
        store = AuditStore(url, clock=lambda: T0)
        try:
            pending = store.pending_webhooks()
            assert [(r["object_id"], r["deliveries"]) for r in pending] == [("w1", 5), ("w2", 1)]
            assert pending[0]["dedupe_key"] == key
            assert store.enqueue_webhook("co", "employee.updated", "w1") is False
            assert store.pending_webhooks()[0]["deliveries"] == 6
        finally:
            store.dispose()
