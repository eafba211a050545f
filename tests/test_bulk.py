"""The collector pause around large builds and decodes ends with the collector as it was."""

import gc

import pytest
from ledger_factories import mapping, record, run

from ml_connector_dagster.bulk import collector_paused
from ml_connector_dagster.ledger.inputs import WorkerContext
from ml_connector_dagster.ledger.journal import build_journal


@pytest.fixture(autouse=True)
def _collector_back_on():
    yield
    gc.enable()


def test_the_collector_is_off_inside_and_back_on_after_even_on_error() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("a failed build")
    assert gc.isenabled()


def test_a_collector_already_off_stays_off() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_a_build_leaves_the_collector_on() -> None:
    m = mapping()
    workers = {"w": WorkerContext("w", department_key="D200")}
    build = build_journal(
        run(), [record("p", "w", [("SALARY", "10.00")])], workers, m, m.company("USMF")
    )
    assert build.journal.lines and gc.isenabled()
