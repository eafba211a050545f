"""What F&O holds for one journal identity: its journals, found by an exact key, and their lines.

Journals are found by ``IntegrationKey eq 'mlc-<key>'``: an exact match that finance does not
edit, unlike Description (and ``*`` wildcards run on SQL LIKE, where ``[`` opens a character
class). A tenant whose ``LedgerJournalHeaders`` lacks IntegrationKey answers the filter with a
400 naming the property; then the identity is searched in Description (``eq '*mlc-<key>*'``)
and every result says so.

The view caches what it read and what this process wrote successfully, so a long journal is
not read back after every changeset; ``reload`` reads everything again before a decision is
final.
"""

import logging
from typing import Any

from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.dynamics.errors import DynamicsRequestError
from ml_connector_dagster.dynamics.odata import all_of, any_of, eq
from ml_connector_dagster.ledger.journal import JournalIdentity
from ml_connector_dagster.posting.lines import LINE_FIELDS, LedgerLine
from ml_connector_dagster.posting.plan import HeaderState

log = logging.getLogger(__name__)

HEADER_FIELDS = (
    "dataAreaId",
    "JournalBatchNumber",
    "Description",
    "IsPosted",
    "JournalTotalDebit",
    "JournalTotalCredit",
)
WITHOUT_INTEGRATION_KEY = (
    "this F&O's LedgerJournalHeaders has no IntegrationKey: journals are found by the"
    " {marker} marker in Description, so keep that marker when editing a description"
)


def refuses_integration_key(error: DynamicsRequestError) -> bool:
    """F&O's answer to a filter or body naming a property its entity does not have."""
    return error.status == 400 and "integrationkey" in error.message.lower()


class LedgerView:
    """The F&O journals of one identity in one company, read through ``client``."""

    def __init__(
        self, client: DynamicsClient, identity: JournalIdentity, *, integration_key: bool = True
    ) -> None:
        self.client = client
        self.identity = identity
        self.company = identity.company.lower()
        self.integration_key = integration_key
        self._headers: dict[str, dict[str, Any]] = {}
        self._lines: dict[str, dict[int, LedgerLine]] = {}

    # --- reads ----------------------------------------------------------------------------------
    def _identity_filter(self) -> str:
        if self.integration_key:
            return all_of(
                eq("dataAreaId", self.company),
                eq("IntegrationKey", self.identity.integration_key),
            )
        return all_of(
            eq("dataAreaId", self.company), eq("Description", f"*{self.identity.marker}*")
        )

    def _list_headers(self) -> list[dict[str, Any]]:
        try:
            return self.client.list_entities(
                "LedgerJournalHeaders", filter=self._identity_filter(), select=list(HEADER_FIELDS)
            )
        except DynamicsRequestError as exc:
            if not (self.integration_key and refuses_integration_key(exc)):
                raise
            log.warning(WITHOUT_INTEGRATION_KEY.format(marker=self.identity.marker))
            self.integration_key = False
            return self.client.list_entities(
                "LedgerJournalHeaders", filter=self._identity_filter(), select=list(HEADER_FIELDS)
            )

    def read_lines(self, batch_number: str) -> dict[int, LedgerLine]:
        rows = self.client.list_entities(
            "LedgerJournalLines",
            filter=all_of(eq("dataAreaId", self.company), eq("JournalBatchNumber", batch_number)),
            select=list(LINE_FIELDS),
        )
        lines = {line.number: line for line in map(LedgerLine.from_dynamics, rows)}
        self._lines[batch_number] = lines
        return lines

    def refresh_headers(
        self, rows: list[dict[str, Any]] | None = None, *, created: str | None = None
    ) -> set[str]:
        """Re-list the identity's journals (or take ``rows``, read for it just now); read lines
        of ones not seen before. Returns the new numbers.

        ``created``: the header this process created a moment ago, under the identity's claim:
        it holds no lines yet, so they are not read (the read-back before "present" reads
        every line again anyway)."""
        rows = self._list_headers() if rows is None else rows
        current = {str(row["JournalBatchNumber"]): row for row in rows}
        new = set(current) - set(self._headers)
        for gone in set(self._headers) - set(current):
            self._lines.pop(gone, None)
        self._headers = current
        for batch_number in new:
            if batch_number == created:
                self._lines[batch_number] = {}
            else:
                self.read_lines(batch_number)
        return new

    def reload(self, rows: list[dict[str, Any]] | None = None) -> None:
        """Everything again from F&O: the journals (or ``rows``, read just now) and every line."""
        self._headers, self._lines = {}, {}
        self.refresh_headers(rows)

    # --- what this process wrote ----------------------------------------------------------------
    def add_written(self, batch_number: str, lines: list[LedgerLine]) -> None:
        """Lines F&O confirmed in a successful changeset (no need to read them back now)."""
        held = self._lines.setdefault(batch_number, {})
        for line in lines:
            held[line.number] = line

    def forget(self, batch_number: str) -> None:
        self._headers.pop(batch_number, None)
        self._lines.pop(batch_number, None)

    # --- state ----------------------------------------------------------------------------------
    def header(self, batch_number: str) -> dict[str, Any]:
        return self._headers[batch_number]

    def states(self) -> list[HeaderState]:
        return [
            HeaderState(
                batch_number=batch_number,
                posted=row.get("IsPosted") == "Yes",
                lines=dict(self._lines.get(batch_number, {})),
                description=str(row.get("Description") or ""),
            )
            for batch_number, row in self._headers.items()
        ]


def reload_together(client: DynamicsClient, views: list[LedgerView]) -> None:
    """``reload`` every view, with one header read for all of them where F&O allows it.

    The views are identities of one company (a journal and its first correction, read before
    every post): ``IntegrationKey eq 'a' or IntegrationKey eq 'b'`` in one filter instead of a
    read each. Without IntegrationKey (a tenant whose entity lacks it, or once F&O refused it)
    each view reads its own, by its Description marker, as ``reload`` does."""
    companies = {view.company for view in views}
    if len(views) < 2 or len(companies) != 1 or not all(v.integration_key for v in views):
        for view in views:
            view.reload()
        return
    keys = [view.identity.integration_key for view in views]
    try:
        rows = client.list_entities(
            "LedgerJournalHeaders",
            filter=all_of(eq("dataAreaId", views[0].company), any_of("IntegrationKey", keys)),
            select=[*HEADER_FIELDS, "IntegrationKey"],
        )
    except DynamicsRequestError as exc:
        if not refuses_integration_key(exc):
            raise
        log.warning(WITHOUT_INTEGRATION_KEY.format(marker=views[0].identity.marker))
        for view in views:
            view.integration_key = False
            view.reload()
        return
    for view in views:
        key = view.identity.integration_key
        view.reload([row for row in rows if row.get("IntegrationKey") == key])
