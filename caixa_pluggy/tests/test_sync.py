"""The sync engine's promises, as an accountant sees them in the journal's statement lines.

Pluggy is the in-memory FakePluggy of common.py (three rows per cursor page, so every sync crosses pages).
TestSyncRealCursors uses separate database connections and real commits, which a TransactionCase's single
cursor cannot show.
"""

import threading
import uuid
from datetime import date, datetime, timedelta, timezone
from unittest.mock import patch

import httpx
import psycopg2

from odoo import SUPERUSER_ID, api, fields
from odoo.modules import module as odoo_module
from odoo.modules.registry import DummyRLock, Registry
from odoo.tests import BaseCase, get_db_name, tagged
from odoo.tools import mute_logger

from odoo.addons.caixa_pluggy.models.pluggy_api import PluggyApi
from odoo.addons.caixa_pluggy.pluggy import PluggyClient
from odoo.addons.caixa_pluggy.sync import importer as importer_module
from odoo.addons.caixa_pluggy.sync.policy import FIRST_BATCH_LINES

from .common import BASE_URL, FakePluggy, PluggyCase

ENGINE_LOGGER = "odoo.addons.caixa_pluggy.models.pluggy_account_sync"
IMPORTER_LOGGER = "odoo.addons.caixa_pluggy.sync.importer"
ITEM_LOGGER = "odoo.addons.caixa_pluggy.models.pluggy_item"
INBOX_LOGGER = "odoo.addons.caixa_pluggy.models.pluggy_webhook_event"


def created_ago(days):
    return datetime.now(timezone.utc) - timedelta(days=days)


def fail_page(pluggy, account, after, error=None):
    """A fault for FakePluggy: the page of ``account``'s transactions that starts at row ``after`` (every page
    when None) fails, with Pluggy's HTTP 500 or by raising ``error``."""

    def fault(request):
        params = request.url.params
        if (
            request.url.path == "/v2/transactions"
            and params.get("accountId") == account["id"]
            and (after is None or params.get("after") == str(after))
        ):
            if error:
                raise error
            return httpx.Response(500, json={"code": 500, "message": "Internal Server Error"})
        return None

    pluggy.fault = fault


class SyncMixin:
    """Helpers of the sync and webhook tests: a plain mixin, so that importing it runs no test twice."""

    def connect_and_sync(self, item):
        """Connect an item as the callback route does, then run the history sync the cron would run next."""
        self.connect(item)
        accounts = self.pluggy_accounts(item)
        accounts._sync()
        return accounts

    def run_scheduled(self, cron):
        """Run a job as Odoo's cron worker does at its scheduled time (not as "Run Manually" does)."""
        cron, _progress = cron._add_progress()
        cron._callback(cron.name, cron.ir_actions_server_id.id)

    def last_progress(self, cron):
        """What the job's last run reported to Odoo (ir.cron.progress)."""
        Progress = self.env["ir.cron.progress"].sudo()
        return Progress.search([("cron_id", "=", cron.id)], order="id desc", limit=1)

    def pluggy_accounts(self, item):
        return self.env["pluggy.account"].search([("item_id.pluggy_item_id", "=", item["id"])], order="id")

    def account_of(self, pluggy_account):
        return self.env["pluggy.account"].search([("pluggy_account_id", "=", pluggy_account["id"])])

    def line_of(self, tx):
        return self.env["account.bank.statement.line"].search([("pluggy_transaction_id", "=", tx["id"])])

    def reconcile(self, line):
        """Reconcile a statement line with an invoice of its amount, the way Odoo's own tests do in CE."""
        move_type = "in_invoice" if line.amount < 0 else "out_invoice"
        invoice = self.init_invoice(
            move_type,
            amounts=[abs(line.amount)],
            taxes=self.env["account.tax"],
            currency=line.currency_id,
            post=True,
        )
        counterpart = invoice.line_ids.filtered(
            lambda move_line: move_line.account_type in ("asset_receivable", "liability_payable")
        )
        _liquidity, suspense, _other = line.with_context(
            skip_account_move_synchronization=True
        )._seek_for_lines()
        suspense.with_context(skip_account_move_synchronization=True).account_id = counterpart.account_id
        (suspense + counterpart).reconcile()
        self.assertTrue(line.is_reconciled)
        return line


@tagged("post_install", "-at_install")
class TestSync(SyncMixin, PluggyCase):
    # -------------------------------------------------------------------------
    # Exactly once, kept in step with the bank
    # -------------------------------------------------------------------------

    def test_connect_imports_latest_lines_once(self):
        item = self.pluggy.add_item(self.client_user_id)
        account = self.pluggy.add_account(item, balance="100.00")
        for day in range(8):
            self.pluggy.add_transaction(account, "-10.00", on=self.days_ago(day))
        result = self.connect(item)
        journal = self.env["account.journal"].browse(result["journal_ids"])
        self.assertEqual(len(self.lines(journal)), 8)
        journal.pluggy_account_id._sync()
        self.assertEqual(len(self.lines(journal)), 8)

    def test_connect_imports_only_the_newest_lines_and_the_cron_brings_the_rest(self):
        item = self.pluggy.add_item(self.client_user_id)
        account = self.pluggy.add_account(item)
        busy_day = [self.pluggy.add_transaction(account, "-1.00", on=self.days_ago(0)) for _ in range(40)]
        yesterday = [self.pluggy.add_transaction(account, "-2.00", on=self.days_ago(1)) for _ in range(40)]
        older = [
            self.pluggy.add_transaction(account, "-3.00", on=self.days_ago(day)) for day in range(40, 50)
        ]

        result = self.connect(item)

        journal = self.env["account.journal"].browse(result["journal_ids"])
        first_batch = self.lines(journal)
        self.assertEqual(len(first_batch), FIRST_BATCH_LINES)
        self.assertEqual(set(first_batch.mapped("date")), {self.days_ago(0), self.days_ago(1)})
        self.assertLessEqual({tx["id"] for tx in busy_day}, set(first_batch.mapped("pluggy_transaction_id")))
        pluggy_account = journal.pluggy_account_id
        self.assertTrue(pluggy_account.history_pending)
        # Due at once: the cron the callback triggered claims it (its own transaction sees it as due).
        self.assertLessEqual(pluggy_account.next_sync_at, fields.Datetime.now())

        pluggy_account._sync()

        self.assertEqual(
            sorted(self.lines(journal).mapped("pluggy_transaction_id")),
            sorted(tx["id"] for tx in busy_day + yesterday + older),
        )
        self.assertFalse(pluggy_account.history_pending)

    def test_accounts_of_a_connection_are_read_from_pluggy_at_the_same_time(self):
        item = self.pluggy.add_item(self.client_user_id)
        bank = self.pluggy.add_account(item)
        card = self.pluggy.add_account(item, account_type="CREDIT")
        accounts = self.connect_and_sync(item)
        new_rows = [self.pluggy.add_transaction(bank, "-5.00"), self.pluggy.add_transaction(card, "-7.00")]
        # Each account's window read waits until the other account's is in flight too: read one after the
        # other, the first would wait alone and fail.
        both_in_flight = threading.Barrier(2, timeout=10)
        waited = set()

        def wait_for_the_other_account(request):
            account_id = request.url.params.get("accountId")
            if "dateFrom" in request.url.params and account_id not in waited:
                waited.add(account_id)
                both_in_flight.wait()

        self.pluggy.fault = wait_for_the_other_account

        summary = accounts._sync()

        self.assertEqual(waited, {bank["id"], card["id"]})
        self.assertFalse(summary.errors)
        for tx in new_rows:
            self.assertEqual(len(self.line_of(tx)), 1)

    def _item_with_history(self, count, every_days):
        """A connection whose one account holds ``count`` rows, one every ``every_days`` days back from
        today; returns the item and the rows."""
        item = self.pluggy.add_item(self.client_user_id)
        account = self.pluggy.add_account(item)
        rows = [
            self.pluggy.add_transaction(account, f"-{day + 1}.00", on=self.days_ago(day * every_days))
            for day in range(count)
        ]
        return item, rows

    def test_two_syncs_in_a_row_create_no_duplicate(self):
        item, rows = self._item_with_history(8, every_days=5)
        pluggy_account = self.connect_and_sync(item)
        journal = pluggy_account.journal_id

        summary = pluggy_account._sync()

        self.assertEqual(summary.created_ids, [])
        self.assertEqual(
            sorted(self.lines(journal).mapped("pluggy_transaction_id")), sorted(tx["id"] for tx in rows)
        )

    def test_long_history_is_imported_once_with_gapless_entry_numbers(self):
        item, rows = self._item_with_history(14, every_days=3)
        # Statistics refreshed inside the import after 2 lines and at each doubling: several times over these
        # pages, as over the pages of a history of thousands of lines.
        with patch.object(importer_module, "ANALYZE_AFTER_LINES", 2):
            pluggy_account = self.connect_and_sync(item)

        self.assertFalse(pluggy_account.last_sync_error)
        moves = self.lines(pluggy_account.journal_id).move_id
        self.assertEqual(
            sorted(moves.statement_line_id.mapped("pluggy_transaction_id")), sorted(tx["id"] for tx in rows)
        )
        for same_prefix in moves.grouped("sequence_prefix").values():
            self.assertEqual(
                sorted(same_prefix.mapped("sequence_number")), list(range(1, len(same_prefix) + 1))
            )

    def test_edited_unreconciled_row_updates_its_line(self):
        item = self.pluggy.add_item(self.client_user_id)
        account = self.pluggy.add_account(item)
        tx = self.pluggy.add_transaction(account, "-50.00", on=self.days_ago(3), description="PIX ENVIADO")
        self.connect_and_sync(item)
        line = self.line_of(tx)

        self.pluggy.edit_transaction(
            tx,
            amount="-55.10",
            description="PIX ENVIADO FORNECEDOR",
            date=self.days_ago(2).strftime("%Y-%m-%dT00:00:00.000Z"),
        )
        summary = self.account_of(account)._sync()

        self.assertEqual(summary.updated, 1)
        self.assertEqual(self.line_of(tx), line, "the line is updated in place, not replaced")
        self.assertRecordValues(
            line,
            [
                {
                    "amount": -55.10,
                    "payment_ref": "PIX ENVIADO FORNECEDOR",
                    "date": self.days_ago(2),
                    "pluggy_flag": False,
                }
            ],
        )

    def test_reconciled_line_is_never_changed_and_is_flagged_once(self):
        item = self.pluggy.add_item(self.client_user_id)
        account = self.pluggy.add_account(item)
        tx = self.pluggy.add_transaction(account, "-80.00", on=self.days_ago(4), description="BOLETO ENERGIA")
        self.connect_and_sync(item)
        line = self.reconcile(self.line_of(tx))
        move_lines_before = line.move_id.line_ids.read(["account_id", "balance", "amount_currency"])

        self.pluggy.edit_transaction(tx, amount="-85.00", description="BOLETO ENERGIA + MULTA")
        summary = self.account_of(account)._sync()

        self.assertEqual(summary.flagged, 1)
        self.assertRecordValues(
            line,
            [
                {
                    "amount": -80.0,
                    "payment_ref": "BOLETO ENERGIA",
                    "is_reconciled": True,
                    "pluggy_flag": "changed",
                }
            ],
        )
        self.assertEqual(
            line.move_id.line_ids.read(["account_id", "balance", "amount_currency"]), move_lines_before
        )
        self.assertIn("80", line.pluggy_flag_note)
        self.assertIn("85", line.pluggy_flag_note)
        self.assertIn("BOLETO ENERGIA + MULTA", line.pluggy_flag_note)

        # The same bank change is reported once, not again by every later sync.
        note = line.pluggy_flag_note
        again = self.account_of(account)._sync()
        self.assertEqual(again.flagged, 0)
        self.assertEqual(line.pluggy_flag_note, note)

    def test_deleted_row_removes_its_unreconciled_line(self):
        item = self.pluggy.add_item(self.client_user_id)
        account = self.pluggy.add_account(item)
        kept = self.pluggy.add_transaction(account, "-20.00", on=self.days_ago(2))
        dropped = self.pluggy.add_transaction(account, "-30.00", on=self.days_ago(3))
        pluggy_account = self.connect_and_sync(item)

        self.pluggy.delete_transaction(dropped)
        summary = pluggy_account._sync()

        self.assertEqual(summary.removed, 1)
        self.assertEqual(self.lines(pluggy_account.journal_id).mapped("pluggy_transaction_id"), [kept["id"]])

    def test_row_redated_out_of_the_lookback_window_is_moved_not_removed(self):
        item = self.pluggy.add_item(self.client_user_id)
        account = self.pluggy.add_account(item)
        tx = self.pluggy.add_transaction(
            account, "-45.90", on=self.days_ago(3), description="COMPRA PARCELADA"
        )
        pluggy_account = self.connect_and_sync(item)

        # Card rows are re-dated when a bill closes: the row now sits before the 10-day window.
        self.pluggy.edit_transaction(tx, date=self.days_ago(30).strftime("%Y-%m-%dT00:00:00.000Z"))
        summary = pluggy_account._sync()

        self.assertEqual(summary.removed, 0)
        self.assertRecordValues(self.line_of(tx), [{"amount": -45.90, "date": self.days_ago(30)}])

    def test_deleted_row_of_a_reconciled_line_flags_it_instead_of_removing_it(self):
        item = self.pluggy.add_item(self.client_user_id)
        account = self.pluggy.add_account(item)
        tx = self.pluggy.add_transaction(account, "150.00", on=self.days_ago(2), description="TED RECEBIDA")
        pluggy_account = self.connect_and_sync(item)
        line = self.reconcile(self.line_of(tx))

        self.pluggy.delete_transaction(tx)
        pluggy_account._sync()

        self.assertTrue(line.exists())
        self.assertRecordValues(line, [{"amount": 150.0, "is_reconciled": True, "pluggy_flag": "deleted"}])
        self.assertTrue(line.pluggy_flag_note)

    def test_unique_index_rejects_a_duplicate_transaction_in_a_journal(self):
        item = self.pluggy.add_item(self.client_user_id)
        account = self.pluggy.add_account(item)
        tx = self.pluggy.add_transaction(account, "-10.00")
        journal = self.connect_and_sync(item).journal_id

        with (
            self.assertRaises(psycopg2.errors.UniqueViolation),
            mute_logger("odoo.sql_db"),
            self.env.cr.savepoint(),
        ):
            self.env["account.bank.statement.line"].create(
                {
                    "journal_id": journal.id,
                    "date": date.today(),
                    "amount": -10.0,
                    "payment_ref": "copy",
                    "pluggy_transaction_id": tx["id"],
                }
            )

    # -------------------------------------------------------------------------
    # Pending rows and late postings
    # -------------------------------------------------------------------------

    def _pending_purchase_posted_under_new_id(self, import_pending):
        self.company.pluggy_import_pending = import_pending
        item = self.pluggy.add_item(self.client_user_id)
        card = self.pluggy.add_account(item, account_type="CREDIT")
        pending = self.pluggy.add_transaction(
            card, "89.90", tx_type="DEBIT", status="PENDING", on=self.days_ago(2), description="MERCADO LIVRE"
        )
        pluggy_account = self.connect_and_sync(item)
        journal = pluggy_account.journal_id
        before = self.lines(journal)
        before_values = before.read(["pluggy_transaction_id", "pluggy_pending", "amount"])

        # Pluggy could not match the posted row to the pending one: the old id is deleted, a new one appears.
        self.pluggy.delete_transaction(pending)
        posted = self.pluggy.add_transaction(
            card, "89.90", tx_type="DEBIT", on=self.days_ago(1), description="MERCADO LIVRE"
        )
        pluggy_account._sync()
        pluggy_account._sync()

        self.assertRecordValues(
            self.lines(journal),
            [
                {
                    "pluggy_transaction_id": posted["id"],
                    "amount": -89.90,
                    "pluggy_pending": False,
                    "date": self.days_ago(1),
                }
            ],
        )
        return before, before_values, pending

    def test_pending_purchase_posted_under_new_id_ends_as_one_line_when_pending_is_not_imported(self):
        before, _values, _pending = self._pending_purchase_posted_under_new_id(import_pending=False)
        self.assertFalse(before, "a pending row is not imported unless the company opted in")

    def test_pending_purchase_posted_under_new_id_ends_as_one_line_when_pending_is_imported(self):
        before, values, pending = self._pending_purchase_posted_under_new_id(import_pending=True)
        self.assertEqual(
            [(value["pluggy_transaction_id"], value["pluggy_pending"], value["amount"]) for value in values],
            [(pending["id"], True, -89.90)],
        )
        self.assertFalse(before.exists(), "the pending line was replaced by the posted one")

    def test_pending_row_older_than_lookback_that_posts_with_same_id_is_imported(self):
        self.company.pluggy_import_pending = False
        item = self.pluggy.add_item(self.client_user_id)
        card = self.pluggy.add_account(item, account_type="CREDIT")
        pending = self.pluggy.add_transaction(
            card,
            "250.00",
            tx_type="DEBIT",
            status="PENDING",
            on=self.days_ago(20),
            created_at=created_ago(20),
        )
        # A newer row moves the createdAt watermark past the pending one: only the re-check by id sees it.
        recent = self.pluggy.add_transaction(card, "12.00", tx_type="DEBIT")
        pluggy_account = self.connect_and_sync(item)
        self.assertEqual(
            self.lines(pluggy_account.journal_id).mapped("pluggy_transaction_id"), [recent["id"]]
        )

        self.pluggy.edit_transaction(pending, status="POSTED")
        pluggy_account._sync()

        self.assertRecordValues(
            self.line_of(pending), [{"amount": -250.0, "date": self.days_ago(20), "pluggy_pending": False}]
        )
        self.assertEqual(len(self.lines(pluggy_account.journal_id)), 2)

    def test_imported_pending_line_older_than_lookback_follows_the_bank(self):
        self.company.pluggy_import_pending = True
        item = self.pluggy.add_item(self.client_user_id)
        card = self.pluggy.add_account(item, account_type="CREDIT")
        posts = self.pluggy.add_transaction(
            card,
            "250.00",
            tx_type="DEBIT",
            status="PENDING",
            on=self.days_ago(20),
            created_at=created_ago(20),
        )
        dropped = self.pluggy.add_transaction(
            card, "99.00", tx_type="DEBIT", status="PENDING", on=self.days_ago(21), created_at=created_ago(21)
        )
        recent = self.pluggy.add_transaction(card, "12.00", tx_type="DEBIT")
        pluggy_account = self.connect_and_sync(item)
        self.assertEqual(self.line_of(posts).pluggy_pending, True)
        self.assertEqual(self.line_of(dropped).pluggy_pending, True)

        self.pluggy.edit_transaction(posts, status="POSTED")
        self.pluggy.delete_transaction(dropped)
        pluggy_account._sync()

        self.assertRecordValues(
            self.lines(pluggy_account.journal_id),
            [
                {"pluggy_transaction_id": posts["id"], "pluggy_pending": False, "amount": -250.0},
                {"pluggy_transaction_id": recent["id"], "pluggy_pending": False, "amount": -12.0},
            ],
        )

    def test_late_postings_created_after_the_last_sync_are_imported(self):
        item = self.pluggy.add_item(self.client_user_id)
        account = self.pluggy.add_account(item)
        self.pluggy.add_transaction(account, "-5.00", on=self.days_ago(2), created_at=created_ago(2))
        pluggy_account = self.connect_and_sync(item)

        # The bank posts rows dated in the past, after our last sync.
        eight_days = self.pluggy.add_transaction(account, "-45.00", on=self.days_ago(8))
        forty_days = self.pluggy.add_transaction(account, "-70.00", on=self.days_ago(40))
        summary = pluggy_account._sync()

        self.assertEqual(len(summary.created_ids), 2)
        self.assertRecordValues(self.line_of(eight_days), [{"amount": -45.0, "date": self.days_ago(8)}])
        self.assertRecordValues(self.line_of(forty_days), [{"amount": -70.0, "date": self.days_ago(40)}])

    # -------------------------------------------------------------------------
    # Failures: one account rolls back alone, the next run completes it
    # -------------------------------------------------------------------------

    def _two_accounts_with_new_rows(self):
        item = self.pluggy.add_item(self.client_user_id)
        checking = self.pluggy.add_account(item)
        card = self.pluggy.add_account(item, account_type="CREDIT")
        self.pluggy.add_transaction(checking, "-1.00", on=self.days_ago(9), created_at=created_ago(9))
        self.pluggy.add_transaction(
            card, "3.00", tx_type="DEBIT", on=self.days_ago(9), created_at=created_ago(9)
        )
        accounts = self.connect_and_sync(item)
        # Seven new rows: the checking account's window now spans three pages.
        for day in range(7):
            self.pluggy.add_transaction(checking, f"-{day + 10}.00", on=self.days_ago(day))
        self.pluggy.add_transaction(card, "42.00", tx_type="DEBIT", on=self.days_ago(1))
        return item, checking, card, accounts

    def _snapshot(self, pluggy_account):
        return {
            "lines": self.lines(pluggy_account.journal_id).read(["pluggy_transaction_id", "amount", "date"]),
            "watermark": pluggy_account.transactions_watermark,
        }

    def _assert_failed_sync_left_account_as_before(self, pluggy_account, before):
        self.assertEqual(self._snapshot(pluggy_account), before)
        self.assertTrue(pluggy_account.last_sync_error)
        self.assertTrue(
            any(
                request.url.params.get("accountId") == pluggy_account.pluggy_account_id
                and request.url.params.get("after") == "3"
                for request in self.pluggy.requests
            ),
            "the second page was read before the failure",
        )

    def test_pluggy_error_after_second_page_leaves_account_as_before(self):
        _item, checking, card, accounts = self._two_accounts_with_new_rows()
        failing, other = self.account_of(checking), self.account_of(card)
        before = self._snapshot(failing)
        fail_page(self.pluggy, checking, after=6)

        with mute_logger(ENGINE_LOGGER):
            summary = accounts._sync()

        self._assert_failed_sync_left_account_as_before(failing, before)
        self.assertIn("HTTP 500", failing.last_sync_error)
        self.assertEqual(len(summary.errors), 1)
        self.assertEqual(len(self.lines(other.journal_id)), 2, "the other account was synced")

        self.pluggy.fault = None
        accounts._sync()
        self.assertEqual(len(self.lines(failing.journal_id)), 8)
        self.assertFalse(failing.last_sync_error)
        self.assertGreater(failing.transactions_watermark, before["watermark"])

    def test_crash_after_second_page_in_the_cron_leaves_account_as_before(self):
        _item, checking, card, accounts = self._two_accounts_with_new_rows()
        failing, other = self.account_of(checking), self.account_of(card)
        self.assertLess(failing.id, other.id, "the failing account is claimed first")
        before = self._snapshot(failing)
        accounts.write({"next_sync_at": False})
        fail_page(
            self.pluggy, checking, after=6, error=RuntimeError("connection reset in the middle of a page")
        )

        with mute_logger(ENGINE_LOGGER):
            self.env["pluggy.account"]._cron_sync()

        self._assert_failed_sync_left_account_as_before(failing, before)
        self.assertIn("connection reset", failing.last_sync_error)
        self.assertEqual(len(self.lines(other.journal_id)), 2, "the other account was synced")
        connection = failing.item_id
        self.assertIn("connection reset", connection.last_sync_error, "the connection shows the failure")
        self.assertEqual(connection.state, "error")

        # The next run (once the failed account is due again) completes it.
        self.pluggy.fault = None
        failing.next_sync_at = fields.Datetime.now() - timedelta(minutes=1)
        self.env["pluggy.account"]._cron_sync()
        self.assertEqual(len(self.lines(failing.journal_id)), 8)
        self.assertFalse(failing.last_sync_error)
        self.assertFalse(connection.last_sync_error)
        self.assertEqual(connection.state, "connected")

    # -------------------------------------------------------------------------
    # What the accountant reads on a line
    # -------------------------------------------------------------------------

    def test_card_purchases_are_negative_and_card_payments_positive(self):
        item = self.pluggy.add_item(self.client_user_id)
        card = self.pluggy.add_account(item, account_type="CREDIT")
        purchase = self.pluggy.add_transaction(card, "120.00", tx_type="DEBIT", description="RESTAURANTE")
        # Older Pluggy card rows carry the opposite sign: the type decides.
        old_style_purchase = self.pluggy.add_transaction(card, "-35.90", tx_type="DEBIT", description="UBER")
        payment = self.pluggy.add_transaction(
            card, "-500.00", tx_type="CREDIT", description="PAGAMENTO FATURA"
        )
        refund = self.pluggy.add_transaction(card, "18.00", tx_type="CREDIT", description="ESTORNO")
        pluggy_account = self.connect_and_sync(item)

        self.assertEqual(pluggy_account.journal_id.type, "credit")
        self.assertEqual(self.line_of(purchase).amount, -120.0)
        self.assertEqual(self.line_of(old_style_purchase).amount, -35.90)
        self.assertEqual(self.line_of(payment).amount, 500.0)
        self.assertEqual(self.line_of(refund).amount, 18.0)

    def _pix_debit(self, account, cnpj):
        return self.pluggy.add_transaction(
            account,
            "-1234.56",
            description="PIX ENVIADO",
            payment_data={
                "paymentMethod": "PIX",
                "payer": {
                    "name": "Empresa Teste Ltda",
                    "documentNumber": {"type": "CNPJ", "value": "12.345.678/0001-90"},
                },
                "receiver": {
                    "name": "Fornecedor Exemplo SA",
                    "documentNumber": {"type": "CNPJ", "value": cnpj},
                    "branchNumber": "0001",
                    "accountNumber": "98765-4",
                },
                "receiverReferenceId": "E12345678202611281200abcdef012345",
            },
        )

    def test_pix_debit_carries_receiver_name_and_cnpj_and_its_partner(self):
        supplier = self.env["res.partner"].create(
            {"name": "Fornecedor Exemplo", "is_company": True, "vat": "11.222.333/0001-81"}
        )
        item = self.pluggy.add_item(self.client_user_id)
        account = self.pluggy.add_account(item)
        tx = self._pix_debit(account, "11.222.333/0001-81")
        self.connect_and_sync(item)

        self.assertRecordValues(
            self.line_of(tx),
            [
                {
                    "amount": -1234.56,
                    "partner_name": "Fornecedor Exemplo SA",
                    "pluggy_partner_vat": "11222333000181",
                    "account_number": "0001/98765-4",
                    "transaction_type": "PIX",
                    "pluggy_payment_reference": "E12345678202611281200abcdef012345",
                    "partner_id": supplier.id,
                }
            ],
        )

    def test_pix_partner_is_not_guessed_when_two_partners_share_the_cnpj(self):
        self.env["res.partner"].create(
            [
                {"name": "Fornecedor Exemplo", "is_company": True, "vat": "44.555.666/0001-72"},
                {"name": "Fornecedor Exemplo (duplicado)", "is_company": True, "vat": "44555666000172"},
            ]
        )
        item = self.pluggy.add_item(self.client_user_id)
        account = self.pluggy.add_account(item)
        tx = self._pix_debit(account, "44.555.666/0001-72")
        self.connect_and_sync(item)

        self.assertRecordValues(
            self.line_of(tx),
            [
                {
                    "partner_name": "Fornecedor Exemplo SA",
                    "pluggy_partner_vat": "44555666000172",
                    "partner_id": False,
                }
            ],
        )

    def test_utc_midnight_keeps_its_date_and_a_late_evening_stays_in_its_month(self):
        self.env.user.tz = "America/Sao_Paulo"
        first = date.today().replace(day=1)
        item = self.pluggy.add_item(self.client_user_id)
        account = self.pluggy.add_account(item)
        midnight = self.pluggy.add_transaction(account, "-10.00", on=first)
        # 02:30 UTC on the 1st is still the last day of the previous month in São Paulo, where the bank is:
        # a withdrawal at 23:30 on the 31st belongs to the month that ended.
        early = self.pluggy.add_transaction(
            account, "-20.00", on=first, date=first.strftime("%Y-%m-%dT02:30:00.000Z")
        )
        self.connect_and_sync(item)

        self.assertEqual(self.line_of(midnight).date, first)
        self.assertEqual(self.line_of(early).date, first - timedelta(days=1))

    # -------------------------------------------------------------------------
    # The cron, the balance, the notification
    # -------------------------------------------------------------------------

    def test_cron_syncs_due_accounts_refreshes_connections_and_reports_progress(self):
        item = self.pluggy.add_item(self.client_user_id)
        checking = self.pluggy.add_account(item, balance="500.00")
        card = self.pluggy.add_account(item, account_type="CREDIT")
        accounts = self.connect_and_sync(item)
        connection = accounts.item_id
        due, not_due = self.account_of(checking), self.account_of(card)
        due.next_sync_at = fields.Datetime.now() - timedelta(minutes=1)
        new_row = self.pluggy.add_transaction(checking, "-9.99")
        card_row = self.pluggy.add_transaction(card, "7.00", tx_type="DEBIT")
        item.update(
            status="LOGIN_ERROR", error={"code": "INVALID_CREDENTIALS", "message": "Invalid credentials"}
        )
        checking["balance"] = "490.01"
        self.pluggy.requests.clear()

        cron = self.env.ref("caixa_pluggy.ir_cron_sync").sudo()
        self.run_scheduled(cron)

        self.assertTrue(self.line_of(new_row), "the due account was synced")
        self.assertFalse(self.line_of(card_row), "an account synced recently waits for its turn")
        self.assertEqual(due.bank_balance, 490.01)
        self.assertGreater(not_due.next_sync_at, fields.Datetime.now())
        self.assertEqual(connection.state, "needs_reconnect")
        self.assertEqual(connection.error_code, "INVALID_CREDENTIALS")
        managers = connection.activity_ids.user_id
        self.assertIn(self.env.user, managers, "the accounting administrators are asked to reconnect")
        progress = self.last_progress(cron)
        self.assertEqual((progress.done, progress.remaining), (1, 0))
        self.assertFalse(
            [request for request in self.pluggy.requests if request.method == "PATCH"], "never PATCH"
        )

    def test_cron_syncs_a_connections_due_accounts_together_reading_the_connection_once(self):
        item = self.pluggy.add_item(self.client_user_id)
        checking = self.pluggy.add_account(item)
        card = self.pluggy.add_account(item, account_type="CREDIT")
        accounts = self.connect_and_sync(item)
        accounts.write({"next_sync_at": False})
        new_rows = [
            self.pluggy.add_transaction(checking, "-9.99"),
            self.pluggy.add_transaction(card, "7.00", tx_type="DEBIT"),
        ]
        self.pluggy.requests.clear()

        cron = self.env.ref("caixa_pluggy.ir_cron_sync").sudo()
        self.run_scheduled(cron)

        self.assertTrue(all(self.line_of(row) for row in new_rows), "both accounts were synced")
        item_reads = [r for r in self.pluggy.requests if r.url.path == f"/items/{item['id']}"]
        self.assertEqual(len(item_reads), 1, "the connection is read once for its two accounts")
        progress = self.last_progress(cron)
        self.assertEqual((progress.done, progress.remaining), (2, 0))

    def _rate_limit(self, account, reset, times=None):
        """Pluggy's 429 on ``account``'s transactions, its window resetting in ``reset`` seconds; ``times``
        answers (None: all of them). Returns the list of the 429s answered."""
        answered = []

        def fault(request):
            if request.url.path != "/v2/transactions" or request.url.params.get("accountId") != account["id"]:
                return None
            if times is not None and len(answered) >= times:
                return None
            answered.append(request)
            return httpx.Response(
                429,
                json={"code": 429, "message": "Too many requests. Please try again later"},
                headers={"RateLimit-Reset": str(reset), "Retry-After": "60"},
            )

        self.pluggy.fault = fault
        return answered

    def test_a_429_for_a_minute_fails_the_account_at_once_and_its_connection_goes_on(self):
        item = self.pluggy.add_item(self.client_user_id)
        checking = self.pluggy.add_account(item)
        card = self.pluggy.add_account(item, account_type="CREDIT")
        accounts = self.connect_and_sync(item)
        accounts.write({"next_sync_at": False})
        checking_row = self.pluggy.add_transaction(checking, "-9.99")
        card_row = self.pluggy.add_transaction(card, "7.00", tx_type="DEBIT")
        refused = self._rate_limit(checking, reset=60)

        with mute_logger(ENGINE_LOGGER):
            self.env["pluggy.account"]._cron_sync()

        # Waiting out the minute would hold this cron process, and every account behind it, for that minute.
        self.assertEqual(len(refused), 1, "not retried after a wait")
        failed = self.account_of(checking)
        self.assertIn("slow down", failed.last_sync_error)
        self.assertFalse(self.line_of(checking_row))
        self.assertTrue(self.line_of(card_row), "the connection's other account was synced")
        self.assertFalse(self.account_of(card).last_sync_error)
        # Tried again when Pluggy said, by a run of the job due then, not at the next interval.
        retry_in = failed.next_sync_at - fields.Datetime.now()
        self.assertLessEqual(retry_in, timedelta(seconds=60))
        trigger = (
            self.env["ir.cron.trigger"]
            .sudo()
            .search(
                [("cron_id", "=", self.env.ref("caixa_pluggy.ir_cron_sync").id)], order="id desc", limit=1
            )
        )
        self.assertEqual(trigger.call_at, failed.next_sync_at)

    def _sync_with_sleeps(self, accounts):
        """Sync, recording the client's waits instead of sleeping them."""
        sleeps = []
        make_client = PluggyApi._get_client

        def client_recording_sleeps(api_model):
            client = make_client(api_model)
            client._sleep = sleeps.append
            return client

        with patch.object(PluggyApi, "_get_client", client_recording_sleeps):
            accounts._sync()
        return sleeps

    def test_a_429_resetting_within_ten_seconds_is_waited_out_a_longer_one_is_not(self):
        item = self.pluggy.add_item(self.client_user_id)
        checking = self.pluggy.add_account(item)
        account = self.connect_and_sync(item)
        new_row = self.pluggy.add_transaction(checking, "-9.99")

        self._rate_limit(checking, reset=11, times=1)
        with mute_logger(ENGINE_LOGGER):
            self.assertEqual(self._sync_with_sleeps(account), [])
        self.assertIn("slow down", account.last_sync_error)

        self._rate_limit(checking, reset=10, times=1)
        self.assertEqual(self._sync_with_sleeps(account), [10.0])
        self.assertTrue(self.line_of(new_row), "synced once Pluggy's window reset")
        self.assertFalse(account.last_sync_error)

    def test_balance_difference_is_shown_and_opening_balance_makes_it_zero(self):
        item = self.pluggy.add_item(self.client_user_id)
        checking = self.pluggy.add_account(item, balance="1000.00")
        card = self.pluggy.add_account(item, account_type="CREDIT", balance="300.00")
        for day in range(4):
            self.pluggy.add_transaction(checking, f"-{day + 1}5.00", on=self.days_ago(day))
        self.pluggy.add_transaction(card, "120.00", tx_type="DEBIT", on=self.days_ago(1))
        self.connect_and_sync(item)

        for pluggy_row, owed in ((checking, 1.0), (card, -1.0)):
            journal = self.account_of(pluggy_row).journal_id
            lines = self.lines(journal)
            expected_difference = sum(lines.mapped("amount")) - owed * float(pluggy_row["balance"])
            self.assertTrue(expected_difference)
            self.assertAlmostEqual(journal.pluggy_balance_difference, expected_difference, places=2)
            dashboard = journal._get_journal_dashboard_data_batched()[journal.id]
            self.assertTrue(dashboard["pluggy_has_difference"])

            journal.action_pluggy_create_opening_balance()
            self.env.invalidate_all()

            self.assertAlmostEqual(journal.pluggy_balance_difference, 0.0, places=2)
            self.assertFalse(
                journal._get_journal_dashboard_data_batched()[journal.id]["pluggy_has_difference"]
            )
            opening = self.lines(journal) - lines
            self.assertEqual(len(opening), 1)
            self.assertLess(opening.date, min(lines.mapped("date")))

    def test_sync_notification_opens_the_new_lines(self):
        item = self.pluggy.add_item(self.client_user_id)
        account = self.pluggy.add_account(item)
        self.pluggy.add_transaction(account, "-1.00", on=self.days_ago(3))
        journal = self.connect_and_sync(item).journal_id
        new_rows = [self.pluggy.add_transaction(account, amount) for amount in ("-2.00", "3.00")]

        notification = journal.action_pluggy_sync()

        new_lines = self.line_of(new_rows[0]) | self.line_of(new_rows[1])
        self.assertEqual(len(new_lines), 2)
        action = notification["params"]["next"]
        self.assertEqual(action["res_model"], "account.bank.statement.line")
        self.assertEqual(self.env["account.bank.statement.line"].search(action["domain"]), new_lines)
        self.assertIn(f"{len(new_lines)} new lines", notification["params"]["message"])
        self.assertIsNone(journal.action_pluggy_sync()["params"]["next"], "no new line, nothing to open")


@tagged("post_install", "-at_install")
class TestSyncRealCursors(BaseCase):
    """Separate database connections and real commits: what a TransactionCase's single cursor cannot show.

    The data is committed to the test database, in the main company, and removed again by the cleanups.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = Registry(get_db_name())

    def setUp(self):
        super().setUp()
        self.pluggy = FakePluggy()
        self.pluggy.router.start()
        self.addCleanup(self.pluggy.router.stop)
        # The test runner holds the registry lock while tests run, and every new Environment of another thread
        # takes it: swap it for a dummy, as Odoo's own test mode does for the HTTP server's threads.
        self.startPatcher(patch.object(Registry, "_lock", DummyRLock()))
        # Credentials come from this patch rather than from committed system parameters.
        self.startPatcher(
            patch.object(
                PluggyApi,
                "_get_client",
                lambda api_model: PluggyClient("real-cursors-id", "secret", base_url=BASE_URL),
            )
        )

    def env_for(self, cr):
        return api.Environment(cr, SUPERUSER_ID, {})

    def committed_account(self, rows=7):
        """A connection, account and journal committed in the main company; ``rows`` rows at Pluggy."""
        item = self.pluggy.add_item("caixa-real-cursors-test")
        with self.registry.cursor() as cr:
            env = self.env_for(cr)
            company = env.ref("base.main_company")
            if not company.chart_template:
                self.skipTest("the main company of the test database has no chart of accounts")
            account = self.pluggy.add_account(item, currency=company.currency_id.name)
            connection = env["pluggy.item"].create(
                {
                    **env["pluggy.item"]._values_from_pluggy(item, company),
                    "pluggy_item_id": item["id"],
                    "company_id": company.id,
                }
            )
            journal = env["account.journal"].create(
                {"name": "Pluggy real cursors", "type": "bank", "code": "PLGRC"}
            )
            pluggy_account = env["pluggy.account"].create(
                {
                    **env["pluggy.account"]._values_from_pluggy(account, company),
                    "item_id": connection.id,
                    "pluggy_account_id": account["id"],
                }
            )
            pluggy_account.journal_id = journal
            ids = {"item": connection.id, "journal": journal.id, "account": pluggy_account.id}
        self.addCleanup(self._remove_committed, ids, item["id"])
        for day in range(rows):
            self.pluggy.add_transaction(account, f"-{day + 1}.00", on=date.today() - timedelta(days=day))
        return account, ids

    def _remove_committed(self, ids, pluggy_item_id):
        with self.registry.cursor() as cr:
            env = self.env_for(cr)
            journal = env["account.journal"].browse(ids["journal"])
            env["account.bank.statement.line"].search([("journal_id", "=", journal.id)]).unlink()
            env["pluggy.webhook.event"].search([("item_ref", "=", pluggy_item_id)]).unlink()
            env["pluggy.item"].with_context(active_test=False).browse(ids["item"]).unlink()
            accounts = journal.default_account_id
            journal.unlink()
            accounts.unlink()

    def _remove_triggers(self, cron_id, after_id):
        with self.registry.cursor() as cr:
            cr.execute("DELETE FROM ir_cron_trigger WHERE cron_id = %s AND id > %s", [cron_id, after_id])

    def line_counts(self, journal_id):
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT pluggy_transaction_id, COUNT(*) FROM account_bank_statement_line "
                "WHERE journal_id = %s GROUP BY pluggy_transaction_id",
                [journal_id],
            )
            return dict(cr.fetchall())

    def test_claiming_an_account_another_job_just_synced_skips_it_without_failing(self):
        _account, ids = self.committed_account(rows=1)
        with self.registry.cursor() as cr:
            cr.execute("SELECT 1")  # this job's snapshot: the account is due in it
            with self.registry.cursor() as other:
                # Another cron job syncs it meanwhile, and commits.
                other.execute(
                    "UPDATE pluggy_account SET next_sync_at = NOW() + INTERVAL '4 hours' WHERE id = %s",
                    [ids["account"]],
                )
            # FOR UPDATE SKIP LOCKED under REPEATABLE READ raises on a row changed since the snapshot.
            claimed = self.env_for(cr)["pluggy.account"]._claim_due_accounts()
            self.assertNotIn(ids["account"], claimed.ids)

    def test_two_concurrent_syncs_of_one_account_import_each_row_once(self):
        account, ids = self.committed_account(rows=7)
        first_is_reading = threading.Event()
        second_is_done = threading.Event()

        def hold_first_sync(request):
            # The first sync stops at its first page, holding its locks, until the second one is done.
            if threading.current_thread().name == "first-sync" and request.url.path == "/v2/transactions":
                first_is_reading.set()
                second_is_done.wait(timeout=20)

        self.pluggy.fault = hold_first_sync
        results = {}

        def sync(name):
            try:
                with self.registry.cursor() as cr:
                    summary = self.env_for(cr)["pluggy.account"].browse(ids["account"])._sync()
                    results[name] = (len(summary.created_ids), summary.skipped, summary.errors)
            except Exception as error:  # noqa: BLE001 - reported by the assertions below
                results[name] = error

        first = threading.Thread(target=sync, args=("first-sync",), name="first-sync")
        second = threading.Thread(target=sync, args=("second-sync",), name="second-sync")
        first.start()
        self.assertTrue(first_is_reading.wait(timeout=20), results)
        second.start()
        second.join(timeout=15)
        second_finished_alone = not second.is_alive()
        second_is_done.set()
        first.join(timeout=30)
        second.join(timeout=30)

        self.assertTrue(
            second_finished_alone, "the second sync waited for the first instead of skipping the account"
        )
        rows = self.pluggy.transactions[account["id"]]
        self.assertEqual(results["first-sync"], (len(rows), 0, []))
        self.assertEqual(
            results["second-sync"], (0, 1, []), "the second sync skipped the account being synced"
        )
        counts = self.line_counts(ids["journal"])
        self.assertEqual(sorted(counts), sorted(tx["id"] for tx in rows))
        self.assertEqual(set(counts.values()), {1})

        # Once the first one is committed, a new sync finds nothing new.
        self.pluggy.fault = None
        sync("third-sync")
        self.assertEqual(results["third-sync"], (0, 0, []))
        self.assertEqual(set(self.line_counts(ids["journal"]).values()), {1})

    def test_account_lock_is_refused_while_another_cursor_holds_it(self):
        _account, ids = self.committed_account(rows=0)
        with self.registry.cursor() as holder, self.registry.cursor() as other:
            holder.execute("SELECT id FROM pluggy_account WHERE id = %s FOR NO KEY UPDATE", [ids["account"]])
            pluggy_account = self.env_for(other)["pluggy.account"].browse(ids["account"])
            self.assertFalse(pluggy_account._try_lock())
            holder.rollback()
            self.assertTrue(pluggy_account._try_lock())

    def test_transactions_webhook_is_processed_with_real_commits(self):
        account, ids = self.committed_account(rows=4)
        event_id = str(uuid.uuid4())
        with self.registry.cursor() as cr:
            cron = self.env_for(cr).ref("caixa_pluggy.ir_cron_process_webhooks")
            cr.execute("SELECT COALESCE(MAX(id), 0) FROM ir_cron_trigger")
            last_trigger = cr.fetchone()[0]
        self.addCleanup(self._remove_triggers, cron.id, last_trigger)
        with patch.object(odoo_module, "current_test", False):
            with self.registry.cursor() as cr:
                self.env_for(cr)["pluggy.webhook.event"]._receive(
                    {
                        "event": "transactions/created",
                        "eventId": event_id,
                        "itemId": account["itemId"],
                        "accountId": account["id"],
                    }
                )
            with self.registry.cursor() as cr:
                self.env_for(cr)["pluggy.webhook.event"]._cron_process()

        with self.registry.cursor() as cr:
            event = self.env_for(cr)["pluggy.webhook.event"].search([("event_id", "=", event_id)])
            self.assertEqual((event.state, event.error), ("done", False))
        self.assertEqual(len(self.line_counts(ids["journal"])), 4)
