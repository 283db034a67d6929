"""Rows shaped by Pluggy and the banks (caixa_pluggy/tests/data/pluggy_transactions.json), mapped as an
accountant expects to see them; the origin of each shape is in that folder's SOURCES.md."""

import datetime
import json
from decimal import Decimal
from pathlib import Path

import pytest

from caixa_pluggy.pluggy.mapping import InvalidTransaction, map_transaction

DATA = json.loads(
    (Path(__file__).parents[1] / "caixa_pluggy" / "tests" / "data" / "pluggy_transactions.json").read_text()
)
ROWS = [("BANK", entry) for entry in DATA["bank"]] + [("CREDIT", entry) for entry in DATA["card"]]
GOOD = [(kind, entry) for kind, entry in ROWS if "expect" in entry]
BAD = [(kind, entry) for kind, entry in ROWS if "invalid" in entry]


def _map(kind, row):
    return map_transaction(row, account_type=kind, account_currency="BRL", currency_digits=2)


@pytest.mark.parametrize("kind, entry", GOOD, ids=[entry["name"] for _kind, entry in GOOD])
def test_documented_rows_become_the_line_an_accountant_expects(kind, entry):
    values = _map(kind, entry["row"])
    expect = entry["expect"]
    assert values["date"] == datetime.date.fromisoformat(expect["date"])
    assert values["amount"] == Decimal(expect["amount"])
    for field in ("transaction_type", "pluggy_partner_vat"):
        if field in expect:
            assert values[field] == expect[field]


@pytest.mark.parametrize("kind, entry", BAD, ids=[entry["name"] for _kind, entry in BAD])
def test_unusable_rows_say_which_row_and_what_is_missing(kind, entry):
    with pytest.raises(InvalidTransaction) as raised:
        _map(kind, entry["row"])
    assert raised.value.transaction_id == entry["row"]["id"]
    assert raised.value.field == entry["invalid"]
    assert entry["row"]["id"] in str(raised.value)
