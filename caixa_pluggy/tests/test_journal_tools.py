"""The journal's duplicate and missing transactions tools find what was planted, and only that."""

from odoo.tests import Form, tagged

from .common import PluggyCase
from .test_sync import SyncMixin


@tagged("post_install", "-at_install")
class TestJournalTools(SyncMixin, PluggyCase):
    def setUp(self):
        super().setUp()
        self.item = self.pluggy.add_item(self.client_user_id)
        self.bank = self.pluggy.add_account(self.item)
        self.account = None

    def sync(self):
        if not self.account:
            self.connect_and_sync(self.item)
            self.account = self.account_of(self.bank)
        else:
            self.account._sync()
        return self.account.journal_id

    def duplicates(self, journal):
        action = journal.action_pluggy_duplicate_lines()
        if action["type"] == "ir.actions.client":
            return self.env["account.bank.statement.line"]
        return self.env["account.bank.statement.line"].search(action["domain"])

    def test_duplicate_tool_lists_the_line_imported_twice_and_nothing_else(self):
        payer = {"name": "JOAO DA SILVA", "documentNumber": {"type": "CPF", "value": "882.937.076-23"}}
        twice = self.pluggy.add_transaction(
            self.bank, "20.00", on=self.days_ago(3), payment_data={"paymentMethod": "PIX", "payer": payer}
        )
        # Same amount, another day and counterpart: another transaction.
        self.pluggy.add_transaction(self.bank, "20.00", on=self.days_ago(4), description="OUTRO PIX")
        self.pluggy.add_transaction(self.bank, "-5.00", on=self.days_ago(2))
        journal = self.sync()
        self.assertFalse(self.duplicates(journal))
        # The same transaction typed in by hand (or imported from a file) before the bank was connected.
        manual = self.env["account.bank.statement.line"].create(
            {
                "journal_id": journal.id,
                "date": self.days_ago(3),
                "amount": 20.0,
                "payment_ref": "PIX recebido",
                "pluggy_partner_vat": "88293707623",
            }
        )
        self.assertEqual(self.duplicates(journal), manual | self.line_of(twice))

    def test_two_pluggy_transactions_of_one_amount_and_day_from_two_counterparts_are_no_duplicate(self):
        self.pluggy.add_transaction(self.bank, "20.00", on=self.days_ago(3), description="PIX JOAO")
        self.pluggy.add_transaction(self.bank, "20.00", on=self.days_ago(3), description="PIX MARIA")
        self.assertFalse(self.duplicates(self.sync()))

    def test_duplicate_tool_lists_a_line_typed_in_before_the_bank_was_connected(self):
        payer = {"name": "TECH SOLUCOES LTDA", "documentNumber": {"type": "CNPJ", "value": "25032726000137"}}
        tx = self.pluggy.add_transaction(
            self.bank, "500.00", on=self.days_ago(4), payment_data={"paymentMethod": "TED", "payer": payer}
        )
        self.pluggy.add_transaction(self.bank, "500.00", on=self.days_ago(5), description="TED RECEBIDA")
        journal = self.sync()
        # As an accountant types it, or an OFX file brings it: its own label, no CPF/CNPJ.
        typed = self.env["account.bank.statement.line"].create(
            {
                "journal_id": journal.id,
                "date": self.days_ago(4),
                "amount": 500.0,
                "payment_ref": "Recebimento Tech",
            }
        )
        self.assertEqual(self.duplicates(journal), typed | self.line_of(tx))

    def test_duplicate_tool_lists_a_pluggy_transaction_seen_on_two_journals(self):
        tx = self.pluggy.add_transaction(self.bank, "-9.90", on=self.days_ago(1))
        journal = self.sync()
        other = self.env["account.journal"].create({"name": "Banco antigo", "type": "bank", "code": "BANT"})
        copy = self.env["account.bank.statement.line"].create(
            {"journal_id": other.id, "date": self.days_ago(1), "amount": -9.9, "payment_ref": "x",
             "pluggy_transaction_id": tx["id"]}
        )  # fmt: skip
        self.assertEqual(self.duplicates(journal), self.line_of(tx) - copy)
        self.assertEqual(self.duplicates(other), copy)

    def test_missing_tool_finds_deleted_and_pending_rows_and_imports_them(self):
        kept = self.pluggy.add_transaction(self.bank, "-10.00", on=self.days_ago(5))
        deleted = self.pluggy.add_transaction(self.bank, "-11.00", on=self.days_ago(4))
        pending = self.pluggy.add_transaction(self.bank, "-12.00", on=self.days_ago(1), status="PENDING")
        self.pluggy.add_transaction(self.bank, "-13.00", on=self.days_ago(60))  # outside the dates asked
        journal = self.sync()
        self.assertFalse(self.line_of(pending), "the company does not import pending rows")
        self.line_of(deleted).unlink()

        wizard = Form.from_action(self.env, journal.action_pluggy_missing_transactions()).save()
        wizard.action_look_up()
        self.assertEqual(
            {(line.pluggy_transaction_id, line.amount, line.pending) for line in wizard.line_ids},
            {(deleted["id"], -11.0, False), (pending["id"], -12.0, True)},
        )
        wizard.action_import()
        self.assertEqual(self.line_of(deleted).amount, -11.0)
        self.assertTrue(self.line_of(pending).pluggy_pending)
        self.assertEqual(len(self.line_of(kept)), 1)
        self.assertIn(pending["id"], self.account.pending_transaction_ids)

        wizard.action_look_up()
        self.assertFalse(wizard.line_ids)
        # The bank posts the pending row later: the next sync updates the imported line, not a second one.
        self.pluggy.edit_transaction(pending, status="POSTED")
        self.account._sync()
        self.assertFalse(self.line_of(pending).pluggy_pending)
