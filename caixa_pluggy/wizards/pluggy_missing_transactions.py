from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..pluggy import errors as pluggy_errors
from ..pluggy.mapping import InvalidTransaction, map_transaction


class PluggyMissingTransactions(models.TransientModel):
    """The bank's rows of a date range that have no line on the journal, pending ones included, to import."""

    _name = "pluggy.missing.transactions"
    _description = "Missing Pluggy transactions"

    journal_id = fields.Many2one(
        "account.journal", required=True, readonly=True, domain=[("pluggy_account_id", "!=", False)]
    )
    date_from = fields.Date(
        required=True, default=lambda self: fields.Date.context_today(self) - timedelta(days=30)
    )
    date_to = fields.Date(required=True, default=fields.Date.context_today)
    looked_up = fields.Boolean(readonly=True)
    line_ids = fields.One2many("pluggy.missing.transactions.line", "wizard_id", string="Missing Transactions")

    @api.constrains("date_from", "date_to")
    def _check_dates(self):
        for wizard in self:
            if wizard.date_from > wizard.date_to:
                raise UserError(_("The start date is after the end date."))

    def action_look_up(self):
        self.ensure_one()
        account = self.journal_id.pluggy_account_id
        account.check_access("read")
        try:
            rows = account.sudo()._rows_without_line(self.date_from, self.date_to)
        except pluggy_errors.PluggyError as error:
            raise UserError(self.env["pluggy.api"]._describe_error(error)) from error
        self.line_ids = [fields.Command.clear()] + [
            fields.Command.create(values) for values in self._line_values(account, rows)
        ]
        self.looked_up = True
        return self._reopen()

    def action_import(self):
        self.ensure_one()
        rows = [line.row for line in self.line_ids if line.selected]
        if not rows:
            raise UserError(_("Select the transactions to import."))
        account = self.journal_id.pluggy_account_id
        account.check_access("read")
        result = account.sudo()._import_rows(rows)
        return self.env["account.bank.statement.line"]._action_open_pluggy_lines(result.created_ids)

    def _line_values(self, account, rows):
        time_zone = account.company_id._pluggy_time_zone()
        values = []
        for row in rows:
            try:
                mapped = map_transaction(
                    row,
                    account_type=account.account_type,
                    account_currency=account.currency_id.name,
                    currency_digits=account.currency_id.decimal_places,
                    time_zone=time_zone,
                )
            except InvalidTransaction as error:
                values.append(
                    {"pluggy_transaction_id": row.get("id"), "problem": str(error), "selected": False}
                )
                continue
            if not self.date_from <= mapped["date"] <= self.date_to:
                continue
            values.append(
                {
                    "pluggy_transaction_id": mapped["pluggy_transaction_id"],
                    "date": mapped["date"],
                    "amount": float(mapped["amount"]),
                    "payment_ref": mapped["payment_ref"],
                    "partner_name": mapped["partner_name"],
                    "pending": mapped["pluggy_pending"],
                    "row": mapped["transaction_details"],
                }
            )
        return values

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": _("Missing transactions"),
        }


class PluggyMissingTransactionsLine(models.TransientModel):
    _name = "pluggy.missing.transactions.line"
    _description = "Missing Pluggy transaction"
    _order = "date, id"

    wizard_id = fields.Many2one("pluggy.missing.transactions", required=True, ondelete="cascade")
    selected = fields.Boolean(string="Import", default=True)
    pluggy_transaction_id = fields.Char(string="Pluggy Transaction ID", readonly=True)
    date = fields.Date(readonly=True)
    amount = fields.Monetary(readonly=True)
    currency_id = fields.Many2one(related="wizard_id.journal_id.pluggy_account_id.currency_id")
    payment_ref = fields.Char(string="Label", readonly=True)
    partner_name = fields.Char(string="Counterpart", readonly=True)
    pending = fields.Boolean(string="Pending at the Bank", readonly=True)
    problem = fields.Char(readonly=True, help="Why this row cannot be imported as it is.")
    row = fields.Json(readonly=True)
