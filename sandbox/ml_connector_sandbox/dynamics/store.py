"""SQLite state: one typed table per entity table, number sequences, write counters, metadata.

One connection (``check_same_thread=False``) guarded by a re-entrant lock; explicit
transactions so a ``$batch`` changeset is one transaction and rolls back as a whole. Tables are
keyed like F&O (string keys compare case-insensitively, decimals by value), so key lookups, joins
of a 10,000-line journal and $top/$skip paging over 50,000 workers stay in SQL.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from ml_connector_sandbox.dynamics.edm import default_for, sql_column_type
from ml_connector_sandbox.dynamics.schema import EntitySchema, Schema

# Hidden columns the sandbox keeps beside the F&O properties (never on the wire).
HIDDEN_COLUMNS = {"LedgerJournalLines": {"_applied_dims": "TEXT NOT NULL DEFAULT '{}'"}}
EXTRA_INDEXES = {
    "EmploymentsV2": [
        ("PersonnelNumber",),
        ("PersonnelNumber", "LegalEntityId", "EmploymentStartDate", "EmploymentEndDate"),
    ],
}


class DuplicateKey(Exception):
    """An insert hit an existing primary key."""


def _decimal_collation(a: str, b: str) -> int:
    da, db = Decimal(a), Decimal(b)
    return (da > db) - (da < db)


def q(name: str) -> str:
    """Quote an identifier (names come from the schema, never from the client unchecked)."""
    return '"' + name.replace('"', '""') + '"'


class Store:
    def __init__(self, path: Path, schema: Schema) -> None:
        self.schema = schema
        self.lock = threading.RLock()
        self._depth = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.conn.create_collation("DECIMAL", _decimal_collation)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.tables: dict[str, dict[str, Any]] = {}
        for entity in schema.entities.values():
            table = self.tables.setdefault(entity.table, {"columns": {}, "keys": None})
            for prop in entity.properties.values():
                table["columns"].setdefault(prop.name, prop)
            if entity.table == entity.name:
                table["keys"] = entity.storage_keys
        self._create()

    # --- schema -----------------------------------------------------------------------------

    def _create(self) -> None:
        with self.lock:
            ex = self.conn.execute
            ex("CREATE TABLE IF NOT EXISTS _meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
            ex(
                "CREATE TABLE IF NOT EXISTS _seq (name TEXT PRIMARY KEY COLLATE NOCASE,"
                " value INTEGER NOT NULL)"
            )
            ex(
                "CREATE TABLE IF NOT EXISTS _stats (entity_set TEXT NOT NULL, kind TEXT NOT NULL,"
                " n INTEGER NOT NULL, PRIMARY KEY (entity_set, kind))"
            )
            for name, table in self.tables.items():
                cols = [f"{q(c)} {sql_column_type(p)}" for c, p in table["columns"].items()]
                cols += [f"{q(c)} {d}" for c, d in HIDDEN_COLUMNS.get(name, {}).items()]
                pk = ", ".join(q(k) for k in table["keys"])
                ex(f"CREATE TABLE IF NOT EXISTS {q(name)} ({', '.join(cols)}, PRIMARY KEY ({pk}))")
                for i, idx in enumerate(EXTRA_INDEXES.get(name, [])):
                    ex(
                        f"CREATE INDEX IF NOT EXISTS {q(f'ix_{name}_{i}')} ON {q(name)}"
                        f" ({', '.join(q(c) for c in idx)})"
                    )

    def wipe(self) -> None:
        with self.lock, self.transaction():
            for name in self.tables:
                self.conn.execute(f"DELETE FROM {q(name)}")
            for t in ("_meta", "_seq", "_stats"):
                self.conn.execute(f"DELETE FROM {t}")

    # --- transactions -----------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Outermost call opens BEGIN IMMEDIATE; nested calls join it; any error rolls back."""
        with self.lock:
            outer = self._depth == 0
            if outer:
                self.conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self.conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self.conn.execute("COMMIT")

    # --- meta, sequences, stats -------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self.lock:
            row = self.conn.execute("SELECT v FROM _meta WHERE k = ?", (key,)).fetchone()
            return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        with self.lock:
            self.conn.execute("INSERT OR REPLACE INTO _meta (k, v) VALUES (?, ?)", (key, value))

    def next_number(self, name: str, at_least: int = 0) -> int:
        """Next value of a number sequence (1, 2, 3, ...), never below ``at_least``."""
        with self.lock:
            row = self.conn.execute("SELECT value FROM _seq WHERE name = ?", (name,)).fetchone()
            value = max((row[0] if row else 0) + 1, at_least)
            self.conn.execute(
                "INSERT OR REPLACE INTO _seq (name, value) VALUES (?, ?)", (name, value)
            )
            return value

    def raise_number(self, name: str, value: int) -> None:
        """Make sure the sequence continues after ``value`` (a number the client chose)."""
        with self.lock:
            self.conn.execute(
                "INSERT INTO _seq (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET"
                " value = max(value, excluded.value)",
                (name, value),
            )

    def count_write(self, entity_set: str, kind: str) -> None:
        with self.lock:
            self.conn.execute(
                "INSERT INTO _stats (entity_set, kind, n) VALUES (?, ?, 1) ON CONFLICT"
                " (entity_set, kind) DO UPDATE SET n = n + 1",
                (entity_set, kind),
            )

    def stats(self) -> dict[str, Any]:
        with self.lock:
            writes: dict[str, dict[str, int]] = {}
            for row in self.conn.execute("SELECT entity_set, kind, n FROM _stats"):
                writes.setdefault(row[0], {})[row[1]] = row[2]
            for kinds in writes.values():
                kinds["total"] = sum(kinds.values())
            rows = {
                name: self.conn.execute(f"SELECT COUNT(*) FROM {q(name)}").fetchone()[0]
                for name in self.tables
            }
            return {"writes": writes, "rows": rows}

    # --- rows -------------------------------------------------------------------------------

    def full_row(self, entity: EntitySchema, values: dict[str, Any]) -> dict[str, Any]:
        """Every column of the table, defaults where ``values`` is silent."""
        cols = self.tables[entity.table]["columns"]
        return {c: values[c] if c in values else default_for(p) for c, p in cols.items()}

    def insert(
        self, entity: EntitySchema, values: dict[str, Any], hidden: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        row = self.full_row(entity, values)
        row.update(hidden or {})
        names = list(row)
        sql = (
            f"INSERT INTO {q(entity.table)} ({', '.join(q(n) for n in names)})"
            f" VALUES ({', '.join('?' for _ in names)})"
        )
        with self.lock:
            try:
                self.conn.execute(sql, [row[n] for n in names])
            except sqlite3.IntegrityError as exc:
                raise DuplicateKey(str(exc)) from exc
        return row

    def insert_many(self, entity: EntitySchema, rows: Sequence[dict[str, Any]]) -> None:
        cols = self.tables[entity.table]["columns"]
        names = list(cols)
        defaults = [default_for(cols[n]) for n in names]
        sql = (
            f"INSERT INTO {q(entity.table)} ({', '.join(q(n) for n in names)})"
            f" VALUES ({', '.join('?' for _ in names)})"
        )
        data = [[r.get(n, d) for n, d in zip(names, defaults, strict=True)] for r in rows]
        with self.lock:
            try:
                self.conn.executemany(sql, data)
            except sqlite3.IntegrityError as exc:
                raise DuplicateKey(str(exc)) from exc

    def _key_where(self, key: dict[str, Any]) -> tuple[str, list[Any]]:
        return " AND ".join(f"{q(k)} = ?" for k in key), list(key.values())

    def get(self, entity: EntitySchema, key: dict[str, Any]) -> dict[str, Any] | None:
        """One row (all columns, hidden ones included) by its full key (the first by stored key
        where the entity's key is not unique)."""
        where, params = self._key_where(key)
        order = ", ".join(q(k) for k in entity.storage_keys)
        with self.lock:
            row = self.conn.execute(
                f"SELECT * FROM {q(entity.table)} WHERE {where} ORDER BY {order} LIMIT 1", params
            ).fetchone()
        return None if row is None else dict(row)

    def update(self, entity: EntitySchema, key: dict[str, Any], values: dict[str, Any]) -> None:
        if not values:
            return
        where, params = self._key_where(key)
        sets = ", ".join(f"{q(c)} = ?" for c in values)
        with self.lock:
            try:
                self.conn.execute(
                    f"UPDATE {q(entity.table)} SET {sets} WHERE {where}",
                    [*values.values(), *params],
                )
            except sqlite3.IntegrityError as exc:
                raise DuplicateKey(str(exc)) from exc

    def delete(self, entity: EntitySchema, key: dict[str, Any]) -> int:
        where, params = self._key_where(key)
        with self.lock:
            return self.conn.execute(
                f"DELETE FROM {q(entity.table)} WHERE {where}", params
            ).rowcount

    def select(
        self,
        entity: EntitySchema,
        where: str = "",
        params: Sequence[Any] = (),
        order: str = "",
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict]:
        sql = f"SELECT * FROM {q(entity.table)}"
        if where:
            sql += f" WHERE {where}"
        if order:
            sql += f" ORDER BY {order}"
        args = list(params)
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            args += [-1 if limit is None else limit, offset]
        with self.lock:
            return [dict(r) for r in self.conn.execute(sql, args)]

    def count(self, entity: EntitySchema, where: str = "", params: Sequence[Any] = ()) -> int:
        sql = f"SELECT COUNT(*) FROM {q(entity.table)}" + (f" WHERE {where}" if where else "")
        with self.lock:
            return self.conn.execute(sql, list(params)).fetchone()[0]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self.conn.execute(sql, list(params)).fetchall()

    def close(self) -> None:
        with self.lock:
            self.conn.close()
