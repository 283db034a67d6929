import logging
import os
import re
from contextlib import contextmanager
from unittest.mock import patch

import httpx

from odoo import Command
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .common import PluggyHttpCase

CONNECT_TOKEN = "/caixa_pluggy/connect_token"
CALLBACK = "/caixa_pluggy/callback"
# Odoo logs every UserError/AccessError a route raises as a warning of this logger; a refusal is the expected
# outcome of the tests that mute it, and each of them checks the refusal in the reply.
HTTP_LOGGER = "odoo.http"
ITEM_LOGGER = "odoo.addons.caixa_pluggy.models.pluggy_item"
# Everything our flow may log through, down to DEBUG (Odoo's own SQL debug log is left out: it is not ours).
LOGGERS = ("", "odoo.addons.caixa_pluggy", "odoo.http", "httpx", "httpcore", "werkzeug")


class _Collector(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


@tagged("post_install", "-at_install")
class TestConnectRoutes(PluggyHttpCase):
    """The two routes behind "Connect bank": who may call them, what they return, and what they write."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.setup_other_company()["company"]
        cls.admin_a = cls._user("pluggy_admin_a", "account.group_account_manager", cls.company)
        cls.admin_b = cls._user("pluggy_admin_b", "account.group_account_manager", cls.company_b)
        cls.accountant = cls._user("pluggy_accountant", "account.group_account_user", cls.company)
        cls.employee = cls._user("pluggy_employee", "base.group_user", cls.company)

    @classmethod
    def _user(cls, login, group, company):
        return new_test_user(
            cls.env,
            login=login,
            groups=f"base.group_user,{group}",
            company_id=company.id,
            company_ids=[Command.set(company.ids)],
        )

    def setUp(self):
        super().setUp()
        self.authenticate(self.admin_a.login, self.admin_a.login)

    # ----- helpers -----

    def footprint(self):
        """Everything the connect flow may write, counted across companies."""
        env = self.env(su=True, context={"active_test": False})
        models = ("pluggy.item", "pluggy.account", "account.journal", "account.bank.statement.line")
        return {model: env[model].search_count([]) for model in models}

    def result(self, reply):
        """The result of a JSON-RPC reply; fails with the error's message (not its whole traceback)."""
        error = reply.get("error", {}).get("data", {})
        self.assertIn("result", reply, f"{error.get('name')}: {error.get('message')}")
        return reply["result"]

    def assertRefused(self, reply, exception, message):
        """A JSON-RPC error of this exception class whose message says ``message``."""
        error = reply.get("error")
        self.assertTrue(error, f"expected an error, got {reply}")
        self.assertEqual(error["data"]["name"], f"odoo.exceptions.{exception}")
        self.assertIn(message, error["data"]["message"])
        return error["data"]["message"]

    def assertRefusalLogged(self, logs, item):
        """One warning names the refused item and the company it was refused for."""
        self.assertEqual(
            logs.output,
            [
                f"WARNING:{ITEM_LOGGER}:Refused Pluggy item {item['id']}: "
                f"it was not created for company {self.company.id}"
            ],
        )

    def secrets(self):
        """The values that must never reach the browser."""
        params = self.env["ir.config_parameter"].sudo()
        api_keys = {request.headers.get("X-API-KEY") for request in self.pluggy.requests} - {None}
        return {
            "client secret": params.get_param("caixa_pluggy.client_secret"),
            "webhook secret": params.get_param("caixa_pluggy.webhook_secret"),
            **{f"API key {index}": key for index, key in enumerate(api_keys)},
        }

    def assertNoSecret(self, reply):
        text = str(reply)
        for label, value in self.secrets().items():
            with self.subTest(secret=label):
                self.assertTrue(value)
                self.assertNotIn(value, text)

    def pluggy_item(self, client_user_id=None, **extra):
        """A Pluggy item with a checking account (BRL) and a credit card (the company's currency)."""
        item = self.pluggy.add_item(
            client_user_id or self.client_user_id, connector_name="Banco Teste", **extra
        )
        self.checking = self.pluggy.add_account(item, number="0001/54321-0", balance="1500.00")
        self.card = self.pluggy.add_account(
            item, account_type="CREDIT", currency=self.company.currency_id.name
        )
        self.pluggy.add_transaction(self.checking, "-42.50", on=self.days_ago(1), description="PIX Padaria")
        self.pluggy.add_transaction(self.card, "-99.90", on=self.days_ago(2), description="Livraria")
        return item

    def connection_of(self, item_company):
        return (
            self.env["pluggy.item"]
            .sudo()
            .create({"pluggy_item_id": "item-of-b", "company_id": item_company.id})
        )

    # ----- who may connect -----

    @mute_logger(HTTP_LOGGER)
    def test_accountant_without_admin_rights_is_refused_by_both_routes(self):
        item = self.pluggy_item()
        self.authenticate(self.accountant.login, self.accountant.login)
        before = self.footprint()
        for route, params in ((CONNECT_TOKEN, {}), (CALLBACK, {"item_id": item["id"]})):
            with self.subTest(route=route):
                self.assertRefused(
                    self.jsonrpc(route, params), "AccessError", "Only accounting administrators"
                )
        self.assertEqual(self.pluggy.connect_tokens, [], "no token may be minted for this user")
        self.assertEqual(self.footprint(), before)

    @mute_logger(HTTP_LOGGER)
    def test_user_without_accounting_rights_is_refused_by_both_routes(self):
        item = self.pluggy_item()
        self.authenticate(self.employee.login, self.employee.login)
        before = self.footprint()
        for route, params in ((CONNECT_TOKEN, {}), (CALLBACK, {"item_id": item["id"]})):
            with self.subTest(route=route):
                self.assertRefused(
                    self.jsonrpc(route, params), "AccessError", "Only accounting administrators"
                )
        self.assertEqual(self.pluggy.connect_tokens, [])
        self.assertEqual(self.footprint(), before)

    def test_anonymous_visitor_gets_no_token(self):
        self.authenticate(None, None)
        reply = self.jsonrpc(CONNECT_TOKEN, {})
        self.assertEqual(reply["error"]["data"]["name"], "odoo.http.SessionExpiredException")
        self.assertEqual(self.pluggy.connect_tokens, [])

    # ----- connect token -----

    def test_token_is_minted_for_this_company_and_reveals_no_secret(self):
        reply = self.jsonrpc(CONNECT_TOKEN, {})
        result = self.result(reply)
        self.assertTrue(result["connect_token"].startswith("connect-token-"))
        self.assertEqual(result["sdk_url"], self.env["pluggy.api"]._get_setting("caixa_pluggy.sdk_url"))
        self.assertIs(result["update_item"], False)
        self.assertIn("include_sandbox", result)
        [minted] = self.pluggy.connect_tokens
        self.assertEqual(minted["options"]["clientUserId"], self.client_user_id)
        self.assertIs(minted["options"]["avoidDuplicates"], True)
        self.assertNotIn("itemId", minted)
        self.assertNoSecret(reply)

    def test_client_user_id_is_opaque_and_differs_per_company(self):
        Api = self.env["pluggy.api"]
        id_a, id_b = Api._client_user_id(self.company), Api._client_user_id(self.company_b)
        self.assertNotEqual(id_a, id_b)
        self.assertRegex(id_a, r"^caixa-[0-9a-f]{32}$")
        self.assertEqual(Api._company_for_client_user_id(id_b), self.company_b)
        self.assertFalse(Api._company_for_client_user_id("caixa-" + "0" * 32))
        # Derived from the database secret: nobody outside this database can compute a company's id.
        self.env["ir.config_parameter"].sudo().set_param("database.secret", "another-database-secret")
        self.assertNotEqual(Api._client_user_id(self.company), id_a)

    def test_every_call_mints_a_fresh_token(self):
        first = self.result(self.jsonrpc(CONNECT_TOKEN, {}))["connect_token"]
        second = self.result(self.jsonrpc(CONNECT_TOKEN, {}))["connect_token"]
        self.assertNotEqual(first, second)
        self.assertEqual(len(self.pluggy.connect_tokens), 2)

    def test_update_mode_token_names_the_connection(self):
        item = self.pluggy_item()
        self.connect(item)
        result = self.result(self.jsonrpc(CONNECT_TOKEN, {"item_id": item["id"]}))
        self.assertEqual(result["update_item"], item["id"])
        [minted] = self.pluggy.connect_tokens
        self.assertEqual(minted["itemId"], item["id"])
        self.assertEqual(minted["options"]["clientUserId"], self.client_user_id)

    @mute_logger(HTTP_LOGGER)
    def test_update_mode_for_another_companys_connection_is_refused(self):
        self.connection_of(self.company_b)
        reply = self.jsonrpc(CONNECT_TOKEN, {"item_id": "item-of-b"})
        self.assertRefused(reply, "AccessError", "does not belong to your current company")
        self.assertEqual(self.pluggy.connect_tokens, [])

    @mute_logger(HTTP_LOGGER)
    def test_update_mode_for_an_unknown_connection_is_refused(self):
        reply = self.jsonrpc(CONNECT_TOKEN, {"item_id": "never-seen"})
        self.assertRefused(reply, "AccessError", "does not belong to your current company")
        self.assertEqual(self.pluggy.connect_tokens, [])

    @mute_logger(HTTP_LOGGER)
    def test_malformed_item_id_is_refused(self):
        for item_id in (123, ["a"], {"id": "a"}, "x" * 500, "\x00", "item\udfff"):
            for route in (CONNECT_TOKEN, CALLBACK):
                with self.subTest(route=route, item_id=ascii(item_id)[:20]):
                    self.assertRefused(self.jsonrpc(route, {"item_id": item_id}), "UserError", "not valid")
        self.assertEqual(self.pluggy.connect_tokens, [])

    @mute_logger(HTTP_LOGGER)
    def test_pluggy_refusing_the_credentials_is_said_plainly(self):
        self.env["ir.config_parameter"].sudo().set_param("caixa_pluggy.client_secret", "a-revoked-secret")
        self.pluggy.fault = lambda request: (
            httpx.Response(
                401, json={"code": 401, "codeDescription": "CLIENT_KEYS_UNAUTHORIZED", "message": "no"}
            )
            if request.url.path == "/auth"
            else None
        )
        reply = self.jsonrpc(CONNECT_TOKEN, {})
        self.assertRefused(reply, "UserError", "Pluggy refused the client id and secret")
        self.assertNotIn("a-revoked-secret", str(reply))

    @mute_logger(HTTP_LOGGER)
    def test_missing_credentials_are_explained(self):
        self.env["ir.config_parameter"].sudo().set_param("caixa_pluggy.client_id", False)
        environ = {key: value for key, value in os.environ.items() if not key.startswith("PLUGGY_")}
        with patch.dict(os.environ, environ, clear=True):
            reply = self.jsonrpc(CONNECT_TOKEN, {})
        self.assertRefused(reply, "UserError", "Set your Pluggy credentials")

    # ----- callback: refusals write nothing -----

    @mute_logger(HTTP_LOGGER)
    def test_callback_refuses_an_item_created_for_another_company(self):
        foreign = self.pluggy_item(self.env["pluggy.api"]._client_user_id(self.company_b))
        before = self.footprint()
        with self.assertLogs(ITEM_LOGGER, "WARNING") as logs:
            reply = self.jsonrpc(CALLBACK, {"item_id": foreign["id"]})
        self.assertRefused(reply, "AccessError", "not created from this company")
        self.assertRefusalLogged(logs, foreign)
        self.assertEqual(self.footprint(), before)

    @mute_logger(HTTP_LOGGER)
    def test_callback_refuses_an_item_of_another_application(self):
        foreign = self.pluggy_item("someone-elses-user")
        before = self.footprint()
        with self.assertLogs(ITEM_LOGGER, "WARNING") as logs:
            reply = self.jsonrpc(CALLBACK, {"item_id": foreign["id"]})
        self.assertRefused(reply, "AccessError", "not created")
        self.assertRefusalLogged(logs, foreign)
        self.assertEqual(self.footprint(), before)

    @mute_logger(HTTP_LOGGER)
    def test_callback_for_an_unknown_item_writes_nothing(self):
        before = self.footprint()
        reply = self.jsonrpc(CALLBACK, {"item_id": "4d1c9c41-0000-4000-8000-000000000000"})
        self.assertRefused(reply, "UserError", "Pluggy does not know this bank connection")
        self.assertEqual(self.footprint(), before)

    @mute_logger(HTTP_LOGGER)
    def test_callback_during_a_pluggy_outage_writes_nothing(self):
        item = self.pluggy_item()
        outage = {"code": 500, "message": "Internal Server Error"}
        for failing_path in (f"/items/{item['id']}", "/accounts"):
            with self.subTest(failing=failing_path):
                self.pluggy.fault = lambda request, path=failing_path: (
                    httpx.Response(500, json=outage) if request.url.path == path else None
                )
                before = self.footprint()
                reply = self.jsonrpc(CALLBACK, {"item_id": item["id"]})
                self.assertRefused(reply, "UserError", "Pluggy is unavailable right now (HTTP 500)")
                self.assertEqual(self.footprint(), before)

    @mute_logger(HTTP_LOGGER)
    def test_callback_without_item_id_is_refused(self):
        for params in ({}, {"item_id": ""}, {"item_id": None}):
            with self.subTest(params=params):
                self.assertRefused(
                    self.jsonrpc(CALLBACK, params), "UserError", "bank connection id is missing"
                )
        self.assertFalse([r for r in self.pluggy.requests if r.url.path.startswith("/items")])

    # ----- callback: the happy path -----

    def test_callback_creates_the_connection_its_accounts_and_journals(self):
        item = self.pluggy_item()
        before = self.footprint()
        reply = self.jsonrpc(CALLBACK, {"item_id": item["id"]})
        result = self.result(reply)
        self.assertNoSecret(reply)

        connection = self.env["pluggy.item"].browse(result["connection_id"])
        self.assertEqual(connection.pluggy_item_id, item["id"])
        self.assertEqual(connection.company_id, self.company)
        self.assertEqual(connection.name, "Banco Teste")
        self.assertEqual(connection.connector_image_url, "https://cdn.pluggy.test/0.svg")
        self.assertEqual(connection.pluggy_status, "UPDATED")
        self.assertEqual(connection.state, "connected")

        checking, card = (
            connection.account_ids.filtered(lambda a, t=t: a.account_type == t) for t in ("BANK", "CREDIT")
        )
        self.assertEqual(checking.pluggy_account_id, self.checking["id"])
        self.assertEqual(card.pluggy_account_id, self.card["id"])
        self.assertEqual(sorted(result["journal_ids"]), sorted(connection.account_ids.journal_id.ids))

        brl = self.env.ref("base.BRL")
        self.assertEqual(checking.journal_id.type, "bank")
        self.assertEqual(checking.journal_id.currency_id, brl)
        self.assertEqual(checking.journal_id.bank_acc_number, "0001/54321-0")
        self.assertEqual(card.journal_id.type, "credit")
        self.assertEqual(card.journal_id.currency_id or self.company.currency_id, self.company.currency_id)
        for journal in connection.account_ids.journal_id:
            self.assertEqual(journal.bank_statements_source, "pluggy")
            self.assertEqual(journal.company_id, self.company)

        # The first sync ran at once: the latest lines are there.
        self.assertEqual(self.lines(checking.journal_id).mapped("amount"), [-42.5])
        self.assertEqual(self.lines(card.journal_id).mapped("amount"), [-99.9])
        self.assertEqual(
            self.footprint(),
            {
                **before,
                "pluggy.item": before["pluggy.item"] + 1,
                "pluggy.account": before["pluggy.account"] + 2,
                "account.journal": before["account.journal"] + 2,
                "account.bank.statement.line": before["account.bank.statement.line"] + 2,
            },
        )

    def test_callback_reuses_the_journal_with_the_same_bank_account_number(self):
        existing = self.env["account.journal"].create(
            {
                "name": "Conta BRL",
                "code": "CBRL",
                "type": "bank",
                "currency_id": self.env.ref("base.BRL").id,
                "bank_acc_number": "0001/54321-0",
            }
        )
        item = self.pluggy_item()
        journals_before = self.footprint()["account.journal"]
        result = self.result(self.jsonrpc(CALLBACK, {"item_id": item["id"]}))
        checking = self.env["pluggy.account"].search([("pluggy_account_id", "=", self.checking["id"])])
        self.assertEqual(checking.journal_id, existing)
        self.assertIn(existing.id, result["journal_ids"])
        self.assertEqual(existing.bank_statements_source, "pluggy")
        self.assertEqual(
            self.footprint()["account.journal"], journals_before + 1, "only the card gets a new journal"
        )

    def test_callback_matches_the_bank_account_number_however_it_is_punctuated(self):
        existing = self.env["account.journal"].create(
            {
                "name": "Conta BRL",
                "code": "CBRL",
                "type": "bank",
                "currency_id": self.env.ref("base.BRL").id,
                "bank_acc_number": "0001 54321 0",
            }
        )
        item = self.pluggy_item()
        self.jsonrpc(CALLBACK, {"item_id": item["id"]})
        checking = self.env["pluggy.account"].search([("pluggy_account_id", "=", self.checking["id"])])
        self.assertEqual(checking.journal_id, existing)

    def test_new_journals_get_a_free_code_past_the_company_s_99th(self):
        """Odoo's default codes stop at BNK99 and CCD99: the 100th bank or card journal gets one further."""
        Journal = self.env["account.journal"]
        for prefix in ("BNK", "CCD"):
            taken = set(
                Journal.search(
                    [("company_id", "=", self.company.id), ("code", "=like", f"{prefix}%")]
                ).mapped("code")
            )
            Journal.create(
                [
                    {"name": f"Old journal {code}", "code": code, "type": "general"}
                    for code in (f"{prefix}{number}" for number in range(1, 100))
                    if code not in taken
                ]
            )
        Journal.create({"name": "Old journal BN100", "code": "BN100", "type": "general"})
        self.assertGreaterEqual(Journal.search_count([("company_id", "=", self.company.id)]), 199)
        item = self.pluggy_item()
        self.pluggy.add_account(item, number="0001/98765-0")
        self.result(self.jsonrpc(CALLBACK, {"item_id": item["id"]}))
        journals = (
            self.env["pluggy.item"].search([("pluggy_item_id", "=", item["id"])]).account_ids.journal_id
        )
        self.assertEqual(
            sorted((journal.type, journal.code) for journal in journals),
            [("bank", "BN101"), ("bank", "BN102"), ("credit", "CC100")],
        )

    def test_journal_of_another_currency_is_not_reused(self):
        """A USD journal fed BRL amounts would show wrong balances: a BRL journal is created instead."""
        other = self.env["account.journal"].create(
            {
                "name": "Conta USD",
                "code": "CUSD",
                "type": "bank",
                "currency_id": self.env.ref("base.USD").id,
                "bank_acc_number": "0001/54321-0",
            }
        )
        if other.currency_id == self.env.ref("base.BRL"):
            self.skipTest("the test company uses BRL")
        item = self.pluggy_item()
        self.result(self.jsonrpc(CALLBACK, {"item_id": item["id"]}))
        checking = self.env["pluggy.account"].search([("pluggy_account_id", "=", self.checking["id"])])
        self.assertNotEqual(checking.journal_id, other)
        self.assertEqual(checking.journal_id.currency_id, self.env.ref("base.BRL"))
        self.assertFalse(other.pluggy_account_id)

    def test_journal_of_another_company_is_not_reused(self):
        other = (
            self.env["account.journal"]
            .with_company(self.company_b)
            .create(
                {
                    "name": "Conta B",
                    "code": "CB",
                    "type": "bank",
                    "company_id": self.company_b.id,
                    "currency_id": self.env.ref("base.BRL").id,
                    "bank_acc_number": "0001/54321-0",
                }
            )
        )
        item = self.pluggy_item()
        self.result(self.jsonrpc(CALLBACK, {"item_id": item["id"]}))
        checking = self.env["pluggy.account"].search([("pluggy_account_id", "=", self.checking["id"])])
        self.assertNotEqual(checking.journal_id, other)
        self.assertEqual(checking.journal_id.company_id, self.company)

    def test_callback_twice_creates_nothing_new(self):
        item = self.pluggy_item()
        first = self.result(self.jsonrpc(CALLBACK, {"item_id": item["id"]}))
        after_first = self.footprint()
        second = self.result(self.jsonrpc(CALLBACK, {"item_id": item["id"]}))
        self.assertEqual(second, first)
        self.assertEqual(self.footprint(), after_first)

    def test_callback_again_adds_an_account_opened_since(self):
        item = self.pluggy_item()
        first = self.result(self.jsonrpc(CALLBACK, {"item_id": item["id"]}))
        savings = self.pluggy.add_account(item, number="0001/99999-9")
        second = self.result(self.jsonrpc(CALLBACK, {"item_id": item["id"]}))
        self.assertEqual(second["connection_id"], first["connection_id"])
        self.assertEqual(len(second["journal_ids"]), 3)
        account = self.env["pluggy.account"].search([("pluggy_account_id", "=", savings["id"])])
        self.assertEqual(account.journal_id.bank_acc_number, "0001/99999-9")

    def test_same_bank_account_through_a_second_connection_does_not_crash(self):
        """The same account reached through two items (e.g. Open Finance and direct): the second gets its own
        journal instead of an error, since one journal can be fed by one Pluggy account only."""
        first = self.pluggy_item()
        self.jsonrpc(CALLBACK, {"item_id": first["id"]})
        second = self.pluggy.add_item(self.client_user_id, connector_name="Banco Teste OF")
        twin = self.pluggy.add_account(second, number="0001/54321-0")
        self.result(self.jsonrpc(CALLBACK, {"item_id": second["id"]}))
        twin_account = self.env["pluggy.account"].search([("pluggy_account_id", "=", twin["id"])])
        first_account = self.env["pluggy.account"].search([("pluggy_account_id", "=", self.checking["id"])])
        self.assertTrue(twin_account.journal_id)
        self.assertNotEqual(twin_account.journal_id, first_account.journal_id)

    def test_reconnect_refreshes_the_connection_status(self):
        item = self.pluggy_item(status="LOGIN_ERROR", error={"code": "INVALID_CREDENTIALS", "message": "bad"})
        connection_id = self.result(self.jsonrpc(CALLBACK, {"item_id": item["id"]}))["connection_id"]
        connection = self.env["pluggy.item"].browse(connection_id)
        self.assertEqual(connection.state, "needs_reconnect")
        item.update(status="UPDATED", error=None)
        self.assertEqual(
            self.result(self.jsonrpc(CALLBACK, {"item_id": item["id"]}))["connection_id"], connection_id
        )
        connection.invalidate_recordset()
        self.assertEqual(connection.state, "connected")

    @contextmanager
    def all_logs(self):
        """Every log line, at every level, of the loggers the connect flow writes to.

        The lines go to the collector instead of Odoo's log: the test checks the warnings among them itself.
        """
        collector = _Collector()
        root = logging.getLogger()
        loggers = [logging.getLogger(name) for name in LOGGERS]
        levels = [logger.level for logger in loggers]
        for logger in loggers:
            logger.setLevel(logging.DEBUG)
        handlers, root.handlers = root.handlers, [collector]
        try:
            yield collector.lines
        finally:
            root.handlers = handlers
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)

    def test_connect_flow_logs_no_secret(self):
        item = self.pluggy_item()
        foreign = self.pluggy_item("someone-elses-user")
        with self.all_logs() as lines:
            self.result(self.jsonrpc(CONNECT_TOKEN, {}))
            self.result(self.jsonrpc(CALLBACK, {"item_id": item["id"]}))
            self.jsonrpc(CALLBACK, {"item_id": foreign["id"]})
            self.pluggy.fault = lambda request: httpx.Response(500, json={"code": 500, "message": "boom"})
            self.jsonrpc(CALLBACK, {"item_id": item["id"]})
            self.jsonrpc(CONNECT_TOKEN, {"item_id": item["id"]})
        text = "\n".join(lines)
        self.assertIn("/caixa_pluggy/callback", text, "the collector saw the requests")
        # The refusals were logged, and nothing else went wrong.
        outage = "Pluggy is unavailable right now (HTTP 500). The sync will be retried automatically."
        self.assertEqual(
            [line for line in lines if line.split(" ", 2)[1] in ("WARNING", "ERROR", "CRITICAL")],
            [
                f"{ITEM_LOGGER} WARNING Refused Pluggy item {foreign['id']}: "
                f"it was not created for company {self.company.id}",
                f"{HTTP_LOGGER} WARNING This bank connection was not created from this company.",
                f"{HTTP_LOGGER} WARNING {outage}",
                f"{HTTP_LOGGER} WARNING {outage}",
            ],
        )
        self.assertTrue(any(label.startswith("API key") for label in self.secrets()), "an API key was used")
        for label, value in self.secrets().items():
            with self.subTest(secret=label):
                self.assertNotIn(value, text)

    # ----- rate limit -----

    @mute_logger(HTTP_LOGGER)
    def test_burst_of_calls_is_told_when_to_try_again(self):
        for _attempt in range(10):
            self.result(self.jsonrpc(CONNECT_TOKEN, {}))
        message = self.assertRefused(self.jsonrpc(CONNECT_TOKEN, {}), "UserError", "Too many attempts")
        seconds = int(re.search(r"Try again in (\d+) s", message).group(1))
        self.assertTrue(1 <= seconds <= 60, seconds)
        self.assertEqual(len(self.pluggy.connect_tokens), 10, "the refused call never reached Pluggy")

    @mute_logger(HTTP_LOGGER)
    def test_rate_limit_is_per_route_and_per_user(self):
        for _attempt in range(10):
            self.jsonrpc(CONNECT_TOKEN, {})
        self.assertRefused(self.jsonrpc(CONNECT_TOKEN, {}), "UserError", "Try again in")
        # The callback of the same user is counted apart...
        item = self.pluggy_item()
        self.result(self.jsonrpc(CALLBACK, {"item_id": item["id"]}))
        # ...and another administrator is not held back by this one.
        admin_a2 = self._user("pluggy_admin_a2", "account.group_account_manager", self.company)
        self.authenticate(admin_a2.login, admin_a2.login)
        self.result(self.jsonrpc(CONNECT_TOKEN, {}))

    @mute_logger(HTTP_LOGGER)
    def test_callback_route_is_rate_limited_too(self):
        item = self.pluggy_item()
        for _attempt in range(10):
            self.jsonrpc(CALLBACK, {"item_id": item["id"]})
        self.assertRefused(self.jsonrpc(CALLBACK, {"item_id": item["id"]}), "UserError", "Try again in")
