"""The real Pluggy client against the running emulator over HTTP: auth, connectors, item, accounts, every page
of 5,000 transactions, and the client's retry rules meeting the emulator's faults."""

import itertools
from decimal import Decimal

import httpx
import pytest

from caixa_pluggy.pluggy import ApiKeyCache, PluggyClient, map_transaction
from caixa_pluggy.pluggy.errors import PluggyAuthError, PluggyConflict, PluggyNotFound, PluggyServerError
from tools.pluggy_emulator import start_emulator

pytestmark = pytest.mark.emulator
CLIENT_ID, SECRET = "demo-client-id", "demo-client-secret"


@pytest.fixture(scope="module")
def emulator():
    em = start_emulator(port=0, seed=42, page_size=500)
    yield em
    em.stop()


@pytest.fixture()
def control(emulator):
    with httpx.Client(base_url=emulator.url + "/_emulator", timeout=10) as http:
        http.post("/reset", json={"seed": 42, "page_size": 500, "min_update_hours": 24})
        yield http


@pytest.fixture()
def sleeps():
    return []


@pytest.fixture()
def client(emulator, control, sleeps):
    with PluggyClient(
        CLIENT_ID, SECRET, emulator.url, key_cache=ApiKeyCache(), sleep=sleeps.append
    ) as client:
        yield client


def connect(client, control, emulator, client_user_id="db-uuid:1", transactions=None):
    """Create an item the way the widget does: connect token with clientUserId, then the sandbox login."""
    if transactions is not None:
        control.patch("/config", json={"connect_transactions": transactions})
    token = client.create_connect_token(client_user_id=client_user_id)
    login = {"connectorId": 0, "parameters": {"user": "user-ok", "password": "password-ok"}}
    response = httpx.post(emulator.url + "/_emulator/connect/items", headers={"X-API-KEY": token}, json=login)
    return response.json()["id"]


def test_connect_read_item_accounts_and_every_page_of_5000_transactions(client, control, emulator):
    assert client.get_api_key().count(".") == 2
    sandbox = client.list_connectors(sandbox=True)
    assert any(c["id"] == 0 and c["name"] == "Pluggy Bank" and c["isSandbox"] for c in sandbox)
    assert not any(c["isSandbox"] for c in client.list_connectors())
    assert client.get_connector(0)["name"] == "Pluggy Bank"
    item_id = connect(client, control, emulator, transactions=5000)
    item = client.get_item(item_id)
    assert item["clientUserId"] == "db-uuid:1" and item["status"] == "UPDATED"
    accounts = client.list_accounts(item_id)
    assert sorted(a["type"] for a in accounts) == ["BANK", "CREDIT"]
    assert all(isinstance(a["balance"], Decimal) for a in accounts)
    for account in accounts:
        pages = list(client.iter_transaction_pages(account["id"]))
        rows = list(itertools.chain.from_iterable(pages))
        assert [len(p) for p in pages] == [500] * 10
        assert len({r["id"] for r in rows}) == 5000
        assert all(
            isinstance(r["amount"], Decimal) and r["amount"] == r["amount"].quantize(Decimal("0.01"))
            for r in rows
        )
        for row in rows:  # every emulated shape maps
            map_transaction(row, account_type=account["type"], account_currency=account["currencyCode"])
        days = sorted({r["date"][:10] for r in rows})
        window = list(client.iter_transactions(account["id"], date_from=days[-30], date_to=days[-5]))
        assert window == [r for r in rows if days[-30] <= r["date"][:10] <= days[-5]]
        picked = [rows[i]["id"] for i in range(0, 5000, 7)]  # 715 ids: the client splits them by 500
        assert {r["id"] for r in client.iter_transactions(account["id"], ids=picked)} == set(picked)


def test_new_rows_by_created_at_and_one_transaction(client, control, emulator):
    item_id = connect(client, control, emulator, transactions=50)
    account = client.list_accounts(item_id, type="BANK")[0]
    made = control.post(
        f"/accounts/{account['id']}/transactions",
        json={"amount": "-42.10", "date": "2025-01-02", "description": "LATE POSTING"},
    ).json()
    new = list(client.iter_transactions(account["id"], created_at_from=made["createdAt"]))
    assert [r["id"] for r in new] == [made["id"]] and new[0]["amount"] == Decimal("-42.10")
    assert client.get_transaction(made["id"])["description"] == "LATE POSTING"
    values = map_transaction(new[0], account_type="BANK", account_currency="BRL")
    assert values["amount"] == Decimal("-42.10") and str(values["date"]) == "2025-01-02"


def test_faults_are_survived_within_the_client_rules(client, control, emulator, sleeps):
    item_id = connect(client, control, emulator, transactions=1200)
    account = client.list_accounts(item_id)[0]
    control.post("/faults", json={"status": 503, "count": 2, "path": "/v2/transactions", "after_pages": 1})
    control.post(
        "/faults", json={"rate_limit": {"count": 1, "reset": 2}, "path": "/v2/transactions", "after_pages": 2}
    )
    assert sum(len(p) for p in client.iter_transaction_pages(account["id"])) == 1200
    assert 2 in sleeps  # the RateLimit-Reset wait
    control.post("/faults", json={"expire_keys": True, "path": "/v2/transactions", "after_pages": 1})
    assert sum(len(p) for p in client.iter_transaction_pages(account["id"])) == 1200  # one re-auth, mid-read
    control.post("/faults", json={"status": 502, "count": 10, "path": "/items/"})
    with pytest.raises(PluggyServerError):
        client.get_item(item_id)
    control.delete("/faults")


def test_refresh_conflict_delete_and_bad_secret(client, control, emulator):
    item_id = connect(client, control, emulator, transactions=5)
    assert client.update_item(item_id)["status"] == "UPDATING"
    with pytest.raises(PluggyConflict) as conflict:
        client.update_item(item_id)
    assert conflict.value.code_description == "CLIENT_IS_UPDATING_BEFORE_ALLOWED_FREQUENCY"
    assert conflict.value.data["minUpdateFrequencyAllowedInHours"] == 24
    client.delete_item(item_id)
    with pytest.raises(PluggyNotFound):
        client.get_item(item_id)
    bad = PluggyClient(CLIENT_ID, "s3cr3t-that-is-wrong", emulator.url)
    with bad, pytest.raises(PluggyAuthError) as denied:
        bad.get_api_key()
    assert denied.value.code_description == "CLIENT_KEYS_UNAUTHORIZED"
    assert "s3cr3t-that-is-wrong" not in str(denied.value)


def test_webhooks_through_the_client(client):
    hook = client.create_webhook(
        "http://127.0.0.1:8069/caixa_pluggy/webhook", "all", headers={"X-Pluggy-Secret": "s"}
    )
    assert [w["id"] for w in client.list_webhooks()] == [hook["id"]]
    assert client.update_webhook(hook["id"], headers=None)["headers"] == {}
    client.delete_webhook(hook["id"])
    assert client.list_webhooks() == []
