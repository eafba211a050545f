"""Resolve ``next_link`` safely: relative or absolute, but only ever on the API's own origin."""

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
