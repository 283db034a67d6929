from odoo import models


class AccountPartialReconcile(models.Model):
    _inherit = "account.partial.reconcile"

    def unlink(self):
        # However the accountant undoes what caixa_pluggy reconciled (Undo reconciliation on the line,
        # Unreconcile on the invoice, the invoice reset to draft), the line no longer says it reconciled by
        # itself, and what matching finds for it next is only proposed: it is the accountant's line now.
        lines = (self.debit_move_id | self.credit_move_id).move_id.statement_line_id.filtered(
            lambda line: line.pluggy_match_state == "reconciled"
        )
        res = super().unlink()
        lines._pluggy_match_undone()
        return res
