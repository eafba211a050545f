"""The approval binding rule, pure: an approval applies to exactly the content it was given.

``approval_applies`` on hashes (every change of any hash, any identity more or less, another
mapping: not applied) and on built journals (a changed amount, account or date changes the
payload hash, so the approval no longer applies); the store's record/decision_for round trip
and its append-only guard; the poster's check fails closed on a partial set of journals.
"""

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from ml_connector_dagster.audit.approvals import ApprovalDecision, Decision, approval_applies
from ml_connector_dagster.audit.store import AuditStore
from ml_connector_dagster.ledger.journal import (
    Journal,
    JournalBuild,
    JournalIdentity,
    JournalLine,
    JournalType,
    LineRole,
)
from ml_connector_dagster.posting import approval as posting_approval

T0 = dt.datetime(2026, 11, 20, 9, 15, tzinfo=dt.UTC)
HEX = "0123456789abcdef"
keys = st.text(alphabet=HEX, min_size=16, max_size=16)
hashes = st.text(alphabet=HEX, min_size=64, max_size=64)
bindings = st.dictionaries(keys, hashes, min_size=1, max_size=6)


def _decision(
    bound, mapping_hash="m" * 64, decision=Decision.APPROVED, note=""
) -> ApprovalDecision:
    return ApprovalDecision(
        id=7,
        connection="acme",
        pay_period="2026-11-15",
        company="USMF",
        decision=decision,
        decided_by="Ana Ruiz",
        note=note,
        decided_at=T0,
        payload_hashes=dict(bound),
        mapping_hash=mapping_hash,
    )


@given(bound=bindings, mapping_hash=hashes)
def test_an_approval_applies_to_exactly_its_content(bound, mapping_hash) -> None:
    applies, why = approval_applies(_decision(bound, mapping_hash), dict(bound), mapping_hash)
    assert applies, why
    assert "Ana Ruiz" in why


@given(bound=bindings, data=st.data())
def test_any_changed_hash_voids_the_approval(bound, data) -> None:
    key = data.draw(st.sampled_from(sorted(bound)))
    other = data.draw(hashes.filter(lambda h: h != bound[key]))
    now = {**bound, key: other}
    applies, why = approval_applies(_decision(bound), now, "m" * 64)
    assert not applies
    assert why.startswith("approved content changed: Rippling or the mapping changed")


@given(bound=bindings, extra=keys, extra_hash=hashes)
def test_a_journal_more_voids_the_approval(bound, extra, extra_hash) -> None:
    if extra in bound:
        return
    applies, why = approval_applies(_decision(bound), {**bound, extra: extra_hash}, "m" * 64)
    assert not applies and "not approved" in why


@given(bound=bindings.filter(lambda b: len(b) > 1), data=st.data())
def test_a_journal_less_voids_the_approval(bound, data) -> None:
    gone = data.draw(st.sampled_from(sorted(bound)))
    now = {k: v for k, v in bound.items() if k != gone}
    applies, why = approval_applies(_decision(bound), now, "m" * 64)
    assert not applies and "no longer built" in why


@given(bound=bindings, approved_with=hashes, now_with=hashes)
def test_another_mapping_voids_the_approval(bound, approved_with, now_with) -> None:
    applies, why = approval_applies(_decision(bound, approved_with), dict(bound), now_with)
    assert applies is (approved_with == now_with)
    if not applies:
        assert "mapping file changed after approval" in why


@given(bound=bindings, reason=st.text(min_size=1, max_size=40).filter(str.strip))
def test_a_rejection_never_applies_and_says_who_and_why(bound, reason) -> None:
    rejected = _decision(bound, decision=Decision.REJECTED, note=reason)
    applies, why = approval_applies(rejected, dict(bound), "m" * 64)
    assert not applies
    assert why == f"rejected by Ana Ruiz: {reason}"


def test_no_decision_is_not_approved() -> None:
    applies, why = approval_applies(None, {"k": "h"}, "m")
    assert not applies and why.startswith("not approved")


# --- on built journals -----------------------------------------------------------------------
def _build(run_id: str = "run_1", debit: str = "100.00", account: str = "600100") -> JournalBuild:
    amount = Decimal(debit)
    identity = JournalIdentity("acme", run_id, "USMF", JournalType.SETTLEMENT)
    lines = [
        JournalLine("V1", account, (), "USD", LineRole.EARNINGS, amount, Decimal("0.00"), "t"),
        JournalLine("V1", "210100", (), "USD", LineRole.NET_PAY, Decimal("0.00"), amount, "t"),
    ]
    journal = Journal(
        identity=identity,
        company="USMF",
        journal_name="GenJrn",
        trans_date=dt.date(2026, 11, 20),
        reverse_date=None,
        description=identity.description(dt.date(2026, 11, 20)),
        lines=lines,
        source_record_ids=["r1"],
        worker_ids=["w1", "w2"],
        mapping_hash="m" * 64,
    )
    return JournalBuild(journal)


def _approved(builds) -> ApprovalDecision:
    return _decision(posting_approval.binding(builds), posting_approval.built_with(builds))


@pytest.mark.parametrize(
    "changed",
    [
        lambda: [_build(debit="100.01"), _build("run_2")],  # Rippling: an amount
        lambda: [_build(account="600200"), _build("run_2")],  # the mapping: an account
        lambda: [_build()],  # a run gone
        lambda: [_build(), _build("run_2"), _build("run_3")],  # a run more
        lambda: [
            JournalBuild(replace(_build().journal, trans_date=dt.date(2026, 11, 21))),
            _build("run_2"),
        ],  # the check date
        lambda: [
            JournalBuild(replace(_build().journal, mapping_hash="n" * 64)),
            _build("run_2"),
        ],  # built with another mapping, same lines
    ],
)
def test_builds_that_differ_from_the_approved_ones_are_not_covered(changed) -> None:
    approved = _approved([_build(), _build("run_2")])
    assert posting_approval.approval_applies(approved, [_build(), _build("run_2")])[0]
    applies, why = posting_approval.approval_applies(approved, changed())
    assert not applies
    assert why.startswith("approved content changed")


def test_the_poster_check_fails_closed_on_part_of_a_partition(tmp_path) -> None:
    from ledger_factories import mapping as load_mapping

    required = load_mapping()
    required = required.model_copy(
        update={"journal": required.journal.model_copy(update={"approval": "required"})}
    )
    store = AuditStore(f"sqlite:///{tmp_path / 'audit.sqlite'}")
    try:
        builds = [_build(), _build("run_2")]
        store.approvals.record_decision(
            connection="acme",
            pay_period="2026-11-15",
            company="USMF",
            decision="approved",
            by="Ana Ruiz",
            payload_hashes=posting_approval.binding(builds),
            mapping_hash="m" * 64,
        )
        check = posting_approval.check_approval
        assert check(store, required, builds[0], builds, pay_period="2026-11-15").applies
        alone = check(store, required, builds[0], None, pay_period="2026-11-15")
        assert not alone.applies and "no longer built" in alone.why
        stranger = check(store, required, _build("run_9"), builds, pay_period="2026-11-15")
        assert not stranger.applies
        other_period = check(store, required, builds[0], builds, pay_period="2026-10-31")
        assert not other_period.applies and other_period.why.startswith("not approved")
        automatic = load_mapping()
        assert check(store, automatic, _build("run_9"), None, pay_period="2026-10-31").applies
    finally:
        store.dispose()


def test_decisions_persist_latest_counts_and_cannot_be_edited(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.sqlite'}"
    clock = iter([T0, T0 + dt.timedelta(minutes=5)])
    store = AuditStore(url, clock=lambda: next(clock))
    common = {"connection": "acme", "pay_period": "2026-11-15", "company": "usmf"}
    first = store.approvals.record_decision(
        **common, decision="approved", by="Ana", payload_hashes={"k": "h"}, mapping_hash="m"
    )
    second = store.approvals.record_decision(
        **common,
        decision="rejected",
        by="Bo",
        note="wrong department",
        payload_hashes={"k": "h"},
        mapping_hash="m",
    )
    with pytest.raises(ValueError, match="reason"):
        store.approvals.record_decision(
            **common, decision="rejected", by="Bo", payload_hashes={"k": "h"}, mapping_hash="m"
        )
    with pytest.raises(ValueError, match="name"):
        store.approvals.record_decision(
            **common, decision="approved", by=" ", payload_hashes={"k": "h"}, mapping_hash="m"
        )
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.engine.begin() as db:
        db.exec_driver_sql("UPDATE approval_decisions SET decision = 'approved'")
    store.dispose()
    reopened = AuditStore(url)  # another store on the same database: a fresh process's view
    try:
        latest = reopened.approvals.decision_for("acme", "2026-11-15", "USMF")
        assert latest is not None and latest.id == second.id != first.id
        assert latest.decision is Decision.REJECTED and latest.note == "wrong department"
        assert latest.decided_at == T0 + dt.timedelta(minutes=5)
        assert [d.decided_by for d in reopened.approvals.decisions("acme")] == ["Ana", "Bo"]
        assert reopened.approvals.decision_for("other", "2026-11-15", "USMF") is None
    finally:
        reopened.dispose()


def test_the_mapping_key_defaults_to_automatic_and_refuses_other_values() -> None:
    from ledger_factories import MAPPING_YAML
    from ledger_factories import mapping as parse

    from ml_connector_dagster.config.mapping import MappingError

    assert parse().journal.approval == "automatic"
    text = MAPPING_YAML.replace("journal:\n", "journal:\n  approval: required\n", 1)
    assert parse(text).journal.approval == "required"
    assert parse(text).content_hash != parse().content_hash  # switching it rebuilds journals
    with pytest.raises(MappingError, match="approval") as refused:
        parse(MAPPING_YAML.replace("journal:\n", "journal:\n  approval: sometimes\n", 1))
    assert "test-mapping.yaml" in str(refused.value)
