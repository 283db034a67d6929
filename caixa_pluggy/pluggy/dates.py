"""Pluggy's dates and timestamps, read once and the same way everywhere.

Pluggy writes every date as a UTC timestamp. Two kinds arrive in the same field:

- a **calendar date** sent as a midnight: ``2024-10-22T00:00:00.000Z`` (most connectors), or
  ``2024-10-22T03:00:00.000Z``, Brazilian midnight in UTC (others); also a bare ``2024-10-22``;
- a **moment** with its time of day: an Itaú withdrawal at 23:59 on 22 October in São Paulo is
  ``2024-10-23T02:59:00Z``.

The bank's calendar date is the date of the value in the bank's time zone (America/Sao_Paulo unless the
company says otherwise), except for a value at exactly ``00:00:00Z``, which carries no time of day and keeps
its date: read in São Paulo it would fall on the previous day.
"""

import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

BANK_TIME_ZONE = "America/Sao_Paulo"
_UTC = datetime.timezone.utc  # noqa: UP017 - datetime.UTC needs Python 3.11; Odoo 18 still runs on 3.10


@lru_cache(maxsize=32)
def _zone(name):
    return ZoneInfo(name or BANK_TIME_ZONE)


def _parse(value):
    """An aware UTC datetime, a plain date (no time of day at all), or None when absent or unreadable."""
    if not value:
        return None
    if isinstance(value, datetime.datetime):
        return value.astimezone(_UTC) if value.tzinfo else value.replace(tzinfo=_UTC)
    if isinstance(value, datetime.date):
        return value
    text = str(value).strip()
    if len(text) == 10:
        try:
            return datetime.date.fromisoformat(text)
        except ValueError:
            return None
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(_UTC) if parsed.tzinfo else parsed.replace(tzinfo=_UTC)


def _is_date_only(moment):
    return not isinstance(moment, datetime.datetime) or moment.timetz() == datetime.time(tzinfo=_UTC)


def bank_date(value, time_zone=None):
    """The bank's calendar date of a Pluggy date (see the module docstring); None if absent or unreadable."""
    moment = _parse(value)
    if moment is None:
        return None
    if _is_date_only(moment):
        return moment if not isinstance(moment, datetime.datetime) else moment.date()
    return moment.astimezone(_zone(time_zone)).date()


def bank_datetime(value, time_zone=None):
    """A Pluggy date or timestamp as Odoo stores a Datetime (naive UTC); None when absent or unreadable.

    A calendar date (a consent that expires on 31 January) becomes the bank's midnight of that date, so that
    Odoo shows 31/01 00:00 to a user in the bank's time zone instead of the evening before.
    """
    moment = _parse(value)
    if moment is None:
        return None
    if _is_date_only(moment):
        day = moment if not isinstance(moment, datetime.datetime) else moment.date()
        moment = datetime.datetime.combine(day, datetime.time(), _zone(time_zone))
    return moment.astimezone(_UTC).replace(tzinfo=None)


def local_date(moment, time_zone=None):
    """The calendar date, in the bank's time zone, of a moment Odoo stored (a naive UTC Datetime)."""
    if isinstance(moment, datetime.datetime):
        moment = (moment if moment.tzinfo else moment.replace(tzinfo=_UTC)).astimezone(_zone(time_zone))
        return moment.date()
    return moment


def parse_timestamp(value):
    """A Pluggy timestamp (``createdAt``, ``updatedAt``...) as a naive UTC datetime, for comparing moments;
    None when absent or unreadable."""
    moment = _parse(value)
    if not isinstance(moment, datetime.datetime):
        return None
    return moment.replace(tzinfo=None)


def format_timestamp(value):
    """ISO-8601 UTC with milliseconds and ``Z``, as Pluggy writes and reads them (``createdAtFrom``); naive
    datetimes are taken as UTC (as Odoo stores them). Anything else passes through."""
    if not isinstance(value, datetime.datetime):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=_UTC)
    return value.astimezone(_UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
