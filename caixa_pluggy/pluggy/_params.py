"""How Pluggy wants its query strings, paths and cursors written (pure functions, used by the client)."""

import datetime
from urllib.parse import quote, unquote, urlsplit

IDS_PER_REQUEST = 500  # Pluggy answers 400 IDS_PARAMETER_EXCEEDS_MAX_LENGTH beyond this


def query(params):
    """Drop None values; booleans as lowercase ``true``/``false`` (Python's ``True`` is ignored by Pluggy);
    sequences joined by commas."""
    result = {}
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (list, tuple, set, frozenset)):
            value = ",".join(str(v) for v in value)
        result[name] = value
    return result


def compact(mapping):
    """``mapping`` without its None values (for JSON bodies where absent and null differ)."""
    return {key: value for key, value in mapping.items() if value is not None}


def resource_path(collection, resource_id):
    """``/collection/<id>`` with the id escaped, so an id can never reach another path."""
    return f"/{collection}/{quote(str(resource_id), safe='')}"


def cursor_after(next_link):
    """The ``after`` value of Pluggy's relative ``next`` query string (``?accountId=...&after=...``), or None.

    ``unquote``, not ``parse_qs``: a base64 cursor may carry a raw ``+`` that form decoding would turn into a
    space.
    """
    link_query = urlsplit(next_link).query or next_link.lstrip("?")
    for pair in link_query.split("&"):
        name, _, value = pair.partition("=")
        if name == "after" and value:
            return unquote(value)
    return None


def id_chunks(ids, size=IDS_PER_REQUEST):
    """Yield lists of at most ``size`` distinct ids, in order.

    ``ids`` may also be a comma-separated string.
    """
    if isinstance(ids, str):
        ids = ids.split(",")
    unique = list(dict.fromkeys(i.strip() for i in map(str, ids) if i.strip()))
    for start in range(0, len(unique), size):
        yield unique[start : start + size]


def format_date(value):
    """``YYYY-MM-DD`` from a date (an aware datetime is read in UTC); strings pass through."""
    if isinstance(value, datetime.datetime):
        value = value.astimezone(datetime.timezone.utc).date() if value.tzinfo else value.date()  # noqa: UP017
    return value.isoformat() if isinstance(value, datetime.date) else value
