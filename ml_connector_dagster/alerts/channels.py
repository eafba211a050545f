"""What a channel is to the outbox: a name, a ``send``, and errors that hold no secret.

A failed send raises ``DeliveryError`` with a text the outbox stores and the sensor logs. That
text is built by the channel from what it knows is safe (host, status code, the server's own
answer) and then scrubbed of every secret the channel holds, because a library's exception
text may quote a URL (the Teams webhook URL is the secret) or a server may echo what it got.
"""

from collections.abc import Iterable
from typing import Protocol

from ml_connector_dagster.alerts.model import Alert

REDACTED = "[redacted]"
_ERROR_MAX = 500


class DeliveryError(RuntimeError):
    """A channel could not deliver an alert; the text is safe to store and log."""


class Channel(Protocol):
    """A way to tell people: ``teams`` or ``email`` (the outbox's column prefixes)."""

    name: str

    def send(self, alert: Alert) -> None:
        """Deliver ``alert`` or raise ``DeliveryError``."""
        ...


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (and its URL-quoted forms) replaced, cut to one short line.

    Longest first, so a secret containing another is replaced whole.
    """
    from urllib.parse import quote

    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        for form in {secret, quote(secret, safe=""), quote(secret, safe="/:")}:
            text = text.replace(form, REDACTED)
    return " ".join(text.split())[:_ERROR_MAX]
