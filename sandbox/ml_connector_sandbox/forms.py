"""Read ``application/x-www-form-urlencoded`` bodies without python-multipart.

Starlette's ``request.form()`` needs the optional python-multipart package; the OAuth token
endpoints only ever receive url-encoded forms, which the standard library parses.
"""

from urllib.parse import parse_qsl

from starlette.requests import Request


async def read_urlencoded_form(request: Request) -> dict[str, str]:
    """The request's form fields; a repeated field keeps its last value, as OAuth servers do."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return dict(parse_qsl(body, keep_blank_values=True))
