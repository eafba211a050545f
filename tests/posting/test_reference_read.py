"""When a stored read of F&O's reference data may answer: same mapping, young enough, every
company named, never from the future."""

import datetime as dt

from ledger_factories import mapping

from ml_connector_dagster import clock
from ml_connector_dagster.dynamics.readers import DimensionFormat
from ml_connector_dagster.ledger.checks import DynamicsReference
from ml_connector_dagster.posting.reference import ReferenceRead

NOON = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
M = mapping()


def _read(at: dt.datetime = NOON, mapping_hash: str = M.content_hash) -> ReferenceRead:
    active = DimensionFormat("Payroll", "DataEntityLedgerDimensionFormat", ("MainAccount",), "-")
    reference = DynamicsReference(("MainAccount",), "-", {}, {}, frozenset())
    return ReferenceRead(at, mapping_hash, active, {"USMF": reference})


def test_a_read_serves_within_its_age_for_the_companies_it_holds() -> None:
    read = _read()
    with clock.pinned(NOON + MINUTE):
        assert read.serves({"USMF", "usmf"}, M, MINUTE)
        assert read.serves(set(), M, MINUTE)
        assert not read.serves({"USMF", "GBSI"}, M, MINUTE)  # a company it did not read
        assert not read.serves({"USMF"}, M, MINUTE - dt.timedelta(seconds=1))  # too old
        assert not read.serves({"USMF"}, M, dt.timedelta(0))


def test_a_read_under_another_mapping_or_from_the_future_never_serves() -> None:
    with clock.pinned(NOON):
        assert not _read(mapping_hash="0" * 64).serves({"USMF"}, M, MINUTE)
        assert not _read(at=NOON + dt.timedelta(seconds=1)).serves({"USMF"}, M, MINUTE)
        assert _read().serves({"USMF"}, M, MINUTE)
