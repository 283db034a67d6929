from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    pluggy_import_pending = fields.Boolean(
        string="Import pending Pluggy transactions",
        help="Also import transactions the bank has not posted yet, marked as pending. They are replaced or "
        "removed when the bank posts or drops them.",
    )
