"""Pluggy's webhook events: their names, and what a body says, in every shape Pluggy documents.

Current payloads carry ``eventId`` and the entity ids by name (``itemId``, ``accountId``); Pluggy's SDK tests
and older documentation examples send ``id`` instead (the item's, or the connector's) and no ``eventId``.
"""

import hashlib
import json

ITEM_EVENTS = (
    "item/created",
    "item/updated",
    "item/error",
    "item/waiting_user_input",
    "item/waiting_user_action",
    "item/deleted",
)
CONNECTOR_EVENTS = ("connector/status_updated",)
TRANSACTION_EVENTS = ("transactions/created", "transactions/updated", "transactions/deleted")
WEBHOOK_EVENTS = ITEM_EVENTS + CONNECTOR_EVENTS + TRANSACTION_EVENTS

MAX_REF_LENGTH = 64
MAX_EVENT_ID_LENGTH = 128
DERIVED_KEY_PREFIX = "body:"


def event_key(payload, received_at):
    """The key a delivery is stored once under: Pluggy's ``eventId`` when the body has one.

    Otherwise a digest of the whole body, which Pluggy's retries repeat byte for byte. Two distinct events can
    have the same body (a bank going OFFLINE twice in a day), so the digest also holds the UTC hour the
    delivery arrived in: a retry an hour later is processed again, which re-reads Pluggy and changes nothing,
    while a real second event is never taken for a retry of the first.
    """
    event_id = _ref(payload.get("eventId"), MAX_EVENT_ID_LENGTH)
    if event_id:
        return event_id
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(f"{received_at:%Y-%m-%dT%H}|{canonical}".encode()).hexdigest()
    return DERIVED_KEY_PREFIX + digest


def item_ref(payload):
    """The Pluggy item an event names: ``itemId``, or the deprecated ``id`` of an item event."""
    ref = _ref(payload.get("itemId"))
    if not ref and payload.get("event") in ITEM_EVENTS:
        ref = _ref(payload.get("id"))
    return ref


def account_ref(payload):
    return _ref(payload.get("accountId"))


def connector_ref(payload):
    """The connector (bank) id of a ``connector/status_updated`` event, an int; None when it names none."""
    value = payload.get("connectorId")
    if value is None:
        value = payload.get("id")
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def transaction_ids(payload):
    """The transaction ids an event names; anything else there (a number, an object...) names none."""
    ids = payload.get("transactionIds")
    if not isinstance(ids, list):
        return []
    return [tx_id for tx_id in ids if isinstance(tx_id, str) and 0 < len(tx_id) <= MAX_REF_LENGTH]


def _ref(value, max_length=MAX_REF_LENGTH):
    """An id as text, or None: ids come as strings (UUIDs) or, for connectors, numbers."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value)
    return text if 0 < len(text) <= max_length else None
