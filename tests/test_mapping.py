"""Pluggy transaction -> statement line values, with rows shaped like the Pluggy spec examples."""

import calendar
import copy
import datetime
import json
import logging
import time
from decimal import Decimal

import pytest

from caixa_pluggy.pluggy.mapping import (
    InvalidTransaction,
    digits_only,
    map_transaction,
    transaction_fingerprint,
)

BANK_ACCOUNT_ID = "562b795d-1653-429f-be86-74ead9502813"
CARD_ACCOUNT_ID = "8d4f7c63-4ad4-4d0b-a1f6-1c5bd9f6e0a1"
MAPPING_LOGGER = "caixa_pluggy.pluggy.mapping"
EXPECTED_KEYS = {
    "pluggy_transaction_id", "date", "amount", "foreign_currency_code", "amount_currency", "payment_ref",
    "partner_name", "pluggy_partner_vat", "account_number", "transaction_type", "pluggy_payment_reference",
    "pluggy_boleto_line", "pluggy_pending", "pluggy_installment", "pluggy_installment_total",
    "transaction_details",
}  # fmt: skip


def _tx(**fields):
    """A POSTED BRL bank row as GET /v2/transactions returns it (amounts parsed as Decimal by the client)."""
    row = {
        "id": "a8534c85-53ce-4f21-94d7-50e9d2ee4957",
        "description": "* PROV * COMPRA TESOURO DIRETO CLIENTES",
        "descriptionRaw": "* PROV * COMPRA TESOURO DIRETO CLIENTES",
        "currencyCode": "BRL",
        "amount": Decimal("-212.45"),
        "date": "2020-10-15T00:00:00.000Z",
        "balance": Decimal("4439.4"),
        "category": "Fixed Income Investment",
        "accountId": BANK_ACCOUNT_ID,
        "providerCode": None,
        "status": "POSTED",
        "paymentData": None,
        "type": "DEBIT",
        "providerId": None,
        "createdAt": "2020-10-15T09:12:44.120Z",
        "updatedAt": "2020-10-15T09:12:44.120Z",
    }
    row.update(fields)
    return row


def _card_tx(**fields):
    """A card row shaped like the spec's MERCADOLIVRE installment example."""
    row = _tx(
        id="ff9ed929-edc4-408c-a959-d51f79ab1814",
        description="MERCADOLIVRE*2PRODUTOS",
        descriptionRaw=None,
        amount=Decimal("-159.2"),
        date="2020-10-14T00:00:00.000Z",
        balance=None,
        category="Shopping",
        accountId=CARD_ACCOUNT_ID,
        type="DEBIT",
        creditCardMetadata={
            "totalAmount": 320,
            "totalInstallments": 2,
            "installmentNumber": 2,
            "purchaseDate": "2020-09-14T00:00:00.000Z",
            "payeeMCC": 1234,
            "cardNumber": "0597",
            "billId": "abced929-edc4-408c-a959-d51f79ab1123",
            "billForecastDate": "2020-10",
        },
    )
    row.update(fields)
    return row


def _pix_debit(**fields):
    """A PIX paid by the account holder (a person) to a company."""
    row = _tx(
        id="0b6f3d1e-5b8e-4f6a-9a55-3f3c2d8e7a10",
        description="PIX ENVIADO - PADARIA BOM PAO LTDA",
        descriptionRaw="PIX ENVIADO 15/10 PADARIA BOM PAO",
        amount=Decimal("-87.5"),
        category="Transfer - PIX",
        operationType="PIX",
        paymentData={
            "payer": {
                "name": "Tiago Rodrigues Santos",
                "branchNumber": "0001",
                "accountNumber": "12345-6",
                "routingNumber": "260",
                "documentNumber": {"type": "CPF", "value": "882.937.076-23"},
            },
            "receiver": {
                "name": "PADARIA BOM PAO LTDA",
                "branchNumber": "3344",
                "accountNumber": "99887-0",
                "routingNumber": "341",
                "routingNumberISPB": "60701190",
                "documentNumber": {"type": "CNPJ", "value": "08.050.608/0001-32"},
            },
            "paymentMethod": "PIX",
            "receiverReferenceId": "E60701190202010151200abcdef12345",
            "referenceNumber": "123456789",
            "reason": None,
        },
    )
    row.update(fields)
    return row


def _pix_credit(**fields):
    """A PIX received by a company account from a person."""
    row = _pix_debit(
        id="3c1a9e44-7d2b-4b8f-8f0e-6a1b2c3d4e5f",
        description="PIX RECEBIDO - TIAGO RODRIGUES SANTOS",
        descriptionRaw=None,
        amount=Decimal(250),
        type="CREDIT",
    )
    row["paymentData"] = {
        "payer": {
            "name": "Tiago Rodrigues Santos",
            "branchNumber": "0001",
            "accountNumber": "12345-6",
            "documentNumber": {"type": "CPF", "value": "882.937.076-23"},
        },
        "receiver": {
            "name": "PADARIA BOM PAO LTDA",
            "branchNumber": "3344",
            "accountNumber": "99887-0",
            "documentNumber": {"type": "CNPJ", "value": "08.050.608/0001-32"},
        },
        "paymentMethod": "PIX",
        "receiverReferenceId": "cobranca-2020-10-0042",
    }
    row.update(fields)
    return row


def _ted_credit():
    """The spec's own TED example (a CPF pays a CNPJ), amount as an int."""
    return _tx(
        id="6ec156fe-e8ac-4d9a-a4b3-7770529ab01c",
        description="TED Example",
        descriptionRaw=None,
        amount=1500,
        date="2020-10-14T00:00:00.000Z",
        balance=3500,
        category="Transfer",
        accountId="03cc0eff-4ec5-495c-adb3-1ef9611624fc",
        providerCode="123456",
        type="CREDIT",
        operationType="TED",
        paymentData={
            "payer": {
                "name": "Tiago Rodrigues Santos",
                "branchNumber": "090",
                "accountNumber": "1234-5",
                "routingNumber": "001",
                "documentNumber": {"type": "CPF", "value": "882.937.076-23"},
            },
            "reason": "Taxa de serviço",
            "receiver": {
                "name": "Pluggy",
                "branchNumber": "999",
                "accountNumber": "9876-1",
                "routingNumber": "002",
                "documentNumber": {"type": "CNPJ", "value": "08.050.608/0001-32"},
            },
            "paymentMethod": "TED",
            "referenceNumber": "123456789",
        },
    )


def _bank(tx, **kwargs):
    return map_transaction(tx, account_type="BANK", account_currency="BRL", **kwargs)


def _card(tx, **kwargs):
    return map_transaction(tx, account_type="CREDIT", account_currency="BRL", **kwargs)


def _warnings(caplog):
    return [r for r in caplog.records if r.name == MAPPING_LOGGER and r.levelno == logging.WARNING]


# --- bank rows -------------------------------------------------------------------------------------------


def test_bank_debit_is_negative_with_the_contract_keys():
    values = _bank(_tx())
    assert set(values) == EXPECTED_KEYS
    assert values["pluggy_transaction_id"] == "a8534c85-53ce-4f21-94d7-50e9d2ee4957"
    assert values["date"] == datetime.date(2020, 10, 15)
    assert values["amount"] == Decimal("-212.45")
    assert values["payment_ref"] == "* PROV * COMPRA TESOURO DIRETO CLIENTES"
    assert values["foreign_currency_code"] is None and values["amount_currency"] is None
    assert values["pluggy_pending"] is False


def test_bank_credit_is_positive():
    values = _bank(_tx(description="* PROV * DEVOLUÇÃO DE MARGEM", amount=Decimal("2482.26"), type="CREDIT"))
    assert values["amount"] == Decimal("2482.26")


def test_row_without_payment_data_has_no_counterpart():
    values = _bank(_tx())
    assert values["partner_name"] is None
    assert values["pluggy_partner_vat"] is None
    assert values["account_number"] is None
    assert values["transaction_type"] is None
    assert values["pluggy_payment_reference"] is None
    assert values["pluggy_boleto_line"] is None


def test_pending_row_is_marked_pending():
    assert _bank(_tx(status="PENDING"))["pluggy_pending"] is True


# --- signs -----------------------------------------------------------------------------------------------


def test_bank_amount_sign_disagreeing_with_type_is_warned_and_type_wins(caplog):
    caplog.set_level(logging.WARNING, logger=MAPPING_LOGGER)
    values = _bank(_tx(amount=Decimal("50.00"), type="DEBIT"))
    assert values["amount"] == Decimal("-50.00")
    [record] = _warnings(caplog)
    assert "a8534c85-53ce-4f21-94d7-50e9d2ee4957" in record.getMessage()


def test_bank_amount_sign_agreeing_with_type_logs_nothing(caplog):
    caplog.set_level(logging.WARNING, logger=MAPPING_LOGGER)
    _bank(_tx())
    _bank(_tx(amount=Decimal(10), type="CREDIT"))
    assert _warnings(caplog) == []


def test_card_purchase_is_negative():
    values = _card(_card_tx())
    assert values["amount"] == Decimal("-159.20")


def test_card_purchase_in_the_inverted_historical_convention_is_negative_without_warning(caplog):
    caplog.set_level(logging.WARNING, logger=MAPPING_LOGGER)
    values = _card(_card_tx(amount=Decimal("159.2"), type="DEBIT"))
    assert values["amount"] == Decimal("-159.20")
    assert _warnings(caplog) == []


def test_card_payment_is_positive():
    payment = _card_tx(
        id="77d2a0c1-0e57-4b43-9d0b-5d2f0c7a8e11",
        description="PAGAMENTO RECEBIDO",
        amount=Decimal("-1250.73"),  # historical card convention: a bill payment is negative
        type="CREDIT",
        creditCardMetadata=None,
        operationType="PAGAMENTO_FATURA",
    )
    values = _card(payment)
    assert values["amount"] == Decimal("1250.73")
    assert values["transaction_type"] == "PAGAMENTO_FATURA"


def test_spec_card_example_159_2_credit_follows_type_without_warning(caplog):
    # The spec shows this installment purchase as `amount: 159.2, type: "CREDIT"`; the contract trusts `type`.
    caplog.set_level(logging.WARNING, logger=MAPPING_LOGGER)
    values = _card(_card_tx(amount=Decimal("159.2"), type="CREDIT"))
    assert values["amount"] == Decimal("159.20")
    assert _warnings(caplog) == []


def test_unknown_type_falls_back_to_the_amount_sign_with_a_warning(caplog):
    caplog.set_level(logging.WARNING, logger=MAPPING_LOGGER)
    assert _bank(_tx(type="TRANSFER"))["amount"] == Decimal("-212.45")
    assert _bank(_tx(type=None, amount=Decimal(3)))["amount"] == Decimal("3.00")
    assert len(_warnings(caplog)) == 2


def test_zero_debit_is_not_negative_zero():
    amount = _bank(_tx(amount=Decimal(0)))["amount"]
    assert amount == 0 and str(amount) == "0.00"


# --- counterpart -----------------------------------------------------------------------------------------


def test_pix_debit_carries_the_receiver_name_and_cnpj_digits():
    values = _bank(_pix_debit())
    assert values["amount"] == Decimal("-87.50")
    assert values["partner_name"] == "PADARIA BOM PAO LTDA"
    assert values["pluggy_partner_vat"] == "08050608000132"
    assert values["account_number"] == "3344/99887-0"
    assert values["transaction_type"] == "PIX"
    assert values["pluggy_payment_reference"] == "E60701190202010151200abcdef12345"


def test_pix_credit_carries_the_payer_name_and_cpf_digits():
    values = _bank(_pix_credit())
    assert values["amount"] == Decimal("250.00")
    assert values["partner_name"] == "Tiago Rodrigues Santos"
    assert values["pluggy_partner_vat"] == "88293707623"
    assert values["account_number"] == "0001/12345-6"
    assert values["pluggy_payment_reference"] == "cobranca-2020-10-0042"


def test_ted_credit_from_the_spec_carries_the_payer_and_reference_number():
    values = _bank(_ted_credit())
    assert values["amount"] == Decimal("1500.00")
    assert values["date"] == datetime.date(2020, 10, 14)
    assert values["payment_ref"] == "TED Example"
    assert values["partner_name"] == "Tiago Rodrigues Santos"
    assert values["pluggy_partner_vat"] == "88293707623"
    assert values["account_number"] == "090/1234-5"
    assert values["transaction_type"] == "TED"
    assert values["pluggy_payment_reference"] == "123456789"


def test_boleto_payment_carries_the_digitable_line():
    digitable_line = "23793.38128 60000.000003 00000.000400 1 84340000010000"
    boleto = _tx(
        id="c0ffee00-1111-4222-8333-944455556666",
        description="PAGAMENTO DE BOLETO - CONDOMINIO EDIFICIO SOL",
        amount=Decimal(-100),
        paymentData={
            "payer": None,
            "receiver": {
                "name": "CONDOMINIO EDIFICIO SOL",
                "documentNumber": {"type": "CNPJ", "value": "12.345.678/0001-95"},
            },
            "paymentMethod": "BOLETO",
            "boletoMetadata": {
                "digitableLine": digitable_line,
                "barcode": "23798843400000100003381260000000000000000040",
                "baseAmount": Decimal(100),
                "interestAmount": 0,
                "penaltyAmount": 0,
                "discountAmount": 0,
            },
        },
    )
    values = _bank(boleto)
    assert values["amount"] == Decimal("-100.00")
    assert values["transaction_type"] == "BOLETO"
    assert values["pluggy_boleto_line"] == digitable_line
    assert values["partner_name"] == "CONDOMINIO EDIFICIO SOL"
    assert values["pluggy_partner_vat"] == "12345678000195"
    assert values["account_number"] is None  # a boleto names no account


def test_account_number_alone_when_no_branch_is_given():
    tx = _pix_debit()
    del tx["paymentData"]["receiver"]["branchNumber"]
    assert _bank(tx)["account_number"] == "99887-0"


def test_payment_method_falls_back_to_open_finance_operation_type():
    tx = _pix_debit()
    del tx["paymentData"]["paymentMethod"]
    assert _bank(tx)["transaction_type"] == "PIX"
    assert _bank(_tx(operationType="TARIFA"))["transaction_type"] == "TARIFA"


def test_document_without_its_type_is_still_read():
    tx = _pix_debit()
    tx["paymentData"]["receiver"]["documentNumber"] = {"value": "08.050.608/0001-32"}
    assert _bank(tx)["pluggy_partner_vat"] == "08050608000132"


def test_alphanumeric_cnpj_keeps_its_letters():
    # Brazil issues alphanumeric CNPJs from July 2026; digits alone would be a different, wrong number.
    tx = _pix_debit()
    tx["paymentData"]["receiver"]["documentNumber"] = {"type": "CNPJ", "value": "12.abc.345/01de-35"}
    assert _bank(tx)["pluggy_partner_vat"] == "12ABC34501DE35"


@pytest.mark.parametrize("masked", ["***.456.789-**", "xxx.456.789-xx", "XXX.456.789-XX", "456.789"])
def test_a_masked_or_short_document_is_no_document(masked):
    # Open Finance hides part of some CPFs: what is left names nobody and must find no partner.
    tx = _pix_credit()
    tx["paymentData"]["payer"]["documentNumber"] = {"type": "CPF", "value": masked}
    assert _bank(tx)["pluggy_partner_vat"] is None


def test_missing_nested_objects_are_tolerated():
    tx = _pix_debit()
    tx["paymentData"]["receiver"] = {"name": "SEM DOCUMENTO", "documentNumber": None}
    values = _bank(tx)
    assert values["partner_name"] == "SEM DOCUMENTO"
    assert values["pluggy_partner_vat"] is None
    assert values["account_number"] is None
    assert _bank(_tx(paymentData={"receiver": None, "boletoMetadata": None}))["partner_name"] is None
    assert _card(_card_tx(creditCardMetadata=None))["payment_ref"] == "MERCADOLIVRE*2PRODUTOS"


# --- description -----------------------------------------------------------------------------------------


def test_payment_ref_falls_back_to_raw_description_then_a_fixed_label():
    assert _bank(_tx(description="", descriptionRaw="PIX ENV 15/10"))["payment_ref"] == "PIX ENV 15/10"
    assert _bank(_tx(description=None, descriptionRaw=None))["payment_ref"] == "Pluggy transaction"


def test_card_installment_is_added_to_the_description():
    assert _card(_card_tx())["payment_ref"] == "MERCADOLIVRE*2PRODUTOS (2/2)"


def test_card_installment_already_in_the_description_is_not_repeated():
    tx = _card_tx(description="LOJA X PARC 03/10")
    tx["creditCardMetadata"].update(installmentNumber=3, totalInstallments=10)
    assert _card(tx)["payment_ref"] == "LOJA X PARC 03/10"


@pytest.mark.parametrize(
    ("description", "number", "total"), [("LOJA 12/10", 2, 10), ("ASSINATURA 11/2024", 1, 2)]
)
def test_a_date_in_the_description_is_not_taken_for_the_instalment(description, number, total):
    tx = _card_tx(description=description)
    tx["creditCardMetadata"].update(installmentNumber=number, totalInstallments=total)
    assert _card(tx)["payment_ref"] == f"{description} ({number}/{total})"


def test_single_payment_purchase_gets_no_installment_suffix():
    tx = _card_tx()
    tx["creditCardMetadata"].update(installmentNumber=1, totalInstallments=1)
    assert _card(tx)["payment_ref"] == "MERCADOLIVRE*2PRODUTOS"


# --- currency --------------------------------------------------------------------------------------------


def test_foreign_card_purchase_takes_the_amount_in_account_currency():
    netflix = _card_tx(
        id="05c693bf-c196-47ea-a28c-8251d6bb8a06",
        description="PAGO NETFLIX SERV",
        currencyCode="USD",
        amount=Decimal(-58),
        amountInAccountCurrency=Decimal("-298.19"),
        creditCardMetadata=None,
        merchant={"name": "Netflix", "cnpj": "00000000000000", "category": "Video streaming"},
    )
    values = _card(netflix)
    assert values["amount"] == Decimal("-298.19")
    assert values["foreign_currency_code"] == "USD"
    assert values["amount_currency"] == Decimal(-58)


def test_foreign_amount_is_signed_from_type_too():
    values = _card(
        _card_tx(currencyCode="USD", amount=Decimal(58), amountInAccountCurrency=Decimal("298.19"))
    )
    assert values["amount"] == Decimal("-298.19")
    assert values["amount_currency"] == Decimal(-58)


def test_foreign_row_without_converted_amount_is_kept_and_warned(caplog):
    caplog.set_level(logging.WARNING, logger=MAPPING_LOGGER)
    values = _card(_card_tx(currencyCode="USD", amount=Decimal(-58)))
    assert values["amount"] == Decimal("-58.00")
    assert values["foreign_currency_code"] == "USD"
    assert len(_warnings(caplog)) == 1


def test_same_currency_ignores_amount_in_account_currency():
    values = _bank(_tx(amountInAccountCurrency=Decimal(-999)))
    assert values["amount"] == Decimal("-212.45")
    assert values["foreign_currency_code"] is None and values["amount_currency"] is None


# --- dates -----------------------------------------------------------------------------------------------


def test_utc_midnight_on_the_first_lands_on_the_first():
    assert _bank(_tx(date="2024-03-01T00:00:00.000Z"))["date"] == datetime.date(2024, 3, 1)


def test_utc_midnight_on_the_first_lands_on_the_first_in_sao_paulo(monkeypatch):
    monkeypatch.setenv("TZ", "America/Sao_Paulo")
    time.tzset()
    try:
        # Prove the zone is in effect: there, that instant is still 29 February.
        assert time.localtime(calendar.timegm((2024, 3, 1, 0, 0, 0))).tm_mday == 29
        assert _bank(_tx(date="2024-03-01T00:00:00.000Z"))["date"] == datetime.date(2024, 3, 1)
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize(
    "changes, field, value",
    [
        ({"date": None}, "date", None),
        ({"date": "15/10/2020"}, "date", "15/10/2020"),
        ({"amount": None}, "amount", None),
        ({"amount": ""}, "amount", None),
        ({"amount": "abc"}, "amount", "abc"),
        ({"id": None}, "id", None),
    ],
)
def test_row_without_a_usable_date_amount_or_id_says_which(changes, field, value):
    with pytest.raises(InvalidTransaction) as raised:
        _bank(_tx(**changes))
    assert (raised.value.field, raised.value.value) == (field, value)
    expected_id = None if field == "id" else _tx()["id"]
    assert raised.value.transaction_id == expected_id


# --- decimals --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        (Decimal("10.005"), Decimal("10.01")),
        ("10.005", Decimal("10.01")),
        (10.005, Decimal("10.01")),  # Decimal(10.005) would be 10.00499..., hence the str() detour
        (1500, Decimal("1500.00")),
        (Decimal("-0.125"), Decimal("0.13")),  # half away from zero, then signed by type
    ],
)
def test_amounts_are_decimals_quantized_half_up(raw, expected):
    amount = _bank(_tx(amount=raw, type="CREDIT"))["amount"]
    assert isinstance(amount, Decimal)
    assert amount == expected and str(amount) == str(expected)


def test_amounts_follow_the_currency_digits():
    assert str(_bank(_tx(amount=Decimal("-212.45")), currency_digits=0)["amount"]) == "-212"
    assert str(_bank(_tx(amount=Decimal("-1.2345")), currency_digits=3)["amount"]) == "-1.235"


# --- tolerance and raw details ---------------------------------------------------------------------------


def test_unknown_fields_and_enum_values_are_tolerated():
    tx = _pix_debit(
        status="SCHEDULED",
        brandNewField={"nested": [Decimal("1.5")]},
        creditCardMetadata={"feeType": "SOMETHING_NEW", "installmentNumber": "x"},
    )
    tx["paymentData"]["paymentMethod"] = "PIX_AUTOMATICO"
    tx["paymentData"]["receiver"]["documentNumber"]["type"] = "NIF"
    values = _bank(tx)
    assert values["pluggy_pending"] is False
    assert values["transaction_type"] == "PIX_AUTOMATICO"
    assert values["transaction_details"]["brandNewField"] == {"nested": ["1.5"]}


def test_transaction_details_are_json_serialisable_and_the_input_untouched():
    tx = _pix_debit(creditCardMetadata={"totalAmount": Decimal("320.00")})
    before = copy.deepcopy(tx)
    details = _bank(tx)["transaction_details"]
    assert json.loads(json.dumps(details))["amount"] == "-87.5"
    assert details["creditCardMetadata"]["totalAmount"] == "320.00"
    assert details["paymentData"]["receiver"]["name"] == "PADARIA BOM PAO LTDA"
    assert tx == before


# --- fingerprint -----------------------------------------------------------------------------------------


def test_fingerprint_changes_when_description_or_amount_change():
    base = transaction_fingerprint(_bank(_pix_debit()))
    assert transaction_fingerprint(_bank(_pix_debit(description="PIX ENVIADO - OUTRA"))) != base
    assert transaction_fingerprint(_bank(_pix_debit(amount=Decimal("-87.51")))) != base
    assert transaction_fingerprint(_bank(_pix_debit(status="PENDING"))) != base


def test_fingerprint_ignores_updated_at_alone():
    before = transaction_fingerprint(_bank(_pix_debit()))
    after = transaction_fingerprint(_bank(_pix_debit(updatedAt="2020-10-20T11:00:00.000Z")))
    assert after == before


def test_fingerprint_of_odoo_read_values_matches_the_mapped_values():
    # Odoo hands back floats for monetary fields and False for empty text fields.
    mapped = _bank(_tx())
    odoo_like = {
        "date": datetime.date(2020, 10, 15), "amount": -212.45, "payment_ref": mapped["payment_ref"],
        "partner_name": False, "pluggy_partner_vat": False, "account_number": False,
        "transaction_type": False, "pluggy_pending": False,
    }  # fmt: skip
    assert transaction_fingerprint(odoo_like) == transaction_fingerprint(mapped)


# --- helpers ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [("882.937.076-23", "88293707623"), ("08.050.608/0001-32", "08050608000132"), (None, ""), (1234, "1234")],
)
def test_digits_only_keeps_digits(value, expected):
    assert digits_only(value) == expected
