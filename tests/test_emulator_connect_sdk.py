"""The Connect SDK stand-in in a real headless Chromium: pick Pluggy Bank, fail a login, succeed, close.

Skipped where no Chromium is installed (./run-tests installs Debian's chromium for the tours)."""

import functools
import json
import re
import shutil
import subprocess
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tools.pluggy_emulator import start_emulator

pytestmark = pytest.mark.emulator
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")

# Drives the widget with the selectors the README promises to tour authors, logging every callback.
PAGE = """<!DOCTYPE html><html><head><script src="EMU/connect/pluggy-connect.js"></script></head>
<body><pre id="out">pending</pre><script>
const log = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(sel) {
  for (let i = 0; i < 400; i++) { const n = document.querySelector(sel); if (n) return n; await sleep(25); }
  throw new Error("timeout waiting for " + sel);
}
(async () => {
  try {
    const pc = new PluggyConnect({connectToken: "TOKEN", includeSandbox: true, language: "en",
      onSuccess: ({item}) => log.push(["success", item.id, item.clientUserId, item.status]),
      onError: (e) => log.push(["error", e.message, e.data && e.data.item.id, e.data && e.data.item.status]),
      onEvent: (e) => log.push(["event", e.event, typeof e.timestamp]),
      onOpen: () => log.push(["open"]), onClose: () => log.push(["close"])});
    await pc.init();
    (await waitFor(".pluggy-connect-stub .pluggy-connect-connector[data-connector-id='0']")).click();
    const form = await waitFor("form.pluggy-connect-login");
    form.querySelector("[name=user]").value = "someone";
    form.querySelector("[name=password]").value = "x";
    form.querySelector("button[type=submit]").click();
    log.push(["shown", (await waitFor(".pluggy-connect-error:not([hidden])")).textContent]);
    document.querySelector("[name=user]").value = "user-ok";
    document.querySelector("[name=password]").value = "password-ok";
    document.querySelector("button[type=submit]").click();
    (await waitFor(".pluggy-connect-success .pluggy-connect-done")).click();
    log.push(["left", document.querySelectorAll(".pluggy-connect-stub").length]);
  } catch (e) { log.push(["exception", String(e)]); }
  document.getElementById("out").textContent = JSON.stringify(log);
})();
</script></body></html>"""


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine")
def test_widget_flow_in_headless_chromium():
    with start_emulator(port=0) as emulator, httpx.Client(base_url=emulator.url) as http:
        key = http.post("/auth", json={"clientId": "demo-client-id", "clientSecret": "demo-client-secret"})
        headers = {"X-API-KEY": key.json()["apiKey"]}
        token = http.post("/connect_token", headers=headers, json={"options": {"clientUserId": "db:9"}})
        with tempfile.TemporaryDirectory() as folder:
            page = PAGE.replace("EMU", emulator.url).replace("TOKEN", token.json()["accessToken"])
            Path(folder, "index.html").write_text(page)
            handler = functools.partial(_QuietFiles, directory=folder)
            site = ThreadingHTTPServer(("127.0.0.1", 0), handler)
            threading.Thread(target=site.serve_forever, args=(0.05,), daemon=True).start()
            try:
                command = [
                    CHROMIUM,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    f"--user-data-dir={folder}/p",
                    "--virtual-time-budget=30000",
                    "--dump-dom",
                    f"http://127.0.0.1:{site.server_port}/",
                ]
                dom = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120).stdout
            finally:
                site.shutdown()
                site.server_close()
        found = re.search(r'<pre id="out">(.*?)</pre>', dom, re.DOTALL)
        assert found, dom[-2000:]
        log = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
        failed, succeeded = log[4], log[9]
        assert [entry[:2] for entry in log] == [
            ["open"],
            ["event", "SELECTED_INSTITUTION"],
            ["event", "SUBMITTED_LOGIN"],
            ["event", "ITEM_RESPONSE"],
            ["error", "Invalid credentials"],
            ["shown", "Invalid credentials"],
            ["event", "SUBMITTED_LOGIN"],
            ["event", "ITEM_RESPONSE"],
            ["event", "LOGIN_SUCCESS"],
            ["success", succeeded[1]],
            ["close"],
            ["left", 0],
        ]
        assert failed[0] == "error" and failed[3] == "LOGIN_ERROR"
        assert succeeded[0] == "success" and succeeded[2:] == ["db:9", "UPDATED"]
        assert failed[2] == succeeded[1]  # the retry logs in on the item that failed, as the widget does
        item = http.get(f"/items/{succeeded[1]}", headers=headers).json()
        assert item["clientUserId"] == "db:9" and item["status"] == "UPDATED"
        assert len(http.get(f"/accounts?itemId={item['id']}", headers=headers).json()["results"]) == 2


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
