"""One account's transactions: kept sorted by (date, id) for cursor pages, balances derived from the rows."""

from __future__ import annotations

import base64
import binascii
import re
from bisect import bisect_left, bisect_right
from decimal import Decimal

from .errors import bad_request
from .jsonio import CENT, is_uuid

ZERO = Decimal("0.00")
_CURSOR_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def encode_cursor(row: dict) -> str:
    return base64.b64encode(f"{row['date']}|{row['id']}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[str, str]:
    """``after`` -> (date, id); anything else is Pluggy's 400 "Invalid cursor"."""
    try:
        text = base64.b64decode(cursor.replace(" ", "+"), validate=True).decode()
        day, row_id = text.split("|")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise bad_request("Invalid cursor") from exc
    if not _CURSOR_DATE.match(day) or not is_uuid(row_id):
        raise bad_request("Invalid cursor")
    return day, row_id


class Ledger:
    """Rows of one account plus what is derived from them (sort keys, order, running balance, totals)."""

    def __init__(self, account: dict, opening: Decimal, card_expense_positive: bool):
        self.account = account
        self.opening = opening
        self.card_sign = Decimal(1) if card_expense_positive else Decimal(-1)
        self.rows: dict[str, dict] = {}
        self._sorted: list[dict] = []
        self._keys: list[tuple[str, str]] = []
        self._dirty = True

    def add(self, row: dict) -> None:
        self.rows[row["id"]] = row
        self._dirty = True

    def remove(self, row_id: str) -> dict:
        self._dirty = True
        return self.rows.pop(row_id)

    def touch(self) -> None:
        self._dirty = True

    def sorted_rows(self) -> list[dict]:
        self._refresh()
        return self._sorted

    def _refresh(self) -> None:
        if not self._dirty:
            return
        rows = sorted(self.rows.values(), key=lambda r: (r["date"], r["id"]))
        self._sorted = rows
        self._keys = [(r["date"], r["id"]) for r in rows]
        is_bank = self.account["type"] == "BANK"
        running = self.opening
        pending_total = ZERO
        owed = ZERO
        previous_day, order = None, 0
        for row in rows:
            order = order + 1 if row["date"] == previous_day else 0
            previous_day = row["date"]
            row["order"] = order
            value = row["amount"]
            if row.get("amountInAccountCurrency") is not None and row.get("currencyCode") != "BRL":
                value = row["amountInAccountCurrency"]
            if row["status"] != "POSTED":
                pending_total += value
                if is_bank:
                    row["balance"] = None
                continue
            if is_bank:
                running += value
                row["balance"] = running
            else:
                owed += value * self.card_sign
        account = self.account
        if is_bank:
            account["balance"] = running.quantize(CENT)
            account["bankData"]["closingBalance"] = (running + pending_total).quantize(CENT)
        else:
            # What the card's rows owe; State adds its bills' finance charges (see BillsMixin.card_balance).
            self.owed = owed.quantize(CENT)
        self._dirty = False

    def page(
        self,
        *,
        page_size: int,
        date_from: str | None,
        date_to: str | None,
        created_from: str | None,
        ids: set | None,
        after: tuple[str, str] | None,
    ) -> tuple[list[dict], str | None]:
        """One cursor page: rows ordered by (date, id), the cursor of the last one when more match."""
        self._refresh()
        rows, keys = self._sorted, self._keys
        start = bisect_right(keys, after) if after else 0
        if date_from:
            start = max(start, bisect_left(keys, (date_from, "")))
        out: list[dict] = []
        more = False
        for i in range(start, len(rows)):
            row = rows[i]
            if date_to and row["date"] > date_to:
                break
            if created_from and row["createdAt"] < created_from:
                continue
            if ids is not None and row["id"] not in ids:
                continue
            if len(out) == page_size:
                more = True
                break
            out.append(row)
        return out, (encode_cursor(out[-1]) if more else None)
