"""SQLite state of the Rippling stand-in: records as JSON plus the indexed columns we filter on.

One connection shared by all requests (``check_same_thread=False``) behind a lock; handlers
call it synchronously. Lists are paged in SQL with keyset conditions on an ordered index, so
50,000 workers page as fast as 50. The store remembers the fingerprint of the company it was
seeded from, so a restarted sandbox keeps its state when the company is the same.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ml_connector_sandbox.clock import AS_OF_SECOND, SandboxClock
from ml_connector_sandbox.company.catalog import entitlement_records
from ml_connector_sandbox.company.ids import format_timestamp, timestamp
from ml_connector_sandbox.rippling import employees

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL,
    created_at TEXT, updated_at TEXT, status TEXT, user_id TEXT, worker_id TEXT,
    run_id TEXT, check_date TEXT, email TEXT, body TEXT NOT NULL,
    PRIMARY KEY (kind, id));
CREATE INDEX IF NOT EXISTS records_seq ON records (kind, seq);
CREATE INDEX IF NOT EXISTS records_updated ON records (kind, updated_at, id);
CREATE INDEX IF NOT EXISTS records_created ON records (kind, created_at, id);
CREATE INDEX IF NOT EXISTS records_check ON records (kind, check_date, id);
CREATE INDEX IF NOT EXISTS records_run ON records (kind, run_id, seq);
CREATE INDEX IF NOT EXISTS records_worker ON records (kind, worker_id);
CREATE INDEX IF NOT EXISTS records_user ON records (kind, user_id);
CREATE INDEX IF NOT EXISTS records_status ON records (kind, status, seq);
CREATE INDEX IF NOT EXISTS records_email ON records (kind, email);
CREATE TABLE IF NOT EXISTS oauth_access (
    token TEXT PRIMARY KEY, client_id TEXT NOT NULL, scopes TEXT NOT NULL,
    expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS oauth_refresh (
    token TEXT PRIMARY KEY, client_id TEXT NOT NULL, scopes TEXT NOT NULL,
    active INTEGER NOT NULL, issued INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS oauth_codes (code TEXT PRIMARY KEY, client_id TEXT NOT NULL);
"""
KINDS: tuple[str, ...] = (
    "legal_entities",
    "company_legal_entities",
    "departments",
    "employment_types",
    "job_dimensions",
    "job_codes",
    "job_assignments",
    "levels",
    "teams",
    "users",
    "workers",
    "compensations",
    "payroll_runs",
    "worker_payroll_records",
    "company_activity",
    "entitlements",
    "worker_time_splits",
    "time_cards",
    "time_entries",
)
# Bumped when what ``seed`` derives changes, so a stored sandbox from before is seeded again.
LAYOUT = "2"  # 2: the employees links (employee id -> worker id)
COLUMNS = (
    "kind",
    "id",
    "seq",
    "created_at",
    "updated_at",
    "status",
    "user_id",
    "worker_id",
    "run_id",
    "check_date",
    "email",
    "body",
)


def _row(kind: str, seq: int, record: dict[str, Any]) -> tuple[Any, ...]:
    """The indexed columns of a record; ``company_activity`` is keyed on its timestamp."""
    updated = record.get("timestamp") if kind == "company_activity" else record.get("updated_at")
    return (
        kind,
        record["id"],
        seq,
        record.get("created_at"),
        updated,
        record.get("status") or record.get("run_state"),
        record.get("user_id"),
        record.get("worker_id"),
        record.get("run_id"),
        record.get("check_date"),
        record.get("work_email"),
        json.dumps(record, separators=(",", ":"), ensure_ascii=False),
    )


class Store:
    """Records, OAuth grants and the write clock, in ``rippling.sqlite``."""

    def __init__(self, path: Path, clock: SandboxClock) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self.lock = threading.RLock()
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self.db.execute("BEGIN")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    # --- meta ---------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self.lock:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        with self.lock:
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # --- seeding ------------------------------------------------------------------------------
    def seed(self, company: dict[str, Any], fingerprint: str) -> None:
        """Wipe everything and load the company; the fingerprint is written last."""
        rippling = company["rippling"]
        with self.transaction() as db:
            for table in ("meta", "records", "oauth_access", "oauth_refresh", "oauth_codes"):
                db.execute(f"DELETE FROM {table}")
            # Bulk load without secondary indexes, then build them once: several times faster.
            for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name = 'records' AND sql IS NOT NULL"
            ).fetchall():
                db.execute(f"DROP INDEX {name}")
            marks = ",".join("?" * len(COLUMNS))
            for kind in KINDS:
                records = rippling.get(kind, [])
                if kind == "entitlements" and kind not in rippling:
                    records = entitlement_records()  # a company file from before entitlements
                db.executemany(
                    f"INSERT INTO records ({','.join(COLUMNS)}) VALUES ({marks})",
                    (_row(kind, seq, r) for seq, r in enumerate(records)),
                )
            # Employee ids (v1, webhooks) differ from worker ids: the links, derived here.
            db.executemany(
                f"INSERT INTO records ({','.join(COLUMNS)}) VALUES ({marks})",
                (
                    _row(employees.KIND, seq, employees.link(w["id"]))
                    for seq, w in enumerate(rippling.get("workers", []))
                ),
            )
            for n, client in enumerate(rippling["credentials"].get("oauth_clients", [])):
                db.execute(
                    "INSERT INTO oauth_refresh VALUES (?, ?, ?, 1, ?)",
                    (
                        client["refresh_token"],
                        client["client_id"],
                        " ".join(client.get("scopes", [])),
                        n,
                    ),
                )
            for statement in SCHEMA.split(";"):
                if "CREATE INDEX" in statement:
                    db.execute(statement)
            as_of = dt.date.fromisoformat(company["meta"]["as_of"])
            db.execute("INSERT INTO meta VALUES ('clock', ?)", (timestamp(as_of, AS_OF_SECOND),))
            db.execute("INSERT INTO meta VALUES ('layout', ?)", (LAYOUT,))
            db.execute("INSERT INTO meta VALUES ('fingerprint', ?)", (fingerprint,))

    # --- records ------------------------------------------------------------------------------
    def get(self, kind: str, record_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.db.execute(
                "SELECT body FROM records WHERE kind = ? AND id = ?", (kind, record_id)
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def get_many(self, kind: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = sorted({i for i in ids if i})
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            with self.lock:
                rows = self.db.execute(
                    f"SELECT id, body FROM records WHERE kind = ? AND id IN ({marks})",
                    (kind, *chunk),
                ).fetchall()
            out.update((rid, json.loads(body)) for rid, body in rows)
        return out

    def page(
        self,
        kind: str,
        conditions: Sequence[tuple[str, tuple[Any, ...]]],
        order_columns: tuple[str, ...],
        descending: bool,
        after: tuple[Any, ...] | None,
        limit: int,
    ) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        """Up to ``limit`` records after the keyset position ``after``, with their sort keys."""
        where = ["kind = ?"]
        params: list[Any] = [kind]
        for sql, values in conditions:
            where.append(sql)
            params.extend(values)
        direction = "DESC" if descending else "ASC"
        if after is not None:
            cols = ", ".join(order_columns)
            marks = ", ".join("?" * len(order_columns))
            where.append(f"({cols}) {'<' if descending else '>'} ({marks})")
            params.extend(after)
        order = ", ".join(f"{c} {direction}" for c in order_columns)
        sql = (
            f"SELECT {', '.join(order_columns)}, body FROM records WHERE {' AND '.join(where)} "
            f"ORDER BY {order} LIMIT ?"
        )
        params.append(limit)
        with self.lock:
            rows = self.db.execute(sql, params).fetchall()
        width = len(order_columns)
        return [(tuple(row[:width]), json.loads(row[width])) for row in rows]

    def put(self, kind: str, record: dict[str, Any]) -> None:
        """Insert or replace a record, keeping its place (seq) if it already exists."""
        with self.lock:
            existing = self.db.execute(
                "SELECT seq FROM records WHERE kind = ? AND id = ?", (kind, record["id"])
            ).fetchone()
            if existing is None:
                seq = self.db.execute(
                    "SELECT COALESCE(MAX(seq), -1) + 1 FROM records WHERE kind = ?", (kind,)
                ).fetchone()[0]
            else:
                seq = existing[0]
            marks = ",".join("?" * len(COLUMNS))
            self.db.execute(
                f"INSERT OR REPLACE INTO records ({','.join(COLUMNS)}) VALUES ({marks})",
                _row(kind, seq, record),
            )

    def ids_where(self, kind: str, sql: str, params: tuple[Any, ...]) -> list[str]:
        with self.lock:
            rows = self.db.execute(
                f"SELECT id FROM records WHERE kind = ? AND {sql}", (kind, *params)
            ).fetchall()
        return [r[0] for r in rows]

    def all(self, kind: str) -> list[dict[str, Any]]:
        """Every record of a kind; only for small kinds (departments, entities) and admin writes."""
        with self.lock:
            rows = self.db.execute(
                "SELECT body FROM records WHERE kind = ? ORDER BY seq", (kind,)
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def entitlement_ids(self) -> frozenset[str]:
        """The entitlements the company holds now (the ``entitlements`` records)."""
        with self.lock:
            rows = self.db.execute("SELECT id FROM records WHERE kind = 'entitlements'").fetchall()
        return frozenset(r[0] for r in rows)

    def set_entitlements(self, records: list[dict[str, Any]]) -> None:
        """Replace the company's entitlements (an admin change, effective on the next request)."""
        with self.transaction() as db:
            db.execute("DELETE FROM records WHERE kind = 'entitlements'")
            marks = ",".join("?" * len(COLUMNS))
            db.executemany(
                f"INSERT INTO records ({','.join(COLUMNS)}) VALUES ({marks})",
                (_row("entitlements", seq, r) for seq, r in enumerate(records)),
            )

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        with self.lock:
            row = self.db.execute(sql, params).fetchone()
        return None if row is None else row[0]

    # --- clock --------------------------------------------------------------------------------
    def tick(self) -> str:
        """A write's timestamp: the sandbox clock, strictly after every earlier write and seed."""
        with self.lock:
            last = self.get_meta("clock") or "1970-01-01T00:00:00+00:00"
            now = format_timestamp(self.clock.now())
            if now <= last:
                moment = dt.datetime.fromisoformat(last) + dt.timedelta(seconds=1)
                now = format_timestamp(moment)
            self.set_meta("clock", now)
            return now

    def today(self) -> dt.date:
        """The sandbox's current date: the later of its clock's date and the last write's."""
        last = self.get_meta("clock") or "1970-01-01T00:00:00+00:00"
        return max(self.clock.today(), dt.date.fromisoformat(last[:10]))

    def close(self) -> None:
        with self.lock:
            self.db.close()
