from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..pluggy.matching import boleto_barcode


class AccountMove(models.Model):
    _inherit = "account.move"

    pluggy_boleto_code = fields.Char(
        string="Boleto",
        copy=False,
        help="The boleto's digitable line or barcode, as printed on the bill: the bank line that pays it is "
        "then reconciled with this bill by itself.",
    )
    pluggy_boleto_barcode = fields.Char(
        compute="_compute_pluggy_boleto_barcode", store=True, index="btree_not_null", copy=False
    )

    @api.depends("pluggy_boleto_code")
    def _compute_pluggy_boleto_barcode(self):
        for move in self:
            move.pluggy_boleto_barcode = boleto_barcode(move.pluggy_boleto_code)

    @api.constrains("pluggy_boleto_code")
    def _check_pluggy_boleto_code(self):
        for move in self:
            if move.pluggy_boleto_code and not move.pluggy_boleto_barcode:
                raise ValidationError(
                    _(
                        "“%(code)s” is neither a boleto barcode (44 digits) nor a digitable line (47 or 48 "
                        "digits).",
                        code=move.pluggy_boleto_code,
                    )
                )
