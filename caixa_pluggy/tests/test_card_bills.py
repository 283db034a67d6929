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
        paid_on = self.days_ago(1)
        self.add_bill(payments=[(paid_on, "420.00")])
        out = self.pluggy.add_transaction(
            self.bank, "-420.00", on=paid_on, description="PAGAMENTO FATURA CARTAO"
        )
        received = self.pluggy.add_transaction(
            self.card, "420.00", tx_type="CREDIT", on=paid_on, description="PAGAMENTO RECEBIDO - OBRIGADO"
        )
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
