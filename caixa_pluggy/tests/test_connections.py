from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import httpx

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .common import PluggyCase, iso

TOO_FREQUENT = "CLIENT_IS_UPDATING_BEFORE_ALLOWED_FREQUENCY"


@tagged("post_install", "-at_install")
class TestConnectionActions(PluggyCase):
    """The buttons of a connection: Refresh from bank, Disconnect and Reconnect."""

    def setUp(self):
        super().setUp()
        self.item = self.pluggy.add_item(self.client_user_id)
        self.account = self.pluggy.add_account(self.item)
        for days in (1, 2, 3):
            self.pluggy.add_transaction(self.account, f"-{days}0.00", on=self.days_ago(days))
        self.connection = self.env["pluggy.item"].browse(self.connect(self.item)["connection_id"])
        self.journal = self.connection.account_ids.journal_id
        self.pluggy.requests.clear()

    def pluggy_calls(self, method):
        return [request for request in self.pluggy.requests if request.method == method]

    def fail_on(self, method, status, body):
        self.pluggy.fault = lambda request: (
            httpx.Response(status, json=body) if request.method == method else None
        )

    # ----- Refresh from bank -----

    def test_refresh_asks_pluggy_to_read_the_bank_again(self):
        self.item["status"] = "UPDATING"
        action = self.connection.action_refresh_from_bank()
        [patch] = self.pluggy_calls("PATCH")
        self.assertEqual(patch.url.path, f"/items/{self.item['id']}")
        self.assertEqual(action["params"]["type"], "info")
        self.assertIn("being read again", action["params"]["message"])
        self.assertEqual(self.connection.state, "syncing")

    def test_refresh_too_soon_says_when_it_will_be_allowed(self):
        connection = self.connection.with_context(tz="America/Sao_Paulo")
        last_update = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2)
        self.fail_on(
            "PATCH",
            409,
            {
                "code": 409,
                "codeDescription": TOO_FREQUENT,
                "message": "Item is being updated before the allowed frequency",
                "data": {"minUpdateFrequencyAllowedInHours": 24, "lastUpdatedAt": iso(last_update)},
            },
        )
        allowed = (last_update + timedelta(hours=24)).astimezone(ZoneInfo("America/Sao_Paulo"))
        with self.assertRaises(UserError) as caught:
            connection.action_refresh_from_bank()
        message = str(caught.exception)
        self.assertIn("read recently", message)
        self.assertIn(allowed.strftime("%d/%m/%Y %H:%M"), message)
        self.assertNotIn(TOO_FREQUENT, message, "the user gets words, not Pluggy's code")

    def test_refresh_too_soon_without_details_still_reads_plainly(self):
        self.fail_on("PATCH", 409, {"code": 409, "codeDescription": TOO_FREQUENT, "message": "Too frequent"})
        with self.assertRaisesRegex(UserError, "try again later"):
            self.connection.action_refresh_from_bank()

    def test_refresh_during_an_outage_is_explained_and_not_retried(self):
        self.fail_on("PATCH", 503, {"code": 503, "message": "Service Unavailable"})
        with self.assertRaisesRegex(UserError, "unavailable"):
            self.connection.action_refresh_from_bank()
        self.assertEqual(len(self.pluggy_calls("PATCH")), 1, "a PATCH is never repeated on its own")

    # ----- Disconnect -----

    def test_disconnect_deletes_the_item_at_pluggy_and_keeps_the_lines(self):
        lines = self.lines(self.journal)
        self.assertEqual(len(lines), 3)
        self.assertTrue(self.connection.action_disconnect())
        [delete] = self.pluggy_calls("DELETE")
        self.assertEqual(delete.url.path, f"/items/{self.item['id']}")
        self.assertNotIn(self.item["id"], self.pluggy.items)
        self.assertFalse(self.connection.active)
        self.assertEqual(self.connection.state, "disconnected")
        self.assertFalse(self.connection.account_ids.with_context(active_test=False).filtered("active"))
        self.assertEqual(self.lines(self.journal), lines)
        self.assertTrue(self.journal.exists())

    def test_disconnected_accounts_are_no_longer_synced_by_the_cron(self):
        self.connection.action_disconnect()
        self.pluggy.requests.clear()
        self.env["pluggy.account"]._cron_sync()
        self.assertFalse([r for r in self.pluggy.requests if r.url.path == "/v2/transactions"])

    def test_disconnect_of_an_item_pluggy_already_forgot_still_archives_it(self):
        del self.pluggy.items[self.item["id"]]
        self.connection.action_disconnect()
        self.assertFalse(self.connection.active)

    def test_disconnect_during_an_outage_keeps_the_connection(self):
        self.fail_on("DELETE", 500, {"code": 500, "message": "Internal Server Error"})
        with self.assertRaisesRegex(UserError, "unavailable"):
            self.connection.action_disconnect()
        self.assertTrue(self.connection.active)
        self.assertIn(self.item["id"], self.pluggy.items)

    # ----- Reconnect -----

    def test_reconnect_opens_the_widget_in_update_mode(self):
        action = self.connection.action_open_connect()
        self.assertEqual(action["type"], "ir.actions.client")
        self.assertEqual(action["tag"], "caixa_pluggy.connect")
        self.assertEqual(action["params"], {"item_id": self.item["id"]})
        self.assertEqual(self.journal.action_pluggy_reconnect(), action)

    def test_connect_bank_opens_the_widget_for_a_new_bank(self):
        action = self.env["pluggy.item"].action_open_connect()
        self.assertEqual(action["tag"], "caixa_pluggy.connect")
        self.assertEqual(action["params"], {})

    def test_reconnect_is_offered_when_the_bank_needs_the_user(self):
        self.assertFalse(self.connection.can_reconnect)
        for status in ("LOGIN_ERROR", "OUTDATED", "WAITING_USER_INPUT", "WAITING_USER_ACTION"):
            with self.subTest(status=status):
                self.connection._write_from_pluggy({**self.item, "status": status})
                self.assertTrue(self.connection.can_reconnect)
                self.assertTrue(self.connection.problem_description)
        self.connection._write_from_pluggy(
            {
                **self.item,
                "status": "UPDATED",
                "consentExpiresAt": iso(datetime.now(timezone.utc) - timedelta(1)),
            }
        )
        self.assertTrue(self.connection.can_reconnect)
        self.assertEqual(self.connection.state, "needs_reconnect")


@tagged("post_install", "-at_install")
class TestConnectionAccess(PluggyCase):
    """Connections and accounts stay inside their company; people without accounting rights see none."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.setup_other_company()["company"]
        cls.accountant_a = cls._user("pluggy_acc_a", "account.group_account_user", cls.company)
        cls.admin_a = cls._user("pluggy_adm_a", "account.group_account_manager", cls.company)
        cls.employee = cls._user("pluggy_employee_a", "base.group_user", cls.company)
        cls.both = cls._user("pluggy_acc_ab", "account.group_account_user", cls.company | cls.company_b)

    @classmethod
    def _user(cls, login, group, companies):
        return new_test_user(
            cls.env,
            login=login,
            groups=f"base.group_user,{group}",
            company_id=companies[0].id,
            company_ids=[Command.set(companies.ids)],
        )

    def setUp(self):
        super().setUp()
        self.connection_a = self._connection(self.company)
        self.connection_b = self._connection(self.company_b)

    def _connection(self, company):
        env = self.env(context={**self.env.context, "allowed_company_ids": company.ids})
        client_user_id = env["pluggy.api"]._client_user_id(company)
        item = self.pluggy.add_item(client_user_id, connector_name=f"Banco {company.name}")
        account = self.pluggy.add_account(item)
        self.pluggy.add_transaction(account, "-5.00", on=self.days_ago(1))
        return env["pluggy.item"].browse(env["pluggy.item"]._connect_callback(item["id"])["connection_id"])

    def test_each_callback_lands_in_its_own_company(self):
        self.assertEqual(self.connection_a.company_id, self.company)
        self.assertEqual(self.connection_b.company_id, self.company_b)
        self.assertEqual(self.connection_b.account_ids.journal_id.company_id, self.company_b)

    def test_accountant_of_a_sees_nothing_of_b(self):
        for user in (self.accountant_a, self.admin_a):
            with self.subTest(user=user.login):
                Item = self.env["pluggy.item"].with_user(user)
                Account = self.env["pluggy.account"].with_user(user)
                self.assertEqual(Item.search([]), self.connection_a)
                self.assertEqual(Account.search([]), self.connection_a.account_ids)
                with self.assertRaises(AccessError):
                    self.connection_b.with_user(user).read(["name"])
                with self.assertRaises(AccessError):
                    self.connection_b.account_ids.with_user(user).read(["name"])
                lines_b = self.lines(self.connection_b.account_ids.journal_id)
                self.assertTrue(lines_b)
                self.assertFalse(
                    self.env["account.bank.statement.line"]
                    .with_user(user)
                    .search([("id", "in", lines_b.ids)])
                )

    def test_user_of_both_companies_sees_only_the_active_ones(self):
        Item = self.env["pluggy.item"].with_user(self.both)
        self.assertEqual(
            Item.with_context(allowed_company_ids=self.company.ids).search([]), self.connection_a
        )
        self.assertEqual(
            Item.with_context(allowed_company_ids=self.company_b.ids).search([]), self.connection_b
        )
        both = Item.with_context(allowed_company_ids=(self.company | self.company_b).ids).search([])
        self.assertEqual(both, self.connection_a | self.connection_b)

    def test_user_without_accounting_rights_reads_no_connection(self):
        for model in ("pluggy.item", "pluggy.account"):
            with self.subTest(model=model), self.assertRaises(AccessError):
                self.env[model].with_user(self.employee).search([])

    def test_accountant_cannot_create_or_delete_connections(self):
        with self.assertRaises(AccessError):
            self.env["pluggy.item"].with_user(self.accountant_a).create({"pluggy_item_id": "forged"})
        with self.assertRaises(AccessError):
            self.connection_a.with_user(self.accountant_a).unlink()

    def test_admin_of_a_cannot_move_a_connection_to_b(self):
        with self.assertRaises(AccessError):
            self.env["pluggy.item"].with_user(self.admin_a).create(
                {"pluggy_item_id": "forged-b", "company_id": self.company_b.id}
            )
