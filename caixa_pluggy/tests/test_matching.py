"""Imported lines matched with the invoices and bills they pay: PIX reference, boleto, partner + amount."""

import re
from datetime import date, timedelta

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import remove_accents

from .common import PluggyCase
from .test_sync import SyncMixin

# FEBRABAN's layout example: a bank boleto of R$ 1.00, as the bill prints it and as Pluggy's row carries it.
DIGITABLE_LINE = "00190.50095 40144.816069 06809.350314 3 37370000000100"
BARCODE = "00193373700000001000500940144816060680935031"


def _pix(reference=None, *, payer=None, receiver=None, reason=None):
    return {
        "paymentMethod": "PIX",
        "receiverReferenceId": reference,
        "referenceNumber": None,
        "reason": reason,
        "payer": payer,
        "receiver": receiver,
        "boletoMetadata": None,
    }


def _odoo_pix_txid(reference):
    """The reference as Odoo's PIX QR code carries it (account_qr_code_emv and l10n_br's res.partner.bank)."""
    return re.sub(r"[^a-zA-Z0-9*]", "", remove_accents(reference))


def _person(name, document):
    return {
        "name": name,
        "documentNumber": {"type": "CNPJ" if len(document) > 14 else "CPF", "value": document},
    }


@tagged("post_install", "-at_install")
class TestMatching(SyncMixin, PluggyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer = cls.env["res.partner"].create(
            {"name": "Padaria Pão Quente Ltda", "vat": "12.345.678/0001-95", "is_company": True}
        )

    def setUp(self):
        super().setUp()
        self.item = self.pluggy.add_item(self.client_user_id)
        self.bank = self.pluggy.add_account(self.item)
        self.connect_and_sync(self.item)
        self.account = self.account_of(self.bank)

    def sync(self):
        self.account._sync()

    def invoice(self, amount, *, partner=None, move_type="out_invoice", company=None, **values):
        move = self.init_invoice(
            move_type,
            partner=partner or self.customer,
            amounts=[amount],
            taxes=self.env["account.tax"],
            currency=self.account.currency_id,
            company=company or self.company,
        )
        move.write(values)
        move.action_post()
        return move

    def assertPaid(self, move):
        self.assertIn(move.payment_state, ("paid", "in_payment"), move.display_name)

    # -------------------------------------------------------------------------
    # Reconciled by themselves
    # -------------------------------------------------------------------------

    def test_invoice_paid_by_a_pix_with_its_reference_is_reconciled_by_itself(self):
        invoice = self.invoice(150)
        other = self.invoice(150)
        # The payer's bank quotes the txid of the invoice's PIX QR code: its payment reference, slashes gone.
        txid = invoice.payment_reference.replace("/", "")
        tx = self.pluggy.add_transaction(
            self.bank, "150.00", payment_data=_pix(txid, payer=_person("Padaria", "12.345.678/0001-95"))
        )
        self.sync()
        line = self.line_of(tx)
        self.assertTrue(line.is_reconciled)
        self.assertPaid(invoice)
        self.assertEqual(other.payment_state, "not_paid")
        self.assertEqual(line.pluggy_match_state, "reconciled")
        self.assertIn(txid, line.pluggy_match_note)
        self.assertIn(invoice.name, line.pluggy_match_note)
        self.assertEqual(line.partner_id, self.customer)

    def test_invoice_named_in_the_payers_pix_message_is_reconciled(self):
        invoice = self.invoice(80)
        tx = self.pluggy.add_transaction(
            self.bank,
            "80.00",
            payment_data=_pix("E2E00000000202612070000000000001", reason=f"Ref {invoice.name}"),
        )
        self.sync()
        self.assertTrue(self.line_of(tx).is_reconciled)
        self.assertPaid(invoice)

    def test_accented_references_are_found_as_odoos_pix_qr_code_sends_them(self):
        numbered = self.invoice(150, payment_reference="Nº 2026/42")
        service = self.invoice(90, payment_reference="NFe TÉST 0001")
        self.assertEqual(_odoo_pix_txid(numbered.payment_reference), "No202642")
        txs = [
            self.pluggy.add_transaction(
                self.bank, amount, payment_data=_pix(_odoo_pix_txid(move.payment_reference))
            )
            for move, amount in ((numbered, "150.00"), (service, "90.00"))
        ]
        self.sync()
        for tx, move in zip(txs, (numbered, service), strict=True):
            self.assertEqual(self.line_of(tx).pluggy_match_state, "reconciled")
            self.assertPaid(move)

    def test_invoice_in_instalments_is_paid_instalment_by_instalment_or_at_once(self):
        terms = self.env["account.payment.term"].create(
            {
                "name": "30/60/90",
                "line_ids": [
                    fields.Command.create({"value": "percent", "value_amount": share, "nb_days": days})
                    for share, days in ((33.33, 30), (33.33, 60), (33.34, 90))
                ],
            }
        )
        by_instalments = self.invoice(300, invoice_payment_term_id=terms.id)
        at_once = self.invoice(300, invoice_payment_term_id=terms.id)
        receivable = by_instalments.line_ids.filtered(lambda item: item.display_type == "payment_term")
        receivable = receivable.sorted("date_maturity")
        self.assertEqual(receivable.mapped("amount_residual"), [99.99, 99.99, 100.02])

        def pix(invoice, amount):
            return self.pluggy.add_transaction(
                self.bank, amount, payment_data=_pix(invoice.payment_reference)
            )

        first, whole = pix(by_instalments, "99.99"), pix(at_once, "300.00")
        self.sync()
        self.assertEqual(self.line_of(first).pluggy_match_state, "reconciled")
        self.assertEqual(by_instalments.payment_state, "partial")
        self.assertEqual(receivable.filtered("reconciled"), receivable[0])
        self.assertEqual(self.line_of(whole).pluggy_match_state, "reconciled")
        self.assertPaid(at_once)
        # The next instalment, paid a month later.
        second = pix(by_instalments, "99.99")
        self.sync()
        self.assertTrue(self.line_of(second).is_reconciled)
        self.assertEqual(receivable.filtered("reconciled"), receivable[:2])

    def test_bill_paid_by_boleto_is_reconciled_by_its_barcode(self):
        vendor = self.env["res.partner"].create({"name": "Energia Elétrica S.A.", "is_company": True})
        bill = self.invoice(1, partner=vendor, move_type="in_invoice", pluggy_boleto_code=DIGITABLE_LINE)
        self.assertEqual(bill.pluggy_boleto_barcode, BARCODE)
        tx = self.pluggy.add_transaction(
            self.bank,
            "-1.00",
            description="PAGAMENTO DE BOLETO",
            payment_data={
                "paymentMethod": "BOLETO",
                "boletoMetadata": {"digitableLine": None, "barcode": BARCODE, "baseAmount": 1},
            },
        )
        self.sync()
        line = self.line_of(tx)
        self.assertTrue(line.is_reconciled)
        self.assertPaid(bill)
        self.assertEqual(line.partner_id, vendor)
        self.assertIn(BARCODE, line.pluggy_match_note)

    def test_a_typo_in_the_bills_boleto_is_refused(self):
        with self.assertRaises(ValidationError):
            self.invoice(1, move_type="in_invoice", pluggy_boleto_code="0019050095 4014")

    # -------------------------------------------------------------------------
    # Proposed only
    # -------------------------------------------------------------------------

    def test_partner_and_amount_match_is_proposed_not_reconciled(self):
        invoice = self.invoice(42)
        tx = self.pluggy.add_transaction(
            self.bank,
            "42.00",
            payment_data={"paymentMethod": "TED", "payer": _person("PADARIA PAO QUENTE", "12345678000195")},
        )
        self.sync()
        line = self.line_of(tx)
        self.assertFalse(line.is_reconciled)
        self.assertEqual(invoice.payment_state, "not_paid")
        self.assertEqual(line.pluggy_match_state, "proposed")
        self.assertEqual(line.pluggy_proposal_line_ids.move_id, invoice)
        line.action_pluggy_accept_proposal()
        self.assertTrue(line.is_reconciled)
        self.assertPaid(invoice)

    def test_a_proposal_earlier_in_the_sync_leaves_the_invoice_to_the_pix_that_names_it(self):
        invoice = self.invoice(150)
        yesterday = date.today() - timedelta(days=1)
        ted = self.pluggy.add_transaction(
            self.bank,
            "150.00",
            on=yesterday,
            payment_data={"paymentMethod": "TED", "payer": _person("PADARIA PAO QUENTE", "12345678000195")},
        )
        pix = self.pluggy.add_transaction(
            self.bank, "150.00", payment_data=_pix(invoice.payment_reference.replace("/", ""))
        )
        self.sync()
        self.assertTrue(self.line_of(pix).is_reconciled)
        self.assertPaid(invoice)
        self.assertFalse(self.line_of(ted).pluggy_match_state)

    def test_pix_reference_with_another_amount_is_proposed(self):
        invoice = self.invoice(150)
        tx = self.pluggy.add_transaction(self.bank, "149.90", payment_data=_pix(invoice.payment_reference))
        self.sync()
        line = self.line_of(tx)
        self.assertFalse(line.is_reconciled)
        self.assertEqual(line.pluggy_match_state, "proposed")
        self.assertIn("amounts differ", line.pluggy_match_note)

    def test_switched_off_rule_reconciles_nothing(self):
        invoice = self.invoice(150)
        self.env["account.reconcile.model"].search(
            [("company_id", "=", self.company.id), ("pluggy_rule", "=", "pix_reference")]
        ).action_archive()
        tx = self.pluggy.add_transaction(self.bank, "150.00", payment_data=_pix(invoice.payment_reference))
        self.sync()
        self.assertFalse(self.line_of(tx).is_reconciled)
        self.assertEqual(invoice.payment_state, "not_paid")

    # -------------------------------------------------------------------------
    # What matching must never do
    # -------------------------------------------------------------------------

    def test_a_reconciled_line_is_never_changed_by_a_later_sync(self):
        invoice = self.invoice(150)
        tx = self.pluggy.add_transaction(self.bank, "150.00", payment_data=_pix(invoice.payment_reference))
        self.sync()
        line = self.line_of(tx)
        self.assertTrue(line.is_reconciled)
        move_lines = line.move_id.line_ids.read(["account_id", "balance", "reconciled"])
        self.pluggy.edit_transaction(tx, amount="151.00", description="PIX RECEBIDO (corrigido)")
        # A second payment quoting the same reference finds the invoice paid: nothing to match.
        again = self.pluggy.add_transaction(self.bank, "150.00", payment_data=_pix(invoice.payment_reference))
        self.sync()
        self.assertTrue(line.is_reconciled)
        self.assertEqual(line.amount, 150.0)
        self.assertEqual(line.move_id.line_ids.read(["account_id", "balance", "reconciled"]), move_lines)
        self.assertEqual(line.pluggy_flag, "changed")
        self.assertFalse(self.line_of(again).is_reconciled)
        self.assertFalse(self.line_of(again).pluggy_match_state)

    def test_an_undone_automatic_reconciliation_is_not_redone_behind_the_accountants_back(self):
        invoice = self.invoice(150)
        tx = self.pluggy.add_transaction(self.bank, "150.00", payment_data=_pix(invoice.payment_reference))
        self.sync()
        line = self.line_of(tx)
        self.assertEqual(line.pluggy_match_state, "reconciled")
        line.action_undo_reconciliation()
        self.assertFalse(line.is_reconciled)
        self.assertFalse(line.pluggy_match_state)
        reconciled_by_itself = [("pluggy_match_state", "=", "reconciled"), ("id", "=", line.id)]
        self.assertFalse(self.env["account.bank.statement.line"].search(reconciled_by_itself))
        self.pluggy.edit_transaction(tx, description="PIX RECEBIDO")
        self.sync()
        line.action_pluggy_find_matches()
        self.assertFalse(line.is_reconciled)
        self.assertEqual(invoice.payment_state, "not_paid")
        self.assertEqual(line.pluggy_match_state, "proposed")
        self.assertIn("undone", line.pluggy_match_note)
        line.action_pluggy_accept_proposal()
        self.assertPaid(invoice)

    def test_an_invoice_reset_to_draft_no_longer_shows_its_line_reconciled_by_itself(self):
        invoice = self.invoice(150)
        tx = self.pluggy.add_transaction(self.bank, "150.00", payment_data=_pix(invoice.payment_reference))
        self.sync()
        invoice.button_draft()
        # Odoo leaves the line's counterpart on the receivable account: the line itself pays no invoice now.
        self.assertEqual(invoice.payment_state, "not_paid")
        self.assertFalse(self.line_of(tx).pluggy_match_state)
        self.assertTrue(self.line_of(tx).pluggy_match_undone)

    def test_nothing_is_matched_across_companies(self):
        other_company = self.setup_other_company(name="Outra Empresa Ltda")["company"]
        foreign_invoice = self.invoice(150, company=other_company)
        tx = self.pluggy.add_transaction(
            self.bank, "150.00", payment_data=_pix(foreign_invoice.payment_reference)
        )
        self.sync()
        line = self.line_of(tx)
        self.assertFalse(line.is_reconciled)
        self.assertFalse(line.pluggy_match_state)
        self.assertEqual(foreign_invoice.payment_state, "not_paid")

    def test_a_branchs_invoice_paid_into_the_head_offices_bank_is_reconciled(self):
        self.company.write({"child_ids": [fields.Command.create({"name": "Filial Campinas"})]})
        self.cr.precommit.run()  # the branch's chart of accounts, as Odoo's own branch tests load it
        branch_invoice = self.invoice(150, company=self.company.child_ids)
        self.assertEqual(branch_invoice.company_id.parent_id, self.company)
        tx = self.pluggy.add_transaction(
            self.bank, "150.00", payment_data=_pix(branch_invoice.payment_reference.replace("/", ""))
        )
        self.sync()
        self.assertTrue(self.line_of(tx).is_reconciled)
        self.assertPaid(branch_invoice)

    def test_each_company_gets_the_models_and_can_switch_them_off(self):
        company = self.setup_other_company(name="Empresa Nova Ltda")["company"]
        models = self.env["account.reconcile.model"].search([("company_id", "=", company.id)])
        self.assertEqual(
            set(models.mapped("pluggy_rule")) - {False}, {"pix_reference", "boleto", "partner_amount"}
        )
        self.assertFalse(models.filtered(lambda model: model.pluggy_rule == "partner_amount").auto_reconcile)
        models.filtered("pluggy_rule").action_archive()
        self.env["account.reconcile.model"]._pluggy_create_defaults(company)
        self.assertFalse(
            self.env["account.reconcile.model"].search(
                [("company_id", "=", company.id), ("pluggy_rule", "!=", False)]
            )
        )

    # -------------------------------------------------------------------------
    # Partners and late invoices
    # -------------------------------------------------------------------------

    def test_branch_of_a_known_cnpj_gets_its_partner(self):
        tx = self.pluggy.add_transaction(
            self.bank,
            "10.00",
            payment_data={"paymentMethod": "TED", "payer": _person("PADARIA FILIAL", "12.345.678/0002-76")},
        )
        self.sync()
        self.assertEqual(self.line_of(tx).partner_id, self.customer)

    def test_a_partner_whose_vat_has_the_country_prefix_is_found(self):
        # As base_vat stores a VAT typed with its prefix ("BR11.222.333/0001-81").
        company = self.env["res.partner"].create(
            {"name": "Mercado Bom Preço Ltda", "vat": "BR11222333000181", "is_company": True}
        )
        person = self.env["res.partner"].create({"name": "Maria Souza", "vat": "BR07663097548"})
        expected = [
            (_person("MERCADO BOM PRECO", "11.222.333/0001-81"), company),
            (_person("MARIA SOUZA", "076.630.975-48"), person),
            # A branch, under the same CNPJ root as the prefixed VAT.
            (_person("MERCADO BOM PRECO FILIAL", "11.222.333/0002-62"), company),
        ]
        txs = [
            self.pluggy.add_transaction(
                self.bank, "10.00", payment_data={"paymentMethod": "TED", "payer": payer}
            )
            for payer, _partner in expected
        ]
        self.sync()
        for tx, (_payer, partner) in zip(txs, expected, strict=True):
            self.assertEqual(self.line_of(tx).partner_id, partner)

    def test_two_partners_under_one_cnpj_root_are_not_guessed_between(self):
        self.env["res.partner"].create(
            {"name": "Padaria Filial 3", "vat": "12345678000357", "is_company": True}
        )
        tx = self.pluggy.add_transaction(
            self.bank,
            "10.00",
            payment_data={"paymentMethod": "TED", "payer": _person("PADARIA FILIAL", "12.345.678/0002-76")},
        )
        self.sync()
        self.assertFalse(self.line_of(tx).partner_id)

    def test_the_accountants_partner_choice_is_remembered_for_the_next_line(self):
        payer = _person("JOAO DA SILVA", "882.937.076-23")
        first = self.pluggy.add_transaction(
            self.bank, "20.00", payment_data={"paymentMethod": "PIX", "payer": payer}
        )
        self.sync()
        self.assertFalse(self.line_of(first).partner_id)
        self.line_of(first).partner_id = self.partner_a
        second = self.pluggy.add_transaction(
            self.bank, "25.00", payment_data={"paymentMethod": "PIX", "payer": payer}
        )
        self.sync()
        self.assertEqual(self.line_of(second).partner_id, self.partner_a)

    def test_a_masked_document_names_nobody_and_is_not_remembered(self):
        # Open Finance masks some payers' CPFs: the same mask stands for many people.
        first = self.pluggy.add_transaction(
            self.bank,
            "20.00",
            payment_data={"paymentMethod": "PIX", "payer": _person("JOAO", "***.456.789-**")},
        )
        before = self.pluggy.add_transaction(self.bank, "21.00", payment_data={"paymentMethod": "PIX"})
        self.sync()
        line, legacy = self.line_of(first), self.line_of(before)
        self.assertFalse(line.pluggy_partner_vat)
        line.partner_id = self.partner_a
        # A line imported before masked documents were told apart kept their digits.
        legacy.with_context(pluggy_importing=True).write({"pluggy_partner_vat": "456789"})
        legacy.partner_id = self.partner_a
        self.assertEqual((line | legacy).partner_id, self.partner_a)
        self.assertFalse(self.env["pluggy.partner.mapping"].search([("company_id", "=", self.company.id)]))
        second = self.pluggy.add_transaction(
            self.bank,
            "25.00",
            payment_data={"paymentMethod": "PIX", "payer": _person("MARIA", "xxx.456.789-xx")},
        )
        self.sync()
        self.assertFalse(self.line_of(second).partner_id)

    def test_payment_before_its_invoice_is_matched_by_find_matches(self):
        tx = self.pluggy.add_transaction(self.bank, "75.00", payment_data=_pix("LATE2026000001"))
        self.sync()
        line = self.line_of(tx)
        self.assertFalse(line.pluggy_match_state)
        invoice = self.invoice(75, payment_reference="LATE/2026/000001")
        line.action_pluggy_find_matches()
        self.assertTrue(line.is_reconciled)
        self.assertPaid(invoice)
