"""Take the README's screenshots from headless Chromium against a running demo (./run-demo).

    python tools/screenshots/take.py [--url http://127.0.0.1:8069] [--db caixa_pluggy_demo] [--out DIR]

Logs in as admin/admin, then saves:
  dashboard.png        Invoicing > Dashboard with the Pluggy journals
  connection.png       the demo bank's connection: bank logo, Pluggy status, accounts and their journals
  reconciliation.png   the checking account's imported lines in OCA's reconciliation screen, with the PIX that
                       matches the demo invoice open

Chromium is driven over the DevTools protocol with websocket-client (the package Odoo's own browser tests
use): no other browser tooling to install. Needs Debian's chromium (or $CHROMIUM).
"""

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import websocket

REPO = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 1400, 860
DEMO_INVOICE_ORIGIN = "caixa_pluggy demo"


# -----------------------------------------------------------------------------
# ODOO OVER JSON-RPC: the session cookie and the records to show
# -----------------------------------------------------------------------------


class Odoo:
    def __init__(self, url, db, login, password):
        self.url = url.rstrip("/")
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        self.rpc("/web/session/authenticate", {"db": db, "login": login, "password": password})

    def rpc(self, path, params):
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "params": params}).encode()
        request = urllib.request.Request(self.url + path, body, {"Content-Type": "application/json"})
        with self.opener.open(request, timeout=60) as response:
            answer = json.loads(response.read())
        if answer.get("error"):
            raise RuntimeError(f"{path}: {answer['error']['data']['message']}")
        return answer["result"]

    def call(self, model, method, *args, **kwargs):
        params = {"model": model, "method": method, "args": list(args), "kwargs": kwargs}
        return self.rpc(f"/web/dataset/call_kw/{model}/{method}", params)

    def session_id(self):
        return next(cookie.value for cookie in self.cookies if cookie.name == "session_id")

    def demo_records(self):
        """The demo bank's connection, its checking account's journal, the PIX line of the demo invoice, a PIX
        line reconciled by itself and a card bill with finance charges."""
        items = self.call("pluggy.item", "search_read", [], ["id", "account_ids"], limit=1, order="id")
        if not items:
            raise RuntimeError("no bank connection in this database: run ./run-demo first")
        journals = self.call(
            "pluggy.account",
            "search_read",
            [("item_id", "=", items[0]["id"])],
            ["account_type", "journal_id"],
        )
        bank = next(account["journal_id"][0] for account in journals if account["account_type"] == "BANK")
        invoices = self.call(
            "account.move", "search_read", [("invoice_origin", "=", DEMO_INVOICE_ORIGIN)], ["amount_total"]
        )
        line_ref = None
        if invoices:
            lines = self.call(
                "account.bank.statement.line",
                "search_read",
                [("journal_id", "=", bank), ("amount", "=", invoices[0]["amount_total"])],
                ["payment_ref"],
                limit=1,
            )
            line_ref = lines[0]["payment_ref"] if lines else None
        matched = self.call(
            "account.bank.statement.line",
            "search_read",
            [("journal_id", "=", bank), ("pluggy_match_state", "=", "reconciled")],
            ["id"],
            limit=1,
        )
        bills = self.call("pluggy.card.bill", "search_read", [("charges_amount", ">", 0)], ["id"], limit=1)
        return (
            items[0]["id"],
            bank,
            line_ref,
            matched[0]["id"] if matched else None,
            bills[0]["id"] if bills else None,
        )


# -----------------------------------------------------------------------------
# CHROMIUM OVER THE DEVTOOLS PROTOCOL
# -----------------------------------------------------------------------------


class Browser:
    def __init__(self, executable):
        self.profile = tempfile.mkdtemp(prefix="caixa-pluggy-shots-")
        self.process = subprocess.Popen(
            [
                executable,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-extensions",
                "--no-first-run",
                "--hide-scrollbars",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={self.profile}",
                f"--window-size={WIDTH},{HEIGHT}",
                "--lang=en-US",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port = self._devtools_port()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            target = next(t for t in json.loads(response.read()) if t["type"] == "page")
        self.ws = websocket.create_connection(
            target["webSocketDebuggerUrl"], suppress_origin=True, timeout=60
        )
        self.next_id = 0

    def _devtools_port(self):
        port_file = Path(self.profile, "DevToolsActivePort")
        for _ in range(200):
            if port_file.is_file() and port_file.stat().st_size > 5:
                return int(port_file.read_text().splitlines()[0])
            time.sleep(0.1)
        raise RuntimeError("Chromium did not open its DevTools port")

    def send(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:60]}...: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression, what, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.evaluate(expression):
                return
            time.sleep(0.2)
        raise RuntimeError(f"timed out waiting for {what}")

    def settle(self):
        """Until no RPC is running and every image has loaded, then a moment for the last paint."""
        self.wait_for(
            "!document.querySelector('.o_loading_indicator, .o_blockUI')"
            " && [...document.images].every(img => img.complete)",
            "the page to settle",
        )
        time.sleep(0.8)

    def screenshot(self, path):
        data = self.send("Page.captureScreenshot", format="png")["data"]
        Path(path).write_bytes(base64.b64decode(data))
        print(f"take.py: {Path(path).relative_to(REPO) if Path(path).is_relative_to(REPO) else path}")

    def close(self):
        try:
            self.ws.close()
        finally:
            self.process.terminate()
            self.process.wait(timeout=10)
            shutil.rmtree(self.profile, ignore_errors=True)


# -----------------------------------------------------------------------------
# THE SHOTS
# -----------------------------------------------------------------------------

WEB_CLIENT_READY = "!!(window.odoo && odoo.__WOWL_DEBUG__ && document.querySelector('.o_action_manager > *'))"


def open_page(browser, url, ready, what):
    browser.send("Page.navigate", url=url)
    browser.wait_for(WEB_CLIENT_READY, "the web client")
    browser.wait_for(f"!!document.querySelector({json.dumps(ready)})", what)
    browser.settle()


def do_action(browser, xmlid, context, ready, what):
    action = json.dumps(xmlid)
    browser.evaluate(
        f"odoo.__WOWL_DEBUG__.root.env.services.action.doAction({action}, "
        f"{{additionalContext: {json.dumps(context)}, clearBreadcrumbs: true}})"
    )
    browser.wait_for(f"!!document.querySelector({json.dumps(ready)})", what)
    browser.settle()


def take(args):
    odoo = Odoo(args.url, args.db, args.login, args.password)
    item_id, bank_journal_id, pix_ref, matched_line_id, bill_id = odoo.demo_records()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    browser = Browser(args.chromium)
    try:
        browser.send("Page.enable")
        browser.send(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=HEIGHT,
            deviceScaleFactor=1,
            mobile=False,
        )
        host = args.url.split("://", 1)[1].split("/", 1)[0].split(":")[0]
        browser.send("Network.enable")
        browser.send("Network.setCookie", name="session_id", value=odoo.session_id(), domain=host, path="/")

        open_page(
            browser,
            f"{args.url}/odoo/action-account.open_account_journal_dashboard_kanban",
            ".o_kanban_record",
            "the accounting dashboard",
        )
        browser.screenshot(out / "dashboard.png")

        open_page(
            browser,
            f"{args.url}/odoo/action-caixa_pluggy.action_pluggy_item/{item_id}",
            ".o_form_view .o_field_one2many .o_data_row",
            "the connection form",
        )
        browser.screenshot(out / "connection.png")

        if matched_line_id:
            open_page(
                browser,
                f"{args.url}/odoo/action-caixa_pluggy.action_pluggy_statement_lines/{matched_line_id}",
                ".o_form_view .alert-success",
                "a PIX reconciled by itself",
            )
            browser.screenshot(out / "auto_reconciled_pix.png")

        if bill_id:
            open_page(
                browser,
                f"{args.url}/odoo/action-caixa_pluggy.action_pluggy_card_bills/{bill_id}",
                ".o_form_view .o_field_one2many .o_data_row",
                "a card bill with its charges",
            )
            browser.screenshot(out / "card_bill.png")

        do_action(
            browser,
            "account_reconcile_oca.action_bank_statement_line_reconcile",
            {"active_id": bank_journal_id},
            ".o_kanban_record",
            "the reconciliation screen",
        )
        if pix_ref:
            # Open the PIX that the demo invoice matches, so the shot shows the line beside its counterpart.
            browser.evaluate(
                "(() => { const card = [...document.querySelectorAll('.o_kanban_record')]"
                f".find(card => card.textContent.includes({json.dumps(pix_ref)}));"
                " if (card) { card.click(); card.scrollIntoView({block: 'center'}); } })()"
            )
            browser.wait_for(
                "!!document.querySelector('.o_account_reconcile_oca_form, .o_form_view')",
                "the reconciliation form",
            )
            browser.settle()
        browser.screenshot(out / "reconciliation.png")
    finally:
        browser.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('DEMO_PORT', '8069')}")
    parser.add_argument("--db", default=os.environ.get("DEMO_DB", "caixa_pluggy_demo"))
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    parser.add_argument(
        "--chromium", default=os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    )
    take(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
