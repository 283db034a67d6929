"""Pure mapping from a Pluggy transaction to bank statement line values.

No Odoo import: the Odoo layer turns these values into ``account.bank.statement.line`` fields.
"""

import datetime
import logging
import re
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from . import matching
from .dates import bank_date, bank_datetime

_logger = logging.getLogger(__name__)

DEFAULT_PAYMENT_REF = "Pluggy transaction"

_NON_DIGITS = re.compile(r"\D")


# Names Pluggy (or the bank, through Open Finance) gives a movement it did not classify: a row that names its
# rail elsewhere (a withdrawal's operationType SAQUE beside a paymentMethod OTHER) shows that instead.
_UNCLASSIFIED_METHODS = frozenset({"OTHER", "OTHERS", "OUTRO", "OUTROS", "UNKNOWN"})


class InvalidTransaction(ValueError):  # noqa: N818 - reads as what it is, like Python's own ValueError
    """A Pluggy row that cannot become a statement line: ``field`` is missing (``value`` None) or unusable."""

    kind = "transaction"

    def __init__(self, transaction_id, field, value=None):
        self.transaction_id = transaction_id
        self.field = field
        self.value = value
        problem = "has no" if value is None else f"has an unusable {value!r} as"
        super().__init__(f"Pluggy {self.kind} {transaction_id or '(no id)'} {problem} {field}")


class InvalidBill(InvalidTransaction):
    """A Pluggy credit-card bill that cannot be stored (``transaction_id`` holds the bill's id)."""

    kind = "bill"


def digits_only(value) -> str:
    """Return the digits of ``value`` ("882.937.076-23" -> "88293707623"); "" for None."""
    return _NON_DIGITS.sub("", str(value)) if value is not None else ""


CONNECTOR_HEALTH = ("ONLINE", "UNSTABLE", "OFFLINE")


def map_item(item, *, time_zone=None) -> dict:
    """``pluggy.item`` values of a Pluggy item (GET /items/{id}); timestamps naive UTC (see :mod:`.dates`)."""
    connector = _as_dict(item.get("connector"))
    error = _as_dict(item.get("error"))
    return {
        "connector_id": connector.get("id"),
        "connector_name": connector.get("name"),
        "connector_image_url": connector.get("imageUrl"),
        "connector_is_sandbox": bool(connector.get("isSandbox")),
        "connector_is_open_finance": bool(connector.get("isOpenFinance")),
        **map_connector_health(connector.get("health")),
        "pluggy_status": item.get("status"),
        "execution_status": item.get("executionStatus"),
        "error_code": error.get("code"),
        "error_message": error.get("message"),
        "consent_expires_at": bank_datetime(item.get("consentExpiresAt"), time_zone),
        "pluggy_updated_at": bank_datetime(item.get("lastUpdatedAt"), time_zone),
        "next_auto_sync_at": bank_datetime(item.get("nextAutoSyncAt"), time_zone),
    }


def map_connector_health(health) -> dict:
    """``pluggy.item`` values of a connector's health (in an item, or a connector/status_updated webhook)."""
    health = _as_dict(health)
    status = health.get("status")
    incidents = [incident for incident in health.get("incidents") or [] if isinstance(incident, dict)]
    return {
        "connector_health": status if status in CONNECTOR_HEALTH else False,
        "connector_incidents": "\n".join(
            f"{incident.get('title') or ''} ({incident.get('severity') or ''})".strip()
            for incident in incidents
        )
        or False,
    }


def map_account(account) -> dict:
    """``pluggy.account`` values of a Pluggy account (GET /accounts), with its currency's code for Odoo to
    find; its balance is :func:`map_balance`, read on every sync."""
    return {
        "name": account.get("marketingName") or account.get("name") or account.get("number") or account["id"],
        "account_type": "CREDIT" if account.get("type") == "CREDIT" else "BANK",
        "subtype": account.get("subtype"),
        "number": account.get("number"),
        "owner": account.get("owner"),
        "tax_number": account.get("taxNumber"),
        "currency_code": (_text(account.get("currencyCode")) or "BRL").upper(),
    }


def map_balance(account, *, currency_digits=2, time_zone=None) -> dict:
    """The bank's balance of a Pluggy account, rounded to its currency, and when the bank gave it; empty when
    Pluggy gives none (or none that is a number)."""
    try:
        balance = _to_decimal(account.get("balance"), "balance", account.get("id"))
    except InvalidTransaction:
        return {}
    return {
        "bank_balance": _quantize(balance, currency_digits),
        "bank_balance_at": bank_datetime(account.get("updatedAt"), time_zone),
    }


# The keys of map_transaction that are statement-line fields as they are; the others Odoo converts: the
# amounts (Decimal) to its float fields, the currency code to a currency, the document number to a partner.
LINE_FIELDS = (
    "date",
    "payment_ref",
    "partner_name",
    "account_number",
    "transaction_type",
    "transaction_details",
    "pluggy_pending",
    "pluggy_partner_vat",
    "pluggy_payment_reference",
    "pluggy_boleto_line",
    "pluggy_installment",
)


def map_transaction(
    tx: dict, *, account_type: str, account_currency: str, currency_digits: int = 2, time_zone=None
) -> dict:
    """Map one Pluggy transaction (as parsed by the client) to statement line values.

    ``account_type`` is the Pluggy account type ("BANK" or "CREDIT"), ``account_currency`` its currency code,
    ``currency_digits`` the decimal places of that currency in Odoo and ``time_zone`` the bank's (see
    :mod:`.dates`). Raises :class:`InvalidTransaction` for a row that cannot be imported.
    """
    tx_id, date = _id_and_date(tx, "date", time_zone, InvalidTransaction)
    amount = _to_decimal(tx.get("amount"), "amount", tx_id)
    outgoing = _is_outgoing(tx, amount, account_type)

    foreign_code, amount_currency = None, None
    tx_currency = str(tx.get("currencyCode") or "").upper()
    if tx_currency and account_currency and tx_currency != account_currency.upper():
        foreign_code, amount_currency = tx_currency, _signed(abs(amount), outgoing)
        in_account_currency = tx.get("amountInAccountCurrency")
        if in_account_currency is not None:
            amount = _to_decimal(in_account_currency, "amountInAccountCurrency", tx_id)
        else:
            # Without Pluggy's conversion we cannot know the amount in the journal's currency; importing the
            # foreign figure is better than dropping the row, and the accountant can fix the one line.
            _logger.warning(
                "Pluggy transaction %s is in %s on a %s account but has no amountInAccountCurrency; "
                "its amount is imported unconverted.",
                tx_id,
                tx_currency,
                account_currency,
            )

    payment_data = _as_dict(tx.get("paymentData"))
    counterpart = _as_dict(payment_data.get("receiver" if outgoing else "payer"))
    document = _as_dict(counterpart.get("documentNumber"))
    # Brazil issues alphanumeric CNPJs from July 2026 ("12.ABC.345/01DE-35"): they keep their letters. A
    # masked or short document is no document: it would name the wrong partner, or remember one for it.
    vat = matching.document_key(_text(document.get("value")))

    return {
        "pluggy_transaction_id": tx_id,
        "date": date,
        "amount": _signed(_quantize(abs(amount), currency_digits), outgoing),
        "foreign_currency_code": foreign_code,
        "amount_currency": amount_currency,
        "payment_ref": _payment_ref(tx),
        "partner_name": _text(counterpart.get("name")),
        "pluggy_partner_vat": vat,
        "account_number": _account_number(counterpart),
        "transaction_type": _payment_method(payment_data, tx),
        "pluggy_payment_reference": _text(payment_data.get("receiverReferenceId"))
        or _text(payment_data.get("referenceNumber")),
        "pluggy_boleto_line": _text(_as_dict(payment_data.get("boletoMetadata")).get("digitableLine")),
        "pluggy_pending": str(tx.get("status") or "").upper() == "PENDING",
        **_installment(tx, currency_digits),
        "transaction_details": _json_safe(tx),
    }


def payment_identifiers(tx) -> dict:
    """What a Pluggy row says about the document it pays, as :class:`.matching.BankLine` fields.

    ``tx`` is the row as Pluggy sent it (or as stored in a line's ``transaction_details``): the references
    its payment data carries (the PIX txid or end-to-end id the payer quoted, the boleto number), the ones
    written in its description and the payer's message, and the boleto's barcode.
    """
    tx = _as_dict(tx)
    payment_data = _as_dict(tx.get("paymentData"))
    boleto = _as_dict(payment_data.get("boletoMetadata"))
    return {
        "rail": _payment_method(payment_data, tx),
        "references": matching.reference_keys(
            _text(payment_data.get("receiverReferenceId")), _text(payment_data.get("referenceNumber"))
        ),
        "text_references": matching.text_reference_keys(
            " ".join(
                filter(
                    None,
                    (
                        _text(tx.get("description")),
                        _text(tx.get("descriptionRaw")),
                        _text(payment_data.get("reason")),
                    ),
                )
            )
        ),
        "boleto": matching.boleto_barcode(_text(boleto.get("barcode")))
        or matching.boleto_barcode(_text(boleto.get("digitableLine"))),
    }


# Pluggy's finance charge kinds (BillFinanceCharge.type); anything else is read as OTHER.
CHARGE_KINDS = (
    "IOF",
    "LATE_PAYMENT_INTEREST",
    "LATE_PAYMENT_REMUNERATIVE_INTEREST",
    "LATE_PAYMENT_FEE",
    "OTHER",
)


def map_bill(bill, *, currency_digits=2, time_zone=None) -> dict:
    """One Pluggy credit-card bill (``GET /bills``) as stored values: amounts as Decimals rounded to the
    card's currency, dates in the bank's calendar (Pluggy sends ``2023-07-20T00:00:00``, a date that keeps
    its day). Raises :class:`InvalidBill`."""
    bill = _as_dict(bill)
    bill_id, due_date = _id_and_date(bill, "dueDate", time_zone, InvalidBill)

    def money(value, field):
        try:
            return _quantize(_to_decimal(value, field, bill_id), currency_digits)
        except InvalidTransaction as error:
            raise InvalidBill(bill_id, field, error.value) from error

    charges, kinds_seen = [], Counter()
    for charge in map(_as_dict, bill.get("financeCharges") or []):
        kind = str(charge.get("type") or "OTHER").upper()
        kind = kind if kind in CHARGE_KINDS else "OTHER"
        amount = money(charge.get("amount"), "financeCharges.amount")
        # Open Finance sends "no charge" (SEM_ENCARGO) as a charge of 0.00: nothing to book.
        if not amount:
            continue
        info = _text(charge.get("additionalInfo"))
        kinds_seen[kind] += 1
        charges.append(
            {
                # No documented charge lacks an id; one would be keyed by its kind and rank within the bill,
                # as a bill may list two charges of one kind (an annual fee and an insurance, both OTHER).
                "id": _text(charge.get("id")) or f"{bill_id}:{kind}:{kinds_seen[kind]}",
                "kind": kind,
                "amount": amount,
                "info": info if info and info.upper() != "NA" else None,
            }
        )
    payments = [
        {
            "id": _text(payment.get("id")),
            "date": bank_date(payment.get("paymentDate"), time_zone),
            "amount": money(payment.get("amount"), "payments.amount"),
            "mode": _text(payment.get("paymentMode")),
        }
        for payment in map(_as_dict, bill.get("payments") or [])
    ]
    minimum = bill.get("minimumPaymentAmount")
    return {
        "pluggy_bill_id": bill_id,
        "due_date": due_date,
        "closing_date": bank_date(bill.get("billClosingDate"), time_zone),
        "total_amount": money(bill.get("totalAmount"), "totalAmount"),
        "minimum_payment": money(minimum, "minimumPaymentAmount") if minimum is not None else None,
        "currency_code": _text(bill.get("totalAmountCurrencyCode")),
        "charges": charges,
        "payments": payments,
    }


def bill_state(total, paid, due_date, today) -> str:
    """``paid`` once the payments cover the total, ``overdue`` after the due date, else ``open``."""
    if paid >= total:
        return "paid"
    return "overdue" if due_date < today else "open"


# Words a bank prints on a card row that books a finance charge itself, by charge kind, accents removed.
_CHARGE_WORDS = {
    kind: re.compile(r"\b(?:{})".format("|".join(words)))
    for kind, words in {
        "IOF": ("IOF",),
        "LATE_PAYMENT_INTEREST": ("JUROS", "ENCARGO", "ROTATIVO", "MORA"),
        "LATE_PAYMENT_REMUNERATIVE_INTEREST": ("JUROS", "ENCARGO", "ROTATIVO"),
        "LATE_PAYMENT_FEE": ("MULTA", "ENCARGO", "MORA"),
        "OTHER": ("TARIFA", "ENCARGO", "ANUIDADE", "SEGURO", "IOF", "JUROS", "MULTA"),
    }.items()
}


def _plain(label):
    """A bank's label as the words above are written: accents off, uppercased."""
    return matching.unaccented(label).upper()


def charges_on_the_card(charges, rows) -> dict:
    """The charges of a bill that the bank also sent as card rows (many print "IOF COMPRA INTERNACIONAL" with
    the purchases): {charge id: row key}. Such a charge is already on the journal and must not be booked a
    second time. ``rows`` are (key, amount as the line's, label) of the card's rows around the closing; a row
    is the charge when it debits exactly the charge's amount and its label names the charge's kind. Each
    row stands for one charge at most."""
    rows = [(key, Decimal(str(amount)), _plain(label)) for key, amount, label in rows]
    found, used = {}, set()
    for charge in charges:
        words = _CHARGE_WORDS.get(charge["kind"], _CHARGE_WORDS["OTHER"])
        for key, amount, label in rows:
            if key not in used and amount == -charge["amount"] and words.search(label):
                found[charge["id"]] = key
                used.add(key)
                break
    return found


_REFUND = re.compile(r"\b(?:ESTORNO|REEMBOLSO|CASHBACK|CANCELAMENTO|DEVOLUCAO)")


def paid_by_card_rows(rows, after, until) -> Decimal:
    """What the card's own rows say was paid of a bill that Pluggy lists without payments (its documented
    example has none): the card's credits after the closing up to the next one, refunds aside. ``rows`` are
    (date, amount as the line's, label)."""
    credits = ((day, Decimal(str(amount)), label) for day, amount, label in rows)
    return sum(
        (
            amount
            for day, amount, label in credits
            if after < day <= until and amount > 0 and not _REFUND.search(_plain(label))
        ),
        Decimal(0),
    )


_CARD_PAYMENT = re.compile(r"\b(?:FATURA|FAT|CARTAO|CARTOES|CARD)\b")


def looks_like_card_payment(label, transaction_type) -> bool:
    """Whether a checking account's debit says it pays a card bill: "PAGTO FATURA CARTAO", "PAG FAT
    CARTAO DE CREDITO", or the bill's boleto."""
    return transaction_type == "BOLETO" or bool(_CARD_PAYMENT.search(_plain(label)))


def transaction_fingerprint(values) -> tuple:
    """Return what an accountant would see change on a line, to decide whether an update is needed.

    Accepts the dict of :func:`map_transaction` or the same keys read from an Odoo record (floats for
    amounts, ``False`` for empty text), so both sides of a comparison normalise to the same tuple.
    """
    amount = values.get("amount")
    return (
        values.get("date") or None,
        _to_decimal(amount, "amount") if amount is not None else None,
        values.get("payment_ref") or None,
        values.get("partner_name") or None,
        values.get("pluggy_partner_vat") or None,
        values.get("account_number") or None,
        values.get("transaction_type") or None,
        bool(values.get("pluggy_pending")),
    )


# ---------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------


def _id_and_date(row, date_field, time_zone, error):
    """A row's id and bank date, both required, else ``error`` (an :class:`InvalidTransaction`)."""
    row_id = _text(row.get("id"))
    if not row_id:
        raise error(None, "id")
    day = bank_date(row.get(date_field), time_zone)
    if day is None:
        raise error(row_id, date_field, row.get(date_field))
    return row_id, day


def _is_outgoing(tx, amount, account_type):
    """Tell whether money leaves the account; Pluggy's ``type`` is the authority, not the amount's sign."""
    tx_type = str(tx.get("type") or "").upper()
    is_card = str(account_type or "").upper() == "CREDIT"
    if tx_type not in ("DEBIT", "CREDIT"):
        # Without a type only the sign is left, read with the account's own convention: on a card, as banks
        # send it to Pluggy, a purchase is positive and a payment or refund negative.
        _logger.warning(
            "Pluggy transaction %s has unknown type %r; using the sign of its amount.",
            tx.get("id"),
            tx.get("type"),
        )
        return amount > 0 if is_card else amount < 0
    outgoing = tx_type == "DEBIT"
    # Card rows may follow Pluggy's older inverted convention (a purchase is positive), so only bank accounts,
    # where the sign must match, can reveal a disagreement worth telling someone about.
    if not is_card and amount and (amount < 0) != outgoing:
        _logger.warning(
            "Pluggy transaction %s: amount %s disagrees with type %s; trusting the type.",
            tx.get("id"),
            amount,
            tx_type,
        )
    return outgoing


def _to_decimal(value, field, tx_id=None):
    """Return ``value`` as a finite Decimal; raises :class:`InvalidTransaction` otherwise.

    Going through ``str`` keeps a stray float free of binary noise.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidTransaction(tx_id, field)
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        number = None
    if isinstance(value, bool) or number is None or not number.is_finite():
        raise InvalidTransaction(tx_id, field, value)
    return number


def _signed(magnitude, outgoing):
    # No "-0.00" for a zero debit: it would read oddly and compare unequal as text.
    return -magnitude if outgoing and magnitude else magnitude


def _quantize(value, digits):
    return value.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def _installment_numbers(tx):
    """(n, N) of an instalment purchase, None for a purchase paid at once."""
    card = _as_dict(tx.get("creditCardMetadata"))
    number, total = _whole(card.get("installmentNumber")), _whole(card.get("totalInstallments"))
    return (number, total) if number and total and total > 1 else None


def _payment_ref(tx):
    ref = _text(tx.get("description")) or _text(tx.get("descriptionRaw")) or DEFAULT_PAYMENT_REF
    numbers = _installment_numbers(tx)
    # Banks often print "PARC 03/10" in the description themselves; say it once. A whole token only: "LOJA
    # 12/10" (a date) does not say instalment 2/10.
    if numbers and not re.search(r"(?<!\d)0?{}/0?{}(?!\d)".format(*numbers), ref):
        ref = "{} ({}/{})".format(ref, *numbers)
    return ref


def _installment(tx, digits):
    """An instalment purchase's "n/N" and the whole purchase's amount (each instalment is its own line)."""
    numbers = _installment_numbers(tx)
    if not numbers:
        return {"pluggy_installment": None, "pluggy_installment_total": None}
    card = _as_dict(tx.get("creditCardMetadata"))
    try:
        amount = _quantize(abs(_to_decimal(card.get("totalAmount"), "totalAmount")), digits)
    except InvalidTransaction:
        amount = None
    return {"pluggy_installment": "{}/{}".format(*numbers), "pluggy_installment_total": amount}


def _payment_method(payment_data, tx):
    """The rail or kind of the movement as Pluggy names it (PIX, TED, BOLETO, SAQUE, TARIFA...): the payment
    data's method, else the bank's operation type, each only when it says more than "other"."""
    names = [_text(payment_data.get("paymentMethod")), _text(tx.get("operationType"))]
    names = [name.upper() for name in names if name]
    classified = [name for name in names if name not in _UNCLASSIFIED_METHODS]
    return (classified or names or [None])[0]


def _whole(value):
    """Return an installment count as int, or None when absent or not a whole number."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return int(number) if number.is_finite() and number == number.to_integral_value() and number > 0 else None


def _account_number(participant):
    """Combine branch and account the way Pluggy shows account numbers ("0001/12345-6")."""
    branch, account = _text(participant.get("branchNumber")), _text(participant.get("accountNumber"))
    if not account:
        return None
    return f"{branch}/{account}" if branch else account


def _text(value):
    """Return a stripped non-empty string, or None; numbers some institutions send are kept as text."""
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    return str(value).strip() or None


def _as_dict(value):
    # Pluggy sends null for absent objects (paymentData, creditCardMetadata, documentNumber, ...).
    return value if isinstance(value, dict) else {}


def _json_safe(value):
    """Return ``value`` with Decimals (and any dates) as strings so it can be stored as JSON."""
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value
