"""What a Rippling id looks like, and how one goes into a URL path.

Ids reach the connector from outside (a webhook's ``id``, v1 activity, run config) and end up
in Rippling URLs (``/workers/{id}/``) and OData-like filters (``user_id eq '<id>'``). An id
that is really a path (``../payroll-runs``) once reached another endpoint and failed a whole
webhook-driven run, so ids are checked where they come in (``is_rippling_id``, one definition
for the receiver and the resolver) *and* every path segment the clients build is escaped
(``path_segment``), so neither check alone stands between input and a URL.
"""

import re
from urllib.parse import quote

# Rippling ids are short tokens (24 hex digits in every published example; the form is not
# documented, so letters, digits, '-' and '_' are allowed, up to the inbox's 100 characters).
# ``fullmatch``, never ``match`` with ``$``: ``$`` also matches before a trailing newline.
RIPPLING_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")


class InvalidPathSegment(ValueError):
    """A value that cannot be one segment of a URL path (empty, ``.`` or ``..``)."""


def is_rippling_id(value: object) -> bool:
    """True for a string of the form every Rippling id has (see ``RIPPLING_ID``)."""
    return isinstance(value, str) and RIPPLING_ID.fullmatch(value) is not None


def path_segment(value: str) -> str:
    """``value`` as exactly one URL path segment: every reserved character percent-encoded
    (``/`` too, so it cannot add segments), and the empty, ``.`` and ``..`` segments refused,
    since no escaping stops a URL resolver from collapsing those."""
    if value in ("", ".", ".."):
        raise InvalidPathSegment(f"{value!r} cannot be a URL path segment")
    return quote(value, safe="")
