"""Pluggy credit-card bills -> stored values, from the bill Pluggy's own OpenAPI example documents."""

import datetime
import json
from decimal import Decimal
from pathlib import Path

import pytest

from caixa_pluggy.pluggy.mapping import (
    InvalidBill,
    bill_state,
    charges_on_the_card,
    looks_like_card_payment,
    map_bill,
    map_transaction,
    paid_by_card_rows,
)

SPEC = json.loads((Path(__file__).parent / "data" / "pluggy-openapi.json").read_text())


def documented_bill():
    """``GET /bills``'s example response, first bill, as Pluggy's spec gives it (no ``payments`` key)."""
    example = SPEC["paths"]["/bills"]["get"]["responses"]["200"]["content"]["application/json"]
    return example["examples"]["response"]["value"]["results"][0]


def test_documented_bill_keeps_its_dates_and_exact_amounts():
    values = map_bill(documented_bill(), time_zone="America/Sao_Paulo")
    # "2023-07-20T00:00:00" has no zone: a calendar date, not a UTC midnight to shift to the 19th.
    assert values["due_date"] == datetime.date(2023, 7, 20)
    assert values["closing_date"] == datetime.date(2023, 7, 13)
    assert values["total_amount"] == Decimal("50000.00")
    assert values["minimum_payment"] == Decimal("50000.00")
    assert values["charges"] == [
        {
            "id": "123456bf-c196-47ea-a28c-8251d6bb8777",
            "kind": "IOF",
            "amount": Decimal("20.51"),
            "info": None,
        }
    ]
    assert values["payments"] == []


def test_bill_payments_and_unknown_charge_kinds_are_read():
    bill = documented_bill() | {
        "financeCharges": [{"id": "c1", "type": "ANNUITY", "amount": 10.004, "additionalInfo": "Anuidade"}],
        "payments": [
            {
                "id": "p1",
                "valueType": "FULL_PAYMENT",
                "paymentDate": "2023-07-19T03:00:00.000Z",
                "amount": 100.5,
            }
        ],
    }
    values = map_bill(bill, time_zone="America/Sao_Paulo")
    assert values["charges"][0] == {
        "id": "c1",
        "kind": "OTHER",
        "amount": Decimal("10.00"),
        "info": "Anuidade",
    }
    assert values["payments"] == [
        {"id": "p1", "date": datetime.date(2023, 7, 19), "amount": Decimal("100.50"), "mode": None}
    ]


@pytest.mark.parametrize(("field", "value"), [("dueDate", None), ("totalAmount", "abc"), ("id", None)])
def test_unusable_bill_says_which_field(field, value):
    with pytest.raises(InvalidBill, match=field if field != "id" else "no id"):
        map_bill(documented_bill() | {field: value})


def test_bill_state_follows_payments_and_due_date():
    due = datetime.date(2026, 12, 10)
    assert bill_state(Decimal(100), Decimal(100), due, datetime.date(2026, 12, 20)) == "paid"
    assert bill_state(Decimal(100), Decimal(40), due, datetime.date(2026, 12, 11)) == "overdue"
    assert bill_state(Decimal(100), Decimal(0), due, datetime.date(2026, 12, 10)) == "open"


def test_installment_purchase_says_n_of_n_and_the_whole_purchase():
    # The spec's MERCADOLIVRE example: instalment 3 of 10 of a 1,592.00 purchase.
    row = {
        "id": "b1",
        "date": "2020-06-15T00:00:00.000Z",
        "description": "MERCADOLIVRE",
        "amount": Decimal("159.2"),
        "type": "DEBIT",
        "currencyCode": "BRL",
        "creditCardMetadata": {"installmentNumber": 3, "totalInstallments": 10, "totalAmount": 1592},
    }
    values = map_transaction(row, account_type="CREDIT", account_currency="BRL")
    assert values["pluggy_installment"] == "3/10"
    assert values["pluggy_installment_total"] == Decimal("1592.00")
    assert values["payment_ref"] == "MERCADOLIVRE (3/10)"


def test_charges_without_ids_are_kept_apart_and_zero_charges_dropped():
    bill = documented_bill() | {
        "financeCharges": [
            {"type": "OTHER", "amount": 29.9, "additionalInfo": "Anuidade"},
            {"type": "OTHER", "amount": 12.5, "additionalInfo": "Seguro"},
            # Open Finance's "no charge" (SEM_ENCARGO) arrives as an unknown kind of 0.00.
            {"type": "SEM_ENCARGO", "amount": 0},
        ]
    }
    charges = map_bill(bill)["charges"]
    assert [(charge["info"], charge["amount"]) for charge in charges] == [
        ("Anuidade", Decimal("29.90")),
        ("Seguro", Decimal("12.50")),
    ]
    assert len({charge["id"] for charge in charges}) == 2


def test_a_charge_is_on_the_card_when_a_row_of_its_amount_names_it():
    charges = [
        {"id": "iof", "kind": "IOF", "amount": Decimal("12.34")},
        {"id": "interest", "kind": "LATE_PAYMENT_INTEREST", "amount": Decimal("7.26")},
        {"id": "fee", "kind": "LATE_PAYMENT_FEE", "amount": Decimal("7.26")},
    ]
    rows = [
        (1, "-12.34", "IOF COMPRA INTERNACIONAL"),
        (2, "-7.26", "UBER *TRIP"),  # a purchase of the same amount is no charge
        (3, "-7.26", "JUROS DE MORA"),
    ]
    # One row books one charge: the interest takes row 3, the late fee finds no row left.
    assert charges_on_the_card(charges, rows) == {"iof": 1, "interest": 3}
    assert charges_on_the_card(charges, [(1, "-12.00", "IOF")]) == {}


def test_a_checking_debit_pays_a_card_when_it_says_so():
    assert looks_like_card_payment("PAGTO FATURA CARTAO", "OUTROS")
    assert looks_like_card_payment("Pag Fat Cartão de Crédito", None)
    assert looks_like_card_payment("ITAU BLACK", "BOLETO")
    assert not looks_like_card_payment("PIX ENVIADO LOJA XYZ", "PIX")
    assert not looks_like_card_payment("FATURAMENTO SERVICOS", "TED")


def test_card_payment_rows_pay_a_bill_refunds_do_not():
    rows = [
        (datetime.date(2026, 11, 4), "500.00", "PAGAMENTO RECEBIDO"),  # the previous bill's
        (datetime.date(2026, 11, 12), "300.00", "PAGAMENTO RECEBIDO"),
        (datetime.date(2026, 11, 13), "120.00", "ESTORNO LOJA ABC"),
        (datetime.date(2026, 11, 20), "-80.00", "LOJA ABC"),
        (datetime.date(2026, 12, 5), "100.00", "PAGAMENTO"),
    ]
    paid = paid_by_card_rows(rows, datetime.date(2026, 11, 5), datetime.date(2026, 12, 5))
    assert paid == Decimal("400.00")
