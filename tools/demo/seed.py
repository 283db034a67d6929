"""Seed the demo database: settings pointing at the emulator, a connected demo bank, invoices its PIX pay.

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
from datetime import date, timedelta

from odoo import Command

ANCHOR_PARAM = "caixa_pluggy_demo.emulator_today"
COMPANY_NAME = "Caixa Demo Ltda"
DEFAULT_COMPANY_NAMES = ("My Company", "YourCompany", "Your Company")
INVOICE_ORIGIN = "caixa_pluggy demo"
# An invoice whose PIX charge reference the payer quoted: the sync reconciles it by itself.
MATCHED_INVOICE_ORIGIN = "caixa_pluggy demo (PIX reference)"
# The sandbox bank of Pluggy (connector 0): connecting it again from the widget with user-ok/password-ok finds
# this same item (avoidDuplicates), so the demo bank and the one a newcomer connects are one connection.
DEMO_CONNECTOR_ID = 0
DEMO_BANK_USER = "user-ok"
# The card shows two paid bills and the last closed one, not yet due (the emulator picks its closing day).
DEMO_ITEM = {"transactions": 120, "history_days": 120, "pending": 2, "card_bills": 3}


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
        invoice_paid_by_reference(env, company, item_id)
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


def invoice_paid_by_reference(env, company, item_id):
    """Before the bank's rows are imported: an invoice for one of its PIX credits, carrying the reference the
    payer quoted (the txid of the invoice's PIX charge), which the sync then reconciles by itself."""
    Move = env["account.move"].with_company(company)
    if Move.search_count([("invoice_origin", "=", MATCHED_INVOICE_ORIGIN), ("company_id", "=", company.id)]):
        return
    client = env["pluggy.api"]._get_client()
    with client:
        rows = [
            tx
            for account in client.list_accounts(item_id)
            if account["type"] == "BANK"
            for tx in client.iter_transactions(account["id"])
        ]
    rows = [
        tx
        for tx in rows
        if tx.get("status") == "POSTED"
        and tx["type"] == "CREDIT"
        and (tx.get("paymentData") or {}).get("receiverReferenceId")
    ]
    if not rows:
        log("warning: the demo bank has no PIX with a reference: no invoice reconciled by itself")
        return
    tx = max(rows, key=lambda row: row["date"])
    payer = tx["paymentData"].get("payer") or {}
    # A customer whose CNPJ is not on file (the invoice's customer, maybe not the account that paid): only the
    # reference the PIX quotes says which invoice it pays.
    partner = partner_for(env, payer.get("name") or "Cliente PIX", None)
    invoice = new_invoice(env, company, partner, tx["amount"], tx["date"][:10], MATCHED_INVOICE_ORIGIN)
    invoice.payment_reference = tx["paymentData"]["receiverReferenceId"]
    env.cr.commit()
    log(f"invoice {invoice.name} ({invoice.payment_reference}) for {partner.name}: its PIX reconciles it")


def new_invoice(env, company, partner, amount, day, origin):
    invoice = (
        env["account.move"]
        .with_company(company)
        .create(
            {
                "move_type": "out_invoice",
                "partner_id": partner.id,
                "invoice_date": date.fromisoformat(str(day)) - timedelta(days=5),
                "invoice_origin": origin,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": "Consultoria contábil",
                            "quantity": 1,
                            "price_unit": float(amount),
                            "tax_ids": [Command.clear()],
                        }
                    )
                ],
            }
        )
    )
    invoice.action_post()
    return invoice


def demo_invoice(env, company, connection):
    """A customer invoice for the amount of one imported PIX credit: matched on its payer and amount, so
    proposed, and left to a newcomer to reconcile."""
    Move = env["account.move"].with_company(company)
    invoice = Move.search([("invoice_origin", "=", INVOICE_ORIGIN), ("company_id", "=", company.id)], limit=1)
    if invoice:
        return invoice
    line = pick_pix_credit(env, connection)
    if not line:
        log("warning: no PIX credit imported: no demo invoice")
        return invoice
    partner = partner_for(env, line.partner_name, line.pluggy_partner_vat)
    if not line.partner_id:
        line.partner_id = partner
    invoice = new_invoice(env, company, partner, line.amount, line.date, INVOICE_ORIGIN)
    # Posted after its payment was imported, as often: the accountant's "Find matches" proposes the pair.
    line.action_pluggy_find_matches()
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


def partner_for(env, name, vat):
    """The company's customer with this CPF/CNPJ, created as an accountant would from the payer's data."""
    vat = "".join(char for char in str(vat or "") if char.isalnum()) or False
    Partner = env["res.partner"]
    partner = Partner.search([("vat", "=", vat)], limit=1) if vat else Partner
    return partner or Partner.create(
        {
            "name": name,
            "vat": vat,
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
