"""Credit-card bills (``GET /bills``), derived from a card's rows as a bank closes them.

A card's bill closes on the 5th and is due on the 15th: it holds the purchases and fees posted since the last
closing, plus the IOF of its purchases in another currency and, when it was paid late, interest; the card's
bill payments posted after the closing are its payments.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from .errors import bad_request, not_found
from .jsonio import CENT, day_iso, is_uuid

CLOSING_DAY, DUE_DAY = 5, 15
# IOF on purchases in another currency, and the interest of a bill paid after its due date.
IOF_RATE = Decimal("0.0438")
LATE_INTEREST_RATE = Decimal("0.02")
ZERO = Decimal("0.00")


def _bill_day(closing: date, day: int, months_after: int = 0) -> date:
    month = closing.month - 1 + months_after
    return date(closing.year + month // 12, month % 12 + 1, day)


def _naive(day: date) -> str:
    # As Pluggy's own example sends bill dates: no time zone.
    return day.strftime("%Y-%m-%dT00:00:00")


class BillsMixin:
    """Mixed into State; uses its ``accounts``, ``ledgers`` and ``today()``."""

    def bills_page(self, query: dict) -> dict:
        account_id = query.get("accountId")
        if not account_id or not is_uuid(account_id):
            raise bad_request("accountId should not be null or undefined, accountId must be a UUID")
        if account_id not in self.accounts:
            raise not_found("ACCOUNT")
        bills = self.card_bills(account_id)
        return {"page": 1, "total": len(bills), "totalPages": 1 if bills else 0, "results": bills}

    def bill(self, bill_id: str) -> dict:
        for account_id, account in self.accounts.items():
            if account["type"] == "CREDIT":
                for bill in self.card_bills(account_id):
                    if bill["id"] == bill_id:
                        return bill
        raise not_found("BILL")

    def card_bills(self, account_id: str) -> list[dict]:
        account = self.accounts[account_id]
        if account["type"] != "CREDIT":
            return []
        rows = [row for row in self.ledgers[account_id].sorted_rows() if row["status"] == "POSTED"]
        if not rows:
            return []
        today = self.today()
        first = date.fromisoformat(rows[0]["date"][:10])
        closing = _bill_day(first, CLOSING_DAY, 0 if first.day <= CLOSING_DAY else 1)
        bills, opened = [], date.min
        while closing <= today:
            next_closing = _bill_day(closing, CLOSING_DAY, 1)
            bills.append(self._bill(account, rows, opened, closing, next_closing))
            opened, closing = closing, next_closing
        return [bill for bill in bills if bill["totalAmount"] > 0]

    def _bill(self, account, rows, opened, closing, next_closing) -> dict:
        def day(row):
            return date.fromisoformat(row["date"][:10])

        spent = [row for row in rows if row["type"] == "DEBIT" and opened < day(row) <= closing]
        paid = [row for row in rows if row["type"] == "CREDIT" and closing < day(row) <= next_closing]
        due = _bill_day(closing, DUE_DAY)

        def in_brl(row):
            value = row.get("amountInAccountCurrency")
            return abs(Decimal(str(row["amount"] if value is None else value)))

        purchases = sum((in_brl(row) for row in spent), ZERO)
        foreign = sum(
            (in_brl(row) for row in spent if row.get("currencyCode") != account["currencyCode"]), ZERO
        )
        key = f"{account['id']}/{closing.isoformat()}"
        bill_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bill/{key}"))
        charges = []
        if foreign:
            charges.append(("IOF", (foreign * IOF_RATE).quantize(CENT)))
        if paid and day(paid[0]) > due:
            charges.append(("LATE_PAYMENT_INTEREST", (purchases * LATE_INTEREST_RATE).quantize(CENT)))
        total = purchases + sum((amount for _kind, amount in charges), ZERO)
        return {
            "id": bill_id,
            "accountId": account["id"],
            "dueDate": _naive(due),
            "billClosingDate": _naive(closing),
            "totalAmount": total,
            "totalAmountCurrencyCode": account["currencyCode"],
            "minimumPaymentAmount": (total * Decimal("0.15")).quantize(CENT),
            "allowsInstallments": True,
            "financeCharges": [
                {
                    "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"charge/{key}/{kind}")),
                    "creditCardBillId": bill_id,
                    "type": kind,
                    "amount": amount,
                    "currencyCode": account["currencyCode"],
                    "additionalInfo": "NA",
                }
                for kind, amount in charges
            ],
            "payments": [
                {
                    "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"payment/{row['id']}")),
                    "valueType": "FULL_PAYMENT"
                    if abs(Decimal(str(row["amount"]))) >= total
                    else "OTHER_PAYMENT",
                    "paymentDate": day_iso(day(row)),
                    "paymentMode": "DEBIT_ACCOUNT",
                    "amount": abs(Decimal(str(row["amount"]))),
                    "currencyCode": account["currencyCode"],
                }
                for row in paid
            ],
        }
