from odoo import _, api, fields, models

from ..pluggy import matching


class AccountReconcileModel(models.Model):
    _inherit = "account.reconcile.model"

    pluggy_rule = fields.Selection(
        [
            (matching.PIX_REFERENCE, "PIX reference"),
            (matching.BOLETO, "Boleto barcode or number"),
            (matching.PARTNER_AMOUNT, "Partner and amount"),
        ],
        string="Pluggy Matching",
        readonly=True,
        copy=False,
        help="Applied by caixa_pluggy to the lines it imports: archive the model to switch the rule off, "
        "untick Auto-validate to have its matches proposed instead of reconciled.",
    )

    _sql_constraints = [
        (
            "pluggy_rule_unique",
            "unique(company_id, pluggy_rule)",
            "A company has one reconciliation model per Pluggy matching rule.",
        ),
    ]

    def _apply_rules(self, st_line, partner):
        # The matching engines of the reconciliation screens (OCA's account_reconcile_model_oca, Enterprise's
        # account_accountant; Community has none) would apply these models with their own rules, at line
        # creation too: caixa_pluggy applies them itself, and says why.
        return super(AccountReconcileModel, self.filtered(lambda model: not model.pluggy_rule))._apply_rules(
            st_line, partner
        )

    @api.model
    def _pluggy_default_models(self):
        """The models each company gets; their standard conditions say in Odoo's terms what each rule
        looks at."""
        return [
            {
                "pluggy_rule": matching.PIX_REFERENCE,
                "name": _("PIX paying an invoice or bill by its reference"),
                "sequence": 1,
                "auto_reconcile": True,
                "match_transaction_type": "contains",
                "match_transaction_type_param": "PIX",
                "match_text_location_reference": True,
            },
            {
                "pluggy_rule": matching.BOLETO,
                "name": _("Boleto paying a bill by its barcode, or an invoice by its number"),
                "sequence": 2,
                "auto_reconcile": True,
                "match_text_location_reference": True,
            },
            {
                "pluggy_rule": matching.PARTNER_AMOUNT,
                "name": _("Counterpart's partner and exact amount (proposed)"),
                "sequence": 3,
                "auto_reconcile": False,
                "match_partner": True,
                "allow_payment_tolerance": False,
            },
        ]

    @api.model
    def _pluggy_create_defaults(self, companies):
        """Give each company the Pluggy models it lacks; an archived one counts (a company that switched a
        rule off keeps it off)."""
        existing = self.with_context(active_test=False).search_read(
            [("company_id", "in", companies.ids), ("pluggy_rule", "!=", False)], ["company_id", "pluggy_rule"]
        )
        have = {(row["company_id"][0], row["pluggy_rule"]) for row in existing}
        self.create(
            [
                {**values, "company_id": company.id, "rule_type": "invoice_matching"}
                for company in companies
                for values in self._pluggy_default_models()
                if (company.id, values["pluggy_rule"]) not in have
            ]
        )

    @api.model
    def _pluggy_rules(self, company):
        """The company's active Pluggy rules, in the models' order, as the matching engine reads them."""
        models = self.search([("company_id", "=", company.id), ("pluggy_rule", "!=", False)])
        return [
            (model, matching.Rule(model.pluggy_rule, auto=model.auto_reconcile, model_id=model.id))
            for model in models
        ]
