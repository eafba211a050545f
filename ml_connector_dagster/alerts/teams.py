"""Microsoft Teams: the alert card POSTed to an incoming webhook.

The card is dagster-msteams' ``AdaptiveCard`` (``render.py``). The POST is ours, with httpx,
and not ``dagster_msteams.TeamsClient.post_message`` (0.29.27), for three reasons found in its
source:

- TLS: it calls the module-level ``requests.post`` on every send, so it cannot be handed the
  connector's SSL context (system trust plus ``ML_CONNECTOR_CA_BUNDLE``, ``transport/tls.py``).
  Its ``verify`` either keeps requests' bundle, which ``REQUESTS_CA_BUNDLE`` /
  ``CURL_CA_BUNDLE`` from the environment silently replace, or takes a CA file that *replaces*
  the system trust, so a private CA and the public one of real Teams cannot both be trusted.
- Secrets: the webhook URL is the secret (its path and query carry the signature), and
  ``TeamsClient`` puts it in exceptions: ``is_legacy_webhook`` fails with
  ``f"No hostname found in webhook URL: {hook_url}"``, and requests' connection errors quote
  the URL's path and query ("Max retries exceeded with url: /workflows/...?sig=...").
- Answers: any non-2xx answer becomes ``RequestException(response.text)`` without the status,
  so a retryable 429/5xx cannot be told from a 4xx that says the URL is wrong.

The sender here trusts exactly the connector's context, ignores proxy and CA variables
(``trust_env=False``, as the MSAL session does), follows no redirect (a redirect would carry
the signed URL elsewhere), and reports host and status, never the URL. httpx itself logs every
request's full URL at INFO ("HTTP Request: POST https://..."); a filter on its logger scrubs
the webhook URL from the records our own sends produce (a context variable says which).
"""

import logging
from contextvars import ContextVar
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from ml_connector_dagster.alerts.channels import DeliveryError, scrub
from ml_connector_dagster.alerts.model import Alert
from ml_connector_dagster.alerts.render import teams_payload
from ml_connector_dagster.transport.tls import describe_connection_failure, shared_ssl_context

_ANSWER_MAX = 200

# The secrets of the webhook being posted to, set only while this thread posts to it.
_POSTING: ContextVar[tuple[str, ...]] = ContextVar("teams_webhook_secrets", default=())


class _ScrubWebhookUrl(logging.Filter):
    """Rewrites httpx's log records made during our POST without the webhook's secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = _POSTING.get()
        if secrets:
            record.msg, record.args = scrub(record.getMessage(), secrets), ()
        return True


_FILTER = _ScrubWebhookUrl()
logging.getLogger("httpx").addFilter(_FILTER)  # the same object: added once per process


class TeamsChannel:
    """Posts alerts to one Teams incoming webhook (legacy connector or Workflows)."""

    name = "teams"

    def __init__(
        self, webhook_url: SecretStr, *, ca_bundle: str | None = None, timeout: float = 30.0
    ) -> None:
        self._url = webhook_url
        self._ca_bundle = ca_bundle
        self._timeout = timeout
        self.host = urlsplit(webhook_url.get_secret_value()).hostname or "?"

    def __repr__(self) -> str:
        return f"TeamsChannel(host={self.host!r})"

    def _secrets(self) -> list[str]:
        url = self._url.get_secret_value()
        parts = urlsplit(url)
        return [url, parts.path + ("?" + parts.query if parts.query else ""), parts.query]

    def send(self, alert: Alert) -> None:
        url = self._url.get_secret_value()
        posting = _POSTING.set(tuple(self._secrets()))
        try:
            with httpx.Client(
                verify=shared_ssl_context(self._ca_bundle),
                timeout=self._timeout,
                trust_env=False,
                follow_redirects=False,
            ) as client:
                response = client.post(url, json=teams_payload(alert))
        except httpx.HTTPError as exc:
            raise DeliveryError(
                scrub(f"Teams: {describe_connection_failure(exc, self.host)}", self._secrets())
            ) from None
        finally:
            _POSTING.reset(posting)
        legacy = self.host.endswith(".webhook.office.com")
        # The Office 365 connector webhooks answer 200 "1"; anything else there is a refusal
        # carried in a 200 (e.g. "Webhook message delivery failed with error: ...").
        accepted = response.is_success and (not legacy or response.text.strip() == "1")
        if not accepted:
            answer = response.text[:_ANSWER_MAX]
            raise DeliveryError(
                scrub(
                    f"Teams webhook at {self.host} answered HTTP {response.status_code}: {answer}",
                    self._secrets(),
                )
            )
