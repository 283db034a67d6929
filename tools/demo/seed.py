"""Seed the demo database: settings pointing at the emulator, a connected demo bank, an invoice to reconcile.

Runs inside ``odoo-bin shell`` (``env`` is the superuser environment), started by ./run-demo and by the
docker-compose init service through tools/demo/seed_shell.py. Safe to run again: each step looks for what an
earlier run made and only adds what is missing, then syncs the bank again.

Settings come from the environment:
  DEMO_EMULATOR_URL   the emulator as Odoo reaches it (API and control API), e.g. http://127.0.0.1:8787
  DEMO_SDK_URL        the Connect script as the browser reaches it (default: $DEMO_EMULATOR_URL/connect/...)
  DEMO_SET_PARAMS     1 (default): store client id, secret, API and SDK URLs as system parameters;
                      0: leave them to the PLUGGY_* environment variables (docker-compose)
  DEMO_CLIENT_ID, DEMO_CLIENT_SECRET   the emulator's credentials (default: its demo ones)
"""

import json
import os
import urllib.request
from datetime import timedelta

from odoo import Command

ANCHOR_PARAM = "caixa_pluggy_demo.emulator_today"
COMPANY_NAME = "Caixa Demo Ltda"
DEFAULT_COMPANY_NAMES = ("My Company", "YourCompany", "Your Company")
INVOICE_ORIGIN = "caixa_pluggy demo"
# The sandbox bank of Pluggy (connector 0): connecting it again from the widget with user-ok/password-ok finds
# this same item (avoidDuplicates), so the demo bank and the one a newcomer connects are one connection.
DEMO_CONNECTOR_ID = 0
DEMO_BANK_USER = "user-ok"
DEMO_ITEM = {"transactions": 120, "history_days": 120, "pending": 2}


def log(message):
    print(f"seed: {message}", flush=True)


def emulator_call(base_url, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        base_url.rstrip("/") + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - a local emulator URL
        return json.loads(response.read() or b"null")


# -----------------------------------------------------------------------------
# COMPANY, USER, SETTINGS
# -----------------------------------------------------------------------------


def prepare_company(env):
    company = env.ref("base.main_company")
    if company.name in DEFAULT_COMPANY_NAMES:
        company.name = COMPANY_NAME
    if company.chart_template != "br":
        log(f"warning: company {company.name} has chart {company.chart_template!r}, not the Brazilian one")
    admin = env.ref("base.user_admin")
    # Community's accounting screens (journal items, reconciliation) are for "Show Full Accounting Features".
    admin.groups_id = [Command.link(env.ref("account.group_account_user").id)]
    if not admin.tz:
        admin.tz = "America/Sao_Paulo"
    return company, admin


def store_settings(env, emulator_url):
    params = env["ir.config_parameter"].sudo()
    if os.environ.get("DEMO_SET_PARAMS", "1") == "1":
        params.set_param("caixa_pluggy.client_id", os.environ.get("DEMO_CLIENT_ID", "demo-client-id"))
        params.set_param(
            "caixa_pluggy.client_secret", os.environ.get("DEMO_CLIENT_SECRET", "demo-client-secret")
        )
        params.set_param("caixa_pluggy.api_url", emulator_url)
        params.set_param(
            "caixa_pluggy.sdk_url",
            os.environ.get("DEMO_SDK_URL") or emulator_url.rstrip("/") + "/connect/pluggy-connect.js",
        )
    params.set_param("caixa_pluggy.include_sandbox", "True")


# -----------------------------------------------------------------------------
# THE DEMO BANK
# -----------------------------------------------------------------------------


def emulator_item_id(env, emulator_url, client_user_id):
    """The emulator's demo item of this company: the one it has, else a new one.

    The emulator keeps its data in memory and generates it from a seed and a date: a new item is generated as
    of the date this database first saw it, so that a restarted emulator gives back the same bank, rows, ids.
    """
    state = emulator_call(emulator_url, "GET", "/_emulator/state")
    for item in state.get("items", []):
        if item["clientUserId"] == client_user_id and item["connectorId"] == DEMO_CONNECTOR_ID:
            return item["id"]
    params = env["ir.config_parameter"].sudo()
    anchor = params.get_param(ANCHOR_PARAM)
    if not anchor:
        params.set_param(ANCHOR_PARAM, state["today"])
    elif anchor != state["today"]:
        emulator_call(emulator_url, "PATCH", "/_emulator/config", {"today": anchor})
    body = {
        "clientUserId": client_user_id,
        "connectorId": DEMO_CONNECTOR_ID,
        "user": DEMO_BANK_USER,
        **DEMO_ITEM,
    }
    return emulator_call(emulator_url, "POST", "/_emulator/items", body)["id"]


def connect_demo_bank(env, company, admin, emulator_url):
    """Register the emulator's item exactly as the Connect widget's callback does, then sync it in full."""
    Item = env["pluggy.item"].with_user(admin).with_company(company)
    client_user_id = env["pluggy.api"]._client_user_id(company)
    item_id = emulator_item_id(env, emulator_url, client_user_id)
    connection = Item.with_context(active_test=False).search([("pluggy_item_id", "=", item_id)])
    if not connection.active:
        Item._connect_callback(item_id)
        env.cr.commit()
        connection = Item.search([("pluggy_item_id", "=", item_id)])
        log(f"connected {connection.name} ({len(connection.account_ids)} accounts)")
    # The callback imports the last days at once and leaves the history to the cron: do it now.
    accounts = connection.account_ids.filtered("journal_id")
    summary = accounts._sync()
    # What an accountant does after a first sync: accept the offered opening line, so that each journal's
    # balance equals the bank's (a no-op once they agree).
    accounts.action_create_opening_balance()
    env.cr.commit()
    log(f"synced {connection.name}: {summary.message(env)}")
    return connection


def demo_invoice(env, company, connection):
    """A customer invoice for the amount of one imported PIX credit, so that a newcomer can reconcile it."""
    Move = env["account.move"].with_company(company)
    invoice = Move.search([("invoice_origin", "=", INVOICE_ORIGIN), ("company_id", "=", company.id)], limit=1)
    if invoice:
        return invoice
    line = pick_pix_credit(env, connection)
    if not line:
        log("warning: no PIX credit imported: no demo invoice")
        return invoice
    partner = customer_for(env, company, line)
    if not line.partner_id:
        line.partner_id = partner
    invoice = Move.create(
        {
            "move_type": "out_invoice",
            "partner_id": partner.id,
            "invoice_date": line.date - timedelta(days=5),
            "invoice_origin": INVOICE_ORIGIN,
            "invoice_line_ids": [
                Command.create(
                    {
                        "name": "Consultoria contábil",
                        "quantity": 1,
                        "price_unit": line.amount,
                        "tax_ids": [Command.clear()],
                    }
                )
            ],
        }
    )
    invoice.action_post()
    env.cr.commit()
    log(f"invoice {invoice.name} for {partner.name}, {line.amount:.2f}, matches the PIX of {line.date}")
    return invoice


def pick_pix_credit(env, connection):
    """The latest unreconciled PIX received from a business (a CNPJ), else from anyone."""
    lines = env["account.bank.statement.line"].search(
        [
            ("journal_id", "in", connection.account_ids.journal_id.filtered(lambda j: j.type == "bank").ids),
            ("transaction_type", "=", "PIX"),
            ("amount", ">", 0),
            ("is_reconciled", "=", False),
            ("pluggy_pending", "=", False),
            ("partner_name", "!=", False),
        ],
        order="date desc, id desc",
    )
    return lines.filtered(lambda line: len(line.pluggy_partner_vat or "") == 14)[:1] or lines[:1]


def customer_for(env, company, line):
    vat = line.pluggy_partner_vat
    Partner = env["res.partner"]
    partner = Partner.search([("vat", "=", vat)], limit=1) if vat else Partner
    return partner or Partner.create(
        {
            "name": line.partner_name,
            "vat": vat or False,
            "is_company": len(vat or "") == 14,
            "country_id": env.ref("base.br").id,
            "company_id": False,
        }
    )


# -----------------------------------------------------------------------------
# ENTRY POINT
# -----------------------------------------------------------------------------


def main(env):
    emulator_url = os.environ["DEMO_EMULATOR_URL"].rstrip("/")
    company, admin = prepare_company(env)
    store_settings(env, emulator_url)
    env.cr.commit()
    api_url = env["pluggy.api"]._get_setting("caixa_pluggy.api_url").rstrip("/")
    if api_url != emulator_url:
        log(f"Odoo talks to {api_url}, not to the emulator: no demo bank is connected")
        return
    connection = connect_demo_bank(env, company, admin, emulator_url)
    demo_invoice(env, company, connection)
    lines = env["account.bank.statement.line"].search_count(
        [("journal_id", "in", connection.journal_ids.ids)]
    )
    log(f"ready: {connection.name} connected to {company.name}, {lines} statement lines")
