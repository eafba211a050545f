"""The webhook inbox under a burst of concurrent deliveries, through the real Starlette app.

Issue 11: 500 deliveries gave two HTTP 500s (identical deliveries racing on ``dedupe_key``), and
after a worker's first event was processed its repeats stopped collapsing (``|1``, ``|2``...).
"""

import asyncio
import datetime as dt
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from ml_connector_dagster.audit.schema import webhook_inbox
from ml_connector_dagster.audit.store import AuditStore
from ml_connector_dagster.workforce.webhooks import create_webhook_app

TOKEN = "s3cret-token-configured-in-rippling"
COMPANY = "company_northwind"
NOW = dt.datetime(2026, 11, 20, 18, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, empty_database) -> Iterator[AuditStore]:
    with empty_database(request.param) as url:
        audit = AuditStore(url, clock=lambda: NOW)
        try:
            yield audit
        finally:
            audit.dispose()


async def _deliver(store: AuditStore, object_ids: list[str]) -> list[httpx.Response]:
    """Every delivery at once against the ASGI app (its inbox writes run in threads)."""
    app = create_webhook_app(
        store, bearer_token=SecretStr(TOKEN), path_secret=None, known_company_ids={COMPANY}
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as http:
        return await asyncio.gather(
            *(
                http.post(
                    "/rippling/webhooks",
                    data={"event_name": "employee.updated", "company_id": COMPANY, "id": i},
                    headers={"Authorization": f"Bearer {TOKEN}"},
                )
                for i in object_ids
            )
        )


def test_a_burst_of_identical_deliveries_collapses_without_an_error(store: AuditStore) -> None:
    ids = [f"wkr{n % 25:02d}" for n in range(500)]  # 25 workers, 20 deliveries each
    answers = asyncio.run(_deliver(store, ids))
    assert sorted({a.status_code for a in answers}) == [200]
    assert sum(not a.json()["duplicate"] for a in answers) == 25  # one new event per worker
    pending = store.pending_webhooks()
    assert sorted(r["object_id"] for r in pending) == sorted(set(ids))
    assert {r["deliveries"] for r in pending} == {20}


def test_repeats_after_processing_collapse_into_one_new_pending_event(store: AuditStore) -> None:
    asyncio.run(_deliver(store, ["wkr01"] * 5))
    [first] = store.pending_webhooks()
    store.mark_webhooks_processed([first["id"]])
    answers = asyncio.run(_deliver(store, ["wkr01"] * 50 + ["wkr010"] * 3))
    assert {a.status_code for a in answers} == {200}
    pending = {r["object_id"]: r for r in store.pending_webhooks()}
    assert pending["wkr01"]["deliveries"] == 50 and pending["wkr010"]["deliveries"] == 3
    assert pending["wkr01"]["id"] != first["id"]
    store.mark_webhooks_processed([pending["wkr01"]["id"]])
    assert store.enqueue_webhook(COMPANY, "employee.updated", "wkr01") is True
    assert store.enqueue_webhook(COMPANY, "employee.updated", "wkr01") is False
    with store.engine.connect() as db:
        keys = sorted(db.execute(sa.select(webhook_inbox.c.dedupe_key)).scalars())
    plain = f"{COMPANY}|employee.updated|wkr01"
    assert keys.count(plain) == 1  # the pending one; answered ones carry their row id
    assert sum(k.startswith(plain + "#") for k in keys) == 2  # answered: key#<row id>


def test_a_dead_lettered_event_keeps_its_reason_and_leaves_the_rest(store: AuditStore) -> None:
    for object_id in ("wkr01", "wkr02"):
        store.enqueue_webhook(COMPANY, "employee.updated", object_id)
    bad, good = store.pending_webhooks()
    store.dead_letter_webhooks([bad["id"]], "Rippling refused the request for this id (422)")
    assert [r["id"] for r in store.pending_webhooks()] == [good["id"]]
    [dead] = store.dead_webhooks()
    assert dead["id"] == bad["id"] and dead["processed_at"] is not None
    assert dead["dead_letter_reason"] == "Rippling refused the request for this id (422)"
    store.mark_webhooks_processed([bad["id"], good["id"]])  # an answered event stays as it is
    assert store.dead_webhooks()[0]["dead_letter_reason"].endswith("(422)")
    assert store.enqueue_webhook(COMPANY, "employee.updated", "wkr01") is True  # a later change
