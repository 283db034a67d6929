from odoo import models

SYNC_CRONS = ("caixa_pluggy.ir_cron_sync", "caixa_pluggy.ir_cron_sync_worker")


class IrCron(models.Model):
    _inherit = "ir.cron"

    def method_direct_trigger(self):
        """Run Manually on a Pluggy sync job syncs every account now.

        The job only syncs accounts that are due, which keeps each account on its own interval; an
        administrator who runs it by hand expects a sync, not a run that finds nothing due.
        """
        sync_crons = [self.env.ref(xmlid, raise_if_not_found=False) for xmlid in SYNC_CRONS]
        if any(cron in self for cron in sync_crons if cron):
            self.env["pluggy.account"].sudo()._make_all_due()
        return super().method_direct_trigger()
