"""The one send loop both clients use: auth flow, retries by ``RetryPolicy``, ambiguity raised.

A client builds one ``Sender`` (its service name, policy, auth and error types) and hands it
each request. The sender waits and re-sends while ``RetryPolicy.retry_on`` says so, raises the
client's "unavailable" error when the budget is spent and its "ambiguous" error the moment a
write's outcome is unknown; every other answer goes back to the client, which maps the final
4xx (401 after the refresh, 403, 404, ...) to its own precise errors. A certificate the
connector does not trust is never retried: it is the client's "unavailable" error at once,
naming the host and ``ML_CONNECTOR_CA_BUNDLE``.
"""

import logging
from collections.abc import Callable, Container
from contextlib import nullcontext
from dataclasses import dataclass, field

import httpx

from ml_connector_dagster.transport.inflight import InFlightCap
from ml_connector_dagster.transport.retry import (
    RETRYABLE_ERRORS,
    TRANSIENT_SERVER_ERRORS,
    RetryPolicy,
    Verdict,
)
from ml_connector_dagster.transport.tls import CA_ADVICE, untrusted_certificate

ErrorFactory = Callable[[str], Exception]


@dataclass(frozen=True)
class Sender:
    """How one service's requests are sent: its auth, its retry policy, its error types.

    ``service`` opens every log line and error ("Rippling", "Dynamics"). ``ambiguous`` is the
    error for a write that may have landed; a read-only service leaves it unset and gets
    ``unavailable`` (it is then never raised, as every request it sends is idempotent).
    ``log`` is the client's logger, so each line keeps the name it always had.
    """

    service: str
    policy: RetryPolicy
    auth: httpx.Auth
    unavailable: ErrorFactory
    ambiguous: ErrorFactory | None = None
    server_errors: Container[int] = TRANSIENT_SERVER_ERRORS
    log: logging.Logger = field(default_factory=lambda: logging.getLogger(__name__))
    # The machine-wide cap on this service's requests in flight (``inflight.py``): held while
    # a request is sent and its answer read, never during a retry's wait.
    cap: InFlightCap | None = None

    def send(
        self,
        http: httpx.Client,
        request: httpx.Request,
        *,
        path: str,
        label: str,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """The first answer that is not worth another try.

        ``path`` is what the debug line names; ``label`` is what the retry lines and errors name
        after the service (an endpoint, or "METHOD path"). ``idempotent`` overrides the method's
        standard meaning, see ``RetryPolicy.retry_on``.
        """
        method = request.method
        attempt = 0
        while True:
            try:
                with self.cap.slot() if self.cap is not None else nullcontext():
                    response = http.send(request, auth=self.auth)
            except RETRYABLE_ERRORS as exc:
                untrusted = untrusted_certificate(exc)
                if untrusted is not None:
                    # The same certificate will be refused again: say so now, not after the
                    # whole retry budget has been slept through.
                    host = request.url.netloc.decode("ascii")
                    raise self.unavailable(
                        f"{self.service} {label}: the TLS certificate of {host} is not"
                        f" trusted ({untrusted}): {CA_ADVICE}"
                    ) from None
                why = type(exc).__name__
                verdict = self.policy.retry_on_error(method, exc, idempotent=idempotent)
                if verdict is Verdict.AMBIGUOUS:
                    raise self._ambiguous(
                        f"{self.service} {label}: connection lost after sending ({why});"
                        " check whether it landed before writing again"
                    ) from None
                host = request.url.netloc.decode("ascii")
                attempt = self._pause(label, attempt, None, f"{why} from {host}")
                continue
            status = response.status_code
            self.log.debug("%s %s -> %s", method, path, status)
            verdict = self.policy.retry_on(
                method, status, idempotent=idempotent, server_errors=self.server_errors
            )
            if verdict is Verdict.AMBIGUOUS:
                raise self._ambiguous(
                    f"{self.service} {label} answered {status}; the write may or may not"
                    " have landed: check before writing again"
                )
            if verdict is Verdict.RETRY:
                attempt = self._pause(label, attempt, response, str(status))
                continue
            return response

    def _pause(self, label: str, attempt: int, response: httpx.Response | None, why: str) -> int:
        """Sleep before the next try (Retry-After, else jittered backoff), or give up."""
        if attempt + 1 >= self.policy.attempts:
            raise self.unavailable(
                f"{self.service} {label}: gave up after {self.policy.attempts} attempts"
                f" (last: {why})"
            )
        wait = self.policy.wait_for(response, attempt)
        self.log.info("%s %s answered %s; retrying in %.1fs", self.service, label, why, wait)
        self.policy.sleep(wait)
        return attempt + 1

    def _ambiguous(self, message: str) -> Exception:
        return (self.ambiguous or self.unavailable)(message)
