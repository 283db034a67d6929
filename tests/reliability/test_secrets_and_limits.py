"""Secrets and limits on a real server: the client secret, the API keys and the webhook secret appear in no
JSON-RPC reply, web page, export or log line of a full connect, sync, webhook and settings session logged at
DEBUG everywhere; and a burst of connect calls by one user is told when to try again, whichever worker
answers.
"""

import re

from flows import account_ids, connect_bank, drain_inbox, lines_by_account, sync_now
from harness import get_param

# Everything at DEBUG: Odoo, its SQL and RPC loggers (query parameters, request and response bodies), and
# every library (httpx, httpcore, werkzeug...).
DEBUG_EVERYWHERE = (
    "--log-handler=:DEBUG",
    "--log-handler=odoo.sql_db:DEBUG",
    "--log-handler=odoo.http.rpc:DEBUG",
)
RATE_LIMIT = 10  # calls per user and route per minute, all workers together (models/pluggy_rate_limit.py)
TRY_AGAIN = re.compile(r"Try again in (\d+) s")


def test_no_secret_in_any_reply_page_export_or_log_line_at_debug(odoo, pluggy, figures):
    db = odoo.new_db()
    server = odoo.server(db, workers=2, log_level="debug", extra=DEBUG_EVERYWHERE)
    admin = server.session()
    admin.call("ir.config_parameter", "set_param", "web.base.url", server.url)
    webhook_secret = get_param(db, "caixa_pluggy.webhook_secret")

    # Settings: test the connection and register the webhooks (the secret goes to Pluggy as a header).
    settings_fields = list(admin.call("res.config.settings", "fields_get", attributes=["type"]))
    admin.call("res.config.settings", "default_get", settings_fields)
    settings_id = admin.call("res.config.settings", "create", {})
    (values,) = admin.call("res.config.settings", "read", [settings_id], settings_fields)
    admin.call("res.config.settings", "action_pluggy_test_connection", [settings_id])
    admin.call("res.config.settings", "action_pluggy_register_webhooks", [settings_id])
    assert values["pluggy_client_secret_set"] is True
    assert {hook["headers"].get("X-Caixa-Pluggy-Secret") for hook in pluggy.state.webhooks.values()} == {
        webhook_secret
    }

    # Connect a bank, sync it, and let Pluggy send a webhook the way it does, with the secret header.
    item, _result = connect_bank(admin, pluggy, transactions=12, pending=1)
    ours = account_ids(item)
    sync_now(admin, db, ours)
    pluggy.control("POST", f"/accounts/{ours[0]}/transactions", {"amount": "-3.21", "notify": True})
    drain_inbox(admin, db)
    assert lines_by_account(db, ours) == pluggy.expected_lines(ours)

    # What an administrator's browser gets: pages, menus, session, lists, forms, exports, the dashboard.
    for path in ("/odoo", "/odoo/settings", "/web/webclient/load_menus", "/web/session/get_session_info"):
        admin.get(path)
    for model in ("pluggy.item", "pluggy.account", "pluggy.webhook.event", "account.bank.statement.line"):
        fields = [
            name
            for name, field in admin.call(model, "fields_get", attributes=["exportable", "type"]).items()
            if field.get("exportable", True) and field["type"] not in ("one2many", "many2many")
        ]
        ids = admin.call(model, "search", [])
        admin.call(model, "read", ids, fields)
        admin.call(model, "export_data", ids, fields)
    admin.call("account.journal", "search_read", [("pluggy_account_id", "!=", False)], ["kanban_dashboard"])
    admin.call("res.config.settings", "get_views", [[False, "form"]])

    secrets = {"client secret": pluggy.state.config.client_secret, "webhook secret": webhook_secret}
    secrets.update({f"API key {index}": key for index, key in enumerate(pluggy.api_keys())})
    assert len(secrets) > 2, "Odoo authenticated at Pluggy"
    log = server.log()
    assert "DEBUG" in log and "odoo.sql_db" in log, "the server logged at DEBUG"
    places = {"the server log": log, **{f"reply {index}": text for index, text in enumerate(admin.replies)}}
    leaks = [
        (label, place)
        for label, secret in secrets.items()
        for place, text in places.items()
        if secret in text
    ]
    assert leaks == []
    figures["secrets_checked_replies"] = len(admin.replies)
    figures["secrets_checked_log_lines"] = log.count("\n")
    figures["secrets_leaked"] = len(leaks)


def test_a_burst_of_connect_calls_by_one_user_is_told_when_to_try_again(odoo, pluggy, figures):
    db = odoo.new_db()
    workers = 2
    server = odoo.server(db, workers=workers)
    admin = server.session()
    burst = 3 * workers * RATE_LIMIT
    outcomes = {}
    for route, params in (
        ("/caixa_pluggy/connect_token", {}),
        ("/caixa_pluggy/callback", {"item_id": "5f0f1e5e-0000-4000-8000-000000000000"}),
    ):
        replies = [admin.json(route, params) for _call in range(burst)]
        told = [TRY_AGAIN.search(reply["error"]["data"]["message"]) for reply in replies if "error" in reply]
        waits = [int(match.group(1)) for match in told if match]
        passed = burst - len(waits)
        # The limit is kept in the database: the workers together let exactly the limit through, even on the
        # callback, whose calls all fail (an item Pluggy does not know) and roll their request back.
        assert passed == RATE_LIMIT, f"{route}: {passed} calls passed"
        assert len(waits) == burst - RATE_LIMIT
        assert all(1 <= wait <= 60 for wait in waits), waits
        outcomes[route] = (passed, len(waits))

    # Another user is not held back by the first one's burst.
    group_ids = [
        admin.call("ir.model.data", "check_object_reference", *xmlid.split("."))[1]
        for xmlid in ("base.group_user", "account.group_account_manager")
    ]
    user = {
        "name": "Second admin",
        "login": "second",
        "password": "second-pass",
        "groups_id": [(6, 0, group_ids)],
    }
    admin.call("res.users", "create", user)
    other = server.session("second", "second-pass")
    reply = other.json("/caixa_pluggy/connect_token")
    assert "result" in reply, reply
    figures["rate_limit_burst"] = burst
    figures["rate_limit_passed_refused"] = outcomes
