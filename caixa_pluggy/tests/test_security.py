"""Access and secrets: each company sees only its own bank connections, accounts and lines; people without
accounting rights see and sync nothing; only system administrators read the credentials; and no export or
settings read carries a secret.

Complements test_connections (record rules), test_connect_routes (who may call the routes, secrets in their
replies and logs) and test_settings (the credential fields).
"""

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from odoo.addons.caixa_pluggy.models import pluggy_api

from .common import PluggyCase

PLUGGY_MODELS = ("pluggy.item", "pluggy.account", "pluggy.webhook.event")


@tagged("post_install", "-at_install")
class TestSecurity(PluggyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.setup_other_company()["company"]
        cls.accountant_a = cls._user("sec_accountant_a", "account.group_account_user")
        cls.auditor_a = cls._user("sec_auditor_a", "account.group_account_readonly")
        # An accounting administrator of Odoo Community without "Show Full Accounting Features".
        cls.billing_admin_a = cls._user("sec_billing_admin_a", "account.group_account_manager")
        cls.employee_a = cls._user("sec_employee_a", "base.group_user")

    @classmethod
    def _user(cls, login, group):
        return new_test_user(
            cls.env,
            login=login,
            # Allowed to export, so that exporting another company's records is refused by the record rules.
            groups=f"base.group_user,base.group_allow_export,{group}",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )

    def setUp(self):
        super().setUp()
        self.account_a = self._connected_account(self.company)
        self.account_b = self._connected_account(self.company_b)
        events = self.env["pluggy.webhook.event"].sudo()
        for account in (self.account_a, self.account_b):
            events._receive(
                {
                    "event": "transactions/created",
                    "eventId": f"sec-{account.pluggy_account_id}",
                    "itemId": account.item_id.pluggy_item_id,
                    "accountId": account.pluggy_account_id,
                }
            )

    def _connected_account(self, company):
        env = self.env(context={**self.env.context, "allowed_company_ids": company.ids})
        item = self.pluggy.add_item(env["pluggy.api"]._client_user_id(company), connector_name=company.name)
        account = self.pluggy.add_account(item, balance="100.00")
        for day in range(3):
            self.pluggy.add_transaction(account, f"-{day + 1}.50", on=self.days_ago(day))
        connection = env["pluggy.item"].browse(
            env["pluggy.item"]._connect_callback(item["id"])["connection_id"]
        )
        self.assertTrue(self.lines(connection.account_ids.journal_id))
        return connection.account_ids

    def lines_of(self, account):
        return self.lines(account.journal_id)

    # -------------------------------------------------------------------------
    # Companies
    # -------------------------------------------------------------------------

    def test_users_of_company_a_see_nothing_of_company_b(self):
        b_records = {
            "pluggy.item": self.account_b.item_id,
            "pluggy.account": self.account_b,
            "account.journal": self.account_b.journal_id,
            "account.bank.statement.line": self.lines_of(self.account_b),
        }
        for user in (self.accountant_a, self.auditor_a, self.billing_admin_a):
            for model, records in b_records.items():
                with self.subTest(user=user.login, model=model):
                    Model = self.env[model].with_user(user)
                    self.assertFalse(Model.search([("id", "in", records.ids)]), "found by search")
                    found = [record_id for record_id, _name in Model.name_search(records[:1].display_name)]
                    self.assertFalse(set(found) & set(records.ids), "found by name")
                    with self.assertRaises(AccessError):
                        records.with_user(user).read(["display_name"])
                    with self.assertRaises(AccessError):
                        records.with_user(user).export_data(["display_name"])
            with self.subTest(user=user.login, view="totals by journal"):
                groups = (
                    self.env["account.bank.statement.line"].with_user(user)._read_group([], ["journal_id"])
                )
                self.assertNotIn(self.account_b.journal_id, [journal for (journal,) in groups])

    def test_only_accounting_administrators_read_the_webhook_inbox(self):
        # Managers read the inbox to see what Pluggy sent; the accountants and auditors do not read it at all.
        for user in (self.accountant_a, self.auditor_a, self.employee_a):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.env["pluggy.webhook.event"].with_user(user).search([])

    def test_accounting_administrators_read_only_their_companies_webhook_events(self):
        Event = self.env["pluggy.webhook.event"].sudo()
        event_a, event_b = (
            Event.search([("event_id", "=", f"sec-{account.pluggy_account_id}")])
            for account in (self.account_a, self.account_b)
        )
        self.assertEqual((event_a.company_id, event_b.company_id), (self.company, self.company_b))
        # A bank's status, and a connection of no company here: they name no company.
        Event._receive({"event": "connector/status_updated", "eventId": "sec-connector", "id": 0})
        Event._receive({"event": "item/updated", "eventId": "sec-foreign", "itemId": "not-one-of-ours"})
        orphans = Event.search([("event_id", "in", ("sec-connector", "sec-foreign"))])
        self.assertEqual(len(orphans), 2)
        everything = event_a | event_b | orphans
        system_admin_a = self._user("sec_system_a", "base.group_system")
        for user, visible in ((self.billing_admin_a, event_a), (system_admin_a, event_a | orphans)):
            with self.subTest(user=user.login):
                Inbox = self.env["pluggy.webhook.event"].with_user(user)
                self.assertEqual(Inbox.search([("id", "in", everything.ids)]), visible)
                for hidden in everything - visible:
                    with self.assertRaises(AccessError):
                        hidden.with_user(user).read(["event", "payload"])

    def test_an_event_received_before_its_connection_gets_the_connection_company(self):
        # Pluggy may announce a new connection before the browser's callback registers it.
        item = self.pluggy.add_item(self.client_user_id)
        self.pluggy.add_account(item)
        Event = self.env["pluggy.webhook.event"].sudo()
        Event._receive({"event": "item/created", "eventId": "sec-early", "itemId": item["id"]})
        early = Event.search([("event_id", "=", "sec-early")])
        Inbox = self.env["pluggy.webhook.event"].with_user(self.billing_admin_a)
        self.assertFalse(early.company_id)
        self.assertFalse(Inbox.search([("id", "=", early.id)]))
        self.connect(item)
        self.assertEqual(early.company_id, self.company)
        self.assertEqual(Inbox.search([("id", "=", early.id)]), early)

    # -------------------------------------------------------------------------
    # People without accounting rights, and who may sync
    # -------------------------------------------------------------------------

    def test_user_without_accounting_rights_reads_nothing_and_cannot_sync(self):
        for model in PLUGGY_MODELS:
            with self.subTest(model=model), self.assertRaises(AccessError):
                self.env[model].with_user(self.employee_a).search([])
        before = len(self.lines_of(self.account_a))
        self.pluggy.add_transaction(self.pluggy.accounts[self.account_a.item_id.pluggy_item_id][0], "-9.99")
        for label, call in (
            ("account", lambda: self.account_a.with_user(self.employee_a).action_sync_now()),
            ("connection", lambda: self.account_a.item_id.with_user(self.employee_a).action_sync_now()),
            ("journal", lambda: self.account_a.journal_id.with_user(self.employee_a).action_pluggy_sync()),
        ):
            with self.subTest(button=label), self.assertRaises(AccessError):
                call()
        self.assertEqual(len(self.lines_of(self.account_a)), before)

    def test_auditor_cannot_sync(self):
        before = len(self.lines_of(self.account_a))
        self.pluggy.add_transaction(self.pluggy.accounts[self.account_a.item_id.pluggy_item_id][0], "-9.99")
        with self.assertRaises(AccessError):
            self.account_a.with_user(self.auditor_a).action_sync_now()
        self.assertEqual(len(self.lines_of(self.account_a)), before)

    def test_accounting_administrator_without_full_accounting_features_can_sync_now(self):
        user = self.billing_admin_a
        self.assertFalse(user.has_group("account.group_account_user"))
        new = self.pluggy.add_transaction(
            self.pluggy.accounts[self.account_a.item_id.pluggy_item_id][0], "-9.99"
        )
        self.pluggy.requests.clear()
        action = self.account_a.journal_id.with_user(user).action_pluggy_sync()
        self.assertEqual(action["params"]["type"], "success", action["params"]["message"])
        self.assertTrue(
            self.lines_of(self.account_a).filtered(lambda line: line.pluggy_transaction_id == new["id"])
        )

    def test_accountant_cannot_write_what_the_sync_keeps_on_an_account(self):
        """What the views show read-only is the sync's own state: written through JSON-RPC, a wrong balance
        would hide a missing line, a watermark in the future would skip every new transaction."""
        account = self.account_a
        forged = {
            "bank_balance": 1_000_000,
            "transactions_watermark": "2099-01-01T00:00:00.000Z",
            "pending_transaction_ids": [],
            "history_pending": False,
            "next_sync_at": "2099-01-01 00:00:00",
            "last_sync_error": False,
            "number": "0000/00000-0",
            "journal_id": self.env["account.journal"]
            .search(
                [
                    ("company_id", "=", self.company.id),
                    ("type", "=", "bank"),
                    ("pluggy_account_id", "=", False),
                ],
                limit=1,
            )
            .id,
        }
        before = account.read(list(forged))
        for field, value in forged.items():
            with self.subTest(field=field), self.assertRaises(AccessError):
                account.with_user(self.accountant_a).write({field: value})
        account.invalidate_recordset()
        self.assertEqual(account.read(list(forged)), before)

    def test_accountant_syncs_and_creates_the_opening_balance(self):
        user = self.accountant_a
        bank_account = self.pluggy.accounts[self.account_a.item_id.pluggy_item_id][0]
        for label, call in (
            ("journal", lambda: self.account_a.journal_id.with_user(user).action_pluggy_sync()),
            ("account", lambda: self.account_a.with_user(user).action_sync_now()),
            ("connection", lambda: self.account_a.item_id.with_user(user).action_sync_now()),
        ):
            with self.subTest(button=label):
                new = self.pluggy.add_transaction(bank_account, "-9.99")
                action = call()
                self.assertEqual(action["params"]["type"], "success", action["params"]["message"])
                self.assertIn(new["id"], self.lines_of(self.account_a).mapped("pluggy_transaction_id"))
        account = self.account_a.with_user(user)
        self.assertTrue(account.balance_difference)
        account.action_create_opening_balance()
        account.invalidate_recordset(["balance_difference"])
        self.assertEqual(account.balance_difference, 0)

    def test_accountant_of_a_cannot_sync_the_accounts_of_b(self):
        with self.assertRaises(AccessError):
            self.account_b.with_user(self.accountant_a).action_sync_now()

    # -------------------------------------------------------------------------
    # Credentials
    # -------------------------------------------------------------------------

    def secrets(self):
        params = self.env["ir.config_parameter"].sudo()
        api_keys = [key for key, _expiry in pluggy_api._API_KEY_CACHE._keys.values()]
        self.assertTrue(api_keys, "a sync ran, so an API key is cached")
        return {
            "client secret": params.get_param("caixa_pluggy.client_secret"),
            "webhook secret": params.get_param("caixa_pluggy.webhook_secret"),
            **{f"API key {index}": key for index, key in enumerate(api_keys)},
        }

    def test_only_system_administrators_read_the_credentials(self):
        for user in (self.billing_admin_a, self.accountant_a, self.auditor_a, self.employee_a):
            with self.subTest(user=user.login):
                Params = self.env["ir.config_parameter"].with_user(user)
                with self.assertRaises(AccessError):
                    Params.search([("key", "like", "caixa_pluggy.")]).read(["value"])
                settings_fields = self.env["res.config.settings"].with_user(user).fields_get()
                self.assertNotIn("pluggy_client_id", settings_fields)
                self.assertNotIn("pluggy_client_secret_new", settings_fields)
        admin_params = self.env["ir.config_parameter"].with_user(self.env.ref("base.user_admin"))
        self.assertTrue(admin_params.get_param("caixa_pluggy.client_secret"))

    def test_no_secret_in_exports_or_settings_reads_even_for_a_system_administrator(self):
        admin = self.env.ref("base.user_admin")
        secrets = self.secrets()
        outputs = {}
        for model in (*PLUGGY_MODELS, "account.journal", "account.bank.statement.line"):
            Model = self.env[model].with_user(admin).with_context(active_test=False)
            fields = [
                name
                for name, field in Model._fields.items()
                if field.exportable and not getattr(field, "deprecated", None)
            ]
            records = Model.search([])
            outputs[f"export {model}"] = records.export_data(fields)
            outputs[f"read {model}"] = records.read([name for name in fields if name in Model._fields])
        Settings = self.env["res.config.settings"].with_user(admin)
        outputs["settings defaults"] = Settings.default_get(list(Settings.fields_get()))
        settings = Settings.create({})
        outputs["settings read"] = settings.read(list(Settings.fields_get()))
        outputs["settings form"] = Settings.get_views([(False, "form")])
        for label, output in outputs.items():
            for secret_label, secret in secrets.items():
                with self.subTest(output=label, secret=secret_label):
                    self.assertTrue(secret)
                    self.assertNotIn(secret, str(output))
