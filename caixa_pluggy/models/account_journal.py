from odoo import _, fields, models
from odoo.tools.misc import formatLang


class AccountJournal(models.Model):
    # The class must be named AccountJournal: Odoo's name-mangled source hook below only chains that way.
    _inherit = "account.journal"

    pluggy_account_id = fields.Many2one(
        "pluggy.account", string="Pluggy Account", copy=False, index="btree_not_null", check_company=True
    )
    pluggy_item_id = fields.Many2one(related="pluggy_account_id.item_id", string="Pluggy Connection")
    pluggy_last_sync_at = fields.Datetime(related="pluggy_account_id.last_sync_at", string="Last Pluggy Sync")
    pluggy_last_sync_error = fields.Text(
        related="pluggy_account_id.last_sync_error", string="Last Sync Error"
    )
    pluggy_last_sync_warning = fields.Text(
        related="pluggy_account_id.last_sync_warning", string="Last Sync Warning"
    )
    pluggy_watermark = fields.Char(
        related="pluggy_account_id.transactions_watermark", string="Imported Up To"
    )
    pluggy_bank_balance = fields.Monetary(related="pluggy_account_id.bank_balance", string="Bank Balance")
    pluggy_balance_difference = fields.Monetary(
        related="pluggy_account_id.balance_difference", string="Difference With the Bank"
    )

    _sql_constraints = [
        (
            "pluggy_account_unique",
            "unique(pluggy_account_id)",
            "A Pluggy account can feed only one journal.",
        ),
    ]

    def __get_bank_statements_available_sources(self):
        rslt = super().__get_bank_statements_available_sources()
        rslt.append(("pluggy", _("Pluggy Open Finance")))
        return rslt

    # -------------------------------------------------------------------------
    # ACTION METHODS
    # -------------------------------------------------------------------------

    def action_pluggy_sync(self):
        return self.pluggy_account_id.action_sync_now()

    def action_pluggy_reconnect(self):
        self.ensure_one()
        return self.pluggy_item_id.action_open_connect()

    def action_pluggy_create_opening_balance(self):
        return self.pluggy_account_id.action_create_opening_balance()

    def action_pluggy_duplicate_lines(self):
        """Lines that look like one transaction twice, to review and delete."""
        self.ensure_one()
        Line = self.env["account.bank.statement.line"]
        line_ids = Line._pluggy_duplicate_line_ids(self)
        if not line_ids:
            return _notification(
                _("No line of %(journal)s looks like a duplicate.", journal=self.display_name)
            )
        action = self.env["ir.actions.act_window"]._for_xml_id("caixa_pluggy.action_pluggy_statement_lines")
        action.update(
            {
                "name": _("Possible duplicates"),
                "domain": [("id", "in", line_ids)],
                "context": {"group_by": ["date:day"]},
            }
        )
        return action

    def action_pluggy_missing_transactions(self):
        self.ensure_one()
        wizard = self.env["pluggy.missing.transactions"].create({"journal_id": self.id})
        return wizard._reopen()

    # -------------------------------------------------------------------------
    # DASHBOARD
    # -------------------------------------------------------------------------

    def _pluggy_next_bill_text(self):
        """ "Next bill: R$ 1.234,56 due 10/01" for a card's journal: its latest bill, unless paid. An older
        bill left unpaid is carried into the later one, as Brazilian card bills are."""
        bill = self.pluggy_account_id.card_bill_ids.sorted("due_date")[-1:]
        if not bill or bill.state == "paid":
            return False
        return _(
            "Next bill: %(amount)s due %(date)s",
            amount=formatLang(self.env, bill.total_amount - bill.paid_amount, currency_obj=bill.currency_id),
            date=bill.due_date.strftime("%d/%m"),
        )

    def _fill_bank_cash_dashboard_data(self, dashboard_data):
        res = super()._fill_bank_cash_dashboard_data(dashboard_data)
        for journal in self.filtered("pluggy_account_id"):
            account = journal.pluggy_account_id
            item = account.item_id
            dashboard_data[journal.id].update(
                {
                    "pluggy": True,
                    "pluggy_logo": item.connector_image_url or False,
                    "pluggy_bank": item.connector_name or "",
                    "pluggy_state": item.state,
                    "pluggy_can_reconnect": item.can_reconnect,
                    "pluggy_last_sync": account.last_sync_at
                    and fields.Datetime.context_timestamp(self, account.last_sync_at).strftime(
                        "%d/%m/%Y %H:%M"
                    ),
                    "pluggy_error": bool(account.last_sync_error),
                    "pluggy_next_bill": journal._pluggy_next_bill_text(),
                    "pluggy_difference": formatLang(
                        self.env, account.balance_difference, currency_obj=account.currency_id
                    ),
                    "pluggy_has_difference": not account.currency_id.is_zero(account.balance_difference),
                }
            )
        return res


def _notification(message):
    return {
        "type": "ir.actions.client",
        "tag": "display_notification",
        "params": {"type": "info", "message": message},
    }
