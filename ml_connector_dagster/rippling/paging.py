"""Follow ``next_link`` safely: only on the API's own origin, never in a loop, and with every
record id once.

Rippling builds the cursors; the client never does. So the client cannot prevent a page that
links back to one already read, or a record that appears on two pages (a record edited while a
list ordered by ``updated_at`` is being read moves to a later page), only notice them: a loop
would be followed for ever and a repeated record counted twice.
"""

import json
from typing import Any
from urllib.parse import urljoin, urlsplit

from ml_connector_dagster.rippling.errors import RipplingPagingError


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


def resolve_next_link(base_url: str, current_url: str, next_link: str) -> str:
    """The absolute URL of the next page; refuses another scheme, host or port.

    The bearer token travels with every request, so following a link to any other origin
    would hand it to that host.
    """
    absolute = urljoin(current_url, next_link)
    if _origin(absolute) != _origin(base_url):
        raise RipplingPagingError(
            f"refusing next_link to {urlsplit(absolute).netloc!r}: not the Rippling API host"
            f" {urlsplit(base_url).netloc!r}"
        )
    return absolute


class PageWalk:
    """What one walk through a list endpoint has seen: the pages and the record ids."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self._links: set[str] = set()
        self._records: dict[str, str] = {}  # id -> the record as first read (canonical JSON)

    def follow(self, url: str) -> None:
        """Refuse a page already read in this walk (the cursor loops)."""
        if url in self._links:
            raise RipplingPagingError(
                f"Rippling {self.endpoint}: next_link loops back to a page already read"
                f" ({urlsplit(url).path}); stopped instead of reading it for ever"
            )
        self._links.add(url)

    def first_time(self, raw: dict[str, Any]) -> bool:
        """False for an identical repeat of a record already read (skipped); a record that
        comes back different is refused by id: the list changed while it was being read."""
        record_id = raw.get("id")
        if record_id is None:
            return True  # the model names the missing id
        text = json.dumps(raw, sort_keys=True, default=str)
        seen = self._records.get(str(record_id))
        if seen is None:
            self._records[str(record_id)] = text
            return True
        if seen == text:
            return False
        raise RipplingPagingError(
            f"Rippling {self.endpoint} record {record_id} came back different on a later page:"
            " the list changed while it was being read; read it again"
        )
