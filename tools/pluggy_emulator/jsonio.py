"""JSON helpers: money as exact 2-decimal JSON numbers, timestamps in Pluggy's ISO shape, seeded UUIDs."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

CENT = Decimal("0.01")
# json.dumps cannot write a raw number for an unknown type, so Decimals travel as a marked string that is
# swapped back for the bare number text afterwards: exact digits, no float on the way.
_MARK = "\x00#"
_MARK_RE = re.compile(r'"\\u0000#(-?[0-9]+(?:\.[0-9]+)?)"')


def money(value) -> Decimal:
    """Quantize a number or numeric string to cents; raise ValueError when it is not a number."""
    if isinstance(value, float):
        value = repr(value)
    try:
        result = Decimal(str(value)).quantize(CENT)
    except (InvalidOperation, TypeError) as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    if not result.is_finite():
        raise ValueError(f"not a number: {value!r}")
    return result


def _default(obj):
    if isinstance(obj, Decimal):
        return _MARK + format(obj, "f")
    if isinstance(obj, (set, tuple)):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def dumps(obj) -> str:
    """Serialise with Decimals written as JSON numbers exactly as quantized (e.g. -10.50)."""
    return _MARK_RE.sub(r"\1", json.dumps(obj, default=_default, ensure_ascii=False, separators=(",", ":")))


def loads(text):
    """Parse request JSON with every non-integer number as a Decimal."""
    return json.loads(text, parse_float=Decimal)


def iso_ms(moment: datetime) -> str:
    """``2025-02-13T17:21:53.719Z``: UTC with milliseconds, the shape of every Pluggy timestamp."""
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_iso() -> str:
    return iso_ms(datetime.now(timezone.utc))


def day_iso(day: date) -> str:
    """A posting date as Pluggy sends it: UTC midnight."""
    return day.strftime("%Y-%m-%dT00:00:00.000Z")


_TS_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_timestamp(text: str) -> datetime:
    """Parse an ISO date or timestamp (Z, offset or naive=UTC) into an aware UTC datetime."""
    match = _TS_RE.match((text or "").strip())
    if not match:
        raise ValueError(f"invalid timestamp: {text!r}")
    year, month, day, hour, minute, second, frac, tz = match.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    moment = datetime(
        int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro
    )
    offset = timedelta(0)
    if tz and tz != "Z":
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return (moment - offset).replace(tzinfo=timezone.utc)


def parse_day(text: str) -> date:
    """Parse ``YYYY-MM-DD`` (a longer ISO string is cut to its calendar date)."""
    if not isinstance(text, str) or not re.match(r"^\d{4}-\d{2}-\d{2}", text):
        raise ValueError(f"invalid date: {text!r}")
    return date.fromisoformat(text[:10])


def seeded_uuid(rng) -> str:
    """A version-4 UUID drawn from a seeded ``random.Random``."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def is_uuid(text) -> bool:
    try:
        uuid.UUID(str(text))
    except ValueError:
        return False
    return True
