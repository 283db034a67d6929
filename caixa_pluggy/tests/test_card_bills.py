"""Credit-card bills from Pluggy's /bills: charges on the card journal, payments as transfers, in place."""

from datetime import timedelta

from odoo.tests import tagged

from .common import PluggyCase
from .test_sync import SyncMixin


@tagged("post_install", "-at_install")
class TestCardBills(SyncMixin, PluggyCase):
    def setUp(self):
        super().setUp()
        self.item = self.pluggy.add_item(self.client_user_id)
        self.bank = self.pluggy.add_account(self.item)
        self.card = self.pluggy.add_account(self.item, account_type="CREDIT")
        for amount in ("100.00", "250.50", "49.90"):
            self.pluggy.add_transaction(self.card, amount, tx_type="DEBIT", on=self.days_ago(12))
        self.closing, self.due = self.days_ago(5), self.days_ago(-5)

    def sync(self):
        accounts = self.pluggy_accounts(self.item)
        if not accounts:
            accounts = self.connect_and_sync(self.item)
        else:
            accounts._sync()
        self.card_account = self.account_of(self.card)
        self.card_journal = self.card_account.journal_id
        return self.card_account.card_bill_ids

    def add_bill(self, **extra):
        return self.pluggy.add_bill(
            self.card,
            "420.00",
            due=self.due,
            closing=self.closing,
            charges=[("IOF", "12.34"), ("LATE_PAYMENT_INTEREST", "7.26")],
            **extra,
        )

    def paid_bill(self, checking_label):
        """A bill paid yesterday in full: its payment at Pluggy, the checking account's debit with this label,
        the card's credit; returns (debit row, credit row)."""
        paid_on = self.days_ago(1)
        self.add_bill(payments=[(paid_on, "420.00")])
        out = self.pluggy.add_transaction(self.bank, "-420.00", on=paid_on, description=checking_label)
        received = self.pluggy.add_transaction(
            self.card, "420.00", tx_type="CREDIT", on=paid_on, description="PAGAMENTO RECEBIDO - OBRIGADO"
        )
        return out, received

    def test_bill_with_iof_and_interest_gives_the_journal_balance_of_the_bill(self):
        self.add_bill()
        bill = self.sync()
        self.assertEqual(len(bill), 1)
        self.assertEqual((bill.total_amount, bill.charges_amount, bill.state), (420.0, 19.6, "open"))
        self.assertEqual((bill.due_date, bill.closing_date), (self.due, self.closing))
        lines = self.lines(self.card_journal)
        self.assertEqual(self.card_journal.currency_id.round(sum(lines.mapped("amount"))), -420.0)
        labels = sorted(bill.charge_line_ids.mapped("payment_ref"))
        self.assertEqual(labels, [f"IOF ({bill.name})", f"Late payment interest ({bill.name})"])
        self.assertEqual(bill.charge_line_ids.mapped("date"), [self.closing, self.closing])
        self.assertIn(f"due {self.due.strftime('%d/%m')}", self.card_journal._pluggy_next_bill_text())
        self.assertIn("420", self.card_journal._pluggy_next_bill_text())

    def test_bill_payment_from_the_checking_account_is_reconciled_as_a_transfer(self):
        out, received = self.paid_bill("PAGAMENTO FATURA CARTAO")
        # A debit of the same amount a week earlier is something else.
        other = self.pluggy.add_transaction(self.bank, "-420.00", on=self.days_ago(9), description="ALUGUEL")
        bill = self.sync()
        self.assertEqual(bill.state, "paid")
        payment_lines = self.line_of(out) | self.line_of(received)
        self.assertEqual(bill.payment_line_ids, payment_lines)
        self.assertTrue(all(payment_lines.mapped("is_reconciled")))
        transfer = self.company.transfer_account_id
        self.assertEqual(
            payment_lines.move_id.line_ids.filtered(lambda line: line.account_id == transfer).mapped(
                "reconciled"
            ),
            [True, True],
        )
        self.assertFalse(self.line_of(other).is_reconciled)

    def test_bill_edited_at_pluggy_is_updated_in_place_never_twice(self):
        bill_data = self.add_bill()
        bill = self.sync()
        charges = bill.charge_line_ids
        self.sync()
        self.assertEqual(self.card_account.card_bill_ids, bill)
        self.assertEqual(bill.charge_line_ids, charges, "a re-read bill adds no line")
        bill_data["totalAmount"] = 425.0
        bill_data["financeCharges"][0]["amount"] = 17.34
        bill_data["dueDate"] = (self.due + timedelta(days=2)).strftime("%Y-%m-%dT00:00:00")
        self.sync()
        self.assertEqual(self.card_account.card_bill_ids, bill)
        self.assertEqual((bill.total_amount, bill.due_date), (425.0, self.due + timedelta(days=2)))
        self.assertEqual(len(bill.charge_line_ids), 2)
        self.assertEqual(sorted(bill.charge_line_ids.mapped("amount")), [-17.34, -7.26])
        self.assertEqual(
            self.card_journal.currency_id.round(sum(self.lines(self.card_journal).mapped("amount"))), -425.0
        )

    def test_no_card_bill_is_visible_to_another_company(self):
        self.add_bill()
        bill = self.sync()
        other_company = self.setup_other_company(name="Outra Empresa Ltda")["company"]
        stranger = self.env["res.users"].create(
            {
                "name": "Contadora da outra empresa",
                "login": "contadora_outra",
                "company_id": other_company.id,
                "company_ids": [(6, 0, other_company.ids)],
                "groups_id": [(6, 0, [self.env.ref("account.group_account_manager").id])],
            }
        )
        self.assertFalse(self.env["pluggy.card.bill"].with_user(stranger).search([]))
        self.assertEqual(self.env["pluggy.card.bill"].search([("id", "=", bill.id)]), bill)

    def test_instalment_purchase_is_one_line_with_n_of_n_and_the_purchase_total(self):
        tx = self.pluggy.add_transaction(
            self.card,
            "159.20",
            tx_type="DEBIT",
            description="MERCADOLIVRE",
            creditCardMetadata={"installmentNumber": 3, "totalInstallments": 10, "totalAmount": 1592},
        )
        self.sync()
        line = self.line_of(tx)
        self.assertEqual((line.pluggy_installment, line.pluggy_installment_total), ("3/10", 1592.0))
        self.assertEqual((line.amount, line.payment_ref), (-159.2, "MERCADOLIVRE (3/10)"))

    def test_a_charge_the_bank_also_sent_as_a_card_row_is_booked_once(self):
        # Many banks print the IOF among the purchases: with the bill's own IOF, it would be charged twice.
        self.pluggy.add_transaction(
            self.card, "12.34", tx_type="DEBIT", on=self.closing, description="IOF COMPRA INTERNACIONAL"
        )
        self.pluggy.add_bill(
            self.card,
            "420.00",
            due=self.due,
            closing=self.closing,
            charges=[("IOF", "12.34"), ("LATE_PAYMENT_INTEREST", "7.26")],
        )
        bill = self.sync()
        self.assertEqual(bill.charge_line_ids.mapped("payment_ref"), [f"Late payment interest ({bill.name})"])
        self.assertEqual(
            self.card_journal.currency_id.round(sum(self.lines(self.card_journal).mapped("amount"))), -420.0
        )

    def test_a_charge_the_bank_drops_from_the_bill_is_removed(self):
        bill_data = self.add_bill()
        bill = self.sync()
        interest = bill.charge_line_ids.filtered(lambda line: line.amount == -7.26)
        self.assertTrue(interest)
        # The bank waives the interest: the bill is re-issued without it.
        bill_data["financeCharges"].pop(1)
        bill_data["totalAmount"] = 412.74
        self.sync()
        self.assertFalse(interest.exists())
        self.assertEqual(bill.charge_line_ids.mapped("amount"), [-12.34])
        self.assertEqual(
            self.card_journal.currency_id.round(sum(self.lines(self.card_journal).mapped("amount"))), -412.74
        )

    def test_bills_closed_before_the_first_imported_row_book_no_charge(self):
        # Pluggy lists a year of bills; the journal starts with the card's first imported row (12 days ago).
        self.pluggy.add_bill(
            self.card,
            "880.00",
            due=self.days_ago(50),
            closing=self.days_ago(60),
            charges=[("LATE_PAYMENT_INTEREST", "15.00")],
        )
        self.add_bill()
        bills = self.sync()
        self.assertEqual(len(bills), 2)
        old = bills.filtered(lambda bill: bill.closing_date == self.days_ago(60))
        self.assertEqual((old.total_amount, old.charges_amount), (880.0, 15.0))
        self.assertFalse(old.charge_line_ids, "its purchases are in the opening balance, so are its charges")
        self.assertEqual(
            self.card_journal.currency_id.round(sum(self.lines(self.card_journal).mapped("amount"))), -420.0
        )

    def test_a_payment_whose_checking_line_does_not_name_the_card_is_proposed_then_accepted(self):
        out, received = self.paid_bill("PIX ENVIADO LOJA XYZ")
        bill = self.sync()
        bank_line, card_line = self.line_of(out), self.line_of(received)
        self.assertEqual((bank_line | card_line).mapped("pluggy_match_state"), ["proposed", "proposed"])
        self.assertFalse(bank_line.is_reconciled or card_line.is_reconciled)
        self.assertIn("does not say it pays the card", bank_line.pluggy_match_note)
        self.assertEqual(bank_line.pluggy_transfer_line_id, card_line)
        self.sync()
        self.assertEqual(bank_line.pluggy_match_state, "proposed", "proposed once, not redone")

        # An accountant as the Users form makes one: no e-mail.
        accountant = self.user_from_the_users_form("Contadora", "cont", group="account.group_account_user")
        bank_line.with_user(accountant).action_pluggy_accept_proposal()
        self.assertTrue(bank_line.is_reconciled and card_line.is_reconciled)
        self.assertEqual(bill.payment_line_ids, bank_line | card_line)
        self.assertEqual((bank_line | card_line).mapped("pluggy_match_state"), ["reconciled", "reconciled"])
        self.assertFalse(bank_line.pluggy_transfer_line_id)

    def test_a_rejected_transfer_proposal_is_not_made_again(self):
        out, _received = self.paid_bill("PIX ENVIADO LOJA XYZ")
        self.sync()
        self.line_of(out).action_pluggy_reject_proposal()
        self.sync()
        self.assertFalse(self.line_of(out).pluggy_match_state)
        self.assertFalse(self.line_of(out).is_reconciled)

    def test_a_bill_listed_without_payments_is_paid_by_the_cards_payment_row(self):
        # Pluggy's documented bill has no payments: the card's own payment row says it was paid.
        self.add_bill()
        self.pluggy.add_transaction(
            self.card, "120.00", tx_type="CREDIT", on=self.days_ago(3), description="ESTORNO LOJA ABC"
        )
        payment = self.pluggy.add_transaction(
            self.card, "300.00", tx_type="CREDIT", on=self.days_ago(2), description="PAGAMENTO RECEBIDO"
        )
        bill = self.sync()
        self.assertEqual((bill.paid_amount, bill.state), (300.0, "open"), "a refund is no payment")
        self.assertIn("120", self.card_journal._pluggy_next_bill_text())
        self.pluggy.edit_transaction(payment, amount=420.0)
        self.sync()
        self.assertEqual((bill.paid_amount, bill.state), (420.0, "paid"))
        self.assertFalse(self.card_journal._pluggy_next_bill_text())
