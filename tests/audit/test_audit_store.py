"""The audit store on SQLite and PostgreSQL: identities, an append-only trail, inbox, worker map."""

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from ml_connector_dagster.audit.store import AuditStore, IdentityState, Outcome


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, empty_database) -> Iterator[AuditStore]:
    with empty_database(request.param) as url:
        audit = AuditStore(url)
        try:
            yield audit
        finally:
            audit.dispose()


def _claim(store: AuditStore, key: str = "k1") -> None:
    store.claim_identity(
        journal_key=key,
        connection="acme",
        payroll_run_id="run_1",
        company="USMF",
        journal_type="settlement",
        pay_period="2026-11-15",
        payload_hash="h1",
    )


def test_claim_is_idempotent_and_state_moves_forward(store: AuditStore) -> None:
    _claim(store)
    _claim(store)
    assert [i.state for i in store.identities()] == [IdentityState.PENDING]
    store.update_identity("k1", state=IdentityState.COMPLETE, journal_batch_numbers=["USMF-000007"])
    record = store.identity("k1")
    assert record.state == IdentityState.COMPLETE
    assert record.journal_batch_numbers == ("USMF-000007",)


def test_trail_is_append_only_in_the_database_itself(store: AuditStore) -> None:
    attempt = store.record_attempt(
        connection="acme",
        journal_key="k1",
        payroll_run_id="run_1",
        company="USMF",
        journal_type="settlement",
        outcome=Outcome.CREATED,
        pay_period="2026-11-15",
        source_record_ids=["p1", "p2"],
    )
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.engine.begin() as db:
        db.exec_driver_sql(f"UPDATE posting_attempts SET outcome = 'failed' WHERE id = {attempt}")
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.engine.begin() as db:
        db.exec_driver_sql("DELETE FROM posting_attempts")
    [row] = store.attempts(pay_period="2026-11-15")
    assert row["outcome"] == Outcome.CREATED and row["source_record_ids"] == ["p1", "p2"]


def test_failed_partitions_are_those_whose_latest_attempt_failed(store: AuditStore) -> None:
    common = dict(connection="acme", payroll_run_id="r", company="USMF", journal_type="settlement")
    store.record_attempt(
        journal_key="a", partition_key="USMF|2026-11-01", outcome=Outcome.FAILED, **common
    )
    store.record_attempt(
        journal_key="a", partition_key="USMF|2026-11-01", outcome=Outcome.CREATED, **common
    )
    store.record_attempt(
        journal_key="b", partition_key="USMF|2026-11-15", outcome=Outcome.FAILED, **common
    )
    store.record_attempt(
        journal_key="b", partition_key="USMF|2026-11-15", outcome=Outcome.STARTED, **common
    )
    assert store.failed_partitions() == ["USMF|2026-11-15"]


def test_webhook_duplicates_collapse_until_processed(store: AuditStore) -> None:
    assert store.enqueue_webhook("co1", "employee.updated", "w1") is True
    assert store.enqueue_webhook("co1", "employee.updated", "w1") is False
    [pending] = store.pending_webhooks()
    assert pending["deliveries"] == 2
    store.mark_webhooks_processed([pending["id"]])
    assert store.pending_webhooks() == []
    assert store.enqueue_webhook("co1", "employee.updated", "w1") is True  # a later change
    assert len(store.pending_webhooks()) == 1


def test_worker_map_survives_and_finds_a_person_by_user(store: AuditStore) -> None:
    store.map_worker("w1", "RP-000001", "u1")
    store.map_worker("w2", "RP-000001", "u1")
    assert store.personnel_number("w1") == "RP-000001"
    assert store.personnel_number_for_user("u1") == "RP-000001"
    assert store.personnel_number("nobody") is None
    assert store.worker_mappings() == {"w1": "RP-000001", "w2": "RP-000001"}


def test_repr_hides_the_password() -> None:
    store = AuditStore.__new__(AuditStore)
    store.url = "postgresql+psycopg2://user:hunter2@db/audit"
    assert "hunter2" not in repr(store)


def test_processes_recording_one_identity_at_once_all_get_its_record(store: AuditStore) -> None:
    """Separate stores (engines) racing to record the same identity: none fails, one row."""
    import threading

    stores = [AuditStore(store.url) for _ in range(6)]
    errors: list[BaseException] = []
    for round_no in range(5):
        barrier = threading.Barrier(len(stores))

        def record(each: AuditStore, barrier: threading.Barrier, key: str) -> None:
            barrier.wait()
            try:
                _claim(each, key)
            except BaseException as exc:  # the failure this test is about
                errors.append(exc)

        threads = [
            threading.Thread(target=record, args=(s, barrier, f"race-{round_no}")) for s in stores
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for each in stores:
        each.dispose()
    assert errors == []
    assert [i.journal_key for i in store.identities()] == [f"race-{n}" for n in range(5)]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_processes_opening_a_new_audit_database_at_once_all_start(
    backend: str, empty_database
) -> None:
    """Two instances first started together on one new database: both create, neither fails."""
    import threading

    with empty_database(backend) as url:
        barrier = threading.Barrier(6)
        opened: list[AuditStore] = []
        errors: list[BaseException] = []

        def open_store() -> None:
            barrier.wait()
            try:
                opened.append(AuditStore(url))
            except BaseException as exc:  # the failure this test is about
                errors.append(exc)

        threads = [threading.Thread(target=open_store) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        try:
            assert errors == []
            _claim(opened[0], "after-the-race")
            assert opened[-1].identity("after-the-race") is not None
        finally:
            for store in opened:
                store.dispose()


def _decide(store: AuditStore, decision: str = "approved", note: str = "", period="2026-11-15"):
    return store.approvals.record_decision(
        connection="acme",
        pay_period=period,
        company="USMF",
        decision=decision,
        by="Ana Ruiz",
        note=note,
        payload_hashes={"k1": "h1", "k2": "h2"},
        mapping_hash="m1",
    )


def test_approval_decisions_are_append_only_and_the_latest_counts(store: AuditStore) -> None:
    first = _decide(store)
    second = _decide(store, "rejected", "wrong cost center")
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.engine.begin() as db:
        db.exec_driver_sql(
            f"UPDATE approval_decisions SET decision = 'approved' WHERE id = {second.id}"
        )
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.engine.begin() as db:
        db.exec_driver_sql("DELETE FROM approval_decisions")
    latest = store.approvals.decision_for("acme", "2026-11-15", "usmf")
    assert latest == second != first
    assert latest.payload_hashes == {"k1": "h1", "k2": "h2"} and latest.note == "wrong cost center"
    assert store.approvals.decision_for("acme", "2026-11-30", "USMF") is None


def test_waiting_partitions_are_those_whose_latest_attempt_awaits_approval(
    store: AuditStore,
) -> None:
    common = dict(connection="acme", payroll_run_id="r", company="USMF", journal_type="settlement")
    waiting = dict(partition_key="USMF|2026-11-15", pay_period="2026-11-15", **common)
    store.record_attempt(journal_key="k1", outcome=Outcome.AWAITING_APPROVAL, **waiting)
    store.record_attempt(
        journal_key="k2",
        outcome=Outcome.AWAITING_APPROVAL,
        dynamics_answer="not approved",
        **waiting,
    )
    done = dict(partition_key="USMF|2026-10-31", pay_period="2026-10-31", **common)
    store.record_attempt(journal_key="k3", outcome=Outcome.AWAITING_APPROVAL, **done)
    store.record_attempt(journal_key="k3", outcome=Outcome.CREATED, **done)
    [partition] = store.approvals.awaiting_approval("acme")
    assert partition.partition_key == "USMF|2026-11-15"
    assert partition.journal_keys == ("k1", "k2") and partition.why == "not approved"
    assert partition.decision is None and not partition.approved_since
    assert store.unfinished() == []  # waiting is not unfinished: never replayed or retried
    assert store.approvals.awaiting_approval("other") == []
    _decide(store)
    [partition] = store.approvals.awaiting_approval("acme")
    assert partition.approved_since and partition.decision.decided_by == "Ana Ruiz"
    store.record_attempt(journal_key="k1", outcome=Outcome.AWAITING_APPROVAL, **waiting)
    [partition] = store.approvals.awaiting_approval("acme")
    assert not partition.approved_since  # waited again after the approval: it did not apply
