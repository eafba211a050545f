"""The workforce read: three independent Rippling lists, read side by side under a cap."""

import datetime as dt
import threading

import pytest

from ml_connector_dagster import clock
from ml_connector_dagster.payroll.snapshot import read_workforce
from ml_connector_dagster.rippling.models import JobAssignment, JobCode, Worker

NOON = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


class ThreeLists:
    """job codes, job assignments and workers; with ``together`` each list waits until all
    three are being read at once (a sequential reader breaks the barrier)."""

    def __init__(self, together: threading.Barrier | None = None) -> None:
        self.together = together
        self.threads: set[str] = set()

    def _start(self) -> None:
        self.threads.add(threading.current_thread().name)
        if self.together is not None:
            self.together.wait()

    def job_codes(self):
        self._start()
        yield JobCode.model_validate({"id": "jc_1", "external_id": "ENG"})
        yield JobCode.model_validate({"id": "jc_2"})

    def job_assignments(self):
        self._start()
        yield JobAssignment.model_validate({"id": "a1", "worker_id": "w1", "job_code_id": "jc_2"})
        yield JobAssignment.model_validate({"id": "a2", "worker_id": "w1", "job_code_id": "jc_1"})
        yield JobAssignment.model_validate({"id": "a3", "worker_id": "w2", "job_code_id": None})

    def worker_time_splits(self):
        return []  # outside the barrier: the three lists above are the ones timed

    def workers(self, expand=()):
        self._start()
        assert tuple(expand) == ("department",)
        yield Worker.model_validate({"id": "w1", "legal_entity_id": "le", "department_id": "d1"})
        yield Worker.model_validate({"id": "w2", "legal_entity_id": "le", "department_id": "d2"})


def test_the_lists_are_read_at_the_same_time_and_give_what_a_sequential_read_gives() -> None:
    with clock.pinned(NOON):
        sequential = read_workforce(ThreeLists(), concurrency=1)
        side_by_side = ThreeLists(threading.Barrier(3, timeout=10))
        concurrent = read_workforce(side_by_side, concurrency=3)
    assert concurrent == sequential
    assert len(side_by_side.threads) == 3
    assert sequential.read_at == NOON
    # In job-assignment id order (a1 before a2), each with its id: the remainder tie rule.
    assert sequential.workers["w1"].job_codes == (("jc_2", 1), ("ENG", 1))
    assert sequential.workers["w1"].job_assignment_ids == ("a1", "a2")
    assert sequential.workers["w2"].job_codes == ()


def test_a_cap_of_one_reads_one_list_at_a_time() -> None:
    with pytest.raises(threading.BrokenBarrierError):
        read_workforce(ThreeLists(threading.Barrier(2, timeout=0.5)), concurrency=1)


class ReversedAssignments(ThreeLists):
    """The same assignments listed the other way round."""

    def job_assignments(self):
        yield from reversed(list(super().job_assignments()))


def test_the_api_order_of_assignments_does_not_change_the_workforce() -> None:
    with clock.pinned(NOON):
        assert read_workforce(ReversedAssignments()) == read_workforce(ThreeLists())
