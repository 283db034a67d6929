from odoo import models


class AccountChartTemplate(models.AbstractModel):
    _inherit = "account.chart.template"

    def _load(self, template_code, company, install_demo):
        # Loading a chart on a company without entries deletes its reconciliation models first: the Pluggy
        # ones are given back once the chart is there.
        res = super()._load(template_code, company, install_demo)
        self.env["account.reconcile.model"].sudo()._pluggy_create_defaults(company)
        return res
