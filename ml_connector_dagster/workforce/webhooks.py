"""Rippling webhook receiver: authenticate, store in the inbox, answer at once.

Rippling POSTs form-encoded ``event_name, company_id, company_primary_email, id`` with no
signature. Every delivery is authenticated: by the static bearer token configured in Rippling
(compared in constant time), and/or by an unguessable secret in the URL path where no token is
set up; a delivery for a company not configured here is refused. The event goes into the audit
store's inbox (a repeat of a pending event collapses into it) and nothing else happens in the
request: the worker is re-read from Rippling later, by whoever drains the inbox.

The ``id`` is the Rippling *employee* id, stored as it came once it has the form every
Rippling id has (``rippling.ids.is_rippling_id``, the check the resolver makes too): anything
else is refused with 400 at intake, because a stored ``../payroll-runs`` once went into a URL,
failed the whole webhook-driven run and was carried along by every later batch. The run that
drains the inbox resolves the id to a v2 worker (``resolve.py``), since Rippling does not
document that the two ids are equal.

Intake is idempotent under concurrency: identical deliveries racing each other collapse into
one pending event (``AuditStore.enqueue_webhook`` says how, and what a repeat after processing
does), so a burst never answers 500.

Which events count is ``triggers.WORKER_EVENTS`` (``employee.rehired``, not in the published
description, is accepted as a harmless trigger; nothing relies on it).
"""

import hmac
import json
import logging
from collections.abc import AsyncGenerator, Iterable

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.formparsers import FormParser
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ml_connector_dagster.audit.store import AuditStore
from ml_connector_dagster.rippling.ids import is_rippling_id
from ml_connector_dagster.workforce.triggers import WORKER_EVENTS

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/rippling/webhooks"
MAX_BODY = 16 * 1024
MIN_PATH_SECRET = 24
MAX_FIELD = 100  # the inbox columns are 100 characters


class BodyTooLarge(Exception):
    pass


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def _form_fields(request: Request, body: bytes) -> dict[str, str]:
    """The url-encoded form in ``body`` (already read, within ``MAX_BODY``); a repeated field
    keeps its last value, a field without a value is blank.

    Starlette's own parser (python-multipart), fed the body we read rather than
    ``request.form()``: that one would read the stream itself, with no size limit, and would
    only parse bodies labelled ``application/x-www-form-urlencoded`` (or multipart), where any
    body not labelled JSON has always been read as a form here. Its limits are set to the body
    limit, which already bounds the work. Raw non-ASCII bytes (not %-escaped, which no form
    encoder sends) are read as Latin-1, where ``urllib.parse`` read them as UTF-8.
    """

    async def chunks() -> AsyncGenerator[bytes, None]:
        yield body

    parser = FormParser(request.headers, chunks(), max_fields=MAX_BODY, max_part_size=MAX_BODY)
    form = await parser.parse()
    return {name: value for name, value in form.multi_items() if isinstance(value, str)}


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _refuse(status: int, error: str) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=status)


def create_webhook_app(
    store: AuditStore,
    *,
    bearer_token: SecretStr | None,
    path_secret: str | None,
    known_company_ids: Iterable[str],
) -> Starlette:
    """The receiver. At least one of ``bearer_token`` and ``path_secret`` is required; with
    both, a delivery must carry both. ``known_company_ids`` must not be empty."""
    token = bearer_token.get_secret_value() if bearer_token is not None else None
    companies = frozenset(c.strip() for c in known_company_ids if c and c.strip())
    if not token and not path_secret:
        raise ValueError(
            "webhooks need authentication: set a bearer token (ML_CONNECTOR_WEBHOOK_TOKEN)"
            " and/or a URL path secret (ML_CONNECTOR_WEBHOOK_PATH_SECRET)"
        )
    if path_secret is not None and (
        len(path_secret) < MIN_PATH_SECRET
        or not path_secret.replace("-", "").replace("_", "").isalnum()
    ):
        raise ValueError(
            f"the webhook path secret must be at least {MIN_PATH_SECRET} URL-safe characters"
            " (letters, digits, '-', '_'); generate one with"
            " python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    if not companies:
        raise ValueError(
            "no Rippling company ids configured (ML_CONNECTOR_RIPPLING_COMPANY_IDS):"
            " every delivery would be refused"
        )

    async def receive(request: Request) -> JSONResponse:
        if path_secret is not None and not _same(
            str(request.path_params.get("secret", "")), path_secret
        ):
            return _refuse(404, "not found")
        if token:
            header = request.headers.get("authorization", "")
            scheme, _, given = header.partition(" ")
            if scheme.lower() != "bearer" or not _same(given.strip(), token):
                log.warning("webhook refused: missing or wrong bearer token")
                return _refuse(401, "unauthorized")
        try:
            body = await _read_body(request)
        except BodyTooLarge:
            return _refuse(413, "body too large")
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/json":
            try:
                data = json.loads(body or b"{}")
            except ValueError:
                return _refuse(400, "body is not JSON")
            if not isinstance(data, dict):
                return _refuse(400, "body is not a JSON object")
            fields = {k: str(v) for k, v in data.items() if v is not None}
        else:
            fields = await _form_fields(request, body)
        event_name = fields.get("event_name", "").strip()
        company_id = fields.get("company_id", "").strip()
        object_id = fields.get("id", "").strip()
        if not event_name or not company_id or not object_id:
            return _refuse(400, "event_name, company_id and id are required")
        if any(len(v) > MAX_FIELD for v in (event_name, company_id, object_id)):
            return _refuse(400, "a field is too long")
        if company_id not in companies:
            log.warning("webhook refused: unknown company id %r", company_id[:40])
            return _refuse(403, "unknown company")
        if event_name not in WORKER_EVENTS:
            log.info("webhook %r for %r ignored (not a worker event)", event_name, object_id)
            return JSONResponse({"accepted": False, "ignored": event_name})
        if not is_rippling_id(object_id):
            # Never stored: it would end up in a Rippling URL or filter. Logged with repr, so
            # control characters in it cannot forge log lines.
            log.warning("webhook %s refused: id %r is not a Rippling id", event_name, object_id)
            return _refuse(400, "id is not a Rippling id")
        new = await run_in_threadpool(store.enqueue_webhook, company_id, event_name, object_id)
        log.info("webhook %s %s stored (%s)", event_name, object_id, "new" if new else "repeat")
        return JSONResponse({"accepted": True, "duplicate": not new})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    path = f"{WEBHOOK_PATH}/{{secret}}" if path_secret is not None else WEBHOOK_PATH
    return Starlette(
        routes=[
            Route(path, receive, methods=["POST"]),
            Route("/healthz", health, methods=["GET"]),
        ]
    )
