"""One ``ssl.SSLContext`` for every outbound call: system trust plus an optional extra CA.

httpx 0.28 deprecates ``verify=<path>``, and requests ignores ``verify`` whenever
``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` are set, so the connector builds the context itself
and hands the same one to httpx and to the requests session it gives MSAL.
"""

import hashlib
import ssl
import threading
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


_SHARED: dict[str, ssl.SSLContext] = {}  # by the CA file's SHA-256 ('' for none)
_SHARED_LOCK = threading.Lock()


def shared_ssl_context(ca_bundle: str | Path | None = None) -> ssl.SSLContext:
    """``build_ssl_context``'s context, built once per process and CA file.

    Loading the system trust store costs about 25 ms of CPU, and every client a run opens asked
    for it again (41 times in a 12-company pay period: issue 12). A context is safe to share
    between clients and threads once built. The CA file's content (its SHA-256) is the key, so
    a replaced bundle is loaded anew; a file that cannot be used raises as
    ``build_ssl_context`` does, every time, and is never kept.
    """
    key = ""
    if ca_bundle:
        path = Path(ca_bundle)
        try:
            key = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            return build_ssl_context(path)  # raises CaBundleError naming the file
    with _SHARED_LOCK:
        context = _SHARED.get(key)
        if context is None:
            context = build_ssl_context(ca_bundle)
            _SHARED[key] = context
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


# What to do about a certificate the connector does not trust; the same words everywhere.
CA_ADVICE = (
    "if a private CA or a TLS-inspecting proxy signs it, set ML_CONNECTOR_CA_BUNDLE to that"
    " CA's PEM file (or store it with `ml-connector credentials set ... --ca-bundle`)"
)


def _linked(error: BaseException) -> list[BaseException]:
    """The exceptions one error wraps: cause, context, a urllib3 ``reason``, exception args."""
    linked: list[BaseException] = [e for e in (error.__cause__, error.__context__) if e is not None]
    reason = getattr(error, "reason", None)
    if isinstance(reason, BaseException):
        linked.append(reason)
    linked.extend(arg for arg in getattr(error, "args", ()) if isinstance(arg, BaseException))
    return linked


def ssl_error_in(error: BaseException) -> ssl.SSLError | None:
    """The ``ssl.SSLError`` behind an httpx or requests error, if one is.

    httpx keeps it as the cause or context of its ``ConnectError``; requests buries it in
    urllib3's ``MaxRetryError.reason`` inside its own ``SSLError``'s args.
    """
    seen: set[int] = set()
    todo = [error]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return current
        todo.extend(_linked(current))
    return None


def untrusted_certificate(error: BaseException) -> str | None:
    """Why the server's certificate was refused (e.g. "self-signed certificate in certificate
    chain"), when ``error`` is a failed certificate check; None for any other failure.

    A refused certificate will be refused again: callers report it at once instead of
    retrying, and say what to configure.
    """
    found = ssl_error_in(error)
    if isinstance(found, ssl.SSLCertVerificationError):
        return str(found.verify_message or found.reason or "certificate verify failed")
    if found is not None and "CERTIFICATE_VERIFY_FAILED" in str(found):
        return "certificate verify failed"
    return None


def describe_connection_failure(error: BaseException, host: str) -> str:
    """One line for an operator: the host, what went wrong, and what to do about it."""
    untrusted = untrusted_certificate(error)
    if untrusted is not None:
        return f"the TLS certificate of {host} is not trusted ({untrusted}): {CA_ADVICE}"
    found = ssl_error_in(error)
    if found is not None:
        return f"TLS with {host} failed ({found.reason or type(found).__name__})"
    return (
        f"could not connect to {host} ({type(error).__name__}): check the URL, DNS, the"
        " firewall and any proxy between here and it"
    )
