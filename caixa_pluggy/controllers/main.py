import json
import logging
import math

from odoo import _, http
from odoo.exceptions import AccessError, UserError
from odoo.http import request

from ..models.pluggy_webhook import WEBHOOK_SECRET_HEADER

_logger = logging.getLogger(__name__)

MAX_WEBHOOK_BODY = 1024 * 1024
MAX_ID_LENGTH = 128
# Pluggy's payloads are three levels deep; far deeper ones are not Pluggy's, and would exhaust Python's
# recursion on the way to the database.
MAX_WEBHOOK_DEPTH = 32


class CaixaPluggyController(http.Controller):
    # -------------------------------------------------------------------------
    # CONNECT (JSON-RPC, logged-in accounting administrators)
    # -------------------------------------------------------------------------

    @http.route("/caixa_pluggy/connect_token", type="json", auth="user", methods=["POST"])
    def connect_token(self, item_id=None, **kwargs):
        self._check_can_connect()
        item_id = self._optional_id(item_id)
        request.env["pluggy.api"]._check_rate_limit("connect_token")
        return request.env["pluggy.item"]._connect_token_for(item_id)

    @http.route("/caixa_pluggy/callback", type="json", auth="user", methods=["POST"])
    def callback(self, item_id=None, **kwargs):
        self._check_can_connect()
        item_id = self._optional_id(item_id)
        if not item_id:
            raise UserError(
                _("The bank connection id is missing. Close this window and click Connect bank again.")
            )
        request.env["pluggy.api"]._check_rate_limit("callback")
        return request.env["pluggy.item"]._connect_callback(item_id)

    def _check_can_connect(self):
        if not request.env.user.has_group("account.group_account_manager"):
            raise AccessError(
                _(
                    "Only accounting administrators can connect banks. Ask one to do it, or ask for that "
                    "access right."
                )
            )

    def _optional_id(self, value):
        if value in (None, False, ""):
            return None
        # A NUL character or a lone surrogate would fail the connection's lookup in PostgreSQL with a 500.
        if not isinstance(value, str) or len(value) > MAX_ID_LENGTH or not _storable(value):
            raise UserError(
                _("The bank connection id is not valid. Close this window and click Connect bank again.")
            )
        return value

    # -------------------------------------------------------------------------
    # WEBHOOK (plain HTTP, public, authenticated by a shared secret header)
    # -------------------------------------------------------------------------

    @http.route(
        "/caixa_pluggy/webhook", type="http", auth="public", methods=["POST"], csrf=False, save_session=False
    )
    def webhook(self, **kwargs):
        httprequest = request.httprequest
        if (httprequest.content_length or 0) > MAX_WEBHOOK_BODY:
            return self._json_response({"error": "body too large"}, 400)
        received_secret = httprequest.headers.get(WEBHOOK_SECRET_HEADER)
        if not request.env["pluggy.webhook"].sudo()._check_secret(received_secret):
            return self._json_response({"error": "unauthorized"}, 401)
        # Odoo's request wrapper exposes no stream to read part of; a chunked body, which has no
        # Content-Length to check beforehand, is measured once read, as Odoo's own JSON routes read theirs.
        # Kept (cached): Odoo replays the whole request after a concurrency error and must read it again.
        body = httprequest.get_data()
        if len(body) > MAX_WEBHOOK_BODY:
            return self._json_response({"error": "body too large"}, 400)
        payload = self._parse_webhook(body)
        if payload is None:
            return self._json_response({"error": "malformed event"}, 400)
        created = request.env["pluggy.webhook.event"].sudo()._receive(payload)
        return self._json_response({"received": True, "duplicate": not created}, 200)

    def _parse_webhook(self, body):
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            return None
        if not isinstance(payload, dict) or not _storable(payload):
            return None
        # Only the event's name is required: the bodies of Pluggy's SDK tests and documentation examples have
        # no eventId, and the inbox then stores each delivery under a key made from its body.
        event = payload.get("event")
        if not isinstance(event, str) or not 0 < len(event) <= MAX_ID_LENGTH:
            return None
        return payload

    def _json_response(self, data, status):
        return request.make_json_response(data, status=status)


def _storable(payload):
    """Whether the inbox can keep this JSON as it is: what PostgreSQL refuses (NUL characters, lone
    surrogates, NaN and infinities) or nesting beyond any Pluggy payload would fail the insert with a 500."""
    stack = [(payload, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_WEBHOOK_DEPTH:
            return False
        if isinstance(value, dict):
            stack.extend((part, depth + 1) for pair in value.items() for part in pair)
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            if "\x00" in value or _has_lone_surrogate(value):
                return False
        elif isinstance(value, float) and not math.isfinite(value):
            return False
    return True


def _has_lone_surrogate(text):
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False
