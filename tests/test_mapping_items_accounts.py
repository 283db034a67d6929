"""Pluggy items and accounts -> stored values, from the examples Pluggy's own OpenAPI spec documents."""

import copy
import datetime
import json
from decimal import Decimal
from pathlib import Path

from caixa_pluggy.pluggy.mapping import map_account, map_balance, map_connector_health, map_item

SCHEMAS = json.loads((Path(__file__).parent / "data" / "pluggy-openapi.json").read_text())["components"][
    "schemas"
]


def documented(name):
    """The schema's example, else the example of each of its properties (as the spec gives Account)."""
    schema = SCHEMAS[name]
    if "example" in schema:
        return copy.deepcopy(schema["example"])
    return {key: copy.deepcopy(prop.get("example")) for key, prop in schema["properties"].items()}


def test_documented_item_gives_its_connector_status_and_times_in_utc():
    values = map_item(documented("Item"), time_zone="America/Sao_Paulo")
    assert values["connector_id"] == 200
    assert values["connector_name"] == "MeuPluggy"
    assert values["connector_is_open_finance"] is False
    assert values["connector_health"] == "ONLINE"
    assert values["connector_incidents"] is False
    assert values["pluggy_status"] == "UPDATED"
    assert values["execution_status"] == "SUCCESS"
    assert values["error_code"] is None and values["error_message"] is None
    # "2024-09-19T13:11:23.595Z": already UTC, stored as it is (Odoo's naive UTC).
    assert values["pluggy_updated_at"] == datetime.datetime(2024, 9, 19, 13, 11, 23, 595000)
    assert values["consent_expires_at"] is None and values["next_auto_sync_at"] is None


def test_item_with_a_login_error_and_a_consent_date_keeps_the_bank_day():
    item = documented("Item") | {
        "status": "LOGIN_ERROR",
        "error": {"code": "INVALID_CREDENTIALS", "message": "Senha inválida"},
        "consentExpiresAt": "2025-01-31",
    }
    values = map_item(item, time_zone="America/Sao_Paulo")
    assert (values["error_code"], values["error_message"]) == ("INVALID_CREDENTIALS", "Senha inválida")
    # Midnight of 31 January in São Paulo (UTC-3), not the evening of the 30th.
    assert values["consent_expires_at"] == datetime.datetime(2025, 1, 31, 3, 0)


def test_item_without_connector_is_tolerated():
    values = map_item({"id": "x", "connector": None, "error": None})
    assert values["connector_name"] is None and values["connector_health"] is False


def test_connector_health_lists_incidents_and_drops_unknown_states():
    health = {"status": "UNSTABLE", "incidents": [{"title": "Lentidão no Pix", "severity": "minor"}, None]}
    assert map_connector_health(health) == {
        "connector_health": "UNSTABLE",
        "connector_incidents": "Lentidão no Pix (minor)",
    }
    assert map_connector_health(documented("ConnectorHealth"))["connector_health"] is False
    assert map_connector_health(None) == {"connector_health": False, "connector_incidents": False}


def test_documented_account_prefers_the_marketing_name_and_reads_its_currency():
    values = map_account(documented("Account"))
    assert values == {
        "name": "SIGNATURE CJA. AHORRO PESOS",
        "account_type": "BANK",
        "subtype": "SAVINGS_ACCOUNT",
        "number": "40114687/1234",
        "owner": "John Doe",
        "tax_number": "416.799.495-00",
        "currency_code": "BRL",
    }


def test_card_account_without_names_or_currency_falls_back():
    values = map_account({"id": "card-1", "type": "CREDIT", "currencyCode": "usd", "number": "4111"})
    assert (values["name"], values["account_type"], values["currency_code"]) == ("4111", "CREDIT", "USD")
    assert map_account({"id": "card-2", "type": "CREDIT"})["currency_code"] == "BRL"


def test_documented_balance_is_decimal_rounded_to_the_currency_with_the_bank_time():
    values = map_balance(documented("Account"), currency_digits=2)
    assert values["bank_balance"] == Decimal("120950.00") and isinstance(values["bank_balance"], Decimal)
    assert values["bank_balance_at"] == datetime.datetime(2024, 7, 22, 18, 5, 11, 328000)


def test_balance_float_noise_is_rounded_and_a_missing_balance_is_no_balance():
    assert map_balance({"balance": 0.1 + 0.2})["bank_balance"] == Decimal("0.30")
    assert map_balance({"balance": 1.005}, currency_digits=2)["bank_balance"] == Decimal("1.01")
    assert map_balance({"balance": None}) == {}
    assert map_balance({"balance": "n/a"}) == {}
