import logging
from decimal import Decimal

from odoo import _, api, fields, models
from odoo.tools import format_date

from ..pluggy import errors as pluggy_errors
from ..pluggy.mapping import InvalidBill, bill_state, map_bill
from ..sync.transaction import try_lock_row

_logger = logging.getLogger(__name__)

# Days between a bill payment Pluggy lists and the checking account's line for it: a boleto or a PIX paid on
# a Friday may post on the Monday.
TRANSFER_DAYS = 3


class PluggyCardBill(models.Model):
    """A credit-card bill (fatura) as Pluggy lists it: read with each sync of the card, updated in place."""

    _name = "pluggy.card.bill"
    _description = "Pluggy credit-card bill"
    _order = "due_date desc, id desc"
    _check_company_auto = True

    name = fields.Char(compute="_compute_name")
    pluggy_bill_id = fields.Char(string="Pluggy Bill ID", required=True, readonly=True, index=True)
    account_id = fields.Many2one(
        "pluggy.account", string="Card", required=True, readonly=True, ondelete="cascade", check_company=True
    )
    journal_id = fields.Many2one(related="account_id.journal_id", store=True)
    company_id = fields.Many2one(related="account_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="account_id.currency_id")
    due_date = fields.Date(readonly=True, required=True)
    closing_date = fields.Date(readonly=True)
    total_amount = fields.Monetary(string="Total", readonly=True)
    minimum_payment = fields.Monetary(readonly=True)
    charges_amount = fields.Monetary(string="Finance Charges", readonly=True, help="IOF, interest and fees.")
    paid_amount = fields.Monetary(string="Paid", readonly=True)
    state = fields.Selection(
        [("open", "Open"), ("overdue", "Overdue"), ("paid", "Paid")],
        readonly=True,
        required=True,
        default="open",
    )
    charge_line_ids = fields.One2many("account.bank.statement.line", "pluggy_card_bill_id", string="Charges")
    payment_line_ids = fields.Many2many(
        "account.bank.statement.line",
        "pluggy_card_bill_payment_line_rel",
        "bill_id",
        "line_id",
        string="Payment Lines",
        readonly=True,
        help="The checking account's payment and the card's, reconciled as a transfer between the journals.",
    )
    details = fields.Json(readonly=True)

    _sql_constraints = [
        (
            "pluggy_bill_unique",
            "unique(account_id, pluggy_bill_id)",
            "A Pluggy bill is stored once per card.",
        ),
    ]

    @api.depends("due_date")
    @api.depends_context("lang")
    def _compute_name(self):
        for bill in self:
            bill.name = (
                _("Bill due %(date)s", date=format_date(self.env, bill.due_date)) if bill.due_date else False
            )

    # -------------------------------------------------------------------------
    # SYNC (see pluggy.account._sync_one)
    # -------------------------------------------------------------------------

    @api.model
    def _sync_bills(self, account, client):
        """Read the card's bills and store them with their charges as lines; payments are matched after.

        Bills are an extra: a connector that lists none, or fails to, never fails the card's sync.
        """
        try:
            data = client.list_bills(account.pluggy_account_id)
        except pluggy_errors.PluggyError as error:
            _logger.info(
                "Could not read the bills of Pluggy account %s: %s", account.pluggy_account_id, error
            )
            return self.browse()
        time_zone = account.company_id._pluggy_time_zone()
        mapped = []
        for bill in data:
            try:
                mapped.append(
                    map_bill(bill, currency_digits=account.currency_id.decimal_places, time_zone=time_zone)
                )
            except InvalidBill as error:
                _logger.warning(
                    "Pluggy account %s: a bill was not stored: %s", account.pluggy_account_id, error
                )
        bills = self._upsert(account, mapped)
        bills._sync_charge_lines()
        return bills

    @api.model
    def _upsert(self, account, mapped):
        existing = {bill.pluggy_bill_id: bill for bill in self.search([("account_id", "=", account.id)])}
        today = fields.Date.context_today(self)
        to_create, bills = [], self.browse()
        for values in mapped:
            paid = sum((payment["amount"] for payment in values["payments"]), Decimal(0))
            record_values = {
                "due_date": values["due_date"],
                "closing_date": values["closing_date"],
                "total_amount": float(values["total_amount"]),
                "minimum_payment": float(values["minimum_payment"] or 0),
                "charges_amount": float(sum(charge["amount"] for charge in values["charges"])),
                "paid_amount": float(paid),
                "state": bill_state(values["total_amount"], paid, values["due_date"], today),
                "details": {
                    "charges": [charge | {"amount": str(charge["amount"])} for charge in values["charges"]],
                    "payments": [
                        payment | {"amount": str(payment["amount"]), "date": str(payment["date"] or "")}
                        for payment in values["payments"]
                    ],
                },
            }
            bill = existing.get(values["pluggy_bill_id"])
            if bill:
                # Only what changed: an unchanged bill re-read every sync writes nothing.
                changed = {key: value for key, value in record_values.items() if bill[key] != value}
                if changed:
                    bill.write(changed)
                bills |= bill
            else:
                to_create.append(
                    {"account_id": account.id, "pluggy_bill_id": values["pluggy_bill_id"], **record_values}
                )
        return bills | self.create(to_create)

    def _sync_charge_lines(self):
        """Each finance charge as its own line on the card's journal, dated on the bill's closing: once,
        updated while unreconciled, flagged for review when reconciled."""
        Line = self.env["account.bank.statement.line"].with_context(pluggy_importing=True)
        for bill in self:
            # Labels are written once, by whoever syncs (often the cron): in the company's language.
            bill = bill.with_context(lang=bill.company_id.partner_id.lang or self.env.lang)
            existing = {line.pluggy_bill_charge_id: line for line in bill.charge_line_ids}
            to_create = []
            for charge in bill.details["charges"]:
                values = {
                    "date": bill.closing_date or bill.due_date,
                    "amount": -float(charge["amount"]),
                    "payment_ref": bill._charge_label(charge),
                }
                line = existing.get(charge["id"])
                if not line:
                    to_create.append(
                        {
                            **values,
                            "journal_id": bill.journal_id.id,
                            "pluggy_card_bill_id": bill.id,
                            "pluggy_bill_charge_id": charge["id"],
                        }
                    )
                elif any(line[key] != value for key, value in values.items()):
                    if line.is_reconciled:
                        line._pluggy_flag("changed", _("The bank changed this charge of the bill."))
                    else:
                        line.write(values)
            Line.create(to_create)

    def _charge_label(self, charge):
        kinds = {
            "IOF": _("IOF"),
            "LATE_PAYMENT_INTEREST": _("Late payment interest"),
            "LATE_PAYMENT_REMUNERATIVE_INTEREST": _("Revolving credit interest"),
            "LATE_PAYMENT_FEE": _("Late payment fee"),
            "OTHER": _("Card charge"),
        }
        label = kinds.get(charge["kind"], kinds["OTHER"])
        if charge.get("info"):
            label = f"{label}: {charge['info']}"
        return _("%(charge)s (%(bill)s)", charge=label, bill=self.name)

    def _match_payments(self):
        """A bill payment is a transfer from the checking account to the card: the card journal's payment line
        and the checking account's, when exactly one of each has its amount around its date, are reconciled
        together through the company's internal transfer account."""
        Line = self.env["account.bank.statement.line"]
        for bill in self:
            for payment in bill.details["payments"]:
                if not payment.get("date") or bill.payment_line_ids.filtered(
                    lambda line, payment=payment: line.pluggy_bill_payment_id == payment["id"]
                ):
                    continue
                amount = float(payment["amount"])
                paid_on = fields.Date.to_date(payment["date"])
                near = [
                    ("is_reconciled", "=", False),
                    ("company_id", "=", bill.company_id.id),
                    ("date", ">=", fields.Date.subtract(paid_on, days=TRANSFER_DAYS)),
                    ("date", "<=", fields.Date.add(paid_on, days=TRANSFER_DAYS)),
                ]
                card_line = Line.search(
                    [*near, ("journal_id", "=", bill.journal_id.id), ("amount", "=", amount)]
                )
                bank_line = Line.search(
                    [
                        *near,
                        ("journal_id", "!=", bill.journal_id.id),
                        ("journal_id.type", "=", "bank"),
                        ("amount", "=", -amount),
                    ]
                )
                # A line another sync has just reconciled or changed is left to it.
                if (
                    len(card_line) != 1
                    or len(bank_line) != 1
                    or not all(map(try_lock_row, card_line | bank_line))
                ):
                    continue
                Line._pluggy_reconcile_transfer(bank_line, card_line)
                (bank_line | card_line).write(
                    {
                        "pluggy_bill_payment_id": payment["id"],
                        "pluggy_match_state": "reconciled",
                        "pluggy_match_note": _(
                            "Payment of %(bill)s, from %(bank)s to %(card)s.",
                            bill=bill.name,
                            bank=bank_line.journal_id.name,
                            card=card_line.journal_id.name,
                        ),
                    }
                )
                bill.payment_line_ids |= bank_line | card_line
