"""The outbox: never lost, never sent twice per channel, retried when a channel fails."""

import datetime as dt
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator

import pytest
from alert_support import T0, blocked_alert, smtp_server, webhook_receiver
from processes import wait_for_exit
from pydantic import SecretStr

from ml_connector_dagster import clock
from ml_connector_dagster.alerts import AlertKind, enqueue
from ml_connector_dagster.alerts.channels import DeliveryError
from ml_connector_dagster.alerts.model import Alert
from ml_connector_dagster.alerts.outbox import Deliverer, outbox_rows
from ml_connector_dagster.alerts.smtp import EmailChannel
from ml_connector_dagster.alerts.teams import TeamsChannel
from ml_connector_dagster.audit.store import AuditStore

BACKENDS = ["sqlite", "postgres"]
SIG = "sig=Hd7Gf2Ks9Lp4Qw6Er1Ty8Ui3Mn5Bv8Cx"
PATH = f"/workflows/77aa/triggers/manual/paths/invoke?{SIG}"


@pytest.fixture
def store(empty_database) -> Iterator[AuditStore]:
    with empty_database("sqlite") as url:
        audit = AuditStore(url)
        yield audit
        audit.dispose()


class Recording:
    """A channel that records what it sent (shared between deliverers, thread-safe)."""

    def __init__(self, name: str, sent: list[tuple[str, str]], lock: threading.Lock) -> None:
        self.name, self._sent, self._lock = name, sent, lock
        self.fail = False

    def send(self, alert: Alert) -> None:
        if self.fail:
            raise DeliveryError(f"{self.name}: down")
        clock.sleep(0.002)  # a send takes time: the other deliverer runs meanwhile
        with self._lock:
            self._sent.append((self.name, alert.dedupe_key))


def test_enqueue_keeps_one_row_per_alert(store: AuditStore, pinned) -> None:
    assert enqueue(store, blocked_alert()) is True
    assert enqueue(store, blocked_alert(summary="raised again, worded otherwise")) is False
    assert enqueue(store.engine, blocked_alert(reference="run-other")) is True
    rows = outbox_rows(store)
    assert [r["summary"].startswith("Department D110") for r in rows] == [True, True]
    assert rows[0]["amount"] == "175772.44" and rows[0]["currency"] == "USD"
    assert rows[0]["created_at"] == T0


def _email(port: int, tls) -> EmailChannel:
    return EmailChannel(
        host="127.0.0.1", port=port, security="starttls", sender="connector@acme.test",
        recipients=("finance@acme.test",), ca_bundle=str(tls.ca_cert), timeout=5,
    )  # fmt: skip


def test_both_channels_receive_each_alert_once(store: AuditStore, tls, pinned) -> None:
    enqueue(store, blocked_alert())
    enqueue(store, blocked_alert(kind=AlertKind.APPROVAL_WAITING, amount=None, currency=None))
    with webhook_receiver(tls) as hook, smtp_server(tls) as box:
        teams = TeamsChannel(SecretStr(hook.url(PATH)), ca_bundle=str(tls.ca_cert), timeout=5)
        deliverer = Deliverer(store, [teams, _email(box.port, tls)])
        first = deliverer.deliver()
        again = deliverer.deliver()
    assert sorted(first.sent) == [(1, "email"), (1, "teams"), (2, "email"), (2, "teams")]
    assert again.sent == again.failed == [] and deliverer.due() == []
    assert len(hook.posts) == 2 and len(box.mails) == 2
    assert "175,772.44 USD" in str(hook.posts[0])
    assert "175,772.44 USD" in box.mails[0].content.decode()
    rows = outbox_rows(store)
    assert all(r["teams_delivered_at"] == T0 and r["email_attempts"] == 1 for r in rows)


@pytest.mark.parametrize("failure", ["http-500", "connection-refused"])
def test_a_failing_channel_stays_pending_and_is_sent_once_later(
    store: AuditStore, tls, failure: str, pinned
) -> None:
    enqueue(store, blocked_alert())
    with webhook_receiver(tls) as hook, smtp_server(tls) as box:
        good = TeamsChannel(SecretStr(hook.url(PATH)), ca_bundle=str(tls.ca_cert), timeout=5)
        if failure == "http-500":
            hook.status, bad = 500, good
        else:  # nothing listens there: the receiver's port after it has closed
            with webhook_receiver(tls) as gone:
                url = gone.url(PATH)
            bad = TeamsChannel(SecretStr(url), ca_bundle=str(tls.ca_cert), timeout=5)
        email = _email(box.port, tls)
        with clock.pinned(T0):
            report = Deliverer(store, [bad, email]).deliver()
            assert report.sent == [(1, "email")] and [f[1] for f in report.failed] == ["teams"]
            [row] = outbox_rows(store)
            assert row["teams_delivered_at"] is None and row["teams_attempts"] == 1
            assert SIG not in row["teams_last_error"] and "127.0.0.1" in row["teams_last_error"]
            assert Deliverer(store, [good, email]).deliver().sent == []  # backing off
        hook.status = 200
        with clock.pinned(T0 + dt.timedelta(minutes=2)):
            later = Deliverer(store, [good, email]).deliver()
            assert later.sent == [(1, "teams")]
            assert Deliverer(store, [good, email]).deliver().sent == []
    assert len([p for p in hook.posts]) == (2 if failure == "http-500" else 1)
    assert len(box.mails) == 1  # the e-mail that went out the first time is not repeated
    [row] = outbox_rows(store)
    assert row["teams_attempts"] == 2 and row["teams_delivered_at"] == T0 + dt.timedelta(minutes=2)


def test_a_channel_is_given_up_after_its_attempts(store: AuditStore, pinned) -> None:
    enqueue(store, blocked_alert())
    sent: list[tuple[str, str]] = []
    teams = Recording("teams", sent, threading.Lock())
    teams.fail = True
    outcomes = []
    for minutes in (0, 10, 20):
        with clock.pinned(T0 + dt.timedelta(minutes=minutes)):
            report = Deliverer(store, [teams], max_attempts=2).deliver()
            outcomes.append((len(report.failed), len(report.gave_up)))
    assert outcomes == [(1, 0), (0, 1), (0, 0)]
    assert outbox_rows(store)[0]["teams_attempts"] == 2 and sent == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_deliverers_on_two_engines_send_each_alert_once(backend, empty_database) -> None:
    with empty_database(backend) as url, clock.pinned(T0):
        stores = [AuditStore(url), AuditStore(url)]
        try:
            for n in range(30):
                enqueue(stores[0], blocked_alert(reference=f"run-{n}"))
            sent: list[tuple[str, str]] = []
            lock = threading.Lock()
            start = threading.Barrier(2)
            reports = []

            def deliver(audit: AuditStore) -> None:
                channels = [Recording("teams", sent, lock), Recording("email", sent, lock)]
                deliverer = Deliverer(audit, channels)
                start.wait()
                reports.append(deliverer.deliver())

            threads = [threading.Thread(target=deliver, args=(s,)) for s in stores]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            rows = outbox_rows(stores[0])
        finally:
            for audit in stores:
                audit.dispose()
    assert len(sent) == len(set(sent)) == 60  # 30 alerts x 2 channels, none twice
    assert all(r["teams_delivered_at"] and r["email_delivered_at"] for r in rows)
    assert all(r["claimed_by"] is None for r in rows)
    assert sum(len(r.sent) for r in reports) == 60


_ENQUEUER = textwrap.dedent(
    """
    import sys
    from decimal import Decimal
    from ml_connector_dagster.alerts import Alert, AlertKind, enqueue
    from ml_connector_dagster.audit.store import AuditStore
    store = AuditStore(sys.argv[1])
    alert = Alert(kind=AlertKind.RUN_FAILED, summary="the run failed", reference="run-1",
                  company="USMF", pay_period="2026-11-15", amount=Decimal("1.00"), currency="USD")
    print("ready", flush=True)
    sys.stdin.read()
    print(enqueue(store, alert), flush=True)
    store.dispose()
    """
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_processes_raising_one_alert_keep_one_row(backend, empty_database) -> None:
    with empty_database(backend) as url:
        AuditStore(url).dispose()  # migrated first: the race is the alert's, not the schema's
        children = [
            subprocess.Popen(
                [sys.executable, "-c", _ENQUEUER, url],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(2)
        ]
        try:
            for child in children:
                assert child.stdout.readline().strip() == "ready"
            for child in children:
                child.stdin.close()  # go, both at once
            outputs = sorted(child.stdout.read().strip() for child in children)
            for child in children:
                assert wait_for_exit(child) == 0
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
        store = AuditStore(url)
        rows = outbox_rows(store)
        store.dispose()
    assert outputs == ["False", "True"]
    assert len(rows) == 1 and rows[0]["kind"] == "run-failed"
