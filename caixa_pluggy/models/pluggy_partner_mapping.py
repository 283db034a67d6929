from odoo import api, fields, models
from odoo.tools import SQL

from ..pluggy.matching import VAT_COUNTRY_PREFIX, cnpj_root, document_key

# A partner's VAT as matching.document_key reads a document: punctuation and a country prefix off.
_PARTNER_DOCUMENT = SQL(
    "regexp_replace(upper(regexp_replace(vat, '[^0-9A-Za-z]', '', 'g')), %s, '\\1')", VAT_COUNTRY_PREFIX
)


class PluggyPartnerMapping(models.Model):
    """The partner an accountant chose for a counterpart's CPF/CNPJ that no partner carries as such."""

    _name = "pluggy.partner.mapping"
    _description = "Pluggy counterpart document to partner"
    _check_company_auto = True

    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company)
    document = fields.Char(
        string="Counterpart CPF/CNPJ", required=True, help="As the bank sends it, punctuation removed."
    )
    partner_id = fields.Many2one("res.partner", required=True, ondelete="cascade", check_company=True)

    _sql_constraints = [
        ("document_unique", "unique(company_id, document)", "This CPF/CNPJ already has a partner."),
    ]

    @api.model
    def _remember(self, company, document, partner):
        """Give ``document`` this partner from now on, in ``company``; the last choice wins. A masked or short
        document (kept by lines imported before those were told apart) is not remembered: it would give its
        partner to every payer it masks."""
        document = document_key(document)
        if not document:
            return
        mapping = self.search([("company_id", "=", company.id), ("document", "=", document)], limit=1)
        if mapping:
            mapping.partner_id = partner
        else:
            self.create({"company_id": company.id, "document": document, "partner_id": partner.id})

    @api.model
    def _partners_by_document(self, company, documents):
        """The partner of each counterpart document, {document: partner id}: the accountant's choice for it,
        else the company's partner with that CPF/CNPJ (punctuation ignored), else the one partner of the
        company under the same CNPJ root (a branch of a known company). Never a guess between two."""
        documents = set(filter(document_key, documents))
        if not documents:
            return {}
        mappings = self.sudo().search([("company_id", "=", company.id), ("document", "in", list(documents))])
        partners = {mapping.document: mapping.partner_id.commercial_partner_id.id for mapping in mappings}
        missing = documents - partners.keys()
        if missing:
            partners.update(self._partners_with_vat(company, missing))
            missing -= partners.keys()
        roots = {document: cnpj_root(document) for document in missing}
        by_root = self._partners_by_cnpj_root(company, set(roots.values()) - {None})
        partners.update({document: by_root[root] for document, root in roots.items() if root in by_root})
        return partners

    @api.model
    def _partners_with_vat(self, company, documents):
        self.env.cr.execute(
            SQL(
                """
                SELECT %(document)s AS document, array_agg(id)
                  FROM res_partner
                 WHERE active
                   AND id = commercial_partner_id
                   AND (company_id IS NULL OR company_id = %(company)s)
                   AND %(document)s = ANY(%(documents)s)
                 GROUP BY 1
                """,
                document=_PARTNER_DOCUMENT,
                company=company.id,
                documents=list(documents),
            )
        )
        return {document: ids[0] for document, ids in self.env.cr.fetchall() if len(ids) == 1}

    @api.model
    def _partners_by_cnpj_root(self, company, roots):
        if not roots:
            return {}
        self.env.cr.execute(
            SQL(
                """
                SELECT left(document, 8), array_agg(id)
                  FROM (SELECT id, %(document)s AS document
                          FROM res_partner
                         WHERE active
                           AND id = commercial_partner_id
                           AND (company_id IS NULL OR company_id = %(company)s)
                           AND vat IS NOT NULL) partner
                 WHERE length(document) = 14 AND left(document, 8) = ANY(%(roots)s)
                 GROUP BY 1
                """,
                document=_PARTNER_DOCUMENT,
                company=company.id,
                roots=list(roots),
            )
        )
        return {root: ids[0] for root, ids in self.env.cr.fetchall() if len(ids) == 1}
