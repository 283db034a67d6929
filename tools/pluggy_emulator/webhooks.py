"""Webhook URL validation (Pluggy's rules and messages) and delivery over HTTP."""

from __future__ import annotations

import ipaddress
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import urlsplit

from .errors import bad_request, not_found
from .jsonio import dumps, now_iso

EVENTS = {
    "all",
    "item/created",
    "item/updated",
    "item/error",
    "item/deleted",
    "item/waiting_user_input",
    "item/waiting_user_action",
    "item/login_succeeded",
    "connector/status_updated",
    "transactions/created",
    "transactions/updated",
    "transactions/deleted",
    "payment_intent/created",
    "payment_intent/completed",
    "payment_intent/waiting_payer_authorization",
    "payment_intent/error",
    "payment_request/updated",
    "scheduled_payment/created",
    "scheduled_payment/completed",
    "scheduled_payment/error",
    "scheduled_payment/canceled",
    "scheduled_payment/all_completed",
    "scheduled_payment/all_created",
    "boleto/updated",
    "automatic_pix_payment/created",
    "automatic_pix_payment/completed",
    "automatic_pix_payment/error",
    "automatic_pix_payment/canceled",
    "smart_transfer_preauthorization/completed",
    "smart_transfer_preauthorization/error",
    "smart_transfer_payment/completed",
    "smart_transfer_payment/error",
}
MAX_PER_EVENT = 5


def url_error(url, allow_local: bool) -> str | None:
    """Pluggy's 400 message for a webhook URL it would refuse, or None.

    ``allow_local`` (the emulator's default) accepts http:// and local hosts so tests can receive
    deliveries; DNS is never consulted (no internet)."""
    if not isinstance(url, str) or not url:
        return "Webhook url must be valid URL address and not localhost"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "Webhook url must be valid URL address and not localhost"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "Webhook url must be valid URL address and not localhost"
    if allow_local:
        return None
    if parts.scheme != "https" or port not in (None, 443):
        return "Webhook url must be a https secured url"
    if parts.username or parts.password:
        return "Webhook url must be valid URL address and not localhost"
    host = parts.hostname.lower()
    try:
        ipaddress.ip_address(host)
        return "Webhook url host can't be an IP address"
    except ValueError:
        pass
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")) or "." not in host:
        return "Webhook url host can't be localhost or a reserved/internal name"
    return None


def post(url: str, payload: dict, headers: dict, timeout: float) -> dict:
    """POST one delivery; never raises: the outcome is in the returned dict."""
    body = dumps(payload).encode()
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("User-Agent", "Pluggy-Webhooks (emulator)")
    for name, value in (headers or {}).items():
        request.add_header(str(name), str(value))
    started = time.monotonic()
    result = {"url": url, "status": None, "error": None}
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            result["status"] = response.status
            response.read()
    except urllib.error.HTTPError as exc:
        result["status"] = exc.code
    except (urllib.error.URLError, OSError, ValueError) as exc:
        result["error"] = str(getattr(exc, "reason", exc))
    result["elapsed"] = round(time.monotonic() - started, 4)
    return result


class WebhooksMixin:
    """Mixed into State: the webhook registry, event payloads and who receives them."""

    def create_webhook(self, body: dict) -> dict:
        url, event, headers = body.get("url"), body.get("event"), body.get("headers") or {}
        self._check_webhook(url, event, headers)
        same = [w for w in self.webhooks.values() if w["event"] == event]
        if any(w["url"] == url for w in same):
            raise bad_request(f"A webhook for event '{event}' and url '{url}' already exists.")
        if len(same) >= MAX_PER_EVENT:
            raise bad_request(
                f"You have reached the maximum of {MAX_PER_EVENT} webhooks for event '{event}'."
            )
        now = now_iso()
        hook = {
            "id": str(uuid.uuid4()),
            "url": url,
            "event": event,
            "headers": dict(headers or {}),
            "disabledAt": None,
            "createdAt": now,
            "updatedAt": now,
        }
        self.webhooks[hook["id"]] = hook
        return hook

    def get_webhook(self, webhook_id) -> dict:
        if webhook_id not in self.webhooks:
            raise not_found("WEBHOOK")
        return self.webhooks[webhook_id]

    def update_webhook(self, webhook_id, body: dict) -> dict:
        hook = self.get_webhook(webhook_id)
        self._check_webhook(
            body.get("url", hook["url"]), body.get("event", hook["event"]), body.get("headers") or {}
        )
        for field in ("url", "event"):
            if field in body:
                hook[field] = body[field]
        if "headers" in body:
            hook["headers"] = dict(body["headers"] or {})
        if body.get("enabled") is True:
            hook["disabledAt"] = None
        elif body.get("enabled") is False:  # emulator extension: simulate Pluggy disabling a failing webhook
            hook["disabledAt"] = now_iso()
        hook["updatedAt"] = now_iso()
        return hook

    def delete_webhook(self, webhook_id) -> dict:
        self.get_webhook(webhook_id)
        del self.webhooks[webhook_id]
        return {"count": 1}

    def _check_webhook(self, url, event, headers) -> None:
        if event not in EVENTS:
            raise bad_request(f"Invalid event type '{event}' for webhook")
        problem = url_error(url, self.config.allow_local_webhooks)
        if problem:
            raise bad_request(problem)
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise bad_request("headers must be an object of string values")

    # --------------------------------------------------------------------- events
    def item_event(self, event: str, item: dict, triggered_by: str | None) -> dict:
        payload = {
            "event": event,
            "itemId": item["id"],
            "triggeredBy": triggered_by,
            "clientUserId": item.get("clientUserId"),
        }
        if event == "item/error":
            payload["error"] = item.get("error")
        return payload

    def targets(self, payload: dict, item_url: str | None = None) -> list[dict]:
        """Enabled webhooks for the event (and "all"), then the item's webhookUrl (sent without headers)."""
        found = [
            {"webhookId": w["id"], "url": w["url"], "headers": dict(w["headers"])}
            for w in self.webhooks.values()
            if w["disabledAt"] is None and w["event"] in (payload.get("event"), "all")
        ]
        item = self.items.get(payload.get("itemId") or "")
        item_url = item_url or (item or {}).get("webhookUrl")
        if item_url:
            found.append({"webhookId": None, "url": item_url, "headers": {}})
        return found

    def complete_payload(self, payload: dict) -> dict:
        """Add what every Pluggy payload carries: a unique eventId, our clientId, the item of an account."""
        payload = dict(payload)
        payload.setdefault("eventId", str(uuid.uuid4()))
        payload.setdefault("clientId", self.config.client_id)
        account = self.accounts.get(payload.get("accountId") or "")
        if account and "itemId" not in payload:
            payload["itemId"] = account["itemId"]
        item = self.items.get(payload.get("itemId") or "")
        if item and str(payload.get("event", "")).startswith("item/"):
            payload.setdefault("clientUserId", item.get("clientUserId"))
            payload.setdefault("id", item["id"])  # deprecated entity id, still sent
        return payload

    def notify(self, payload: dict, item_url: str | None = None) -> None:
        """Queue a delivery for the background sender (never blocks under the lock)."""
        if self.outbox is not None:
            payload = self.complete_payload(payload)
            self.outbox(payload, self.targets(payload, item_url))

    def record_delivery(self, payload: dict, result: dict) -> None:
        with self.lock:
            self.deliveries.append(
                {"event": payload.get("event"), "eventId": payload.get("eventId"), **result}
            )
