import logging
from decimal import Decimal

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import float_repr, format_date

from ..pluggy import errors as pluggy_errors
from ..pluggy.mapping import (
    InvalidBill,
    bill_state,
    charges_on_the_card,
    looks_like_card_payment,
    map_bill,
    paid_by_card_rows,
)
from ..sync.transaction import try_lock_row

_logger = logging.getLogger(__name__)

# Days between a bill payment Pluggy lists and the checking account's line for it: a boleto or a PIX paid on
# a Friday may post on the Monday.
TRANSFER_DAYS = 3
# Days around a bill's closing in which the bank may post a charge of the bill as a card row of its own.
CHARGE_ROW_DAYS = 10


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
        mapped = sorted(mapped, key=lambda values: values["due_date"])
        card_rows = None
        for index, values in enumerate(mapped):
            paid = sum((payment["amount"] for payment in values["payments"]), Decimal(0))
            if not values["payments"]:
                card_rows = self._card_credit_rows(account) if card_rows is None else card_rows
                later = mapped[index + 1] if index + 1 < len(mapped) else None
                paid = paid_by_card_rows(
                    card_rows,
                    values["closing_date"] or values["due_date"],
                    (later["closing_date"] or later["due_date"]) if later else today,
                )
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

    @api.model
    def _card_credit_rows(self, account):
        """(date, amount, label) of the card's imported credits: payments and refunds."""
        lines = self.env["account.bank.statement.line"].search_read(
            [
                ("journal_id", "=", account.journal_id.id),
                ("pluggy_transaction_id", "!=", False),
                ("amount", ">", 0),
            ],
            ["date", "amount", "payment_ref"],
        )
        digits = account.currency_id.decimal_places
        return [(line["date"], float_repr(line["amount"], digits), line["payment_ref"]) for line in lines]

    def _sync_charge_lines(self):
        """Each finance charge as its own line on the card's journal, dated on the bill's closing: once,
        updated while unreconciled, flagged for review when reconciled; removed when Pluggy no longer lists it
        or when the bank sent the charge as a card row of its own."""
        Line = self.env["account.bank.statement.line"].with_context(pluggy_importing=True)
        first_day = self._first_imported_day()
        for bill in self:
            # Labels are written once, by whoever syncs (often the cron): in the company's language.
            bill = bill.with_context(lang=bill.company_id.partner_id.lang or self.env.lang)
            day = bill.closing_date or bill.due_date
            existing = {line.pluggy_bill_charge_id: line for line in bill.charge_line_ids}
            charges = bill._charges_to_book()
            to_create, gone = [], Line.browse()
            for key in existing.keys() - {charge["id"] for charge in charges}:
                gone |= existing[key]
            for charge in charges:
                values = {
                    "date": day,
                    "amount": -float(charge["amount"]),
                    "payment_ref": bill._charge_label(charge),
                }
                line = existing.get(charge["id"])
                if line:
                    if any(line[key] != value for key, value in values.items()):
                        if line.is_reconciled:
                            line._pluggy_flag("changed", _("The bank changed this charge of the bill."))
                        else:
                            line.write(values)
                elif first_day.get(bill.journal_id.id) and day >= first_day[bill.journal_id.id]:
                    # A bill closed before the card's first imported row charges purchases the journal
                    # never had: its charges are in the opening balance.
                    to_create.append(
                        {
                            **values,
                            "journal_id": bill.journal_id.id,
                            "pluggy_card_bill_id": bill.id,
                            "pluggy_bill_charge_id": charge["id"],
                        }
                    )
            reconciled = gone.filtered("is_reconciled")
            listed = {charge["id"] for charge in bill.details["charges"]}
            for line in reconciled:
                if line.pluggy_bill_charge_id in listed:
                    line._pluggy_flag(
                        "changed", _("The bank also sent this charge as a card row: it is twice.")
                    )
                else:
                    line._pluggy_flag("deleted", _("The bank no longer lists this charge on the bill."))
            (gone - reconciled).unlink()
            Line.create(to_create)

    def _charges_to_book(self):
        """The bill's charges that the journal does not hold yet as card rows of the bank's own."""
        self.ensure_one()
        charges = [charge | {"amount": Decimal(charge["amount"])} for charge in self.details["charges"]]
        if not charges:
            return []
        day = self.closing_date or self.due_date
        rows = self.env["account.bank.statement.line"].search_read(
            [
                ("journal_id", "=", self.journal_id.id),
                ("pluggy_transaction_id", "!=", False),
                ("amount", "in", [-float(charge["amount"]) for charge in charges]),
                ("date", ">=", fields.Date.subtract(day, days=CHARGE_ROW_DAYS)),
                ("date", "<=", fields.Date.add(day, days=CHARGE_ROW_DAYS)),
            ],
            ["amount", "payment_ref"],
        )
        on_the_card = charges_on_the_card(
            charges,
            [
                (row["id"], float_repr(row["amount"], self.currency_id.decimal_places), row["payment_ref"])
                for row in rows
            ],
        )
        return [charge for charge in charges if charge["id"] not in on_the_card]

    def _first_imported_day(self):
        """{journal id: date of its first line imported from Pluggy} of these bills' journals."""
        groups = self.env["account.bank.statement.line"]._read_group(
            [("journal_id", "in", self.journal_id.ids), ("pluggy_transaction_id", "!=", False)],
            ["journal_id"],
            ["date:min"],
        )
        return {journal.id: day for journal, day in groups}

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
        """A bill payment is a transfer from the checking account to the card. When exactly one card line and
        one checking line have its amount around its date, the two are reconciled together through the
        company's internal transfer account if the checking line says it pays a card (its label, or a boleto);
        otherwise the pair is proposed, as a supplier's PIX of the same amount would be no transfer."""
        Line = self.env["account.bank.statement.line"]
        considered = set(
            Line.search([("pluggy_bill_payment_id", "in", self._payment_ids())]).mapped(
                "pluggy_bill_payment_id"
            )
        )
        for bill in self:
            for payment in bill.details["payments"]:
                if not payment.get("date") or payment["id"] in considered:
                    continue
                bank_line, card_line = bill._payment_lines(payment)
                # A line another sync has just reconciled or changed is left to it.
                if not (bank_line and card_line) or not all(map(try_lock_row, bank_line | card_line)):
                    continue
                try:
                    with self.env.cr.savepoint():
                        if looks_like_card_payment(bank_line.payment_ref, bank_line.transaction_type):
                            bill._reconcile_payment(bank_line, card_line, payment["id"])
                        else:
                            bill._propose_payment(bank_line, card_line, payment["id"])
                except UserError as error:
                    # One payment that cannot be reconciled (no transfer account yet) leaves the others be.
                    _logger.info(
                        "Pluggy bill %s: payment %s not matched: %s",
                        bill.pluggy_bill_id,
                        payment["id"],
                        error,
                    )

    def _payment_ids(self):
        return [payment["id"] for bill in self for payment in bill.details["payments"] if payment.get("id")]

    def _payment_lines(self, payment):
        """The posted, unreconciled card line and checking line of this payment, when exactly one of each."""
        Line = self.env["account.bank.statement.line"]
        amount = float(payment["amount"])
        paid_on = fields.Date.to_date(payment["date"])
        near = [
            ("is_reconciled", "=", False),
            ("pluggy_pending", "=", False),
            ("pluggy_bill_payment_id", "=", False),
            ("company_id", "=", self.company_id.id),
            ("date", ">=", fields.Date.subtract(paid_on, days=TRANSFER_DAYS)),
            ("date", "<=", fields.Date.add(paid_on, days=TRANSFER_DAYS)),
        ]
        card_line = Line.search([*near, ("journal_id", "=", self.journal_id.id), ("amount", "=", amount)])
        bank_line = Line.search(
            [
                *near,
                ("journal_id", "!=", self.journal_id.id),
                ("journal_id.type", "=", "bank"),
                ("amount", "=", -amount),
            ]
        )
        if len(card_line) != 1 or len(bank_line) != 1:
            return Line, Line
        return bank_line, card_line

    def _reconcile_payment(self, bank_line, card_line, payment_id, accepted_by=None):
        self.ensure_one()
        self.env["account.bank.statement.line"]._pluggy_reconcile_transfer(bank_line, card_line)
        note = _(
            "Payment of %(bill)s, from %(bank)s to %(card)s.",
            bill=self.name,
            bank=bank_line.journal_id.name,
            card=card_line.journal_id.name,
        )
        if accepted_by:
            note = _("Proposal accepted by %(user)s: %(note)s", user=accepted_by.name, note=note)
        (bank_line | card_line).write(
            {
                "pluggy_bill_payment_id": payment_id,
                "pluggy_transfer_bill_id": self.id,
                "pluggy_transfer_line_id": False,
                "pluggy_match_state": "reconciled",
                "pluggy_match_note": note,
            }
        )
        # Bills are the sync's: an accountant accepting a proposal links it, and may not edit bills.
        self.sudo().payment_line_ids |= bank_line | card_line

    def _propose_payment(self, bank_line, card_line, payment_id):
        self.ensure_one()
        note = _(
            "Same amount as the payment of %(bill)s, but the %(bank)s line does not say it pays the card: a "
            "transfer to %(card)s?",
            bill=self.name,
            bank=bank_line.journal_id.name,
            card=card_line.journal_id.name,
        )
        for line, other in ((bank_line, card_line), (card_line, bank_line)):
            line.write(
                {
                    "pluggy_bill_payment_id": payment_id,
                    "pluggy_transfer_bill_id": self.id,
                    "pluggy_transfer_line_id": other.id,
                    "pluggy_match_state": "proposed",
                    "pluggy_match_note": note,
                }
            )
