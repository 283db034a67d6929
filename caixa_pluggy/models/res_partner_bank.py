from odoo import models

from ..pluggy.account_numbers import parse_account_number


class ResPartnerBank(models.Model):
    _inherit = "res.partner.bank"

    def _pluggy_account_number(self):
        """This bank account's number in parts, to compare with the numbers Pluggy sends.

        Brazilian localisations keep the agency and the check digit in fields of their own (OCA's
        ``l10n_br_base``: ``bra_number``, ``acc_number_dig``); they are read when installed.
        """
        self.ensure_one()
        return parse_account_number(
            self.acc_number,
            agency=self._pluggy_optional_field("bra_number"),
            check_digit=self._pluggy_optional_field("acc_number_dig"),
        )

    def _pluggy_optional_field(self, name):
        return self[name] or None if name in self._fields else None
