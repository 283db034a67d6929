from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, create_unique_index
from odoo.tools.safe_eval import safe_eval

from ..pluggy.mapping import LINE_FIELDS


class AccountBankStatementLine(models.Model):
    _inherit = "account.bank.statement.line"

    pluggy_transaction_id = fields.Char(
        string="Pluggy Transaction ID", readonly=True, copy=False, help="The transaction's id at Pluggy."
    )
    pluggy_fingerprint = fields.Char(readonly=True, copy=False)
    pluggy_pending = fields.Boolean(
        string="Pending at the Bank",
        readonly=True,
        help="Not posted by the bank yet: it may change or disappear.",
    )
    pluggy_partner_vat = fields.Char(string="Counterpart CPF/CNPJ", readonly=True)
    pluggy_payment_reference = fields.Char(
        string="Bank Reference", readonly=True, help="PIX end-to-end id, TED reference or payer's reference."
    )
    pluggy_boleto_line = fields.Char(string="Boleto Digitable Line", readonly=True)
    pluggy_flag = fields.Selection(
        [("changed", "Changed at the bank"), ("deleted", "Deleted at the bank")],
        string="Bank Change to Review",
        readonly=True,
        copy=False,
        help="The bank changed or removed this transaction after it was reconciled: "
        "the line was left as it is.",
    )
    pluggy_flag_note = fields.Text(string="Bank Change", readonly=True, copy=False)
    pluggy_installment = fields.Char(
        string="Instalment", readonly=True, help="Which instalment of a card purchase this is, as n/N."
    )
    pluggy_installment_total = fields.Monetary(
        string="Purchase Total", readonly=True, help="The whole purchase paid in instalments."
    )
    pluggy_card_bill_id = fields.Many2one(
        "pluggy.card.bill", string="Card Bill", readonly=True, copy=False, index="btree_not_null"
    )
    pluggy_bill_charge_id = fields.Char(string="Pluggy Bill Charge ID", readonly=True, copy=False)
    pluggy_bill_payment_id = fields.Char(
        string="Pluggy Bill Payment ID",
        readonly=True,
        copy=False,
        help="The card bill payment this line was reconciled with, or proposed for (even if rejected since).",
    )
    pluggy_transfer_bill_id = fields.Many2one(
        "pluggy.card.bill", string="Bill Paid", readonly=True, copy=False, index="btree_not_null"
    )
    pluggy_transfer_line_id = fields.Many2one(
        "account.bank.statement.line",
        string="Proposed Transfer With",
        readonly=True,
        copy=False,
        help="The other journal's line of the card bill payment proposed as a transfer.",
    )

    def init(self):
        res = super().init()
        # The last line of defence against duplicates: whatever races, a transaction exists once per journal.
        create_unique_index(
            self.env.cr,
            "account_bank_statement_line_pluggy_transaction_unique",
            self._table,
            ["journal_id", "pluggy_transaction_id"],
        )
        # Likewise a card bill's charge: one line, whatever re-reads the bill.
        create_unique_index(
            self.env.cr,
            "account_bank_statement_line_pluggy_bill_charge_unique",
            self._table,
            ["journal_id", "pluggy_bill_charge_id"],
        )
        return res

    # -------------------------------------------------------------------------
    # ACTION METHODS
    # -------------------------------------------------------------------------

    def action_pluggy_acknowledge(self):
        """The accountant has reviewed what the bank changed."""
        self.write({"pluggy_flag": False, "pluggy_flag_note": False})

    @api.model
    def _action_open_pluggy_lines(self, line_ids):
        """Open lines in the bank reconciliation screen when one is installed, else in the lines list."""
        for xmlid in (
            "account_reconcile_oca.action_bank_statement_line_reconcile",
            "account_accountant.action_bank_statement_line_transactions_kanban",
        ):
            if self.env.ref(xmlid, raise_if_not_found=False):
                action = self.env["ir.actions.act_window"]._for_xml_id(xmlid)
                # Made for a journal's dashboard card, these actions name the journal as active_id in their
                # context, which the browser cannot evaluate without one: evaluate it here, as OCA does.
                journals = self.browse(line_ids).journal_id
                action["context"] = safe_eval(
                    action.get("context") or "{}",
                    {"active_id": journals.id if len(journals) == 1 else False, "active_ids": journals.ids},
                )
                action["domain"] = [("id", "in", line_ids)]
                return action
        action = self.env["ir.actions.act_window"]._for_xml_id("caixa_pluggy.action_pluggy_statement_lines")
        action.update({"name": _("New bank lines"), "domain": [("id", "in", line_ids)]})
        return action

    # -------------------------------------------------------------------------
    # HELPERS FOR THE SYNC (see pluggy.account._import_transactions)
    # -------------------------------------------------------------------------

    @api.model
    def _pluggy_existing_lines(self, journal, transaction_ids):
        """The lines of these Pluggy transactions in a journal, by transaction id: one query."""
        self.env.cr.execute(
            SQL(
                """
                SELECT pluggy_transaction_id, id, pluggy_fingerprint, is_reconciled
                  FROM account_bank_statement_line
                 WHERE journal_id = %s AND pluggy_transaction_id = ANY(%s)
                """,
                journal.id,
                list(transaction_ids),
            )
        )
        return {
            transaction_id: {"id": line_id, "pluggy_fingerprint": fingerprint, "is_reconciled": is_reconciled}
            for transaction_id, line_id, fingerprint, is_reconciled in self.env.cr.fetchall()
        }

    @api.model
    def _pluggy_lines_missing(self, journal, window_start, seen_ids):
        """Lines dated in a re-read window whose transaction Pluggy no longer returned."""
        self.env.cr.execute(
            SQL(
                """
                SELECT line.id
                  FROM account_bank_statement_line line
                  JOIN account_move move ON move.id = line.move_id
                 WHERE line.journal_id = %s
                   AND line.pluggy_transaction_id IS NOT NULL
                   AND line.pluggy_flag IS DISTINCT FROM 'deleted'
                   -- An anti-join (hashed), not NOT (id = ANY(array)): that one compares every line with
                   -- every seen id, quadratic in a first sync's thousands of rows.
                   AND NOT EXISTS (
                       SELECT 1 FROM unnest(%s::varchar[]) seen(id) WHERE seen.id = line.pluggy_transaction_id
                   )
                   AND move.date >= %s
                """,
                journal.id,
                list(seen_ids),
                window_start,
            )
        )
        return self.browse(row[0] for row in self.env.cr.fetchall())

    @api.model
    def _pluggy_duplicate_line_ids(self, journal):
        """Lines of the journal that look like one transaction twice: the same amount on the same day from the
        same counterpart (its CPF/CNPJ, else its name, else the label), or from anyone when only one of the
        two came from Pluggy (a line typed in or imported from a file names the counterpart its own way); or
        a Pluggy transaction also imported on another journal."""
        self.env.cr.execute(
            SQL(
                """
                WITH journal_line AS (
                    SELECT line.id, line.amount, move.date, line.pluggy_transaction_id,
                           lower(coalesce(line.pluggy_partner_vat, line.partner_name, line.payment_ref, ''))
                               AS who
                      FROM account_bank_statement_line line
                      JOIN account_move move ON move.id = line.move_id
                     WHERE line.journal_id = %(journal)s
                )
                SELECT line.id
                  FROM journal_line line
                 WHERE EXISTS (SELECT 1 FROM journal_line twin
                                WHERE twin.id != line.id AND twin.amount = line.amount
                                  AND twin.date = line.date
                                  AND (twin.who = line.who
                                       OR (twin.pluggy_transaction_id IS NULL)
                                          != (line.pluggy_transaction_id IS NULL)))
                    OR EXISTS (SELECT 1 FROM account_bank_statement_line elsewhere
                                WHERE elsewhere.pluggy_transaction_id = line.pluggy_transaction_id
                                  AND elsewhere.journal_id != %(journal)s)
                 ORDER BY line.date, line.amount, line.id
                """,
                journal=journal.id,
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]

    @api.model
    def _pluggy_line_values(self, journal, values, partners):
        """Statement line values of a mapped Pluggy transaction (see caixa_pluggy.pluggy.mapping)."""
        return {
            "journal_id": journal.id,
            "pluggy_transaction_id": values["pluggy_transaction_id"],
            **self._pluggy_update_values(values, partners),
        }

    @api.model
    def _pluggy_update_values(self, values, partners):
        foreign_currency = self._pluggy_foreign_currency(values)
        return {
            **{name: values[name] for name in LINE_FIELDS},
            # The ORM's Monetary fields are floats: the Decimal is already rounded to the currency, so the
            # float carries exactly the same cents.
            "amount": float(values["amount"]),
            "foreign_currency_id": foreign_currency.id,
            "amount_currency": float(values["amount_currency"]) if foreign_currency else 0.0,
            "partner_id": partners.get(values["pluggy_partner_vat"]) or False,
            "pluggy_fingerprint": values["pluggy_fingerprint"],
            "pluggy_installment_total": float(values["pluggy_installment_total"] or 0),
        }

    @api.model
    def _pluggy_foreign_currency(self, values):
        if values["amount_currency"] is None:
            return self.env["res.currency"]
        return self.env["res.currency"]._pluggy_from_code(values["foreign_currency_code"])

    def _pluggy_describe_change(self, values):
        """What the bank changed on a reconciled line, in words."""
        self.ensure_one()
        changes = []
        if float(values["amount"]) != self.amount:
            changes.append(_("amount %(old)s → %(new)s", old=self.amount, new=values["amount"]))
        if values["date"] != self.date:
            changes.append(_("date %(old)s → %(new)s", old=self.date, new=values["date"]))
        if (values["payment_ref"] or "") != (self.payment_ref or ""):
            changes.append(_("label “%(old)s” → “%(new)s”", old=self.payment_ref, new=values["payment_ref"]))
        if values["pluggy_pending"] != self.pluggy_pending:
            changes.append(_("posted by the bank") if not values["pluggy_pending"] else _("back to pending"))
        detail = "; ".join(changes) or _("details")
        return _("The bank changed this reconciled transaction: %(changes)s.", changes=detail)

    def _pluggy_accept_transfers(self):
        """Reconcile each proposed card bill payment with its other journal's line, as a transfer."""
        for line in self:
            other = line.pluggy_transfer_line_id
            if line.is_reconciled and other.is_reconciled:
                continue  # the pair's other line was accepted in the same click
            if line.is_reconciled or other.is_reconciled:
                raise UserError(
                    _(
                        "%(line)s was reconciled with something else since the transfer was proposed.",
                        line=(other if other.is_reconciled else line).display_name,
                    )
                )
            bank_line, card_line = (line, other) if line.amount < 0 else (other, line)
            line.pluggy_transfer_bill_id._reconcile_payment(
                bank_line, card_line, line.pluggy_bill_payment_id, accepted_by=self.env.user
            )

    def _pluggy_flag(self, flag, note):
        """Flag these lines for review; returns those newly flagged, as the same change found again by the
        next syncs is not news."""
        lines = self.filtered(lambda line: line.pluggy_flag != flag or line.pluggy_flag_note != note)
        if lines:
            lines.write({"pluggy_flag": flag, "pluggy_flag_note": note})
        return lines
