"""The emulator's data: auth keys, connectors, items with their accounts and transactions, webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import secrets
import threading
import time
import uuid
from collections import Counter, deque
from datetime import date, datetime, timedelta, timezone

from . import catalog
from .bills import BillsMixin
from .config import Config
from .connect import ConnectMixin
from .errors import ApiError, not_found, unauthenticated
from .faults import Faults
from .generator import Generator
from .jsonio import iso_ms, now_iso, seeded_uuid
from .ledger import Ledger
from .transactions import TransactionsMixin
from .webhooks import WebhooksMixin

BASE_MARK = "{EMULATOR_BASE}"  # replaced by the emulator's own URL when a response is written
_SECRET = secrets.token_bytes(32)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(payload: dict) -> str:
    head = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64url(json.dumps(payload, separators=(",", ":")).encode())
    sig = _b64url(hmac.new(_SECRET, f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig}"


class State(ConnectMixin, TransactionsMixin, BillsMixin, WebhooksMixin):
    """All mutable data behind one lock (``self.lock``); the HTTP layer holds it while a route runs."""

    def __init__(self, config: Config | None = None):
        self.config = config or Config()
        self.lock = threading.RLock()
        self.faults = Faults()
        self.api_keys: dict[str, float] = {}  # survive reset: a long-lived client keeps its cached key
        self.outbox = None  # set by the server: callable(payload, extra_urls) delivering in the background
        self.timers: list[threading.Timer] = []
        self.reset()

    # ------------------------------------------------------------------ lifecycle
    def reset(self, **values) -> None:
        with self.lock:
            if values:
                self.config.update(values)
            self.connectors = {c["id"]: c for c in catalog.connectors(BASE_MARK)}
            self.items: dict[str, dict] = {}
            self.item_meta: dict[str, dict] = {}
            self.accounts: dict[str, dict] = {}
            self.ledgers: dict[str, Ledger] = {}
            self.tx_account: dict[str, str] = {}
            self.connect_tokens: dict[str, dict] = {}
            self.webhooks: dict[str, dict] = {}
            self.deliveries: deque = deque(maxlen=2000)
            self.requests: Counter = Counter()
            self.item_seq = 0
            self.rng = random.Random(f"{self.config.seed}/mutations")
            self.faults.clear()

    def today(self) -> date:
        if self.config.today:
            return date.fromisoformat(self.config.today)
        return datetime.now(timezone.utc).date()

    # ----------------------------------------------------------------------- auth
    def issue_api_key(self, client_id, client_secret) -> str:
        ok_id = hmac.compare_digest(str(client_id or ""), self.config.client_id)
        ok_secret = hmac.compare_digest(str(client_secret or ""), self.config.client_secret)
        if not (ok_id and ok_secret):
            raise ApiError(401, "Client keys are invalid", "CLIENT_KEYS_UNAUTHORIZED")
        now = int(time.time())
        exp = now + int(self.config.key_ttl)
        token = make_jwt({"id": str(uuid.uuid4()), "clientId": self.config.client_id, "iat": now, "exp": exp})
        self.api_keys[token] = exp
        return token

    def expire_keys(self) -> int:
        for token in self.api_keys:
            self.api_keys[token] = 0
        return len(self.api_keys)

    def authenticate(self, key: str | None, *, connect_ok: bool = False) -> dict | None:
        """None for a valid API key, the token record for a valid connect token (where allowed), else 403."""
        if key and self.api_keys.get(key, 0) > time.time():
            return None
        if connect_ok and key:
            token = self.connect_tokens.get(key)
            if token and token["exp"] > time.time():
                return token
        raise unauthenticated()

    def issue_connect_token(self, item_id=None, options=None) -> str:
        options = options if isinstance(options, dict) else {}
        if item_id is not None and item_id not in self.items:
            raise not_found("ITEM")
        now = int(time.time())
        exp = now + int(self.config.connect_token_ttl)
        payload = {"clientId": self.config.client_id, "iat": now, "exp": exp, "jti": str(uuid.uuid4())}
        if item_id:
            payload["itemId"] = item_id
        token = make_jwt(payload)
        self.connect_tokens[token] = {
            "token": token,
            "exp": exp,
            "itemId": item_id,
            "clientUserId": options.get("clientUserId"),
            "webhookUrl": options.get("webhookUrl"),
            "oauthRedirectUri": options.get("oauthRedirectUri"),
            "avoidDuplicates": bool(options.get("avoidDuplicates")),
            "items": {item_id} if item_id else set(),
        }
        return token

    # ---------------------------------------------------------------------- items
    def connector(self, connector_id) -> dict:
        try:
            return self.connectors[int(connector_id)]
        except (KeyError, TypeError, ValueError):
            raise not_found("CONNECTOR") from None

    def create_item(
        self,
        *,
        connector_id=0,
        client_user_id=None,
        transactions=60,
        history_days=365,
        pending=2,
        bank_accounts=1,
        credit_accounts=1,
        webhook_url=None,
        oauth_redirect_uri=None,
        user=None,
        card_bills=0,
    ) -> dict:
        connector = self.connector(connector_id)
        self.item_seq += 1
        item_id = seeded_uuid(random.Random(f"{self.config.seed}/item/{self.item_seq}"))
        now = now_iso()
        item = {
            "id": item_id,
            "connector": connector,
            "status": "UPDATED",
            "executionStatus": "SUCCESS",
            "error": None,
            "parameter": None,
            "userAction": None,
            "webhookUrl": webhook_url,
            "clientUserId": client_user_id,
            "createdAt": now,
            "updatedAt": now,
            "lastUpdatedAt": now,
            "statusDetail": None,
            "nextAutoSyncAt": self._next_sync(),
            "consecutiveFailedLoginAttempts": 0,
            "consentExpiresAt": None,
            "products": list(connector["products"]),
            "oauthRedirectUri": oauth_redirect_uri,
        }
        self.items[item_id] = item
        self.item_meta[item_id] = {
            "seq": self.item_seq,
            "user": user,
            "patched_at": None,
            "updating_until": None,
            "batches": 0,
        }
        self.add_accounts(
            item_id, transactions, history_days, pending, bank_accounts, credit_accounts, card_bills
        )
        return item

    def add_accounts(
        self, item_id, transactions, history_days, pending, bank_accounts=1, credit_accounts=1, card_bills=0
    ):
        """Generate accounts and their history for an item (at creation, or at its first good login).

        Cards come first: the item's first checking account pays their bills (same amount, same day)."""
        item, meta = self.items[item_id], self.item_meta[item_id]
        meta["batches"] += 1
        key = f"item/{meta['seq']}/accounts/{meta['batches']}"
        gen = Generator(
            self.config.seed, key, self.today(), item["connector"], self.config.card_expense_positive
        )
        made, payments = {"BANK": [], "CREDIT": []}, []
        for _ in range(max(0, int(credit_accounts))):
            account = gen.card_account(item_id, item["createdAt"], int(card_bills))
            rows, opening = gen.transactions(
                account, transactions, history_days, pending, card_bills=int(card_bills)
            )
            payments += gen.card_payments(rows, account)
            made["CREDIT"].append((account, rows, opening))
        for n in range(max(0, int(bank_accounts))):
            account = gen.bank_account(item_id, item["createdAt"])
            # without a card in the item, a checking account's card-bill payments are its own
            paying = None if not made["CREDIT"] else payments if n == 0 else []
            rows, opening = gen.transactions(
                account, transactions, history_days, pending, card_payments=paying
            )
            made["BANK"].append((account, rows, opening))
        for account, rows, opening in made["BANK"] + made["CREDIT"]:
            ledger = Ledger(account, opening, self.config.card_expense_positive)
            account_id = account["id"]
            for row in rows:
                del row["_kind"]
                ledger.rows[row["id"]] = row
                self.tx_account[row["id"]] = account_id
            self.accounts[account_id] = account
            self.ledgers[account_id] = ledger

    def _next_sync(self) -> str:
        return iso_ms(datetime.now(timezone.utc) + timedelta(days=1))

    def _mark_updated(self, item: dict, **fields) -> None:
        """The item as Pluggy leaves it after a successful update from the bank."""
        now = now_iso()
        item.update(
            status="UPDATED",
            executionStatus="SUCCESS",
            error=None,
            updatedAt=now,
            lastUpdatedAt=now,
            nextAutoSyncAt=self._next_sync(),
            **fields,
        )

    def get_item(self, item_id, token: dict | None = None) -> dict:
        item = self.items.get(item_id)
        if item is None or (token is not None and item_id not in token["items"]):
            raise not_found("ITEM")
        self.settle(item_id)
        return item

    def item_accounts(self, item_id) -> list[dict]:
        return [self.refresh_balance(a["id"]) for a in self.accounts.values() if a["itemId"] == item_id]

    def patch_item(self, item_id, body: dict) -> dict:
        item = self.get_item(item_id)
        meta = self.item_meta[item_id]
        hours = float(self.config.min_update_hours)
        now = time.time()
        if hours > 0 and meta["patched_at"] and now - meta["patched_at"] < hours * 3600:
            whole = int(hours) if hours == int(hours) else hours
            last = iso_ms(datetime.fromtimestamp(meta["patched_at"], timezone.utc))
            raise ApiError(
                409,
                f"Client updates on this item are allowed at most every {whole} hours. "
                f"Last update was at {last}",
                "CLIENT_IS_UPDATING_BEFORE_ALLOWED_FREQUENCY",
                {"minUpdateFrequencyAllowedInHours": whole, "lastUpdatedAt": last},
            )
        for field in ("clientUserId", "webhookUrl", "products"):
            if field in body:
                item[field] = body[field]
        meta["patched_at"] = now
        meta["triggered_by"] = "CLIENT"
        self.start_update(item_id)
        return item

    def start_update(self, item_id) -> None:
        item, meta = self.items[item_id], self.item_meta[item_id]
        item.update(status="UPDATING", executionStatus="LOGIN_IN_PROGRESS", error=None, updatedAt=now_iso())
        meta["updating_until"] = time.time() + float(self.config.update_seconds)
        timer = threading.Timer(float(self.config.update_seconds), self._settle_locked, (item_id,))
        timer.daemon = True
        self.timers = [t for t in self.timers if t.is_alive()] + [timer]
        timer.start()

    def _settle_locked(self, item_id) -> None:
        with self.lock:
            self.settle(item_id)

    def settle(self, item_id) -> None:
        """Finish a pending PATCH once its time is up: UPDATED, and ``item/updated`` to the webhooks."""
        meta = self.item_meta.get(item_id)
        if not meta or not meta["updating_until"] or time.time() < meta["updating_until"]:
            return
        meta["updating_until"] = None
        item = self.items[item_id]
        self._mark_updated(item)
        if self.config.auto_webhooks:
            self.notify(self.item_event("item/updated", item, meta.get("triggered_by") or "CLIENT"))

    def delete_item(self, item_id) -> dict:
        item = self.get_item(item_id)
        for account in self.item_accounts(item_id):
            ledger = self.ledgers.pop(account["id"])
            for row_id in ledger.rows:
                self.tx_account.pop(row_id, None)
            del self.accounts[account["id"]]
        del self.items[item_id]
        del self.item_meta[item_id]
        if self.config.auto_webhooks:
            self.notify(self.item_event("item/deleted", item, "CLIENT"), item_url=item.get("webhookUrl"))
        return {"count": 1}

    # ---------------------------------------------------------------------- views
    def summary(self) -> dict:
        items = []
        for item in self.items.values():
            accounts = [
                {
                    "id": a["id"],
                    "type": a["type"],
                    "number": a["number"],
                    "balance": a["balance"],
                    "transactions": len(self.ledgers[a["id"]].rows),
                }
                for a in self.item_accounts(item["id"])
            ]
            items.append(
                {
                    "id": item["id"],
                    "clientUserId": item["clientUserId"],
                    "status": item["status"],
                    "connectorId": item["connector"]["id"],
                    "accounts": accounts,
                }
            )
        return {
            "config": self.config.as_dict(),
            "today": self.today().isoformat(),
            "items": items,
            "webhooks": list(self.webhooks.values()),
            "faults": self.faults.snapshot(),
            "deliveries": list(self.deliveries),
            "requests": dict(self.requests),
            "apiKeys": {
                "issued": len(self.api_keys),
                "valid": sum(e > time.time() for e in self.api_keys.values()),
            },
        }
