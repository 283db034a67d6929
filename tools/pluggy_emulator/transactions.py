"""Transactions: the public reads (cursor pages, one row) and the control-API mutations with their events."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import quote

from .errors import bad_request, not_found
from .generator import transaction_row
from .jsonio import day_iso, is_uuid, iso_ms, money, now_iso, parse_day, parse_timestamp, seeded_uuid
from .ledger import decode_cursor

MAX_IDS = 500
_MONEY_FIELDS = ("amount", "amountInAccountCurrency", "balance")
_BOLETO_MONEY = ("baseAmount", "penaltyAmount", "interestAmount", "discountAmount")
_READ_ONLY = {"id", "accountId", "order", "balance"}


class TransactionsMixin:
    """Mixed into State; uses its ``accounts``, ``ledgers``, ``tx_account``, ``config`` and ``rng``."""

    # --------------------------------------------------------------------- reads
    def account(self, account_id) -> dict:
        if account_id not in self.accounts:
            raise not_found("ACCOUNT")
        return self.refresh_balance(account_id)

    def transaction(self, tx_id) -> dict:
        account_id = self.tx_account.get(tx_id)
        if account_id is None:
            raise not_found("TRANSACTION")
        ledger = self.ledgers[account_id]
        ledger.sorted_rows()
        return ledger.rows[tx_id]

    def transactions_page(self, query: dict) -> dict:
        """``GET /v2/transactions``: {results, next}; ``next`` is a relative query keeping the filters."""
        account_id = query.get("accountId")
        if not account_id or not is_uuid(account_id):
            raise bad_request("accountId should not be null or undefined, accountId must be a UUID")
        date_from = self._day_param(query, "dateFrom")
        date_to = self._day_param(query, "dateTo")
        created_from = None
        if query.get("createdAtFrom"):
            if date_from:
                raise bad_request("dateFrom and createdAtFrom cannot be used together")
            try:
                created_from = iso_ms(parse_timestamp(query["createdAtFrom"]))
            except ValueError:
                raise bad_request("createdAtFrom must be a valid ISO 8601 date string") from None
        ids = None
        if query.get("ids") is not None:
            ids = {part.strip() for part in query["ids"].split(",") if part.strip()}
            if len(ids) > MAX_IDS:
                raise bad_request(
                    f"The ids parameter cannot have more than {MAX_IDS} transaction ids",
                    "IDS_PARAMETER_EXCEEDS_MAX_LENGTH",
                )
            if not all(is_uuid(i) for i in ids):
                raise bad_request("each value in ids must be a UUID")
        after = decode_cursor(query["after"]) if query.get("after") else None
        if account_id not in self.accounts:  # the spec documents no 404 here: nothing to list
            return {"results": [], "next": None}
        rows, cursor = self.ledgers[account_id].page(
            page_size=max(1, int(self.config.page_size)),
            date_from=date_from,
            date_to=date_to,
            created_from=created_from,
            ids=ids,
            after=after,
        )
        next_query = None
        if cursor:
            parts = [("accountId", account_id)]
            parts += [
                (name, query[name])
                for name in ("dateFrom", "dateTo", "createdAtFrom", "ids")
                if query.get(name)
            ]
            parts.append(("after", cursor))
            next_query = "?" + "&".join(f"{k}={quote(str(v), safe=',:=')}" for k, v in parts)
        return {"results": rows, "next": next_query}

    @staticmethod
    def _day_param(query: dict, name: str) -> str | None:
        if not query.get(name):
            return None
        try:
            return day_iso(parse_day(query[name]))
        except ValueError:
            raise bad_request(f"{name} must be a valid ISO 8601 date string") from None

    # ----------------------------------------------------------------- mutations
    def create_transaction(self, account_id, body: dict) -> dict:
        account = self.account(account_id)
        now = now_iso()
        row = transaction_row(
            id=seeded_uuid(self.rng),
            description="Lançamento",
            currencyCode=account["currencyCode"],
            date=day_iso(self.today()),
            accountId=account_id,
            createdAt=now,
            updatedAt=now,
        )
        if body.get("id"):
            if not is_uuid(body["id"]) or body["id"] in self.tx_account:
                raise bad_request("id must be a new UUID")
            row["id"] = body["id"]
        self._apply(row, {k: v for k, v in body.items() if k != "id"}, account)
        self.ledgers[account_id].add(row)
        self.tx_account[row["id"]] = account_id
        self.ledgers[account_id].sorted_rows()
        return row

    def edit_transaction(self, tx_id, body: dict) -> dict:
        row = self.transaction(tx_id)
        account = self.accounts[row["accountId"]]
        changes = {k: v for k, v in body.items() if k not in _READ_ONLY}
        changes.setdefault("updatedAt", now_iso())
        self._apply(row, changes, account)
        self.ledgers[account["id"]].touch()
        self.ledgers[account["id"]].sorted_rows()
        return row

    def delete_transaction(self, tx_id) -> dict:
        row = self.transaction(tx_id)
        self.ledgers[row["accountId"]].remove(tx_id)
        del self.tx_account[tx_id]
        return row

    def post_transaction(self, tx_id, body: dict) -> tuple[dict, dict]:
        """Settle a PENDING row the way connectors without provider ids do: delete it, create a POSTED copy
        under a new id. Returns (old, new)."""
        old = self.transaction(tx_id)
        if old["status"] != "PENDING":
            raise bad_request("only a PENDING transaction can be posted")
        copy = {k: v for k, v in old.items() if k not in ("id", "createdAt", "updatedAt", "balance", "order")}
        copy.update(status="POSTED")
        copy.update({k: v for k, v in body.items() if k not in ("id", "accountId")})
        if copy["date"] > day_iso(self.today()) and "date" not in body:
            copy["date"] = day_iso(self.today())  # a scheduled payment settles on the day it is paid
        self.delete_transaction(tx_id)
        new = self.create_transaction(old["accountId"], copy)
        return old, new

    def _apply(self, row: dict, body: dict, account: dict) -> None:
        """Merge request fields into a row, normalising money, dates and the type the sign implies."""
        for key, value in body.items():
            if key in _MONEY_FIELDS and value is not None:
                try:
                    value = money(value)
                except ValueError:
                    raise bad_request(f"{key} must be a number") from None
            elif key == "date":
                try:
                    value = day_iso(parse_day(value))
                except ValueError:
                    raise bad_request("date must be YYYY-MM-DD") from None
            elif key in ("createdAt", "updatedAt"):
                try:
                    value = iso_ms(parse_timestamp(value))
                except ValueError:
                    raise bad_request(f"{key} must be an ISO timestamp") from None
            elif key == "status" and value not in ("POSTED", "PENDING"):
                raise bad_request("status must be POSTED or PENDING")
            elif key == "type" and value not in ("DEBIT", "CREDIT", None):
                raise bad_request("type must be DEBIT or CREDIT")
            elif key == "paymentData" and isinstance(value, dict):
                value = _normalise_payment(value)
            row[key] = value
        if row.get("type") is None or "amount" in body and "type" not in body:
            row["type"] = self._implied_type(row["amount"], account)

    def _implied_type(self, amount: Decimal, account: dict) -> str:
        if account["type"] == "CREDIT" and self.config.card_expense_positive:
            return "DEBIT" if amount >= 0 else "CREDIT"
        return "DEBIT" if amount < 0 else "CREDIT"

    # -------------------------------------------------------------------- events
    def created_event(self, rows: list[dict], base: str) -> dict:
        account_id = rows[0]["accountId"]
        created_from = min(r["createdAt"] for r in rows)
        query = f"accountId={account_id}&createdAtFrom={quote(created_from, safe=':')}"
        return {
            "event": "transactions/created",
            "itemId": self.accounts[account_id]["itemId"],
            "accountId": account_id,
            "transactionsCount": len(rows),
            "transactionsMinDate": min(r["date"] for r in rows),
            "transactionsCreatedAtFrom": created_from,
            "createdTransactionsLink": f"{base}/transactions?{query}",
            "createdTransactionsLinkV2": f"{base}/v2/transactions?{query}",
        }

    def changed_event(self, event: str, rows: list[dict]) -> dict:
        account_id = rows[0]["accountId"]
        item_id = self.accounts[account_id]["itemId"] if account_id in self.accounts else None
        return {
            "event": event,
            "itemId": item_id,
            "accountId": account_id,
            "transactionIds": [r["id"] for r in rows],
        }


def _normalise_payment(data: dict) -> dict:
    data = dict(data)
    boleto = data.get("boletoMetadata")
    if isinstance(boleto, dict):
        data["boletoMetadata"] = {
            k: (money(v) if k in _BOLETO_MONEY and v is not None else v) for k, v in boleto.items()
        }
    return data
