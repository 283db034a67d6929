"""What the Connect widget stand-in asks of the emulator: log in to a bank, creating or refreshing an item."""

from __future__ import annotations

from .errors import bad_request
from .jsonio import now_iso

# Sandbox users that force an outcome (Pluggy Bank docs); any other bad login is INVALID_CREDENTIALS.
LOGIN_OUTCOMES = {
    "user-locked": ("LOGIN_ERROR", "ACCOUNT_LOCKED", "Account is locked"),
    "user-error": ("OUTDATED", "UNEXPECTED_ERROR", "Unexpected error"),
    "user-unavailable": ("OUTDATED", "SITE_NOT_AVAILABLE", "Site not available"),
    "user-logged": ("OUTDATED", "ALREADY_LOGGED_IN", "User is already logged in"),
}


class ConnectMixin:
    """Mixed into State: ``POST /_emulator/connect/items`` (authorised by a connect token)."""

    def connect_item(self, token: dict, body: dict) -> dict:
        """What the Connect widget does on submit: create (or, in update mode, refresh) an item."""
        params = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
        user, password = str(params.get("user", "")), str(params.get("password", ""))
        item_id = token["itemId"]
        if item_id:
            item = self.get_item(item_id, token)
            connector = item["connector"]
        else:
            connector = self.connector(body.get("connectorId", 0))
            item = None
        if connector["health"]["status"] == "OFFLINE":
            raise bad_request(f"Connector {connector['name']} is offline", "CONNECTOR_OFFLINE")
        if item is not None and not params:  # update mode without a form: reuse the stored credentials
            user = self.item_meta[item["id"]]["user"] or ""
            password = "password-ok" if user == "user-ok" else ""
        ok = user == "user-ok" and password == "password-ok"
        if item is None:  # a retry after a failed login goes on with the item that failed, as the widget does
            item = next(
                (
                    self.items[i]
                    for i in token["items"]
                    if i in self.items
                    and self.items[i]["connector"]["id"] == connector["id"]
                    and self.items[i]["status"] == "LOGIN_ERROR"
                ),
                None,
            )
        if item is None and ok and token["avoidDuplicates"]:
            item = next(
                (
                    i
                    for i_id, i in self.items.items()
                    if i["connector"]["id"] == connector["id"]
                    and i["clientUserId"] == token["clientUserId"]
                    and self.item_meta[i_id]["user"] == user
                ),
                None,
            )
        if item is None:
            item = self.create_item(
                connector_id=connector["id"],
                client_user_id=token["clientUserId"],
                bank_accounts=0,
                credit_accounts=0,
                webhook_url=token["webhookUrl"],
                oauth_redirect_uri=token["oauthRedirectUri"],
                user=user,
            )
            token["items"].add(item["id"])
        first_success = ok and not self.item_accounts(item["id"])
        if first_success:
            config = self.config
            self.add_accounts(item["id"], config.connect_transactions, config.connect_history_days, 2)
        meta = self.item_meta[item["id"]]
        if ok:
            meta["user"] = user
            self._mark_updated(item, consecutiveFailedLoginAttempts=0)
            event = "item/created" if first_success else "item/updated"
        else:
            status, code, message = LOGIN_OUTCOMES.get(
                user, ("LOGIN_ERROR", "INVALID_CREDENTIALS", "Invalid credentials")
            )
            item.update(
                status=status,
                executionStatus=code,
                error={"code": code, "message": message},
                updatedAt=now_iso(),
                nextAutoSyncAt=None,
            )
            if status == "LOGIN_ERROR":
                item["consecutiveFailedLoginAttempts"] += 1
            event = "item/error"
        if self.config.auto_webhooks:
            self.notify(self.item_event(event, item, "USER"))
        return item
