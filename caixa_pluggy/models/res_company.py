from odoo import fields, models

from ..pluggy.dates import BANK_TIME_ZONE


class ResCompany(models.Model):
    _inherit = "res.company"

    pluggy_import_pending = fields.Boolean(
        string="Import pending Pluggy transactions",
        help="Also import transactions the bank has not posted yet, marked as pending. They are replaced or "
        "removed when the bank posts or drops them.",
    )

    def _pluggy_time_zone(self):
        """The time zone of this company's banks, in which Pluggy's timestamps fall on calendar dates: the
        company's own when its contact has one, else Brazil's (see caixa_pluggy.pluggy.dates)."""
        self.ensure_one()
        return self.partner_id.tz or BANK_TIME_ZONE
