"""What a webhook body says, in every shape Pluggy documents (caixa_pluggy/tests/data)."""

import datetime
import json
from pathlib import Path

import pytest

from caixa_pluggy.pluggy import webhooks

DATA = Path(__file__).parents[1] / "caixa_pluggy" / "tests" / "data"
PAYLOADS = json.loads((DATA / "pluggy_webhooks.json").read_text())["payloads"]
AT = datetime.datetime(2026, 12, 6, 14, 5)


def _payload(name):
    return next(entry["body"] for entry in PAYLOADS if entry["name"] == name)


@pytest.mark.parametrize("entry", PAYLOADS, ids=[entry["name"] for entry in PAYLOADS])
def test_every_documented_body_names_a_known_event_and_gets_a_key(entry):
    body = entry["body"]
    assert body["event"] in webhooks.WEBHOOK_EVENTS
    key = webhooks.event_key(body, AT)
    assert key and len(key) <= 128
    if "eventId" in body:
        assert key == body["eventId"]
    assert webhooks.item_ref(body) == entry["expect"].get("item")
    assert webhooks.connector_ref(body) == entry["expect"].get("connector")
    assert webhooks.transaction_ids(body) == entry["expect"].get("transactions", [])


def test_a_retried_body_without_event_id_has_the_same_key():
    body = _payload("connector/status_updated, SDK test shape")
    retry = json.loads(json.dumps(body))
    assert webhooks.event_key(retry, AT + datetime.timedelta(minutes=2)) == webhooks.event_key(body, AT)


def test_the_same_body_hours_later_is_a_new_event():
    # A bank going OFFLINE in the morning and again in the evening sends the same body twice.
    body = _payload("connector/status_updated, SDK test shape")
    assert webhooks.event_key(body, AT + datetime.timedelta(hours=6)) != webhooks.event_key(body, AT)


def test_bodies_that_differ_have_different_keys():
    offline = _payload("connector/status_updated, SDK test shape")
    online = {**offline, "data": {"status": "ONLINE"}}
    assert webhooks.event_key(online, AT) != webhooks.event_key(offline, AT)


def test_the_key_ignores_the_order_of_the_keys():
    body = _payload("item/created, documentation example without eventId")
    reordered = dict(reversed(list(body.items())))
    assert webhooks.event_key(reordered, AT) == webhooks.event_key(body, AT)


@pytest.mark.parametrize("event_id", [None, "", 12, True, {"id": 1}, "x" * 200])
def test_an_unusable_event_id_falls_back_to_the_body_key(event_id):
    key = webhooks.event_key({"event": "item/updated", "itemId": "a", "eventId": event_id}, AT)
    if event_id == 12:
        assert key == "12"
    else:
        assert key.startswith(webhooks.DERIVED_KEY_PREFIX)
