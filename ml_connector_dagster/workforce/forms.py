"""Read ``application/x-www-form-urlencoded`` bodies without python-multipart.

Starlette's ``request.form()`` needs the optional python-multipart package; Rippling's webhooks
are url-encoded forms, which the standard library parses.
"""

from urllib.parse import parse_qsl


def parse_urlencoded(body: bytes) -> dict[str, str]:
    """The form's fields; a repeated field keeps its last value."""
    return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
