"""Shared test helpers: a Pluggy stand-in on respx, and a test case wired to it.

The stand-in keeps items, accounts and transactions in memory and answers the calls the addon makes, shaped
like the real API (see ../shared/pluggy-api.md); tests change its data between syncs the way Pluggy would.
"""

import base64
import itertools
import json
import time
import uuid
from datetime import date, datetime, timedelta, timezone

import httpx
import respx

from odoo import Command
from odoo.tests import Form, HttpCase
from odoo.tools import SQL

from odoo.addons.account.tests.common import AccountTestInvoicingCommon

BASE_URL = "https://pluggy.test"
_counter = itertools.count(1)


def _api_key():
    payload = (
        base64.urlsafe_b64encode(json.dumps({"exp": int(time.time()) + 7200}).encode()).decode().rstrip("=")
    )
    return f"eyJhbGciOiJIUzI1NiJ9.{payload}.signature"


def iso_day(day):
    return day.strftime("%Y-%m-%dT00:00:00.000Z")


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class FakePluggy:
    """In-memory Pluggy API behind respx; ``page_size`` is small so that every sync crosses cursor pages."""

    def __init__(self, page_size=3):
        self.page_size = page_size
        self.items = {}
        self.accounts = {}
        self.transactions = {}
        self.connect_tokens = []
        self.webhooks = {}
        self.bills = {}  # by account id: the card's bills, as GET /bills lists them
        self.connectors = None  # GET /connectors answers these when set, else the connectors of the items
        self.requests = []
        self.fault = None  # callable(request) -> httpx.Response | None, for failure tests
        self.router = respx.mock(base_url=BASE_URL, assert_all_called=False, assert_all_mocked=True)
        self._routes()

    # ----- data builders -----

    def add_item(self, client_user_id, *, status="UPDATED", connector_name="Pluggy Bank", **extra):
        item_id = str(uuid.uuid4())
        self.items[item_id] = {
            "id": item_id,
            "connector": {
                "id": 0,
                "name": connector_name,
                "imageUrl": "https://cdn.pluggy.test/0.svg",
                "isSandbox": True,
                "isOpenFinance": False,
                "health": {"status": "ONLINE", "stage": None},
            },
            "status": status,
            "executionStatus": "SUCCESS",
            "error": None,
            "clientUserId": client_user_id,
            "createdAt": iso(datetime.now(timezone.utc)),
            "updatedAt": iso(datetime.now(timezone.utc)),
            "lastUpdatedAt": iso(datetime.now(timezone.utc)),
            "consentExpiresAt": None,
            "nextAutoSyncAt": None,
            **extra,
        }
        self.accounts[item_id] = []
        return self.items[item_id]

    def add_account(self, item, *, account_type="BANK", number=None, balance="0.00", currency="BRL"):
        account_id = str(uuid.uuid4())
        account = {
            "id": account_id,
            "itemId": item["id"],
            "type": account_type,
            "subtype": "CREDIT_CARD" if account_type == "CREDIT" else "CHECKING_ACCOUNT",
            "number": number or ("xxxx8670" if account_type == "CREDIT" else f"0001/{next(_counter):05d}-0"),
            "name": "Cartão de crédito" if account_type == "CREDIT" else "Conta corrente",
            "marketingName": None,
            "balance": balance,
            "currencyCode": currency,
            "owner": "Empresa Teste Ltda",
            "taxNumber": "12.345.678/0001-90",
        }
        self.accounts[item["id"]].append(account)
        self.transactions[account_id] = []
        return account

    def add_transaction(
        self,
        account,
        amount,
        *,
        tx_type=None,
        on=None,
        status="POSTED",
        description=None,
        payment_data=None,
        created_at=None,
        **extra,
    ):
        amount = str(amount)
        tx = {
            "id": str(uuid.uuid4()),
            "accountId": account["id"],
            "date": (on or date.today()).strftime("%Y-%m-%dT00:00:00.000Z"),
            "description": description or f"Transaction {next(_counter)}",
            "descriptionRaw": None,
            "amount": amount,
            "currencyCode": account["currencyCode"],
            "type": tx_type or ("DEBIT" if amount.startswith("-") else "CREDIT"),
            "status": status,
            "balance": None,
            "paymentData": payment_data,
            "creditCardMetadata": None,
            "createdAt": iso(created_at or datetime.now(timezone.utc)),
            "updatedAt": iso(datetime.now(timezone.utc)),
            **extra,
        }
        self.transactions[account["id"]].append(tx)
        return tx

    def add_bill(self, account, total, *, due, closing, charges=(), payments=()):
        """A bill of a card account, shaped like Pluggy's documented example (dates without a zone)."""
        bill = {
            "id": str(uuid.uuid4()),
            "dueDate": due.strftime("%Y-%m-%dT00:00:00"),
            "billClosingDate": closing.strftime("%Y-%m-%dT00:00:00"),
            "totalAmount": float(total),
            "totalAmountCurrencyCode": account["currencyCode"],
            "minimumPaymentAmount": round(float(total) * 0.15, 2),
            "allowsInstallments": True,
            "financeCharges": [
                {"id": str(uuid.uuid4()), "type": kind, "amount": float(amount), "currencyCode": "BRL",
                 "additionalInfo": "NA"}
                for kind, amount in charges
            ],
            "payments": [
                {"id": str(uuid.uuid4()), "valueType": "FULL_PAYMENT", "paymentDate": iso_day(day),
                 "paymentMode": "DEBIT_ACCOUNT", "amount": float(amount), "currencyCode": "BRL"}
                for day, amount in payments
            ],
        }  # fmt: skip
        self.bills.setdefault(account["id"], []).append(bill)
        return bill

    def edit_transaction(self, tx, **changes):
        tx.update(changes, updatedAt=iso(datetime.now(timezone.utc)))

    def delete_transaction(self, tx):
        self.transactions[tx["accountId"]].remove(tx)

    # ----- respx routes -----

    def _routes(self):
        route = self.router.route
        route(method="POST", path="/auth").mock(
            side_effect=self._guard(lambda r: self._json({"apiKey": _api_key()}))
        )
        route(method="POST", path="/connect_token").mock(side_effect=self._guard(self._connect_token))
        route(method="GET", path="/connectors").mock(side_effect=self._guard(self._connectors))
        route(method="GET", path__regex=r"^/connectors/(?P<connector_id>\d+)$").mock(
            side_effect=self._guard(self._connector)
        )
        route(method="GET", path__regex=r"^/items/(?P<item_id>[^/]+)$").mock(
            side_effect=self._guard(self._item)
        )
        route(method="PATCH", path__regex=r"^/items/(?P<item_id>[^/]+)$").mock(
            side_effect=self._guard(self._item)
        )
        route(method="DELETE", path__regex=r"^/items/(?P<item_id>[^/]+)$").mock(
            side_effect=self._guard(self._delete_item)
        )
        route(method="GET", path="/accounts").mock(side_effect=self._guard(self._accounts))
        route(method="GET", path="/v2/transactions").mock(side_effect=self._guard(self._transactions))
        route(method="GET", path="/bills").mock(
            side_effect=self._guard(lambda r: self._page(self.bills.get(r.url.params.get("accountId"), [])))
        )
        route(method="GET", path="/webhooks").mock(
            side_effect=self._guard(lambda r: self._page(list(self.webhooks.values())))
        )
        route(method="POST", path="/webhooks").mock(side_effect=self._guard(self._create_webhook))
        route(method="PATCH", path__regex=r"^/webhooks/(?P<webhook_id>[^/]+)$").mock(
            side_effect=self._guard(self._update_webhook)
        )

    def _guard(self, handler):
        def respond(request, **kwargs):
            self.requests.append(request)
            if self.fault:
                response = self.fault(request)
                if response is not None:
                    return response
            return handler(request, **kwargs)

        return respond

    @staticmethod
    def _json(data, status=200):
        return httpx.Response(status, json=data)

    @staticmethod
    def _page(results):
        return httpx.Response(
            200, json={"page": 1, "total": len(results), "totalPages": 1, "results": results}
        )

    @staticmethod
    def not_found(code):
        return httpx.Response(404, json={"code": 404, "codeDescription": code, "message": f"{code}"})

    def _connect_token(self, request):
        self.connect_tokens.append(json.loads(request.content or b"{}"))
        return self._json({"accessToken": f"connect-token-{next(_counter)}"})

    def _connectors(self, request):
        if self.connectors is not None:
            return self._page(self.connectors)
        return self._page([item["connector"] for item in self.items.values()][:1])

    def _connector(self, request, connector_id):
        for item in self.items.values():
            if str(item["connector"]["id"]) == connector_id:
                return self._json(item["connector"])
        return self.not_found("CONNECTOR_NOT_FOUND")

    def _item(self, request, item_id):
        item = self.items.get(item_id)
        return self._json(item) if item else self.not_found("ITEM_NOT_FOUND")

    def _delete_item(self, request, item_id):
        if self.items.pop(item_id, None) is None:
            return self.not_found("ITEM_NOT_FOUND")
        return self._json({"count": 1})

    def _accounts(self, request):
        item_id = request.url.params.get("itemId")
        if item_id not in self.accounts:
            return self.not_found("ITEM_NOT_FOUND")
        return self._page(self.accounts[item_id])

    def _transactions(self, request):
        params = request.url.params
        rows = sorted(
            self.transactions.get(params.get("accountId"), []), key=lambda tx: (tx["date"] or "", tx["id"])
        )
        # A row without a date (seen in real data) is one no date range can leave out: it comes every time.
        if params.get("dateFrom"):
            rows = [tx for tx in rows if not tx["date"] or tx["date"][:10] >= params["dateFrom"]]
        if params.get("dateTo"):
            rows = [tx for tx in rows if not tx["date"] or tx["date"][:10] <= params["dateTo"]]
        if params.get("createdAtFrom"):
            rows = [tx for tx in rows if (tx.get("createdAt") or "") >= params["createdAtFrom"]]
        if params.get("ids"):
            wanted = set(params["ids"].split(","))
            rows = [tx for tx in rows if tx["id"] in wanted]
        start = int(params.get("after") or 0)
        page = rows[start : start + self.page_size]
        following = start + self.page_size
        next_query = None
        if following < len(rows):
            kept = {key: value for key, value in params.items() if key != "after"}
            next_query = "?" + str(httpx.QueryParams({**kept, "after": str(following)}))
        return self._json({"results": page, "next": next_query})

    def _create_webhook(self, request):
        body = json.loads(request.content)
        webhook = {"id": str(uuid.uuid4()), "headers": {}, "disabledAt": None, **body}
        self.webhooks[webhook["id"]] = webhook
        return self._json(webhook, 201)

    def _update_webhook(self, request, webhook_id):
        self.webhooks[webhook_id].update(json.loads(request.content))
        return self._json(self.webhooks[webhook_id])


class PluggyCase(AccountTestInvoicingCommon):
    """A company with a chart of accounts and Pluggy credentials pointing at a FakePluggy.

    The fake is ``self.pluggy``.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        params = cls.env["ir.config_parameter"].sudo()
        params.set_param("caixa_pluggy.client_id", "test-client-id")
        params.set_param("caixa_pluggy.client_secret", "test-client-secret-value")
        params.set_param("caixa_pluggy.api_url", BASE_URL)
        cls.company = cls.env.company
        cls.client_user_id = cls.env["pluggy.api"]._client_user_id(cls.company)

    def setUp(self):
        super().setUp()
        self.pluggy = FakePluggy()
        self.pluggy.router.start()
        self.addCleanup(self.pluggy.router.stop)

    # ----- helpers -----

    @classmethod
    def user_from_the_users_form(cls, name, login, group="account.group_account_manager"):
        """A user created as an admin does in Settings > Users: a login, no e-mail; then given ``group`` in
        the test company."""
        with Form(cls.env["res.users"]) as form:
            form.name = name
            form.login = login
        user = form.record
        user.write(
            {
                "password": f"{login}-password",
                "groups_id": [Command.link(cls.env.ref(group).id)],
                "company_ids": [Command.set(cls.company.ids)],
                "company_id": cls.company.id,
            }
        )
        return user

    def connect(self, item):
        """Register an item as the callback route does; returns the connection."""
        return self.env["pluggy.item"]._connect_callback(item["id"])

    def lines(self, journal):
        return self.env["account.bank.statement.line"].search(
            [("journal_id", "=", journal.id)], order="date, id"
        )

    def days_ago(self, days):
        return date.today() - timedelta(days=days)


class PluggyHttpCase(PluggyCase, HttpCase):
    """PluggyCase over real HTTP: routes run in a server thread of this process, where respx still answers."""

    def reset_rate_limit(self):
        """Forget the calls counted by the routes' rate limit, for tests that call them more often."""
        self.env.cr.execute(SQL("DELETE FROM pluggy_rate_limit"))

    def jsonrpc(self, route, params=None):
        """Call a JSON route as the web client does; returns the decoded reply ({"result"} or {"error"})."""
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1, "params": params or {}})
        response = self.url_open(route, data=body, headers={"Content-Type": "application/json"})
        response.raise_for_status()
        return response.json()
