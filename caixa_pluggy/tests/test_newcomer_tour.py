"""A newcomer's first hour on the demo, in headless Chromium: connect a bank, sync, reconcile an imported PIX.

The reconciliation screen of Odoo Community is OCA's account_reconcile_oca, which caixa_pluggy does not depend
on: this test is not in the addon's suite (``-standard``) and skips where account_reconcile_oca is missing.
tests/test_run_demo.py runs it on the demo database that ./run-demo makes. It runs in a test cursor: the
database is left as it was.

The emulator runs in threads of this process, with a seed of its own: the bank connected here is a new one,
not the demo's (made by run-demo's emulator), so connecting and syncing it brings new lines.
"""

import unittest
from datetime import date, timedelta
from decimal import Decimal

from odoo import Command
from odoo.tests import tagged

from .emulator_case import EmulatorTourCase

# The PIX the tour reconciles, and its payer as the company's customer (the tour looks for this name).
CUSTOMER = "Padaria Pão de Ouro Ltda"
CUSTOMER_CNPJ = "11.222.333/0001-81"
PIX_AMOUNT = Decimal("1847.35")
# Older than the look-back window (10 days): the quick sync on connect leaves it to the tour's "Sync now".
PIX_AGE_DAYS = 20


@tagged("-standard", "-at_install", "post_install", "caixa_pluggy_demo")
class TestNewcomerTour(EmulatorTourCase):
    # Not run-demo's seed (42): the same seed would give back the demo's own item ids.
    emulator_seed = 7

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        reconcile = cls.env["ir.module.module"].search([("name", "=", "account_reconcile_oca")])
        if reconcile.state != "installed":
            raise unittest.SkipTest(
                "account_reconcile_oca is not installed: this tour runs on the demo database (./run-demo)"
            )

    def setUp(self):
        super().setUp()
        # "Show Full Accounting Features", as the demo's admin: Community's reconciliation screen needs it.
        self.env.ref("base.user_admin").groups_id |= self.env.ref("account.group_account_user")
        self.pix_id = self._bank_with_a_pix_received()
        self.invoice = self._invoice_paid_by_the_pix()

    def _bank_with_a_pix_received(self):
        """Pluggy Bank as the newcomer's login (user-ok) finds it, with a PIX from a customer in its history.

        The Connect widget gives back this item (it avoids duplicates), as it would a real bank's.
        """
        client_user_id = self.env["pluggy.api"]._client_user_id(self.env.company)
        item = self._emulator(
            "POST",
            "/_emulator/items",
            {
                "clientUserId": client_user_id,
                "connectorId": 0,
                "user": "user-ok",
                "transactions": 12,
                "history_days": 90,
            },
        )
        bank_account = next(account for account in item["accounts"] if account["type"] == "BANK")
        today = date.fromisoformat(self._emulator("GET", "/_emulator/state")["today"])
        pix = self._emulator(
            "POST",
            f"/_emulator/accounts/{bank_account['id']}/transactions",
            {
                "amount": str(PIX_AMOUNT),
                "type": "CREDIT",
                "date": (today - timedelta(days=PIX_AGE_DAYS)).isoformat(),
                "description": f"PIX RECEBIDO {CUSTOMER.upper()}",
                "paymentData": {
                    "payer": {
                        "name": CUSTOMER,
                        "documentNumber": {"type": "CNPJ", "value": CUSTOMER_CNPJ},
                    },
                    "paymentMethod": "PIX",
                },
            },
        )
        return pix["id"]

    def _invoice_paid_by_the_pix(self):
        customer = self.env["res.partner"].create(
            {
                "name": CUSTOMER,
                "vat": CUSTOMER_CNPJ,
                "is_company": True,
                "country_id": self.env.ref("base.br").id,
            }
        )
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": customer.id,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": "Pães e bolos para o evento",
                            "quantity": 1,
                            "price_unit": PIX_AMOUNT,
                            "tax_ids": [Command.clear()],
                        }
                    )
                ],
            }
        )
        invoice.action_post()
        return invoice

    def test_connect_sync_and_reconcile_a_pix_with_its_invoice(self):
        self.start_tour("/web/login", "caixa_pluggy_newcomer", timeout=300)

        emulator_items = list(self.emulator.state.items)
        connection = self.env["pluggy.item"].search([("pluggy_item_id", "in", emulator_items)])
        self.assertEqual(connection.mapped("name"), ["Pluggy Bank"], "the bank connected through the widget")
        line = self.env["account.bank.statement.line"].search([("pluggy_transaction_id", "=", self.pix_id)])
        bank_journal = connection.account_ids.journal_id.filtered(lambda journal: journal.type == "bank")
        self.assertEqual(line.journal_id, bank_journal)
        self.assertEqual(line.partner_id, self.invoice.partner_id, "the payer found by its CNPJ")
        self.assertTrue(line.is_reconciled, "the PIX is reconciled")
        self.assertEqual(self.invoice.payment_state, "paid")
        receivable = self.invoice.line_ids.filtered(
            lambda aml: aml.account_id.account_type == "asset_receivable"
        )
        paid_by = receivable.matched_credit_ids.credit_move_id.move_id
        self.assertEqual(paid_by, line.move_id, "paid by that PIX, not by another line")
