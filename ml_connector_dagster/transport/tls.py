"""One ``ssl.SSLContext`` for every outbound call: system trust plus an optional extra CA.

httpx 0.28 deprecates ``verify=<path>``, and requests ignores ``verify`` whenever
``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` are set, so the connector builds the context itself
and hands the same one to httpx and to the requests session it gives MSAL.
"""

import ssl
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter


class CaBundleError(ValueError):
    """The configured CA file cannot be used; names the file."""


def build_ssl_context(ca_bundle: str | Path | None = None) -> ssl.SSLContext:
    """System trust store, plus ``ca_bundle`` (a PEM file, e.g. a corporate proxy's CA)."""
    context = ssl.create_default_context()
    if ca_bundle:
        path = Path(ca_bundle)
        if not path.is_file():
            raise CaBundleError(f"ML_CONNECTOR_CA_BUNDLE {path} is not a readable file")
        try:
            context.load_verify_locations(cafile=str(path))
        except ssl.SSLError as exc:
            raise CaBundleError(
                f"ML_CONNECTOR_CA_BUNDLE {path} holds no usable PEM certificate"
            ) from exc
    return context


class _SSLContextAdapter(HTTPAdapter):
    """A requests adapter that verifies with our context instead of requests' own bundle."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__()

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)  # type: ignore[arg-type]

    def proxy_manager_for(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        kwargs["ssl_context"] = self._context
        return super().proxy_manager_for(*args, **kwargs)  # type: ignore[arg-type]


def requests_session(context: ssl.SSLContext) -> requests.Session:
    """A requests session (for MSAL) that trusts exactly ``context``, whatever the environment says.

    ``trust_env=False`` stops requests from swapping in ``REQUESTS_CA_BUNDLE``; proxies from the
    environment are then also ignored, which is the safer default for a token endpoint.
    """
    session = requests.Session()
    session.trust_env = False
    adapter = _SSLContextAdapter(context)
    session.mount("https://", adapter)
    return session
