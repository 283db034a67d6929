import json
from datetime import datetime, time, timedelta

from odoo import api, models

from odoo.addons.caixa_pluggy.pluggy import map_transaction

SERVICE = "pluggy_bench"


class OnlineBankStatementProvider(models.Model):
    """A provider the way OCA providers are written: fetch one statement period, hand OCA the line values."""

    _inherit = "online.bank.statement.provider"

    @api.model
    def _get_available_services(self):
        return super()._get_available_services() + [(SERVICE, "Pluggy (benchmark)")]

    def _obtain_statement_data(self, date_since, date_until):
        self.ensure_one()
        if self.service != SERVICE:
            return super()._obtain_statement_data(date_since, date_until)
        # `origin` holds the Pluggy account id; dateTo is inclusive at Pluggy and OCA drops rows on or after
        # date_until itself, so the last day is read once more by the next period, as a real provider would.
        client = self.env["pluggy.api"]._get_client()
        currency = self.journal_id.currency_id or self.journal_id.company_id.currency_id
        lines = []
        with client:
            for page in client.iter_transaction_pages(
                self.origin,
                date_from=date_since.date(),
                date_to=(date_until - timedelta(microseconds=1)).date(),
            ):
                lines += [_oca_line(values) for values in posted_values(page, currency)]
        return lines, {}


def posted_values(rows, currency):
    """The mapped values of the posted rows of a bank account in ``currency``, as both benchmarked imports
    (OCA's here, Odoo's own floor in bench/odoo_side.py) read them."""
    for tx in rows:
        values = map_transaction(
            tx,
            account_type="BANK",
            account_currency=currency.name,
            currency_digits=currency.decimal_places,
        )
        if not values["pluggy_pending"]:
            yield values


def _oca_line(values):
    """OCA line values carrying what caixa_pluggy stores too (its own fields aside)."""
    return {
        "date": datetime.combine(values["date"], time.min),
        "amount": float(values["amount"]),
        "payment_ref": values["payment_ref"],
        "unique_import_id": values["pluggy_transaction_id"],
        "partner_name": values["partner_name"],
        "account_number": values["account_number"],
        "transaction_type": values["transaction_type"],
        "raw_data": json.dumps(values["transaction_details"]),
    }
