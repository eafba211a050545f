"""The gate's one-line summary goes to the audit trail, the CLI and the posted journals' table
in the UI: a finding about one worker names them and the field, never their amounts, unless
the mapping's detail level is worker."""

from ml_connector_dagster.ledger.checks import WITHHELD, Finding
from ml_connector_dagster.posting.gate import Verdict

PERSONAL = Finding(
    "record rec_1 (worker wkr_9)",
    "summary.employer_taxes",
    "812.40",
    "800.00",
    "summary differs from tax items by 12.40",
    personal=True,
)
JOURNAL = Finding(
    "journal run_1 USMF", "total", "debit 9000.00", "credit 8999.99", "debit 9000.00 vs 8999.99"
)


def test_a_personal_finding_is_named_without_its_amounts_at_summary_level() -> None:
    verdict = Verdict({"source_sane": [PERSONAL], "balanced": [JOURNAL]})
    line = verdict.summary()
    assert "record rec_1 (worker wkr_9) summary.employer_taxes" in line
    assert WITHHELD in line
    assert not any(amount in line for amount in ("812.40", "800.00", "12.40"))
    assert "9000.00" in verdict.summary()  # a journal's totals are no one person's pay


def test_the_worker_detail_level_shows_the_amounts() -> None:
    line = Verdict({"source_sane": [PERSONAL]}).summary(detail_level="worker")
    assert "12.40" in line and WITHHELD not in line
