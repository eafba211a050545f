"""A failed check's one line: its biggest cause, the workers and money, what it means."""

from decimal import Decimal

from ml_connector_dagster.defs.payroll.checks import (
    BLOCKED_TAIL,
    ONE_WORKER,
    describe_failure,
)
from ml_connector_dagster.ledger.causes import KNOCK_ON_FULLY_MAPPED, Cause

BIG = Cause("Department D110 is not in the mapping file", 45, 45, (("USD", Decimal("175772.44")),))
SMALL = Cause("Earning BONUS has no main account", 2, 2, (("USD", Decimal("10.00")),))
ALONE = Cause("Negative net pay", 1, 1, (("USD", Decimal("-12.00")),))
KNOCK = Cause(KNOCK_ON_FULLY_MAPPED, 3, 0, ())


def test_the_biggest_cause_comes_with_its_workers_money_and_the_tail() -> None:
    line = describe_failure([BIG, SMALL], "summary", BLOCKED_TAIL)
    assert line == (
        "Department D110 is not in the mapping file: 45 workers, 175,772.44 USD;"
        " and 1 more cause (see causes); nothing was written to Dynamics"
    )


def test_one_workers_amount_is_withheld_below_the_worker_level() -> None:
    assert (
        describe_failure([ALONE], "summary", "t") == f"Negative net pay: 1 worker, {ONE_WORKER}; t"
    )
    assert describe_failure([ALONE], "worker", "t") == "Negative net pay: 1 worker, -12.00 USD; t"


def test_a_check_failing_only_as_a_knock_on_says_so_first() -> None:
    assert describe_failure([KNOCK], "summary", "t") == f"{KNOCK_ON_FULLY_MAPPED}; t"


def test_knock_on_causes_do_not_hide_an_own_cause() -> None:
    line = describe_failure([KNOCK, SMALL], "summary", "t")
    assert line.startswith("Earning BONUS has no main account: 2 workers, 10.00 USD")
    assert "more cause" not in line
