"""Credit-card bills (``GET /bills``), derived from a card's rows as a bank closes them.

A card's cycle closes on its closing day (the day of ``creditData.balanceCloseDate``, the 5th unless the item
asked for a bill history) and its bill is due ``balanceDueDate - balanceCloseDate`` days later (10). A bill
holds the cycle's purchases and fees (in BRL: ``amountInAccountCurrency`` for a purchase in another currency)
less its refunds, plus its finance charges: the IOF of its foreign purchases and, when it was paid late or in
part, interest on what was not paid by the due date. So the cycle's rows plus the charges are the total. Its
payments are the card's bill-payment rows ("PAGAMENTO RECEBIDO") posted after the closing and before the next;
a refund ("ESTORNO") is a credit of its cycle, never a payment. Only closed cycles are listed, as at Pluggy.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from .errors import bad_request, not_found
from .jsonio import CENT, day_iso, is_uuid

CLOSING_DAY, DUE_DAYS = 5, 10
# IOF on purchases in another currency, and the interest on what a late or partial payment left unpaid.
IOF_RATE = Decimal("0.0438")
LATE_INTEREST_RATE = Decimal("0.02")
ZERO = Decimal("0.00")


def month_shift(day: date, months: int) -> date:
    """The same day ``months`` later (or earlier); closing days are at most the 28th, so it always exists."""
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, day.day)


def closings(first: date, today: date, closing_day: int) -> list[date]:
    """The closing dates from the one of the cycle holding ``first`` up to ``today`` included."""
    closing = first.replace(day=closing_day)
    if closing < first:
        closing = month_shift(closing, 1)
    out = []
    while closing <= today:
        out.append(closing)
        closing = month_shift(closing, 1)
    return out


def card_cycle(account: dict) -> tuple[int, int]:
    """(closing day, days from closing to due date) of a card, read from its ``creditData``."""
    credit = account["creditData"]
    close = date.fromisoformat(credit["balanceCloseDate"][:10])
    due = date.fromisoformat(credit["balanceDueDate"][:10])
    return close.day, (due - close).days


def bill_id(account_id: str, closing: date) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"bill/{account_id}/{closing.isoformat()}"))


def row_day(row: dict) -> date:
    return date.fromisoformat(row["date"][:10])


def is_bill_payment(row: dict) -> bool:
    """A card's bill payment ("PAGAMENTO RECEBIDO - OBRIGADO"), not a refund or another credit."""
    text = (row.get("description") or "").upper()
    return row["type"] == "CREDIT" and "PAGAMENTO" in text and not text.startswith("ESTORNO")


def in_brl(row: dict, currency: str) -> Decimal:
    """What the row adds to the bill in the card's currency: an expense adds, a refund or a payment less."""
    value = row.get("amountInAccountCurrency")
    if value is None or row.get("currencyCode") == currency:
        value = row["amount"]
    value = abs(Decimal(str(value)))
    return value if row["type"] == "DEBIT" else -value


def bill_amounts(currency: str, spent: list[dict], payments: list[dict], due: date) -> tuple[list, Decimal]:
    """The finance charges [(type, amount)] and the total of a cycle's rows ``spent`` paid by ``payments``."""
    charges = []
    abroad = [row for row in spent if row["type"] == "DEBIT" and row["currencyCode"] != currency]
    foreign = sum((in_brl(row, currency) for row in abroad), ZERO)
    if foreign:
        charges.append(("IOF", (foreign * IOF_RATE).quantize(CENT)))
    owed = sum((in_brl(row, currency) for row in spent), ZERO) + sum((amount for _k, amount in charges), ZERO)
    on_time = -sum((in_brl(row, currency) for row in payments if row_day(row) <= due), ZERO)
    if payments and owed > on_time:
        charges.append(("LATE_PAYMENT_INTEREST", ((owed - on_time) * LATE_INTEREST_RATE).quantize(CENT)))
    return charges, owed + sum((amount for kind, amount in charges if kind != "IOF"), ZERO)


def cycles(rows: list[dict], today: date, closing_day: int, due_days: int):
    """Each closed cycle of a card's posted rows that has rows: (closing, due, spent rows, payments)."""
    posted = [row for row in rows if row["status"] == "POSTED"]
    if not posted:
        return
    first = min(row_day(row) for row in posted)
    for closing in closings(first, today, closing_day):
        opened, next_closing = month_shift(closing, -1), month_shift(closing, 1)
        spent = [r for r in posted if not is_bill_payment(r) and opened < row_day(r) <= closing]
        if spent:
            paid = [r for r in posted if is_bill_payment(r) and closing < row_day(r) <= next_closing]
            yield closing, date.fromordinal(closing.toordinal() + due_days), spent, paid


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

    def refresh_balance(self, account_id: str) -> dict:
        """The account with its balance as the bank gives it: a card owes its rows and the finance charges of
        its bills, which the bank books on the bill rather than as rows."""
        account = self.accounts[account_id]
        ledger = self.ledgers[account_id]
        ledger.sorted_rows()
        if account["type"] == "CREDIT":
            charges = sum(
                (
                    charge["amount"]
                    for bill in self.card_bills(account_id)
                    for charge in bill["financeCharges"]
                ),
                ZERO,
            )
            owed = ledger.owed + charges
            account["balance"] = owed
            credit = account["creditData"]
            credit["availableCreditLimit"] = max(ZERO, credit["creditLimit"] - max(owed, ZERO))
            credit["minimumPayment"] = (max(owed, ZERO) * Decimal("0.15")).quantize(CENT)
        return account

    def card_bills(self, account_id: str) -> list[dict]:
        account = self.accounts[account_id]
        if account["type"] != "CREDIT":
            return []
        rows = self.ledgers[account_id].sorted_rows()
        return [
            _bill(account, closing, due, spent, paid)
            for closing, due, spent, paid in cycles(rows, self.today(), *card_cycle(account))
        ]


def _bill(account, closing, due, spent, paid) -> dict:
    currency = account["currencyCode"]
    key = f"{account['id']}/{closing.isoformat()}"
    the_id = bill_id(account["id"], closing)
    charges, total = bill_amounts(currency, spent, paid, due)
    return {
        "id": the_id,
        "accountId": account["id"],
        "dueDate": _naive(due),
        "billClosingDate": _naive(closing),
        "totalAmount": total,
        "totalAmountCurrencyCode": currency,
        "minimumPaymentAmount": (max(total, ZERO) * Decimal("0.15")).quantize(CENT),
        "allowsInstallments": True,
        "financeCharges": [
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"charge/{key}/{kind}")),
                "creditCardBillId": the_id,
                "type": kind,
                "amount": amount,
                "currencyCode": currency,
                "additionalInfo": "NA",
            }
            for kind, amount in charges
        ],
        "payments": [
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"payment/{row['id']}")),
                "valueType": "FULL_PAYMENT" if -in_brl(row, currency) >= total else "OTHER_PAYMENT",
                "paymentDate": day_iso(row_day(row)),
                "paymentMode": "DEBIT_ACCOUNT",
                "amount": -in_brl(row, currency),
                "currencyCode": currency,
            }
            for row in paid
        ],
    }
