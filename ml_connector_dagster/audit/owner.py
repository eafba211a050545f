"""One audit database, one connection: the first connection to open it owns it.

Journal identities carry their connection, but the worker map and the webhook inbox do not,
and a connection's journal keys are derived from its name: a database shared by two
connections (one ``ML_CONNECTOR_AUDIT_URL`` for every entry of a connections file) would let
one connection's sensor take the other's webhooks, and a connection renamed in place would no
longer recognise its own journals. So the first connection that opens a database records its
name, and any other is refused with an error that says what to do. A deployment of one
connection owns its database as ``default`` (the name it always had).
"""

import datetime as dt
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ml_connector_dagster.audit.schema import audit_owner

OWNER_ROW = 1


class AuditOwnerError(RuntimeError):
    """The audit database belongs to another connection."""


def claim_owner(
    engine: Engine, connection: str, clock: Callable[[], dt.datetime], where: str
) -> None:
    """Record ``connection`` as the database's owner, or refuse if another owns it.

    Two first openers at once: one insert wins (the primary key), the other reads its row.
    """
    select = sa.select(audit_owner.c.connection).where(audit_owner.c.id == OWNER_ROW)
    with engine.begin() as db:
        owner = db.execute(select).scalar_one_or_none()
    if owner is None:
        try:
            with engine.begin() as db:
                db.execute(
                    audit_owner.insert().values(
                        id=OWNER_ROW, connection=connection, claimed_at=clock()
                    )
                )
            return
        except sa.exc.IntegrityError:
            with engine.begin() as db:
                owner = db.execute(select).scalar_one()
    if owner != connection:
        raise AuditOwnerError(
            f"the audit database {where} belongs to connection {owner!r}, not {connection!r}:"
            " each connection keeps its own audit database (leave ML_CONNECTOR_AUDIT_URL out of"
            " the connection's entry for a SQLite file of its own, or give it its own"
            " PostgreSQL database)"
        )
