"""Which open item a bank line pays: identifiers normalised as banks print them, and the rules' decisions."""

import re
import unicodedata
from decimal import Decimal

import pytest

from caixa_pluggy.pluggy import matching
from caixa_pluggy.pluggy.mapping import payment_identifiers
from caixa_pluggy.pluggy.matching import BankLine, OpenItem, Rule, find_match, match_batch

# FEBRABAN's layout example: the same bank boleto as barcode and as the digitable line a payer types.
BARCODE = "00193373700000001000500940144816060680935031"
DIGITABLE_LINE = "00190.50095 40144.816069 06809.350314 3 37370000000100"
# A utility bill (convênio): four blocks of 11 digits, each with its check digit.
UTILITY_LINE = "83640000001-1 33120138000-2 81288462711-6 08013618155-1"

PIX_AUTO = Rule(matching.PIX_REFERENCE, auto=True)
BOLETO_AUTO = Rule(matching.BOLETO, auto=True)
PARTNER = Rule(matching.PARTNER_AMOUNT, auto=False)
ALL_RULES = (PIX_AUTO, BOLETO_AUTO, PARTNER)


def _invoice(item_id, residual, reference="INV/2026/00003", **extra):
    return OpenItem(
        id=item_id,
        residual=Decimal(residual),
        references=matching.reference_keys(reference),
        label=reference,
        **extra,
    )


def test_digitable_line_and_barcode_name_the_same_boleto():
    assert matching.boleto_barcode(DIGITABLE_LINE) == BARCODE
    assert matching.boleto_barcode(BARCODE) == BARCODE
    assert matching.boleto_barcode(UTILITY_LINE) == "83640000001331201380008128846271108013618155"
    assert matching.boleto_barcode("1234") is None
    assert matching.boleto_barcode(None) is None


def test_references_compare_as_the_pix_payload_carries_them():
    # Odoo's PIX QR code sends the invoice's payment reference with its slashes dropped.
    assert matching.reference_key("INV/2026/00003") == matching.reference_key("inv202600003")
    assert matching.reference_key("NF 3") is None  # too short to identify a document
    assert matching.reference_key("ABCDEFGH") is None  # no digit: a word, not a document number
    words = matching.text_reference_keys("PIX RECEBIDO INV/2026/00003 obrigado")
    assert matching.reference_key("INV/2026/00003") in words
    assert matching.reference_key("INV/2026/0000") not in words


def _odoo_pix_reference(reference):
    """The reference as Odoo 18's PIX QR code sends it: odoo.tools.remove_accents (account_qr_code_emv), then
    the characters l10n_br's res.partner.bank keeps."""
    text = "".join(
        char for char in unicodedata.normalize("NFKD", reference) if not unicodedata.combining(char)
    )
    return re.sub(r"[^a-zA-Z0-9*]", "", text)


@pytest.mark.parametrize(
    "reference", ["NFe TÉST 0001", "Nº 2026/42", "FAT-SÃO/2026/0042", "Cobrança 3ª 2026/7"]
)
def test_accented_references_compare_as_odoos_pix_qr_code_sends_them(reference):
    assert matching.reference_key(reference) == matching.reference_key(_odoo_pix_reference(reference))
    # What the database computes with translate() and the same table, for the candidates of a sync.
    in_sql = re.sub(
        "[^0-9A-Za-z]", "", reference.translate(str.maketrans(matching.ACCENTED, matching.UNACCENTED))
    )
    assert in_sql.upper() == matching.reference_key(reference)


def test_accents_are_dropped_not_the_letters_they_sit_on():
    assert matching.reference_key("NFe TÉST 0001") == "NFETEST0001"
    assert matching.reference_key("Nº 2026/42") == "NO202642"
    assert matching.reference_key("nfe tést 0001") == matching.reference_key("NFETEST0001")


@pytest.mark.parametrize(
    "masked",
    ["***.456.789-**", "xxx.456.789-xx", "XXX.456.789-XX", "XX.XXX.678/0001-95", "456789", "4567891"],
)
def test_documents_masked_by_open_finance_are_not_compared(masked):
    assert matching.document_key(masked) is None
    assert matching.cnpj_root(masked) is None


def test_documents_are_compared_without_their_punctuation():
    assert matching.document_key("12.345.678/0001-95") == "12345678000195"
    assert matching.document_key("882.937.076-23") == "88293707623"
    # The Receita Federal's example of an alphanumeric CNPJ, issued from July 2026.
    assert matching.document_key("12.ABC.345/01DE-35") == "12ABC34501DE35"
    assert matching.cnpj_root("12.345.678/0002-76") == "12345678"
    assert matching.cnpj_root("882.937.076-23") is None


def test_a_vat_with_odoos_country_prefix_is_the_document_without_it():
    # base_vat stores "BR12.345.678/0001-95" typed on a partner as "BR12345678000195".
    assert matching.document_key("BR12345678000195") == "12345678000195"
    assert matching.document_key("BR88293707623") == "88293707623"
    assert matching.cnpj_root("BR12345678000276") == "12345678"
    # An alphanumeric CNPJ may begin with BR: 14 characters with it, so nothing is taken off.
    assert matching.document_key("BR.ABC.345/01DE-02") == "BRABC34501DE02"


def test_pluggy_row_gives_its_pix_reference_message_and_boleto():
    row = {
        "description": "PIX RECEBIDO",
        "paymentData": {
            "paymentMethod": "PIX",
            "receiverReferenceId": "E00000000202610071200abcdef12345",
            "reason": "Pagamento INV/2026/00003",
            "boletoMetadata": {"digitableLine": DIGITABLE_LINE, "barcode": None},
        },
    }
    identifiers = payment_identifiers(row)
    assert identifiers["rail"] == "PIX"
    assert "E00000000202610071200ABCDEF12345" in identifiers["references"]
    assert matching.reference_key("INV/2026/00003") in identifiers["text_references"]
    assert identifiers["boleto"] == BARCODE
    assert payment_identifiers(None) == {
        "rail": None,
        "references": frozenset(),
        "text_references": frozenset(),
        "boleto": None,
    }


def test_pix_with_the_invoice_reference_and_its_amount_reconciles_by_itself():
    line = BankLine(amount=Decimal("150.00"), rail="PIX", references=matching.reference_keys("INV202600003"))
    match = find_match(line, [_invoice(1, "150.00"), _invoice(2, "150.00", "INV/2026/00004")], ALL_RULES)
    assert match.item_ids == (1,)
    assert match.auto
    assert match.identifier == "INV202600003"


def test_pix_reference_with_another_amount_or_still_pending_is_only_proposed():
    line = BankLine(amount=Decimal("149.99"), rail="PIX", references=matching.reference_keys("INV202600003"))
    assert not find_match(line, [_invoice(1, "150.00")], ALL_RULES).auto
    pending = BankLine(
        amount=Decimal("150.00"), rail="PIX", references=matching.reference_keys("INV202600003"), pending=True
    )
    assert not find_match(pending, [_invoice(1, "150.00")], ALL_RULES).auto


def test_an_identifier_two_documents_carry_is_not_guessed_between():
    line = BankLine(amount=Decimal("150.00"), rail="PIX", references=matching.reference_keys("INV202600003"))
    assert find_match(line, [_invoice(1, "150.00"), _invoice(2, "150.00")], (PIX_AUTO,)) is None


def test_reference_in_the_payers_message_matches_after_the_payment_data():
    line = BankLine(
        amount=Decimal("80.00"),
        rail="PIX",
        references=matching.reference_keys("E2E000000000000000000001"),
        text_references=matching.text_reference_keys("Pagamento INV/2026/00007"),
    )
    match = find_match(line, [_invoice(7, "80.00", "INV/2026/00007")], ALL_RULES)
    assert match.item_ids == (7,) and match.auto


def test_paid_boleto_reconciles_the_bill_with_its_barcode():
    bill = OpenItem(id=5, residual=Decimal("-1.00"), boleto=BARCODE, label="BILL/2026/10/0001")
    line = BankLine(amount=Decimal("-1.00"), rail="BOLETO", boleto=matching.boleto_barcode(DIGITABLE_LINE))
    match = find_match(line, [bill], ALL_RULES)
    assert match.rule.kind == matching.BOLETO and match.auto and match.item_ids == (5,)


def test_received_boleto_reconciles_the_invoice_by_its_number():
    line = BankLine(
        amount=Decimal("300.00"), rail="BOLETO", references=matching.reference_keys("INV/2026/00009")
    )
    match = find_match(line, [_invoice(9, "300.00", "INV/2026/00009")], ALL_RULES)
    assert match.rule.kind == matching.BOLETO and match.auto


def test_partner_and_amount_is_proposed_never_reconciled():
    line = BankLine(amount=Decimal("42.00"), partner_id=3, rail="TED")
    items = [
        _invoice(10, "42.00", "INV/2026/00010", partner_id=3),
        _invoice(11, "42.00", "INV/2026/00011", partner_id=3),
        _invoice(12, "42.00", "INV/2026/00012", partner_id=4),
    ]
    match = find_match(line, items, ALL_RULES)
    assert match.rule.kind == matching.PARTNER_AMOUNT
    assert not match.auto
    assert match.item_ids == (10,)
    assert match.candidates == 2


@pytest.mark.parametrize("amount", ["-42.00", "41.99"])
def test_no_match_on_the_wrong_side_or_amount(amount):
    line = BankLine(amount=Decimal(amount), partner_id=3)
    assert find_match(line, [_invoice(10, "42.00", partner_id=3)], ALL_RULES) is None


def test_switched_off_rule_and_used_items_find_nothing():
    line = BankLine(amount=Decimal("150.00"), rail="PIX", references=matching.reference_keys("INV202600003"))
    assert find_match(line, [_invoice(1, "150.00")], (BOLETO_AUTO, PARTNER)) is None
    assert find_match(line, [_invoice(1, "150.00")], ALL_RULES, used={1}) is None


def test_a_rule_not_set_to_auto_validate_proposes_an_exact_identifier_match():
    line = BankLine(amount=Decimal("150.00"), rail="PIX", references=matching.reference_keys("INV202600003"))
    match = find_match(line, [_invoice(1, "150.00")], (Rule(matching.PIX_REFERENCE, auto=False),))
    assert match.item_ids == (1,) and not match.auto


def test_a_guess_earlier_in_the_batch_does_not_take_the_invoice_a_later_pix_names():
    invoice = _invoice(1, "150.00", partner_id=3)
    ted = BankLine(amount=Decimal("150.00"), partner_id=3, rail="TED")
    pix = BankLine(amount=Decimal("150.00"), partner_id=3, rail="PIX", references=invoice.references)
    ted_match, pix_match = match_batch([ted, pix], [invoice], ALL_RULES)
    assert pix_match.item_ids == (1,) and pix_match.auto
    assert ted_match is None


def test_an_identifier_proposal_does_not_take_the_invoice_an_exact_pix_pays():
    invoice = _invoice(1, "150.00")
    short = BankLine(amount=Decimal("149.90"), rail="PIX", references=invoice.references)
    exact = BankLine(amount=Decimal("150.00"), rail="PIX", references=invoice.references)
    assert match_batch([short, exact], [invoice], ALL_RULES) == [
        None,
        find_match(exact, [invoice], ALL_RULES),
    ]
    # Alone, the short one is still proposed; and what is left goes to partner + amount.
    other = _invoice(2, "42.00", "INV/2026/00042", partner_id=3)
    ted = BankLine(amount=Decimal("42.00"), partner_id=3, rail="TED")
    short_match, ted_match = match_batch([short, ted], [invoice, other], ALL_RULES)
    assert short_match.item_ids == (1,) and not short_match.auto
    assert ted_match.item_ids == (2,) and ted_match.rule.kind == matching.PARTNER_AMOUNT


def _instalments(*residuals, move_id=9, reference="INV/2026/00009"):
    """One invoice's open receivable lines, earliest due first, as payment terms 30/60/90 make them."""
    return [
        OpenItem(
            id=move_id * 10 + number,
            residual=Decimal(residual),
            move_id=move_id,
            references=matching.reference_keys(reference),
            label=reference,
        )
        for number, residual in enumerate(residuals, 1)
    ]


@pytest.mark.parametrize(
    ("residuals", "amount", "paid", "auto"),
    [
        (("100.00", "100.00", "100.00"), "100.00", (91,), True),  # one instalment: the earliest due
        (("100.00", "100.00", "100.00"), "300.00", (91, 92, 93), True),  # the whole invoice
        (("100.01", "99.99", "100.00"), "99.99", (92,), True),  # the one of its amount, when they differ
        (("100.00", "100.00", "100.00"), "150.00", (91,), False),  # anything else is the accountant's call
    ],
)
def test_pix_paying_an_invoice_in_instalments(residuals, amount, paid, auto):
    items = _instalments(*residuals)
    line = BankLine(amount=Decimal(amount), rail="PIX", references=items[0].references)
    match = find_match(line, items, ALL_RULES)
    assert match.item_ids == paid
    assert match.auto is auto


def test_the_next_instalment_goes_to_the_next_pix_of_the_batch():
    items = _instalments("100.00", "100.00", "100.00")
    pix = BankLine(amount=Decimal("100.00"), rail="PIX", references=items[0].references)
    assert [match.item_ids for match in match_batch([pix, pix], items, ALL_RULES)] == [(91,), (92,)]


def test_instalments_of_two_invoices_with_one_reference_are_not_guessed_between():
    items = _instalments("100.00", "100.00") + _instalments("100.00", move_id=8, reference="INV/2026/00009")
    line = BankLine(amount=Decimal("100.00"), rail="PIX", references=items[0].references)
    assert find_match(line, items, ALL_RULES) is None


def test_a_line_whose_reconciliation_was_undone_is_only_proposed_its_match():
    line = BankLine(
        amount=Decimal("150.00"), rail="PIX", references=matching.reference_keys("INV202600003"), undone=True
    )
    match = find_match(line, [_invoice(1, "150.00")], ALL_RULES)
    assert match.item_ids == (1,) and not match.auto
    assert match_batch([line], [_invoice(1, "150.00")], ALL_RULES) == [match]
