"""Matching imported lines with the invoices and bills they pay (see caixa_pluggy.pluggy.matching).

A file of its own, one job each: the import's fields and helpers are in account_bank_statement_line.py.
"""
# pylint: disable=consider-merging-classes-inherited

from collections import defaultdict
from decimal import Decimal

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, float_repr

from ..pluggy import matching
from ..pluggy.mapping import payment_identifiers

# Open items that can be what a bank line pays: posted invoices, bills, refunds and receipts.
_DOCUMENT_TYPES = ("out_invoice", "out_refund", "out_receipt", "in_invoice", "in_refund", "in_receipt")


class AccountBankStatementLine(models.Model):
    _inherit = "account.bank.statement.line"

    pluggy_match_state = fields.Selection(
        [("reconciled", "Reconciled by itself"), ("proposed", "Match proposed")],
        string="Pluggy Match",
        readonly=True,
        copy=False,
    )
    pluggy_match_note = fields.Char(string="Why It Matched", readonly=True, copy=False)
    pluggy_match_model_id = fields.Many2one(
        "account.reconcile.model", string="Matched By", readonly=True, copy=False, ondelete="set null"
    )
    pluggy_match_undone = fields.Boolean(
        string="Reconciliation Undone",
        readonly=True,
        copy=False,
        help="An automatic reconciliation of this line was undone: its matches are only proposed.",
    )
    pluggy_proposal_line_ids = fields.Many2many(
        "account.move.line",
        "account_bank_statement_line_pluggy_proposal_rel",
        "statement_line_id",
        "move_line_id",
        string="Proposed Match",
        readonly=True,
        copy=False,
    )

    @api.model_create_multi
    def create(self, vals_list):
        lines = super().create(vals_list)
        if self.env.context.get("pluggy_match_new_lines"):
            # Within create: before the matching engine OCA's reconciliation screen runs on new lines (its
            # create calls this one), so that a line its PIX reference or boleto identifies is reconciled
            # by that, and says so, rather than by a generic rule.
            lines.with_context(pluggy_match_new_lines=False)._pluggy_match()
        return lines

    def write(self, vals):
        res = super().write(vals)
        if vals.get("partner_id") and not self.env.context.get("pluggy_importing"):
            self._pluggy_remember_partner()
        return res

    # -------------------------------------------------------------------------
    # ACTION METHODS
    # -------------------------------------------------------------------------

    def action_pluggy_accept_proposal(self):
        transfers = self.filtered("pluggy_transfer_line_id")
        transfers._pluggy_accept_transfers()
        for line in (self - transfers).filtered("pluggy_proposal_line_ids"):
            if line.is_reconciled:
                continue
            items = line.pluggy_proposal_line_ids
            if any(item.reconciled for item in items):
                raise UserError(
                    _(
                        "%(document)s was reconciled with something else since it was proposed: use Find "
                        "matches again.",
                        document=items.move_id[:1].display_name,
                    )
                )
            self._pluggy_reconcile_pairs([(line, items)])
            line.write(
                {
                    "pluggy_match_state": "reconciled",
                    "pluggy_match_note": _(
                        "Proposal accepted by %(user)s: %(note)s",
                        user=self.env.user.name,
                        note=line.pluggy_match_note,
                    ),
                    "pluggy_proposal_line_ids": [fields.Command.clear()],
                }
            )

    def action_pluggy_reject_proposal(self):
        self.filtered(lambda line: line.pluggy_match_state == "proposed").write(
            {
                "pluggy_match_state": False,
                "pluggy_match_note": False,
                "pluggy_match_model_id": False,
                "pluggy_proposal_line_ids": [fields.Command.clear()],
                "pluggy_transfer_line_id": False,
            }
        )

    def action_pluggy_find_matches(self):
        """Match again, e.g. once the invoice a payment pays has been posted."""
        lines = self.filtered(lambda line: line.pluggy_transaction_id and not line.is_reconciled)
        lines._pluggy_match()
        reconciled = lines.filtered(lambda line: line.pluggy_match_state == "reconciled")
        proposed = lines.filtered(lambda line: line.pluggy_match_state == "proposed")
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success" if reconciled or proposed else "info",
                "message": _(
                    "%(reconciled)s lines reconciled, %(proposed)s matches proposed.",
                    reconciled=len(reconciled),
                    proposed=len(proposed),
                ),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    # -------------------------------------------------------------------------
    # MATCHING
    # -------------------------------------------------------------------------

    def _pluggy_match(self):
        """Apply the companies' Pluggy reconciliation models to these unreconciled lines: exact identifier
        matches are reconciled, the others proposed. A few queries per company and currency, whatever the
        number of lines."""
        lines = self.filtered(lambda line: not line.is_reconciled)
        lines.filtered("pluggy_match_state").action_pluggy_reject_proposal()
        # A line whose transaction is in another currency than its journal's is the accountant's, with the
        # rate of the day: amounts are compared in the journal's currency only.
        lines = lines.filtered(lambda line: not line.foreign_currency_id)
        for (company, currency), group in lines.grouped(
            lambda line: (line.company_id, line.currency_id)
        ).items():
            rules = self.env["account.reconcile.model"]._pluggy_rules(company)
            if not rules:
                continue
            bank_lines = [line._pluggy_bank_line() for line in group]
            items = self._pluggy_open_items(company, currency, bank_lines)
            models_by_id = {model.id: model for model, _rule in rules}
            found = matching.match_batch(bank_lines, items, [rule for _model, rule in rules])
            self._pluggy_apply_matches(
                [
                    (line, match, models_by_id[match.rule.model_id])
                    for line, match in zip(group, found, strict=True)
                    if match
                ]
            )

    def _pluggy_match_undone(self):
        self.write(
            {
                "pluggy_match_state": False,
                "pluggy_match_note": False,
                "pluggy_match_model_id": False,
                "pluggy_match_undone": True,
            }
        )

    def _pluggy_bank_line(self):
        self.ensure_one()
        return matching.BankLine(
            amount=_decimal(self.amount, self.currency_id),
            partner_id=self.partner_id.commercial_partner_id.id or None,
            pending=self.pluggy_pending,
            undone=self.pluggy_match_undone,
            **payment_identifiers(self.transaction_details),
        )

    @api.model
    def _pluggy_open_items(self, company, currency, bank_lines):
        """The company's open items in ``currency`` that any of ``bank_lines`` could pay, oldest due first:
        one query."""
        bank_lines = list(bank_lines)
        references = set().union(*(line.references | line.text_references for line in bank_lines))
        barcodes = {line.boleto for line in bank_lines if line.boleto}
        partners = {line.partner_id for line in bank_lines if line.partner_id}
        amounts = {line.amount for line in bank_lines if line.partner_id}
        if not (references or barcodes or partners):
            return []
        # The invoice an accountant has just posted may still be in the ORM's cache only.
        self.env["account.move"].flush_model(["name", "payment_reference", "ref", "pluggy_boleto_barcode"])
        self.env["account.move.line"].flush_model()
        self.env["res.partner"].flush_model(["commercial_partner_id"])
        self.env.cr.execute(
            SQL(
                """
                SELECT item.id, item.move_id, partner.commercial_partner_id, item.amount_residual_currency,
                       move.name, move.payment_reference, move.ref, move.pluggy_boleto_barcode
                  FROM account_move_line item
                  JOIN account_move move ON move.id = item.move_id
                  JOIN account_account account ON account.id = item.account_id
             LEFT JOIN res_partner partner ON partner.id = item.partner_id
                 WHERE item.company_id = ANY(%(companies)s)
                   AND item.currency_id = %(currency)s
                   AND item.parent_state = 'posted'
                   AND NOT item.reconciled
                   AND account.account_type IN ('asset_receivable', 'liability_payable')
                   AND move.move_type IN %(types)s
                   AND (%(by_name)s = ANY(%(references)s::varchar[])
                        OR %(by_payment_reference)s = ANY(%(references)s::varchar[])
                        OR %(by_ref)s = ANY(%(references)s::varchar[])
                        OR move.pluggy_boleto_barcode = ANY(%(barcodes)s::varchar[])
                        OR (partner.commercial_partner_id = ANY(%(partners)s::int[])
                            AND item.amount_residual_currency = ANY(%(amounts)s::numeric[])))
              ORDER BY coalesce(item.date_maturity, item.date), item.id
                """,
                # As Odoo's own matching: the items of the whole company tree, a branch's invoices paid into
                # the head office's bank account included (Odoo reconciles within one root company).
                companies=self.env["res.company"].search([("id", "child_of", company.root_id.id)]).ids,
                currency=currency.id,
                types=_DOCUMENT_TYPES,
                by_name=_reference_key(SQL.identifier("move", "name")),
                by_payment_reference=_reference_key(SQL.identifier("move", "payment_reference")),
                by_ref=_reference_key(SQL.identifier("move", "ref")),
                references=sorted(references),
                barcodes=sorted(barcodes),
                partners=sorted(partners),
                amounts=[str(amount) for amount in amounts],
            )
        )
        rows = self.env.cr.fetchall()
        return [
            matching.OpenItem(
                id=item_id,
                residual=_decimal(residual, currency),
                move_id=move_id,
                partner_id=partner_id,
                references=matching.reference_keys(name, payment_reference, ref),
                boleto=barcode,
                label=name,
            )
            for (item_id, move_id, partner_id, residual, name, payment_reference, ref, barcode) in rows
        ]

    @api.model
    def _pluggy_apply_matches(self, matches):
        """Reconcile the automatic matches, all at once, and store the proposals; each line says why."""
        Item = self.env["account.move.line"]
        found = [(line, Item.browse(match.item_ids), match, model) for line, match, model in matches]
        self._pluggy_reconcile_pairs([(line, items) for line, items, match, _model in found if match.auto])
        for line, items, match, model in found:
            values = {
                "pluggy_match_note": line._pluggy_match_reason(match, model, items),
                "pluggy_match_model_id": model.id,
            }
            if match.auto:
                values["pluggy_match_state"] = "reconciled"
            else:
                values.update(
                    pluggy_match_state="proposed", pluggy_proposal_line_ids=[fields.Command.set(items.ids)]
                )
            line.write(values)

    def _pluggy_match_reason(self, match, model, items):
        document = items.move_id[:1].display_name
        if match.rule.kind == matching.PARTNER_AMOUNT:
            if match.candidates > 1:
                return _(
                    "%(document)s: same partner and amount, the oldest of %(count)s open items that fit.",
                    document=document,
                    count=match.candidates,
                )
            return _("%(document)s: same partner and amount.", document=document)
        labels = {matching.PIX_REFERENCE: _("PIX reference"), matching.BOLETO: _("boleto")}
        reason = _(
            "%(document)s: %(what)s %(identifier)s.",
            document=document,
            what=labels[match.rule.kind],
            identifier=match.identifier,
        )
        if not match.auto and not model.auto_reconcile:
            return reason
        if not match.auto and self.pluggy_match_undone:
            return _("%(reason)s Proposed only: its automatic reconciliation was undone.", reason=reason)
        if not match.auto and self.pluggy_pending:
            return _("%(reason)s Proposed only: the bank has not posted the line yet.", reason=reason)
        if not match.auto:
            return _("%(reason)s Proposed only: the amounts differ.", reason=reason)
        return reason

    @api.model
    def _pluggy_reconcile_pairs(self, pairs):
        """Reconcile each statement line with its open journal items, as the reconciliation widgets do: the
        line takes the items' partner and its suspense line becomes their receivable or payable counterpart.

        In batches (one write per partner and per account, one reconciliation plan) rather than line by line:
        a first sync may reconcile hundreds of lines, and Odoo's per-line synchronisation of the entry would
        cost more than the import itself.
        """
        if not pairs:
            return
        quiet = {"skip_account_move_synchronization": True, "pluggy_importing": True}
        by_partner = defaultdict(lambda: self.browse())
        for line, items in pairs:
            partner = items.partner_id.commercial_partner_id[:1]
            if partner and line.partner_id != partner:
                by_partner[partner] |= line
        for partner, lines in by_partner.items():
            lines.with_context(**quiet).write({"partner_id": partner.id})
            lines.move_id.with_context(skip_readonly_check=True, **quiet).write({"partner_id": partner.id})
            lines.move_id.line_ids.with_context(**quiet).write({"partner_id": partner.id})
        by_account = defaultdict(lambda: self.env["account.move.line"])
        plan = []
        for line, items in pairs:
            _liquidity, suspense, other = line._seek_for_lines()
            if len(suspense) != 1 or other or len(items.account_id) != 1:
                raise UserError(_("%(line)s cannot be reconciled automatically.", line=line.display_name))
            by_account[items.account_id] |= suspense
            plan.append(suspense + items)
        for account, suspense in by_account.items():
            suspense.with_context(**quiet).write({"account_id": account.id})
        self.env["account.move.line"]._reconcile_plan(plan)

    @api.model
    def _pluggy_reconcile_transfer(self, outgoing, incoming):
        """Reconcile two lines of one transfer between journals (a card bill paid from the checking account)
        through the company's internal transfer account, as Odoo's own transfers do."""
        account = outgoing.company_id.transfer_account_id
        if not account:
            raise UserError(
                _("Set the company's internal transfer account to reconcile transfers between its journals.")
            )
        suspense = self.env["account.move.line"]
        for line in outgoing | incoming:
            _liquidity, line_suspense, other = line._seek_for_lines()
            if len(line_suspense) != 1 or other:
                raise UserError(_("%(line)s cannot be reconciled automatically.", line=line.display_name))
            suspense |= line_suspense
        suspense.with_context(skip_account_move_synchronization=True).write({"account_id": account.id})
        suspense.reconcile()

    def _pluggy_remember_partner(self):
        Mapping = self.env["pluggy.partner.mapping"].sudo()
        for line in self.filtered("pluggy_partner_vat"):
            Mapping._remember(line.company_id, line.pluggy_partner_vat, line.partner_id.commercial_partner_id)


def _reference_key(column):
    """matching.reference_key computed by the database, to compare in SQL with the keys of the bank lines."""
    return SQL(
        "upper(regexp_replace(translate(coalesce(%s, ''), %s, %s), '[^0-9A-Za-z]', '', 'g'))",
        column,
        matching.ACCENTED,
        matching.UNACCENTED,
    )


def _decimal(amount, currency):
    return Decimal(float_repr(amount, currency.decimal_places))
