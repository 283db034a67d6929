"""The addon on data it did not write: users as the Users form creates them, a database without a mail
server, and Pluggy's payloads in the shapes its documentation and SDKs send (``data/``, see SOURCES.md)."""

import copy
import json
from datetime import date, timedelta
from pathlib import Path

from odoo import fields
from odoo.tests import tagged

from odoo.addons.caixa_pluggy.models.pluggy_webhook import WEBHOOK_ROUTE, WEBHOOK_SECRET_HEADER
from odoo.addons.caixa_pluggy.pluggy.dates import local_date

from .common import PluggyHttpCase
from .test_sync import IMPORTER_LOGGER, SyncMixin

DATA = Path(__file__).parent / "data"
CALLBACK = "/caixa_pluggy/callback"


def _fixtures(name):
    return json.loads((DATA / name).read_text())


def _entry(entries, name):
    return copy.deepcopy(next(entry for entry in entries if entry["name"].startswith(name)))


@tagged("post_install", "-at_install")
class TestRealWorld(SyncMixin, PluggyHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The database has no outgoing mail server, as a fresh Odoo has none.
        cls.env["ir.mail_server"].sudo().search([]).unlink()
        cls.accountant = cls.user_from_the_users_form("Ana Contadora", "ana")
        cls.transactions = _fixtures("pluggy_transactions.json")
        cls.webhooks = _fixtures("pluggy_webhooks.json")["payloads"]

    def setUp(self):
        super().setUp()
        self.bank_today = local_date(fields.Datetime.now(), self.company._pluggy_time_zone())

    # ----- helpers -----

    def bank_item(self):
        item = self.pluggy.add_item(self.client_user_id, connector_name="Banco Real")
        account = self.pluggy.add_account(item, number="0001/12345-6", balance="1000.00")
        self.pluggy.add_transaction(account, "-10.00", on=self.bank_today - timedelta(days=2))
        return item, account

    def notes(self, connection):
        return connection.message_ids.filtered(lambda message: message.message_type == "notification")

    def real_row(self, kind, name, account, days_ago):
        """A row of the fixtures, moved (with its time of day) to ``days_ago`` bank days before today, into
        the look-back window; returns the row and the line date the accountant must see."""
        entry = _entry(self.transactions[kind], name)
        row = entry["row"]
        expected = date.fromisoformat(entry["expect"]["date"]) if "expect" in entry else None
        if row.get("date"):
            written = date.fromisoformat(row["date"][:10])
            shift = self.bank_today - timedelta(days=days_ago) - (expected or written)
            row["date"] = (written + shift).isoformat() + row["date"][10:]
            expected = expected and expected + shift
        row.update(accountId=account["id"], createdAt=row.get("createdAt") or "2020-01-01T00:00:00.000Z")
        self.pluggy.transactions[account["id"]].append(row)
        return row, expected

    def post_webhook(self, body):
        return self.url_open(
            WEBHOOK_ROUTE,
            data=json.dumps(body),
            headers={
                "Content-Type": "application/json",
                WEBHOOK_SECRET_HEADER: self.env["pluggy.webhook"]._secret(),
            },
        )

    def process_webhooks(self):
        self.env.ref("caixa_pluggy.ir_cron_process_webhooks").sudo().method_direct_trigger()

    # -------------------------------------------------------------------------
    # A user without an e-mail address, a database without a mail server
    # -------------------------------------------------------------------------

    def test_accounting_admin_without_email_connects_a_bank(self):
        self.assertFalse(self.accountant.email)
        self.assertFalse(self.env["ir.mail_server"].sudo().search_count([]))
        item, _account = self.bank_item()
        self.authenticate("ana", "ana-password")

        reply = self.jsonrpc(CALLBACK, {"item_id": item["id"]})

        self.assertIn("result", reply, reply.get("error"))
        connection = self.env["pluggy.item"].browse(reply["result"]["connection_id"])
        self.assertTrue(connection.journal_ids)
        self.assertEqual(len(self.lines(connection.journal_ids)), 1)
        self.assertIn("Ana Contadora", " ".join(self.notes(connection).mapped("body")))

    def test_accounting_admin_without_email_disconnects_a_bank(self):
        item, _account = self.bank_item()
        connection = self.env["pluggy.item"].browse(self.connect(item)["connection_id"])
        journals = connection.journal_ids

        connection.with_user(self.accountant).action_disconnect()

        self.assertFalse(connection.active)
        self.assertIn("Disconnected", " ".join(self.notes(connection).mapped("body")))
        self.assertEqual(len(self.lines(journals)), 1, "the imported lines are kept")

    def test_reconnect_activity_reaches_admins_without_email_when_they_sync(self):
        item, _account = self.bank_item()
        connection = self.env["pluggy.item"].browse(self.connect(item)["connection_id"])
        item["status"] = "LOGIN_ERROR"
        item["error"] = {"code": "INVALID_CREDENTIALS", "message": "Invalid credentials"}

        connection.with_user(self.accountant).action_sync_now()

        self.assertEqual(connection.state, "needs_reconnect")
        activity = connection.activity_ids.filtered(lambda activity: activity.user_id == self.accountant)
        self.assertEqual(len(activity), 1, "the admin without e-mail still gets the reminder")

    def test_item_deleted_at_pluggy_is_processed_by_the_cron_as_odoobot(self):
        item, _account = self.bank_item()
        connection = self.env["pluggy.item"].browse(self.connect(item)["connection_id"])
        self.env.ref("base.partner_root").email = False
        body = _entry(self.webhooks, "item/deleted")["body"]
        body["itemId"] = item["id"]

        self.assertEqual(self.post_webhook(body).status_code, 200)
        self.process_webhooks()

        self.assertFalse(connection.active)
        self.assertIn("deleted at Pluggy", " ".join(self.notes(connection).mapped("body")))

    # -------------------------------------------------------------------------
    # Webhook bodies in every documented shape
    # -------------------------------------------------------------------------

    def test_documented_bodies_without_event_id_are_accepted_once(self):
        item, _account = self.bank_item()
        self.connect(item)
        Event = self.env["pluggy.webhook.event"].sudo()
        for name in ("item/created, documentation example without eventId", "connector/status_updated, SDK"):
            with self.subTest(body=name):
                body = _entry(self.webhooks, name)["body"]
                body["id"] = item["id"] if body["event"].startswith("item/") else str(item["connector"]["id"])
                before = Event.search_count([])
                self.assertEqual(self.post_webhook(body).status_code, 200)
                self.assertEqual(self.post_webhook(body).status_code, 200, "a retry is answered 200 too")
                self.assertEqual(Event.search_count([]), before + 1, "and stored once")
        self.process_webhooks()
        self.assertEqual(set(Event.search([]).mapped("state")), {"done"})

    def test_connector_status_without_event_id_updates_the_banks_health(self):
        item, _account = self.bank_item()
        connection = self.env["pluggy.item"].browse(self.connect(item)["connection_id"])
        item["connector"]["health"] = {"status": "OFFLINE", "stage": None}
        body = _entry(self.webhooks, "connector/status_updated, SDK")["body"]
        body["id"] = str(item["connector"]["id"])

        self.post_webhook(body)
        self.process_webhooks()

        self.assertEqual(connection.connector_health, "OFFLINE")

    # -------------------------------------------------------------------------
    # Dates, and rows that cannot be imported
    # -------------------------------------------------------------------------

    def test_lines_fall_on_the_banks_calendar_date(self):
        item, account = self.bank_item()
        rows = [
            self.real_row("bank", "TED received", account, 5),
            self.real_row("bank", "Withdrawal at 23:59", account, 4),
            self.real_row("bank", "PIX sent, dated at Brazilian midnight", account, 3),
        ]
        self.connect_and_sync(item)
        for row, expected in rows:
            with self.subTest(row=row["description"]):
                line = self.line_of(row)
                self.assertEqual(line.date, expected)
        withdrawal = self.line_of(rows[1][0])
        self.assertEqual(withdrawal.transaction_type, "SAQUE")

    def test_a_row_without_date_is_skipped_with_a_warning_and_imported_once_fixed(self):
        item, account = self.bank_item()
        bad, _date = self.real_row("bank", "Row without a date", account, 0)
        good, good_date = self.real_row("bank", "PIX sent", account, 3)

        with self.assertLogs(IMPORTER_LOGGER, "WARNING") as logs:
            self.connect_and_sync(item)

        synced = self.account_of(account)
        self.assertEqual(self.line_of(good).date, good_date, "the good rows are imported")
        self.assertFalse(self.line_of(bad))
        self.assertFalse(synced.last_sync_error, "the account did not fail")
        self.assertIn(bad["id"], synced.last_sync_warning)
        self.assertIn("date", synced.last_sync_warning)
        self.assertIn(bad["id"], "\n".join(logs.output))

        bad["date"] = f"{self.bank_today - timedelta(days=1)}T03:00:00.000Z"
        synced._sync()

        self.assertEqual(self.line_of(bad).date, self.bank_today - timedelta(days=1))
        self.assertFalse(synced.last_sync_warning)
        self.assertEqual(len(self.line_of(good)), 1, "nothing imported twice")

    # -------------------------------------------------------------------------
    # Journals, and the job run by hand
    # -------------------------------------------------------------------------

    def test_existing_journal_with_the_account_in_another_spelling_is_linked(self):
        existing = self.env["account.journal"].create(
            {
                "name": "Banco Real CC",
                "code": "BRCC",
                "type": "bank",
                "currency_id": self.env.ref("base.BRL").id,
                "bank_acc_number": "12.345-6",
            }
        )
        item, account = self.bank_item()
        self.connect(item)
        self.assertEqual(self.account_of(account).journal_id, existing)

    def test_two_journals_that_fit_equally_are_not_guessed_between(self):
        Journal = self.env["account.journal"]
        candidates = Journal.create(
            [
                {"name": name, "code": code, "type": "bank", "bank_acc_number": number}
                for name, code, number in (("First", "FRST", "12345-6"), ("Second", "SCND", "0123456"))
            ]
        )
        item, account = self.bank_item()
        self.connect(item)
        journal = self.account_of(account).journal_id
        self.assertTrue(journal)
        self.assertNotIn(journal, candidates)

    def test_running_the_sync_job_by_hand_reads_pluggy_now(self):
        item, account = self.bank_item()
        self.connect_and_sync(item)
        synced = self.account_of(account)
        self.assertGreater(synced.next_sync_at, fields.Datetime.now(), "not due for hours")
        new_row = self.pluggy.add_transaction(account, "-7.00", on=self.bank_today - timedelta(days=1))

        self.env["pluggy.account"].sudo()._cron_sync()
        self.assertFalse(self.line_of(new_row), "a scheduled run keeps each account's interval")

        self.env.ref("caixa_pluggy.ir_cron_sync").sudo().method_direct_trigger()
        self.assertEqual(len(self.line_of(new_row)), 1)
        self.assertGreater(synced.next_sync_at, fields.Datetime.now(), "and the interval starts again")

    def test_sync_now_reads_pluggy_whatever_the_schedule(self):
        item, account = self.bank_item()
        self.connect_and_sync(item)
        new_row = self.pluggy.add_transaction(account, "-8.00", on=self.bank_today - timedelta(days=1))
        self.account_of(account).with_user(self.accountant).action_sync_now()
        self.assertEqual(len(self.line_of(new_row)), 1)
