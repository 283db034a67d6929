import itertools
import logging
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.base.models.res_bank import sanitize_account_number

from ..pluggy.account_numbers import best_match, parse_account_number
from ..pluggy.mapping import map_account, map_balance

_logger = logging.getLogger(__name__)

# The prefixes of Odoo's default journal codes (account.journal.get_next_bank_cash_default_code).
JOURNAL_CODE_PREFIXES = {"bank": "BNK", "credit": "CCD"}


class PluggyAccount(models.Model):
    """A bank or credit-card account of a Pluggy connection, imported into one journal."""

    _name = "pluggy.account"
    _description = "Pluggy Account"
    _order = "item_id, account_type, name, id"
    _check_company_auto = True

    name = fields.Char(required=True, readonly=True)
    item_id = fields.Many2one(
        "pluggy.item", string="Connection", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="item_id.company_id", store=True, index=True)
    active = fields.Boolean(related="item_id.active", store=True)
    pluggy_account_id = fields.Char(string="Pluggy Account ID", required=True, readonly=True, copy=False)
    account_type = fields.Selection(
        [("BANK", "Bank account"), ("CREDIT", "Credit card")], required=True, readonly=True, default="BANK"
    )
    subtype = fields.Char(readonly=True)
    number = fields.Char(readonly=True)
    owner = fields.Char(readonly=True)
    tax_number = fields.Char(string="Owner CPF/CNPJ", readonly=True)
    currency_id = fields.Many2one("res.currency", required=True, readonly=True)
    card_bill_ids = fields.One2many("pluggy.card.bill", "account_id", string="Bills")

    journal_ids = fields.One2many("account.journal", "pluggy_account_id", string="Linked Journals")
    journal_id = fields.Many2one(
        "account.journal",
        compute="_compute_journal_id",
        inverse="_inverse_journal_id",
        domain="[('type', 'in', ('bank', 'credit')), ('company_id', '=', company_id)]",
        check_company=True,
        help="The journal that receives this account's transactions.",
    )

    bank_balance = fields.Monetary(readonly=True, help="The balance the bank reported at the last sync.")
    bank_balance_at = fields.Datetime(string="Bank Balance Date", readonly=True)
    journal_balance = fields.Monetary(compute="_compute_balances")
    balance_difference = fields.Monetary(
        compute="_compute_balances",
        help="Journal balance minus the bank's balance: "
        "non-zero when lines are missing or were added by hand.",
    )

    transactions_watermark = fields.Char(
        readonly=True,
        help="Pluggy's createdAt of the newest transaction imported: the next sync reads from it.",
    )
    pending_transaction_ids = fields.Json(readonly=True, copy=False)
    skipped_transaction_ids = fields.Json(
        string="Skipped Transactions",
        readonly=True,
        copy=False,
        help="Pluggy rows that could not be imported (no date, no amount...): asked for again on every sync.",
    )
    history_pending = fields.Boolean(
        default=True, readonly=True, help="The first sync of the account history is still to be done."
    )
    next_sync_at = fields.Datetime(readonly=True, index=True)
    last_sync_at = fields.Datetime(readonly=True)
    bills_read_at = fields.Datetime(readonly=True, help="When the card's bills were last read from Pluggy.")
    last_sync_error = fields.Text(readonly=True)
    last_sync_warning = fields.Text(
        readonly=True, help="What the last sync could not import; the rest of the account was imported."
    )

    _sql_constraints = [
        (
            "pluggy_account_id_unique",
            "unique(pluggy_account_id)",
            "This Pluggy account is already registered.",
        ),
    ]

    # -------------------------------------------------------------------------
    # COMPUTE METHODS
    # -------------------------------------------------------------------------

    @api.depends("journal_ids")
    def _compute_journal_id(self):
        for account in self:
            account.journal_id = account.journal_ids[:1]

    def _inverse_journal_id(self):
        for account in self:
            account.journal_ids.filtered(
                lambda journal, account=account: journal != account.journal_id
            ).write({"pluggy_account_id": False, "bank_statements_source": "undefined"})
            if account.journal_id:
                account.journal_id.write(
                    {"pluggy_account_id": account.id, "bank_statements_source": "pluggy"}
                )

    @api.depends("bank_balance", "journal_ids")
    def _compute_balances(self):
        totals = dict(
            self.env["account.bank.statement.line"]._read_group(
                [("journal_id", "in", self.journal_ids.ids)], ["journal_id"], ["amount:sum"]
            )
        )
        for account in self:
            account.journal_balance = totals.get(account.journal_id, 0.0)
            account.balance_difference = account.currency_id.round(
                account.journal_balance - account._expected_journal_balance()
            )

    def _expected_journal_balance(self):
        """The bank's balance as the journal should show it: a card balance is money owed."""
        self.ensure_one()
        return -self.bank_balance if self.account_type == "CREDIT" else self.bank_balance

    # -------------------------------------------------------------------------
    # ACTION METHODS
    # -------------------------------------------------------------------------

    def action_sync_now(self):
        """Sync these accounts now, and tell the user what changed.

        Accountants and accounting administrators who see these accounts may sync them. The import runs as
        superuser, like the cron: it writes the sync state of the accounts (balance, watermark, pending ids),
        which accountants may not write, and creates lines, which Odoo lets only "Show Full Accounting
        Features" users create by hand, while an accounting administrator without that option must still be
        able to click "Sync now".
        """
        self.check_access("read")
        if not self.env.su and not self.env.user.has_groups(
            "account.group_account_user,account.group_account_manager"
        ):
            raise AccessError(
                _(
                    "Only accountants and accounting administrators can sync bank accounts. Ask one of them "
                    "to sync it."
                )
            )
        accounts = self.filtered("journal_id")
        if not accounts:
            raise UserError(
                _(
                    "Link the account to a journal before syncing it: choose one in the Journal column of "
                    "its connection's Accounts tab."
                )
            )
        summary = accounts.sudo()._sync()
        return accounts._sync_notification(summary)

    def action_create_opening_balance(self):
        """Add the line that makes the journal balance equal the bank's.

        It is dated before the first imported line.
        """
        for account in self.filtered(
            lambda account: not account.currency_id.is_zero(account.balance_difference)
        ):
            first_line = self.env["account.bank.statement.line"].search(
                [("journal_id", "=", account.journal_id.id)], order="date, id", limit=1
            )
            date = (first_line.date if first_line else fields.Date.context_today(self)) - timedelta(days=1)
            self.env["account.bank.statement.line"].create(
                {
                    "journal_id": account.journal_id.id,
                    "date": date,
                    "amount": -account.balance_difference,
                    "payment_ref": _("Opening balance (Pluggy)"),
                }
            )
        return True

    # -------------------------------------------------------------------------
    # HELPERS: PLUGGY -> ODOO
    # -------------------------------------------------------------------------

    @api.model
    def _values_from_pluggy(self, data, company):
        values = map_account(data)
        currency = self._currency_from_code(values.pop("currency_code"))
        return {**values, "currency_id": currency.id, **self._balance_values(data, currency, company)}

    @api.model
    def _balance_values(self, data, currency, company):
        values = map_balance(
            data, currency_digits=currency.decimal_places, time_zone=company._pluggy_time_zone()
        )
        if not values:
            return {}
        return {
            "bank_balance": float(values["bank_balance"]),
            "bank_balance_at": values["bank_balance_at"] or fields.Datetime.now(),
        }

    @api.model
    def _currency_from_code(self, code):
        currency = self.env["res.currency"]._pluggy_from_code(code)
        if not currency:
            raise UserError(
                _(
                    "The currency %(code)s of a Pluggy account is unknown to Odoo. Add it in Invoicing > "
                    "Configuration > Accounting > Currencies, then connect the bank again.",
                    code=code,
                )
            )
        if not currency.active:
            currency.sudo().active = True
        return currency

    def _link_journals(self):
        """Link each account to the company's journal with its bank account number, else to a new journal."""
        for account in self.filtered(lambda account: not account.journal_id):
            account.journal_id = account._matching_journal() or account._create_journal()

    def _journal_type(self):
        self.ensure_one()
        return "credit" if self.account_type == "CREDIT" else "bank"

    def _matching_journal(self):
        """The company's free journal of this account's type and currency whose bank account is this account,
        however either side spells it (see :mod:`..pluggy.account_numbers`); cards only by the exact number,
        their numbers being masked. None when the account has no number, or when several journals fit
        equally: an empty number would match every journal without one, a guess the wrong one."""
        self.ensure_one()
        Journal = self.env["account.journal"]
        target = parse_account_number(self.number)
        if not target:
            return Journal
        # A journal in another currency would show this account's amounts in the wrong currency.
        currencies = [self.currency_id.id]
        if self.currency_id == self.company_id.currency_id:
            currencies.append(False)
        domain = [
            *Journal._check_company_domain(self.company_id),
            ("type", "=", self._journal_type()),
            ("pluggy_account_id", "=", False),
            ("currency_id", "in", currencies),
        ]
        if self._journal_type() != "bank":
            domain.append(("bank_account_id.sanitized_acc_number", "=", sanitize_account_number(self.number)))
            return Journal.search(domain, limit=1)
        journals = Journal.search([*domain, ("bank_account_id", "!=", False)])
        candidates = {journal.id: journal.bank_account_id._pluggy_account_number() for journal in journals}
        return Journal.browse(best_match(target, candidates))

    def _create_journal(self):
        """A new journal for this account, with its bank account number unless another journal has it."""
        self.ensure_one()
        values = self._new_journal_values(self._journal_type())
        number = values.pop("bank_acc_number", None)
        journal = self.env["account.journal"].create(values)
        # The company's own bank account: created as superuser because Odoo lets only "Contact Creation" users
        # create bank accounts, a right many accounting administrators do not have.
        BankAccount = self.env["res.partner.bank"].sudo()
        if number and not BankAccount.search_count(
            [
                ("sanitized_acc_number", "=", sanitize_account_number(number)),
                ("partner_id", "=", self.company_id.partner_id.id),
            ],
            limit=1,
        ):
            journal.sudo().set_bank_account(number)
        return journal

    def _new_journal_values(self, journal_type):
        self.ensure_one()
        company_currency = self.company_id.currency_id
        values = {
            "name": f"{self.item_id.connector_name or 'Pluggy'} {self.name} {self.number or ''}".strip(),
            "type": journal_type,
            "code": self._free_journal_code(journal_type),
            "company_id": self.company_id.id,
            "currency_id": self.currency_id.id if self.currency_id != company_currency else False,
        }
        if journal_type == "bank" and self.number:
            values["bank_acc_number"] = self.number
        return values

    def _free_journal_code(self, journal_type):
        """A journal code no journal of the company has: Odoo's own BNK1..BNK99 (CCD1..CCD99 for cards), then
        the same sequence on, the prefix shortened to keep the code within its five characters: BN100..BN999,
        B1000..B9999. Odoo's default stops at 99, and the company's 100th bank journal would have no code."""
        self.ensure_one()
        prefix = JOURNAL_CODE_PREFIXES[journal_type]
        Journal = self.env["account.journal"].with_context(active_test=False)
        size = Journal._fields["code"].size
        taken = set(
            Journal.search(
                [*Journal._check_company_domain(self.company_id), ("code", "=like", f"{prefix[0]}%")]
            ).mapped("code")
        )
        for number in itertools.count(1):
            code = prefix[: size - len(str(number))] + str(number)
            if code not in taken:
                return code

    def _sync_notification(self, summary):
        return self.env["pluggy.item"]._notification(
            summary.message(self.env),
            "warning" if summary.errors or summary.warnings else "success",
            next_action=summary.new_lines_action(self.env),
        )
