"""Dynamics 365 F&O OData client: reads, keyed writes and ``$batch``, with F&O's throttling.

Every request carries ``cross-company=true`` (without it F&O shows only the caller's default
company) and a bearer token from Entra ID. A 401 evicts the cached token and retries once.
A 429 waits exactly its ``Retry-After`` (bounded by ``RetryPolicy.max_wait``); 5xx and
connection errors back off. Writes are retried only where a retry cannot duplicate data:
a 429 was never processed, so it is always safe; a create that failed ambiguously raises
``AmbiguousWriteError`` for the caller to check before writing again.

Sending is ``transport``'s: the Entra token and its one refresh after a 401 are a
``RefreshingBearerAuth`` flow, and one ``Sender`` decides retries (``RetryPolicy.retry_on``)
and raises the ambiguous write. This module only maps final answers to ``DynamicsError``s.
"""

import logging
import ssl
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
import requests

from ml_connector_dagster.credentials.models import DynamicsCredentials
from ml_connector_dagster.dynamics import batch as batch_codec
from ml_connector_dagster.dynamics.auth import DEFAULT_TOKEN_TIMEOUT_SECONDS, EntraTokenProvider
from ml_connector_dagster.dynamics.errors import (
    AmbiguousWriteError,
    BatchError,
    DynamicsAuthError,
    DynamicsNotFoundError,
    DynamicsRequestError,
    DynamicsUnavailableError,
    FailedOperation,
    odata_error_message,
)
from ml_connector_dagster.dynamics.odata import Literal, key_segment
from ml_connector_dagster.transport import jsonmoney
from ml_connector_dagster.transport.auth import RefreshingBearerAuth
from ml_connector_dagster.transport.inflight import InFlightCap
from ml_connector_dagster.transport.retry import ANY_SERVER_ERROR, RetryPolicy
from ml_connector_dagster.transport.send import Sender
from ml_connector_dagster.transport.tls import build_ssl_context, describe_connection_failure

log = logging.getLogger(__name__)

CROSS_COMPANY = "cross-company=true"
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
# F&O validates a changeset row by row and answers only when all of it is committed: a few
# thousand lines can take minutes. A read timeout shorter than that turns a write that is
# still committing into an ambiguous one; keep it well above.
DEFAULT_BATCH_TIMEOUT = httpx.Timeout(900.0, connect=10.0)
# F&O accepts up to 5,000 operations per batch; 1,000 keeps each changeset's commit short.
DEFAULT_CHANGESET_SIZE = 1000


class DynamicsClient:
    """One client per F&O environment. Use as a context manager, or call ``close``."""

    def __init__(
        self,
        credentials: DynamicsCredentials,
        *,
        ssl_context: ssl.SSLContext | None = None,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        changeset_size: int = DEFAULT_CHANGESET_SIZE,
        batch_timeout: httpx.Timeout = DEFAULT_BATCH_TIMEOUT,
        tokens: EntraTokenProvider | None = None,
        token_timeout: float = DEFAULT_TOKEN_TIMEOUT_SECONDS,
        in_flight: InFlightCap | None = None,
    ) -> None:
        """``timeout``: every request but ``$batch`` (``batch_timeout``). ``token_timeout``: the
        read timeout of each request to Entra ID, in seconds (unused with ``tokens``)."""
        if not 1 <= changeset_size <= batch_codec.MAX_OPERATIONS:
            raise ValueError(f"changeset_size must be 1..{batch_codec.MAX_OPERATIONS}")
        context = ssl_context or build_ssl_context()
        self.environment_url = credentials.environment_url
        self.data_url = f"{self.environment_url}/data"
        self.changeset_size = changeset_size
        self.batch_timeout = batch_timeout
        self.retry = retry or RetryPolicy(attempts=6, base=2.0, cap=60.0)
        self.tokens = tokens or EntraTokenProvider(
            credentials, context, self.retry, timeout=token_timeout
        )
        # Whether F&O has accepted a token of this app: tells "app not registered in F&O"
        # from "a token revoked or expired again right after its refresh" (``request``).
        self.token_accepted = False
        self._http = httpx.Client(
            verify=context,
            timeout=timeout,
            follow_redirects=False,
            headers={
                "Accept": "application/json",
                "OData-Version": "4.0",
                "OData-MaxVersion": "4.0",
                "User-Agent": "ml-connector-dagster",
            },
        )
        self.requests_sent = 0
        self._sender = Sender(
            service="Dynamics",
            policy=self.retry,
            auth=RefreshingBearerAuth(self._token, self.tokens.invalidate, self._count),
            unavailable=DynamicsUnavailableError,
            ambiguous=AmbiguousWriteError,
            server_errors=ANY_SERVER_ERROR,  # a read is worth another try on any 5xx
            log=log,
            cap=in_flight,
        )

    def __repr__(self) -> str:
        return f"DynamicsClient(environment_url={self.environment_url!r})"

    def __enter__(self) -> "DynamicsClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- transport ----------------------------------------------------------------------------
    def _url(self, path: str, with_cross_company: bool = True) -> str:
        url = f"{self.data_url}/{path.lstrip('/')}"
        if with_cross_company and CROSS_COMPANY not in url:
            url += ("&" if "?" in url else "?") + CROSS_COMPANY
        return url

    def _token(self) -> str:
        """An Entra token; Entra out of reach is "unavailable", not a bare requests error.

        ``EntraTokenProvider`` already says so precisely; this guards a provider passed in.
        """
        try:
            return self.tokens.token()
        except requests.RequestException as exc:
            host = urlsplit(str(getattr(exc.request, "url", "") or "")).netloc or "Entra ID"
            raise DynamicsUnavailableError(
                "no token from Entra ID: " + describe_connection_failure(exc, host)
            ) from None

    def _count(self, request: httpx.Request) -> None:
        self.requests_sent += 1

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        safe_to_retry: bool,
        timeout: httpx.Timeout | None = None,
    ) -> httpx.Response:
        """Send with auth, 401 refresh, Retry-After and bounded backoff.

        ``safe_to_retry`` says whether the request may be repeated after an ambiguous failure
        (a connection error or 5xx after it was sent). A 429 is always safe: F&O did not run it.
        """
        if params:
            # httpx replaces a URL's query with ``params``; merge so cross-company=true stays.
            url = str(httpx.URL(url).copy_merge_params(dict(params)))
        path = urlsplit(url).path
        label = f"{method} {path}"
        request = self._http.build_request(
            method, url, content=content, headers=headers, timeout=timeout or self._http.timeout
        )
        response = self._sender.send(
            self._http, request, path=path, label=label, idempotent=safe_to_retry
        )
        status = response.status_code
        if status == 401:
            # The auth flow already evicted the cached token and sent once more with a token
            # Entra had just issued; F&O refused that one too.
            raise DynamicsAuthError(self._refused_fresh_token(label))
        self.token_accepted = True
        if status >= 400:
            message = odata_error_message(_json_or_none(response), response.text[:500])
            error = DynamicsNotFoundError if status == 404 else DynamicsRequestError
            raise error(method, path, status, message)
        return response

    def _refused_fresh_token(self, label: str) -> str:
        """Why F&O refused a token Entra had just issued, as far as this client can know.

        F&O's 401 carries no reason. If it never accepted a token of this app, the likeliest
        cause is that the app is not registered in F&O. If it accepted one earlier, the app is
        known there, and the fresh token died at once: revoked or expired again, not a
        registration to add. (Single expiries are refreshed silently by the auth flow.)
        """
        head = f"Dynamics refused a fresh Entra token for {label} (401)"
        if not self.token_accepted:
            return (
                f"{head}, and has accepted no token of this app yet: register the app's"
                " client id in F&O under System administration > Setup > Microsoft Entra"
                " applications, mapped to a user with access"
            )
        return (
            f"{head} right after refusing the cached one, though it accepted this app's"
            " tokens earlier: the new token was revoked or expired at once (the app"
            " disabled in Entra or F&O meanwhile, or the clocks apart); try again, and if it"
            " persists check the app under System administration > Setup > Microsoft Entra"
            " applications"
        )

    # --- reads --------------------------------------------------------------------------------
    def iter_entities(
        self,
        entity_set: str,
        *,
        filter: str | None = None,
        select: Sequence[str] | None = None,
        top: int | None = None,
        orderby: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every matching row across server pages, following ``@odata.nextLink`` verbatim."""
        params: dict[str, str] = {}
        if filter:
            params["$filter"] = filter
        if select:
            params["$select"] = ",".join(select)
        if top is not None:
            params["$top"] = str(top)
        if orderby:
            params["$orderby"] = orderby
        url: str | None = self._url(entity_set)
        query: dict[str, str] | None = params
        while url:
            response = self.request("GET", url, params=query, safe_to_retry=True)
            body = jsonmoney.loads(response.content)
            yield from body.get("value", [])
            url = body.get("@odata.nextLink")
            if url and urlsplit(url).netloc != urlsplit(self.environment_url).netloc:
                raise DynamicsRequestError(
                    "GET", entity_set, 200, f"refusing @odata.nextLink to another host: {url}"
                )
            query = None

    def list_entities(self, entity_set: str, **kwargs: Any) -> list[dict[str, Any]]:
        return list(self.iter_entities(entity_set, **kwargs))

    def get_entity(self, entity_set: str, key: Mapping[str, Literal]) -> dict[str, Any] | None:
        """One row by its full key, or None when F&O has no such row."""
        try:
            response = self.request(
                "GET", self._url(key_segment(entity_set, key)), safe_to_retry=True
            )
        except DynamicsNotFoundError:
            return None
        return jsonmoney.loads(response.content)

    def metadata_ok(self) -> bool:
        """A cheap authenticated read of the service document."""
        response = self.request("GET", self._url(""), safe_to_retry=True)
        return "value" in jsonmoney.loads(response.content)

    # --- writes -------------------------------------------------------------------------------
    def create(self, entity_set: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """POST one entity; returns the created row F&O sends back (201)."""
        response = self.request(
            "POST",
            self._url(entity_set),
            content=jsonmoney.dumps(dict(values)).encode(),
            headers={"Content-Type": "application/json"},
            safe_to_retry=False,
        )
        return jsonmoney.loads(response.content)

    def patch(self, entity_set: str, key: Mapping[str, Literal], values: Mapping[str, Any]) -> None:
        """PATCH fields of one entity; setting the same values twice is harmless, so retried."""
        self.request(
            "PATCH",
            self._url(key_segment(entity_set, key)),
            content=jsonmoney.dumps(dict(values)).encode(),
            headers={"Content-Type": "application/json"},
            safe_to_retry=True,
        )

    def delete(self, entity_set: str, key: Mapping[str, Literal]) -> None:
        """DELETE one entity; a row already gone counts as deleted, so it is retried."""
        try:
            self.request("DELETE", self._url(key_segment(entity_set, key)), safe_to_retry=True)
        except DynamicsNotFoundError:
            return

    def batch(self, changesets: Sequence[Sequence[batch_codec.Operation]]) -> list[Any]:
        """Send changesets in one ``$batch``; return each operation's response body in order.

        Raises ``BatchError`` naming every failed operation (and the line it carried) when any
        changeset failed; nothing of a failed changeset was written.
        """
        built = batch_codec.build_batch(changesets, self.data_url, query=CROSS_COMPANY)
        response = self.request(
            "POST",
            self._url("$batch", with_cross_company=False),
            content=built.body,
            headers={"Content-Type": built.content_type},
            safe_to_retry=False,
            timeout=self.batch_timeout,
        )
        parts = batch_codec.parse_batch_response(
            response.content, response.headers.get("content-type", "")
        )
        by_id = {op.content_id: op for op in built.operations}
        failures = [
            FailedOperation(
                content_id=part.content_id,
                status=part.status,
                message=odata_error_message(part.body, str(part.body)[:300]),
                request=(by_id[part.content_id].body if part.content_id in by_id else None),
            )
            for part in parts
            if part.status >= 400
        ]
        if failures:
            raise BatchError(failures)
        if len(parts) != len(built.operations):
            raise DynamicsRequestError(
                "POST",
                "$batch",
                response.status_code,
                f"expected {len(built.operations)} answers, got {len(parts)}",
            )
        return [part.body for part in parts]

    def create_many(self, entity_set: str, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        """Create rows in one atomic ``$batch`` changeset: all of them land, or none.

        At most ``changeset_size`` rows; a caller with more splits them where a partial write
        would still make sense (the journal poster splits at voucher boundaries).
        """
        if len(rows) > self.changeset_size:
            raise ValueError(
                f"{len(rows)} rows exceed the changeset size {self.changeset_size}; split them"
            )
        operations = [
            batch_codec.Operation("POST", entity_set, dict(row), str(i))
            for i, row in enumerate(rows, start=1)
        ]
        return self.batch([operations])


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return jsonmoney.loads(response.content)
    except ValueError:
        return None
