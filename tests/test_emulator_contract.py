"""Every public answer of the Pluggy emulator validates against Pluggy's own OpenAPI schemas.

The spec (tests/data/pluggy-openapi.json: Pluggy's published OpenAPI document, kept here so that every clone
checks against it; PLUGGY_OPENAPI points to another copy) marks some fields ``nullable`` and leaves others
that real responses send as null untyped for null, so null in a non-required property counts as absent
(pluggy-api.md section 0); wrong types, missing required fields and unknown enum values still fail.
"""

import base64
import copy
import json
import os
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from jsonschema import Draft202012Validator

from tools.pluggy_emulator import start_emulator

pytestmark = pytest.mark.emulator

SPEC_PATH = Path(
    os.environ.get("PLUGGY_OPENAPI", Path(__file__).resolve().parent / "data" / "pluggy-openapi.json")
)
CLIENT = {"clientId": "demo-client-id", "clientSecret": "demo-client-secret"}


def _loosen(node):
    """``nullable: true`` -> null allowed; every non-required property may be null (read as absent)."""
    if isinstance(node, list):
        return [_loosen(x) for x in node]
    if not isinstance(node, dict):
        return node
    node = {k: _loosen(v) for k, v in node.items() if k not in ("example", "examples")}
    props = node.get("properties")
    if isinstance(props, dict):
        required = set(node.get("required", []))
        node["properties"] = {
            name: schema if name in required else {"anyOf": [{"type": "null"}, schema]}
            for name, schema in props.items()
        }
    if node.pop("nullable", False) is True:
        node = {"anyOf": [{"type": "null"}, node]}
    return node


@pytest.fixture(scope="module")
def spec():
    if not SPEC_PATH.exists():
        pytest.skip(f"OpenAPI spec not found at {SPEC_PATH}")
    return json.loads(SPEC_PATH.read_text())


@pytest.fixture(scope="module")
def components(spec):
    return _loosen(spec["components"])


def _validator(spec, components, path, method, status):
    """The spec's own response schema for (path, method, status); 429 (undocumented) uses the global error."""
    responses = spec["paths"][path][method.lower()]["responses"]
    if str(status) in responses:
        schema = responses[str(status)]["content"]["application/json"]["schema"]
    else:
        assert status == 429, f"the spec has no {status} answer for {method} {path}"
        schema = {"$ref": "#/components/schemas/GlobalErrorResponse"}
    return Draft202012Validator({**_loosen(copy.deepcopy(schema)), "components": components})


@pytest.fixture(scope="module")
def check(spec, components):
    def check(response: httpx.Response, path: str, method: str, status: int):
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        errors = sorted(_validator(spec, components, path, method, status).iter_errors(body), key=str)
        assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])
        return body

    return check


@pytest.fixture(scope="module")
def emulator():
    em = start_emulator(port=0, seed=7, page_size=100)
    yield em
    em.stop()


@pytest.fixture(scope="module")
def client(emulator):
    with httpx.Client(base_url=emulator.url, timeout=10) as client:
        yield client


@pytest.fixture()
def http(client):
    client.headers.pop("X-API-KEY", None)
    client.post("/_emulator/reset", json={"seed": 7, "page_size": 100})
    return client


@pytest.fixture()
def key(http):
    return http.post("/auth", json=CLIENT).json()["apiKey"]


@pytest.fixture()
def item(http):
    body = {
        "clientUserId": "db-uuid:1",
        "connectorId": 0,
        "transactions": 250,
        "history_days": 730,
        "pending": 3,
    }
    return http.post("/_emulator/items", json=body).json()


def _h(key):
    return {"X-API-KEY": key}


# ---------------------------------------------------------------------------- the validator itself
def test_loosened_schema_still_rejects_wrong_types_missing_fields_and_unknown_enums(spec, components):
    validator = _validator(spec, components, "/transactions/{id}", "GET", 200)
    good = {
        "id": "x",
        "description": "d",
        "currencyCode": "BRL",
        "amount": -1.5,
        "date": "2020-10-15T00:00:00.000Z",
        "accountId": "a",
        "createdAt": "c",
        "updatedAt": "u",
        "balance": None,
        "type": "DEBIT",
    }
    assert validator.is_valid(good)
    assert not validator.is_valid({**good, "amount": "-1.50"})
    assert not validator.is_valid({k: v for k, v in good.items() if k != "description"})
    assert not validator.is_valid({**good, "type": "TRANSFER"})
    assert not validator.is_valid({**good, "status": "SETTLED"})
    assert not validator.is_valid({**good, "amount": None})  # required: null is not absent


# ------------------------------------------------------------------------------------------ auth
def test_auth_returns_a_jwt_api_key_valid_for_the_key_ttl(http, check):
    body = check(http.post("/auth", json=CLIENT), "/auth", "POST", 200)
    header, payload, signature = body["apiKey"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert abs(claims["exp"] - time.time() - 7200) < 60
    assert json.loads(base64.urlsafe_b64decode(header + "==="))["typ"] == "JWT" and signature


def test_auth_with_wrong_secret_is_401_client_keys_unauthorized(http, check):
    body = check(http.post("/auth", json={**CLIENT, "clientSecret": "nope"}), "/auth", "POST", 401)
    assert body["codeDescription"] == "CLIENT_KEYS_UNAUTHORIZED"


def test_invalid_key_is_403_with_the_exact_unauthenticated_body(http, check):
    response = http.post("/connect_token", headers=_h("bogus"), json={})
    assert check(response, "/connect_token", "POST", 403) == {
        "code": 403,
        "message": "Missing or invalid authorization token",
    }


def test_connect_token(http, key, item, check):
    check(
        http.post("/connect_token", headers=_h(key), json={"options": {"clientUserId": "u"}}),
        "/connect_token",
        "POST",
        200,
    )
    check(
        http.post("/connect_token", headers=_h(key), json={"itemId": item["id"]}),
        "/connect_token",
        "POST",
        200,
    )
    body = check(
        http.post("/connect_token", headers=_h(key), json={"itemId": "5b1c06a6-6a5c-4f1b-a3b8-0c6b1e3a9d10"}),
        "/connect_token",
        "POST",
        404,
    )
    assert body["codeDescription"] == "ITEM_NOT_FOUND"


# ------------------------------------------------------------------------------------ connectors
def test_connectors_list_and_one(http, key, check):
    sandbox = check(http.get("/connectors?sandbox=true", headers=_h(key)), "/connectors", "GET", 200)
    bank = next(c for c in sandbox["results"] if c["id"] == 0)
    assert bank["name"] == "Pluggy Bank" and bank["isSandbox"] is True
    real = check(
        http.get("/connectors?countries=BR&types=PERSONAL_BANK,BUSINESS_BANK", headers=_h(key)),
        "/connectors",
        "GET",
        200,
    )
    assert real["results"] and not any(c["isSandbox"] for c in real["results"])
    assert all(set(c["health"]) >= {"status", "stage"} for c in real["results"])
    check(http.get("/connectors/0?healthDetails=true", headers=_h(key)), "/connectors/{id}", "GET", 200)
    body = check(http.get("/connectors/4242", headers=_h(key)), "/connectors/{id}", "GET", 404)
    assert body["codeDescription"] == "CONNECTOR_NOT_FOUND"


# ----------------------------------------------------------------------------------------- items
def test_item_get_patch_delete(http, key, item, check):
    body = check(http.get(f"/items/{item['id']}", headers=_h(key)), "/items/{id}", "GET", 200)
    assert body["clientUserId"] == "db-uuid:1" and body["status"] == "UPDATED"
    body = check(http.patch(f"/items/{item['id']}", headers=_h(key), json={}), "/items/{id}", "PATCH", 200)
    assert body["status"] == "UPDATING"
    conflict = check(
        http.patch(f"/items/{item['id']}", headers=_h(key), json={}), "/items/{id}", "PATCH", 409
    )
    assert conflict["codeDescription"] == "CLIENT_IS_UPDATING_BEFORE_ALLOWED_FREQUENCY"
    assert set(conflict["data"]) == {"minUpdateFrequencyAllowedInHours", "lastUpdatedAt"}
    assert check(http.delete(f"/items/{item['id']}", headers=_h(key)), "/items/{id}", "DELETE", 200) == {
        "count": 1
    }
    body = check(http.get(f"/items/{item['id']}", headers=_h(key)), "/items/{id}", "GET", 404)
    assert body["codeDescription"] == "ITEM_NOT_FOUND"


def test_accounts_page(http, key, item, check):
    body = check(http.get(f"/accounts?itemId={item['id']}", headers=_h(key)), "/accounts", "GET", 200)
    by_type = {a["type"]: a for a in body["results"]}
    assert by_type["BANK"]["subtype"] == "CHECKING_ACCOUNT" and by_type["BANK"]["bankData"]
    assert by_type["CREDIT"]["subtype"] == "CREDIT_CARD" and by_type["CREDIT"]["creditData"]
    assert by_type["CREDIT"]["number"].startswith("xxxx")
    assert {a["currencyCode"] for a in body["results"]} == {"BRL"}
    body = check(
        http.get("/accounts?itemId=5b1c06a6-6a5c-4f1b-a3b8-0c6b1e3a9d10", headers=_h(key)),
        "/accounts",
        "GET",
        200,
    )
    assert body["results"] == []  # the spec documents no 404 for /accounts
    body = check(
        http.get(f"/accounts/{by_type['BANK']['id']}", headers=_h(key)), "/accounts/{id}", "GET", 200
    )
    assert body == by_type["BANK"]
    body = check(
        http.get("/accounts/5b1c06a6-6a5c-4f1b-a3b8-0c6b1e3a9d10", headers=_h(key)),
        "/accounts/{id}",
        "GET",
        404,
    )
    assert body["codeDescription"] == "ACCOUNT_NOT_FOUND"


# ---------------------------------------------------------------------------------- transactions
def test_every_v2_transactions_page_and_one_transaction(http, key, item, check):
    for account in item["accounts"]:
        url, seen = f"/v2/transactions?accountId={account['id']}", 0
        while url:
            page = check(http.get(url, headers=_h(key)), "/v2/transactions", "GET", 200)
            seen += len(page["results"])
            url = "/v2/transactions" + page["next"] if page["next"] else None
        assert seen == 250
        one = page["results"][-1]
        body = check(
            http.get(f"/transactions/{one['id']}", headers=_h(key)), "/transactions/{id}", "GET", 200
        )
        assert body == one


def test_card_bills_follow_the_spec_and_add_up(http, key, item, check):
    card = next(account for account in item["accounts"] if account["type"] == "CREDIT")
    body = check(http.get(f"/bills?accountId={card['id']}", headers=_h(key)), "/bills", "GET", 200)
    bills = body["results"]
    assert len(bills) >= 12, "two years of history close about 24 bills"
    closings = [bill["billClosingDate"] for bill in bills]
    assert closings == sorted(closings) and all(bill["dueDate"] > bill["billClosingDate"] for bill in bills)
    assert any(charge["type"] == "IOF" for bill in bills for charge in bill["financeCharges"])
    assert any(bill["payments"] for bill in bills)
    for bill in bills:
        charges = sum(Decimal(str(charge["amount"])) for charge in bill["financeCharges"])
        assert Decimal(str(bill["totalAmount"])) > charges
    one = check(http.get(f"/bills/{bills[0]['id']}", headers=_h(key)), "/bills/{id}", "GET", 200)
    assert one == bills[0]
    bank = next(account for account in item["accounts"] if account["type"] == "BANK")
    assert http.get(f"/bills?accountId={bank['id']}", headers=_h(key)).json()["results"] == []


def test_transaction_error_bodies(http, key, item, check):
    account = item["accounts"][0]["id"]
    missing = check(http.get("/v2/transactions", headers=_h(key)), "/v2/transactions", "GET", 400)
    assert "accountId" in missing["message"]
    cursor = check(
        http.get(f"/v2/transactions?accountId={account}&after=!!", headers=_h(key)),
        "/v2/transactions",
        "GET",
        400,
    )
    assert cursor["message"] == "Invalid cursor"
    ids = ",".join(
        ["5b1c06a6-6a5c-4f1b-a3b8-0c6b1e3a9d10"] * 2
        + [f"5b1c06a6-6a5c-4f1b-a3b8-{i:012d}" for i in range(501)]
    )
    too_many = check(
        http.get(f"/v2/transactions?accountId={account}&ids={ids}", headers=_h(key)),
        "/v2/transactions",
        "GET",
        400,
    )
    assert too_many["codeDescription"] == "IDS_PARAMETER_EXCEEDS_MAX_LENGTH"
    body = check(
        http.get("/transactions/5b1c06a6-6a5c-4f1b-a3b8-0c6b1e3a9d10", headers=_h(key)),
        "/transactions/{id}",
        "GET",
        404,
    )
    assert body["codeDescription"] == "TRANSACTION_NOT_FOUND"


def test_unknown_account_lists_nothing(http, key, check):
    response = http.get("/v2/transactions?accountId=5b1c06a6-6a5c-4f1b-a3b8-0c6b1e3a9d10", headers=_h(key))
    assert check(response, "/v2/transactions", "GET", 200) == {"results": [], "next": None}


def test_rate_limited_answer_is_an_error_body(http, key, item, check):
    http.post("/_emulator/faults", json={"path": "/v2/transactions", "rate_limit": {"count": 1, "reset": 3}})
    response = http.get(f"/v2/transactions?accountId={item['accounts'][0]['id']}", headers=_h(key))
    check(response, "/v2/transactions", "GET", 429)
    assert response.headers["RateLimit-Reset"] == "3" and response.headers["Retry-After"]


# -------------------------------------------------------------------------------------- webhooks
def test_webhook_crud(http, key, check):
    hook = {
        "url": "https://hooks.example.com/pluggy",
        "event": "transactions/created",
        "headers": {"X-S": "1"},
    }
    created = check(http.post("/webhooks", headers=_h(key), json=hook), "/webhooks", "POST", 201)
    assert created["headers"] == {"X-S": "1"} and created["disabledAt"] is None
    listed = check(http.get("/webhooks", headers=_h(key)), "/webhooks", "GET", 200)
    assert [w["id"] for w in listed["results"]] == [created["id"]]
    check(http.get(f"/webhooks/{created['id']}", headers=_h(key)), "/webhooks/{id}", "GET", 200)
    updated = check(
        http.patch(f"/webhooks/{created['id']}", headers=_h(key), json={"event": "all", "headers": None}),
        "/webhooks/{id}",
        "PATCH",
        200,
    )
    assert updated["event"] == "all" and updated["headers"] == {}
    check(
        http.patch(f"/webhooks/{created['id']}", headers=_h(key), json={"event": "nope"}),
        "/webhooks/{id}",
        "PATCH",
        400,
    )
    check(
        http.post("/webhooks", headers=_h(key), json={**hook, "event": "item/all"}), "/webhooks", "POST", 400
    )
    assert check(
        http.delete(f"/webhooks/{created['id']}", headers=_h(key)), "/webhooks/{id}", "DELETE", 200
    ) == {"count": 1}
    body = check(http.get(f"/webhooks/{created['id']}", headers=_h(key)), "/webhooks/{id}", "GET", 404)
    assert body["codeDescription"] == "WEBHOOK_NOT_FOUND"
