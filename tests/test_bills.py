"""Pluggy credit-card bills -> stored values, from the bill Pluggy's own OpenAPI example documents."""

import datetime
import json
from decimal import Decimal
from pathlib import Path

import pytest

from caixa_pluggy.pluggy.mapping import InvalidBill, bill_state, map_bill, map_transaction

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
