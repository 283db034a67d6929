"""The control API under /_emulator/ (no auth): data set-up, Pluggy-side changes, faults, webhook delivery."""

from __future__ import annotations

from pathlib import Path

from .errors import ApiError, bad_request
from .router import Request, Response, router

SDK_FILE = Path(__file__).resolve().parent / "sdk" / "pluggy-connect.js"
_ITEM_FIELDS = {
    "status",
    "executionStatus",
    "error",
    "statusDetail",
    "parameter",
    "userAction",
    "clientUserId",
    "webhookUrl",
    "nextAutoSyncAt",
    "consentExpiresAt",
    "lastUpdatedAt",
    "consecutiveFailedLoginAttempts",
}


def _notify_after(req: Request, payloads: list[dict], item_url: str | None = None):
    """Deliver events synchronously once the lock is released, so the caller sees them delivered on return."""
    jobs = []
    for payload in payloads:
        payload = req.state.complete_payload(payload)
        jobs.append((payload, req.state.targets(payload, item_url)))

    def run():
        for payload, targets in jobs:
            req.emulator.deliver(payload, targets)

    return run if jobs else None


@router.route("POST", "/_emulator/reset", auth=None, control=True)
def reset(req: Request) -> Response:
    try:
        req.state.reset(**req.json())
    except KeyError as exc:
        raise bad_request(f"unknown setting {exc}") from None
    return Response(200, {"ok": True, "config": req.state.config.as_dict()})


@router.route("PATCH", "/_emulator/config", auth=None, control=True)
def config(req: Request) -> Response:
    try:
        req.state.config.update(req.json())
    except (KeyError, ValueError) as exc:
        raise bad_request(f"bad setting {exc}") from None
    return Response(200, req.state.config.as_dict())


@router.route("GET", "/_emulator/state", auth=None, control=True)
def state(req: Request) -> Response:
    return Response(200, req.state.summary())


@router.route("POST", "/_emulator/items", auth=None, control=True)
def create_item(req: Request) -> Response:
    body = req.json()
    try:
        item = req.state.create_item(
            connector_id=body.get("connectorId", 0),
            client_user_id=body.get("clientUserId"),
            transactions=int(body.get("transactions", 60)),
            history_days=int(body.get("history_days", 365)),
            pending=int(body.get("pending", 2)),
            bank_accounts=int(body.get("bank_accounts", 1)),
            credit_accounts=int(body.get("credit_accounts", 1)),
            card_bills=int(body.get("card_bills") or 0),
            webhook_url=body.get("webhookUrl"),
            user=body.get("user", "user-ok"),
        )
    except (TypeError, ValueError) as exc:
        raise bad_request(f"bad item request: {exc}") from None
    accounts = req.state.item_accounts(item["id"])
    payloads = []
    if body.get("notify"):
        payloads.append(req.state.item_event("item/created", item, "USER"))
        for account in accounts:
            rows = req.state.ledgers[account["id"]].sorted_rows()
            if rows:
                payloads.append(req.state.created_event(rows, req.base))
    return Response(201, {**item, "accounts": accounts}, after=_notify_after(req, payloads))


@router.route("PATCH", "/_emulator/items/{id}", auth=None, control=True)
def edit_item(req: Request) -> Response:
    item = req.state.get_item(req.params["id"])
    body = req.json()
    unknown = set(body) - _ITEM_FIELDS - {"notify", "event"}
    if unknown:
        raise bad_request(f"unknown item fields: {sorted(unknown)}")
    item.update({k: v for k, v in body.items() if k in _ITEM_FIELDS})
    payloads = []
    if body.get("notify"):
        default = {
            "LOGIN_ERROR": "item/error",
            "OUTDATED": "item/error",
            "WAITING_USER_INPUT": "item/waiting_user_input",
            "WAITING_USER_ACTION": "item/waiting_user_action",
        }
        event = body.get("event") or default.get(item["status"], "item/updated")
        payloads.append(req.state.item_event(event, item, "SYNC"))
    return Response(200, item, after=_notify_after(req, payloads))


@router.route("PATCH", "/_emulator/connectors/{id}", auth=None, control=True)
def edit_connector(req: Request) -> Response:
    connector = req.state.connector(req.params["id"])
    body = req.json()
    if isinstance(body.get("health"), dict):
        connector["health"].update(body["health"])
    connector.update({k: v for k, v in body.items() if k not in ("health", "id", "notify")})
    payloads = []
    if body.get("notify"):
        payloads.append(
            {
                "event": "connector/status_updated",
                "id": str(connector["id"]),
                "connectorId": connector["id"],
                "data": {"status": connector["health"]["status"]},
            }
        )
    return Response(200, connector, after=_notify_after(req, payloads))


@router.route("GET", "/_emulator/accounts/{id}/transactions", auth=None, control=True)
def all_transactions(req: Request) -> Response:
    req.state.account(req.params["id"])
    return Response(200, {"results": req.state.ledgers[req.params["id"]].sorted_rows()})


@router.route("POST", "/_emulator/accounts/{id}/transactions", auth=None, control=True)
def create_transaction(req: Request) -> Response:
    body = dict(req.json())
    notify = body.pop("notify", False)
    row = req.state.create_transaction(req.params["id"], body)
    payloads = [req.state.created_event([row], req.base)] if notify else []
    return Response(201, row, after=_notify_after(req, payloads))


@router.route("PATCH", "/_emulator/transactions/{id}", auth=None, control=True)
def edit_transaction(req: Request) -> Response:
    body = dict(req.json())
    notify = body.pop("notify", False)
    row = req.state.edit_transaction(req.params["id"], body)
    payloads = [req.state.changed_event("transactions/updated", [row])] if notify else []
    return Response(200, row, after=_notify_after(req, payloads))


@router.route("DELETE", "/_emulator/transactions/{id}", auth=None, control=True)
def delete_transaction(req: Request) -> Response:
    row = req.state.delete_transaction(req.params["id"])
    payloads = [req.state.changed_event("transactions/deleted", [row])] if req.flag("notify") else []
    return Response(200, {"count": 1, "id": row["id"]}, after=_notify_after(req, payloads))


@router.route("POST", "/_emulator/transactions/{id}/post", auth=None, control=True)
def post_transaction(req: Request) -> Response:
    body = dict(req.json())
    notify = body.pop("notify", False)
    old, new = req.state.post_transaction(req.params["id"], body)
    payloads = []
    if notify:
        payloads = [
            req.state.changed_event("transactions/deleted", [old]),
            req.state.created_event([new], req.base),
        ]
    return Response(201, new, after=_notify_after(req, payloads))


@router.route("POST", "/_emulator/faults", auth=None, control=True)
def add_faults(req: Request) -> Response:
    body = req.json()
    try:
        rules = req.state.faults.add(body)
    except (TypeError, ValueError) as exc:
        raise bad_request(f"bad fault: {exc}") from None
    expired = None
    if body.get("expire_keys") and not (body.get("after_pages") or body.get("after")):
        expired = req.state.expire_keys()
    return Response(201, {"faults": rules, "expiredKeys": expired})


@router.route("GET", "/_emulator/faults", auth=None, control=True)
def list_faults(req: Request) -> Response:
    return Response(200, {"faults": req.state.faults.snapshot()})


@router.route("DELETE", "/_emulator/faults", auth=None, control=True)
def clear_faults(req: Request) -> Response:
    count = len(req.state.faults.snapshot())
    req.state.faults.clear()
    return Response(200, {"count": count})


@router.route("POST", "/_emulator/webhooks/deliver", auth=None, control=True)
def deliver(req: Request) -> Response:
    body = dict(req.json())
    background = bool(body.pop("async", False))
    if not body.get("event"):
        raise bad_request("event is required")
    payload = req.state.complete_payload(body)
    targets = req.state.targets(payload)
    if background:
        req.emulator.outbox.put((payload, targets))
        return Response(202, {"eventId": payload["eventId"], "payload": payload, "deliveries": None})

    def run():
        results = req.emulator.deliver(payload, targets)
        return {"eventId": payload["eventId"], "payload": payload, "deliveries": results}

    return Response(200, None, after=run)


@router.route("POST", "/_emulator/connect/items", auth=None, control=True)
def connect_item(req: Request) -> Response:
    header = req.headers.get("authorization") or ""
    key = header[7:].strip() if header.lower().startswith("bearer ") else req.headers.get("x-api-key")
    token = req.state.connect_tokens.get(key or "")
    if token is None or not req.state.authenticate(key, connect_ok=True):
        raise ApiError(403, "Missing or invalid authorization token")
    return Response(200, req.state.connect_item(token, req.json()))


@router.route("GET", "/connect/pluggy-connect.js", auth=None, control=True)
def sdk(req: Request) -> Response:
    return Response(
        200,
        SDK_FILE.read_bytes(),
        {"Cache-Control": "no-cache"},
        content_type="application/javascript; charset=utf-8",
    )
