"""Which open invoice or bill a bank line pays, from Brazilian payment identifiers. No Odoo import.

The Odoo layer reads the open items and the reconciliation models, builds :class:`BankLine` and
:class:`OpenItem` values and asks :func:`find_match`; it then reconciles an automatic match and stores a
proposed one for the accountant.
"""

import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

PIX_REFERENCE = "pix_reference"
BOLETO = "boleto"
PARTNER_AMOUNT = "partner_amount"
RULES = (PIX_REFERENCE, BOLETO, PARTNER_AMOUNT)

_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
_NOT_ASCII_ALNUM = re.compile(r"[^0-9A-Za-z]")
_DIGIT = re.compile(r"[0-9]")
_NOT_DIGIT = re.compile(r"\D")
# Shorter references ("12", "NF 3") name too many documents to be taken as proof of which one a payment pays.
_MIN_REFERENCE_LENGTH = 6


def unaccented(text):
    """The text with its accents dropped, as Odoo's remove_accents does: "É" becomes "E", "º" becomes "o"."""
    return unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()


def _ascii_alnum(text):
    # What Odoo's PIX QR code keeps of a reference (l10n_br, with remove_accents before): anything that is no
    # ASCII letter or digit goes.
    return _NOT_ASCII_ALNUM.sub("", unaccented(text))


def reference_key(value):
    """A payment reference as banks and the PIX payload carry it: accents off, letters and digits only,
    uppercased.

    Odoo's own PIX QR code strips accents and then everything but letters and digits from the invoice's
    payment reference ("INV/2026/00003" travels as "INV202600003", "Nº 2026/42" as "No202642"), so both sides
    compare in that form. None when too short or without a digit to identify a document.
    """
    key = _ascii_alnum(str(value or "")).upper()
    if len(key) < _MIN_REFERENCE_LENGTH or not _DIGIT.search(key):
        return None
    return key


def _accent_table():
    """The characters whose accent-free form is one ASCII letter or digit, and that form: the arguments of
    SQL's translate() for the database to compute :func:`reference_key` as Python does (PostgreSQL's unaccent
    is an extension Odoo does not enable). Letters that lose their accent as two letters ("ĳ") are not in it:
    no Brazilian reference has them."""
    pairs = [
        (char, plain)
        for char in map(chr, (*range(0x80, 0x250), *range(0x1E00, 0x1F00)))
        if len(plain := _ascii_alnum(char)) == 1
    ]
    return "".join(char for char, _plain in pairs), "".join(plain for _char, plain in pairs)


ACCENTED, UNACCENTED = _accent_table()


def reference_keys(*values):
    return frozenset(key for key in map(reference_key, values) if key)


def text_reference_keys(text):
    """References written in free text (the bank's description, the payer's PIX message), word by word.

    Word by word and not as one run of characters: with the spaces gone, "INV202600003" would be found
    inside "INV2026000031".
    """
    return reference_keys(*str(text or "").split())


def boleto_barcode(value):
    """The 44-digit barcode of a boleto given as barcode or digitable line (47 digits for bank boletos,
    48 for utility and tax ones), punctuation ignored; None when it is neither."""
    digits = _NOT_DIGIT.sub("", str(value or ""))
    if len(digits) == 44:
        return digits
    if len(digits) == 47:
        # AAABC.CCCCX DDDDD.DDDDDY EEEEE.EEEEEZ K UUUUVVVVVVVVVV: bank, currency, the barcode's check digit K,
        # due factor and value, then the free field spread over the three blocks without their check digits.
        return digits[0:4] + digits[32] + digits[33:47] + digits[4:9] + digits[10:20] + digits[21:31]
    if len(digits) == 48 and digits[0] == "8":
        # Four blocks of 11 digits, each followed by its check digit.
        return "".join(digits[start : start + 11] for start in (0, 12, 24, 36))
    return None


# Odoo's base_vat keeps a VAT typed with its country prefix as such ("BR12345678000195"): before 11 or 14
# characters, a leading BR is that prefix; an alphanumeric CNPJ that starts with BR is 14 characters with it.
VAT_COUNTRY_PREFIX = r"^BR([0-9A-Z]{11}|[0-9A-Z]{14})$"
_VAT_COUNTRY_PREFIX = re.compile(VAT_COUNTRY_PREFIX)


_CPF = re.compile(r"[0-9]{11}")
_CNPJ = re.compile(r"[0-9A-Z]{12}[0-9]{2}")
_LETTER = re.compile(r"[A-Z]")


def document_key(value):
    """A CPF (11 digits) or CNPJ (14 characters, letters allowed in the first 12 from 2026) as stored for
    comparison, without the BR a partner's VAT may start with; None for a masked document
    ("***.456.789-**", "xxx.456.789-xx", as Open Finance shows some), a short one or anything else."""
    text = str(value or "").upper()
    if "*" in text:
        return None
    key = _VAT_COUNTRY_PREFIX.sub(r"\1", _NOT_ALNUM.sub("", text))
    if _CPF.fullmatch(key):
        return key
    if not _CNPJ.fullmatch(key):
        return None
    # Letters are also how banks mask digits ("XX.XXX.678/0001-95"): an alphanumeric CNPJ is one only if its
    # check digits say so. Numeric ones are taken as the bank sends them.
    return key if not _LETTER.search(key) or _cnpj_check_digits(key[:12]) == key[12:] else None


def _cnpj_check_digits(base):
    """The two check digits of a CNPJ's first 12 characters, by the Receita Federal's rule for alphanumeric
    CNPJs (a character counts as its ASCII code minus 48: digits as themselves, "A" as 17)."""
    digits = base
    for weights in ((5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2), (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)):
        remainder = sum((ord(char) - 48) * weight for char, weight in zip(digits, weights, strict=True)) % 11
        digits += str(0 if remainder < 2 else 11 - remainder)
    return digits[12:]


def cnpj_root(document):
    """The first 8 characters of a CNPJ, shared by the head office and every branch; None for a CPF."""
    key = document_key(document)
    return key[:8] if key and len(key) == 14 else None


@dataclass(frozen=True)
class BankLine:
    """What matching reads of a statement line. ``amount`` is signed (positive = money in); ``undone``: an
    accountant undid an automatic reconciliation of it."""

    amount: Decimal
    partner_id: int = None
    rail: str = None
    references: frozenset = frozenset()
    text_references: frozenset = frozenset()
    boleto: str = None
    pending: bool = False
    undone: bool = False


@dataclass(frozen=True)
class OpenItem:
    """An open receivable (``residual`` > 0) or payable (< 0) journal item, in the line's currency; the
    instalments of one invoice are items of one ``move_id``."""

    id: int
    residual: Decimal
    move_id: int = None
    partner_id: int = None
    references: frozenset = frozenset()
    boleto: str = None
    label: str = ""


@dataclass(frozen=True)
class Rule:
    """A reconciliation model's part in matching: which rule, and whether its matches reconcile by
    themselves (``auto``) or are only proposed."""

    kind: str
    auto: bool
    model_id: int = None


@dataclass(frozen=True)
class Match:
    rule: Rule
    item_ids: tuple
    auto: bool
    identifier: str = None
    # How many open items would have fitted a partner + amount match (the one proposed is the oldest).
    candidates: int = 1
    labels: tuple = field(default=())


def find_match(line, items, rules, used=frozenset()):
    """The first rule, in order, that finds what ``line`` pays among ``items`` (``used`` ids excluded).

    An identifier rule finds one document or nothing: it reconciles when the document's residual (or an
    instalment's) is the line's amount, the rule says so, the bank has posted the line and no accountant
    undid an automatic reconciliation of it; otherwise it proposes. A partner + amount match is always a
    proposal: the oldest open item of the line's partner for exactly its amount.
    """
    open_items = [item for item in items if item.id not in used and item.residual and _same_side(line, item)]
    for rule in rules:
        match = _RULES[rule.kind](line, open_items, rule)
        if match:
            return match
    return None


def match_batch(lines, items, rules):
    """:func:`find_match` for each of ``lines`` (None where nothing fits), no item given to two lines.

    Whatever the order of the lines: the exact identifier matches, that reconcile, take their items first,
    then the other identifier matches, then partner + amount on what is left; so that a guess on one line
    never keeps the next line from the document it names.
    """
    identifier_rules = [rule for rule in rules if rule.kind != PARTNER_AMOUNT]
    partner_rules = [rule for rule in rules if rule.kind == PARTNER_AMOUNT]
    passes = ((identifier_rules, True), (identifier_rules, False), (partner_rules, False))
    matches, used = [None] * len(lines), set()
    for pass_rules, auto_only in passes:
        for index, line in enumerate(lines):
            if matches[index] or not pass_rules:
                continue
            match = find_match(line, items, pass_rules, used)
            if match and (match.auto or not auto_only):
                matches[index] = match
                used.update(match.item_ids)
    return matches


def _same_side(line, item):
    return (line.amount > 0) == (item.residual > 0)


def _by_identifier(line, candidates, rule, identifier):
    if len({item.move_id or ("item", item.id) for item in candidates}) != 1:
        # Two open documents carrying the same identifier: which one was paid is the accountant's call.
        return None
    paid, exact = _instalments_paid(line, candidates)
    return Match(
        rule=rule,
        item_ids=tuple(item.id for item in paid),
        auto=rule.auto and exact and not line.pending and not line.undone,
        identifier=identifier,
        labels=tuple(item.label for item in paid),
    )


def _instalments_paid(line, instalments):
    """Which open instalments of one document (payment terms 30/60/90: one item each, earliest due first) a
    payment pays, and whether exactly: the earliest one of its amount, or all of them for their total;
    otherwise the earliest due, proposed."""
    of_its_amount = [item for item in instalments if item.residual == line.amount]
    if of_its_amount:
        return of_its_amount[:1], True
    if sum(item.residual for item in instalments) == line.amount:
        return instalments, True
    return instalments[:1], False


def _pix_reference(line, items, rule):
    if line.rail != "PIX":
        return None
    for references in (line.references, line.text_references):
        found = [item for item in items if item.references & references]
        if found:
            identifier = sorted(found[0].references & references)[0]
            return _by_identifier(line, found, rule, identifier)
    return None


def _boleto(line, items, rule):
    if line.boleto:
        found = [item for item in items if item.boleto == line.boleto]
        if found:
            return _by_identifier(line, found, rule, line.boleto)
    if line.rail == "BOLETO" and line.amount > 0:
        # A boleto the company issued comes back with its number ("nosso número" or the invoice's reference).
        found = [item for item in items if item.references & (line.references | line.text_references)]
        if found:
            identifier = sorted(found[0].references & (line.references | line.text_references))[0]
            return _by_identifier(line, found, rule, identifier)
    return None


def _partner_amount(line, items, rule):
    if not line.partner_id:
        return None
    found = [item for item in items if item.partner_id == line.partner_id and item.residual == line.amount]
    if not found:
        return None
    # Oldest first, as Odoo's reconciliation models order their candidates by default (items come sorted).
    return Match(
        rule=rule, item_ids=(found[0].id,), auto=False, candidates=len(found), labels=(found[0].label,)
    )


_RULES = {PIX_REFERENCE: _pix_reference, BOLETO: _boleto, PARTNER_AMOUNT: _partner_amount}
