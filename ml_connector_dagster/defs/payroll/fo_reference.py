"""F&O's reference data for the checks, read once and shared by the runs of a pay period.

The ``valid_in_dynamics`` check needs eight entity sets (``posting/reference.py``). Read per
company run, a 12-company pay period read them 12 times for the checks alone (issue 12). One
read names every company of the mapping, so it is kept beside the stored values and a run's
checks take it while it is at most ``ML_CONNECTOR_DYNAMICS_REFERENCE_MAX_AGE_SECONDS`` old
(default five minutes; 0: every run reads its own).

Only the checks share it. The posting step reads F&O again itself right before its first write
(the preflight, ``posting/poster.py``), so a format switch or a suspension after the shared read
still stops the write. A read made under another mapping (another hash) is never used; a process
waits while another reads (a file lock beside the stored values, released by the OS if its
holder dies). The value holds no pay: accounts, dimension values, formats and journal names.
"""

import datetime as dt

from ml_connector_dagster.config.mapping import PayrollMapping
from ml_connector_dagster.defs import naming
from ml_connector_dagster.defs.io_manager import PartitionFilesIOManager
from ml_connector_dagster.dynamics.client import DynamicsClient
from ml_connector_dagster.posting.reference import (
    ReferenceRead,
    ReferenceSource,
    read_reference_set,
)

# Where the read is kept among the stored values (a storage key, not an asset of the graph).
REFERENCE_KEY = naming.asset_key("dynamics", "reference_read")


def shared_reads(
    io_manager: PartitionFilesIOManager, client: DynamicsClient, mapping: PayrollMapping
) -> ReferenceSource:
    """A source backed by the stored read: reused while it serves, else read and stored."""

    def source(companies: set[str], max_age: dt.timedelta) -> ReferenceRead:
        with io_manager.exclusive(REFERENCE_KEY):
            stored = io_manager.load_value(REFERENCE_KEY, None)
            if isinstance(stored, ReferenceRead) and stored.serves(companies, mapping, max_age):
                return stored
            fresh = read_reference_set(client, mapping, companies)
            io_manager.store_value(REFERENCE_KEY, None, fresh)
            return fresh

    return source
