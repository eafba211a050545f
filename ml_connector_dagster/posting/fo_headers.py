"""Read back the F&O journal headers the connector created, a batch of numbers per request.

One request per company and ``BATCH`` JournalBatchNumbers (``JournalBatchNumber eq 'a' or
JournalBatchNumber eq 'b' ...``: F&O has no ``in``), never one per journal. The header carries
``IsPosted`` and F&O's own totals of the journal's lines, which is all the observation needs;
the lines themselves are not read.
"""

from collections.abc import Mapping, Sequence

from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.dynamics.odata import all_of, any_of, eq
from ml_connector_dagster.posting.fo_observation import FoHeader
from ml_connector_dagster.posting.ledger_view import HEADER_FIELDS

# Numbers per request: about 50 characters each in the encoded URL, so 25 stay well below the
# 2,048 characters a URL may take through front ends before F&O.
BATCH = 25


def read_headers(
    client: DynamicsClient, wanted: Mapping[str, Sequence[str]], batch: int = BATCH
) -> list[FoHeader]:
    """The headers F&O holds of ``wanted`` (company -> JournalBatchNumbers); absent ones are
    simply not in the answer."""
    headers: list[FoHeader] = []
    for company, numbers in wanted.items():
        for start in range(0, len(numbers), batch):
            chunk = list(numbers[start : start + batch])
            rows = client.list_entities(
                "LedgerJournalHeaders",
                filter=all_of(eq("dataAreaId", company), any_of("JournalBatchNumber", chunk)),
                select=list(HEADER_FIELDS),
            )
            headers += [FoHeader.from_dynamics(row) for row in rows]
    return headers
