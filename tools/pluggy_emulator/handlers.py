"""The public Pluggy API: auth, connect tokens, connectors, items, accounts, transactions, webhooks."""

from __future__ import annotations

import copy

from . import catalog
from .errors import ApiError, bad_request, not_found
from .jsonio import is_uuid
from .router import Request, Response, router


def _page(results: list) -> dict:
    return {"page": 1, "total": len(results), "totalPages": 1 if results else 0, "results": results}


@router.route("POST", "/auth", auth=None)
def auth(req: Request) -> Response:
    body = req.json()
    return Response(200, {"apiKey": req.state.issue_api_key(body.get("clientId"), body.get("clientSecret"))})


@router.route("POST", "/connect_token")
def connect_token(req: Request) -> Response:
    body = req.json()
    item_id = body.get("itemId")
    if item_id is not None and not is_uuid(item_id):
        raise not_found("ITEM")
    return Response(200, {"accessToken": req.state.issue_connect_token(item_id, body.get("options"))})


def _connector_json(connector: dict, health_details: bool) -> dict:
    data = copy.deepcopy(connector)
    if health_details:
        data["health"]["details"] = {
            "connectionRateLast6Hours": 97.5 if data["health"]["status"] == "ONLINE" else 41.0,
            "connectionsLast6Hours": 1240,
            "error": None,
        }
    return data


@router.route("GET", "/connectors", auth="connect")
def connectors(req: Request) -> Response:
    q = req.query
    countries = set(q["countries"].split(",")) if q.get("countries") else None
    types = set(q["types"].split(",")) if q.get("types") else None
    name = (q.get("name") or "").strip().lower()
    results = []
    for connector in req.state.connectors.values():
        if connector["isSandbox"] and not req.flag("sandbox"):
            continue
        if countries and connector["country"] not in countries or types and connector["type"] not in types:
            continue
        if name and name not in connector["name"].lower():
            continue
        if any(
            q.get(f) in ("true", "false") and str(connector[f]).lower() != q[f]
            for f in (
                "isOpenFinance",
                "supportsPaymentInitiation",
                "supportsSmartTransfers",
                "supportsAutomaticPix",
            )
        ):
            continue
        results.append(_connector_json(connector, req.flag("healthDetails")))
    return Response(200, _page(results))


@router.route("GET", "/connectors/{id}", auth="connect")
def connector(req: Request) -> Response:
    if not req.params["id"].isdigit():
        raise not_found("CONNECTOR")
    return Response(200, _connector_json(req.state.connector(req.params["id"]), req.flag("healthDetails")))


@router.route("GET", "/connect/icons/{id}", auth=None, control=True)
def connector_icon(req: Request) -> Response:
    connector = req.state.connector(req.params["id"].removesuffix(".svg"))
    svg = catalog.icon_svg(connector["name"], connector["primaryColor"])
    return Response(200, svg, {"Cache-Control": "max-age=3600"}, content_type="image/svg+xml")


@router.route("GET", "/items/{id}", auth="connect")
def get_item(req: Request) -> Response:
    return Response(200, req.state.get_item(req.params["id"], req.token))


@router.route("PATCH", "/items/{id}")
def patch_item(req: Request) -> Response:
    return Response(200, req.state.patch_item(req.params["id"], req.json()))


@router.route("DELETE", "/items/{id}")
def delete_item(req: Request) -> Response:
    return Response(200, req.state.delete_item(req.params["id"]))


@router.route("GET", "/accounts", auth="connect")
def accounts(req: Request) -> Response:
    item_id = req.query.get("itemId")
    if not item_id or not is_uuid(item_id):
        raise bad_request("itemId should not be null or undefined, itemId must be a UUID")
    kind = req.query.get("type")
    if kind and kind not in ("BANK", "CREDIT"):
        raise bad_request("type must be one of the following values: BANK, CREDIT")
    # The spec documents no 404 here: an unknown item (or another token's) is an empty page.
    visible = item_id in req.state.items and (req.token is None or item_id in req.token["items"])
    results = (
        [a for a in req.state.item_accounts(item_id) if not kind or a["type"] == kind] if visible else []
    )
    return Response(200, _page(results))


@router.route("GET", "/accounts/{id}")
def account(req: Request) -> Response:
    return Response(200, req.state.account(req.params["id"]))


@router.route("GET", "/v2/transactions")
def transactions_v2(req: Request) -> Response:
    return Response(200, req.state.transactions_page(req.query))


@router.route("GET", "/transactions")
def transactions_v1(req: Request) -> Response:
    # The emulator plays a newly created application, for which Pluggy already retired v1 listing.
    raise ApiError(410, "This endpoint is deprecated. Use GET /v2/transactions instead.")


@router.route("GET", "/bills")
def bills(req: Request) -> Response:
    return Response(200, req.state.bills_page(req.query))


@router.route("GET", "/bills/{id}")
def bill(req: Request) -> Response:
    return Response(200, req.state.bill(req.params["id"]))


@router.route("GET", "/transactions/{id}")
def transaction(req: Request) -> Response:
    return Response(200, req.state.transaction(req.params["id"]))


@router.route("POST", "/webhooks")
def create_webhook(req: Request) -> Response:
    return Response(201, req.state.create_webhook(req.json()))


@router.route("GET", "/webhooks")
def list_webhooks(req: Request) -> Response:
    return Response(200, _page(list(req.state.webhooks.values())))


@router.route("GET", "/webhooks/{id}")
def get_webhook(req: Request) -> Response:
    return Response(200, req.state.get_webhook(req.params["id"]))


@router.route("PATCH", "/webhooks/{id}")
def update_webhook(req: Request) -> Response:
    return Response(200, req.state.update_webhook(req.params["id"], req.json()))


@router.route("DELETE", "/webhooks/{id}")
def delete_webhook(req: Request) -> Response:
    return Response(200, req.state.delete_webhook(req.params["id"]))
