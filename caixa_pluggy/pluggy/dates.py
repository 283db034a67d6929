"""Pluggy timestamps as Odoo stores them: naive datetimes in UTC."""

from datetime import datetime, timezone


def parse_datetime(value):
    """``"2024-03-01T12:30:00.000Z"`` -> naive UTC datetime; None or unparsable -> None."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def format_datetime(value):
    """A naive UTC datetime -> the ISO form Pluggy accepts in ``createdAtFrom``."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
