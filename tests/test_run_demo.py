"""The newcomer's command, ./run-demo, end to end: a real Odoo 18 on the local PostgreSQL, as the README says.

Runs only where Odoo is (``$ODOO_PATH``, default /opt/odoo): a newcomer's first run creates the database,
so this takes a few minutes. It uses a throwaway database and free ports, and drops the database at the end.
On that database it then walks the newcomer's first hour in headless Chromium
(caixa_pluggy/tests/test_newcomer_tour.py): connect a bank, sync, reconcile an imported PIX.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ODOO_PATH = Path(os.environ.get("ODOO_PATH", "/opt/odoo"))
READY_LINE = "Press Ctrl-C to stop"
START_TIMEOUT = (
    900  # a first run installs account, l10n_br and OCA's reconciliation: minutes on a busy machine
)
TOUR_TIMEOUT = 900

pytestmark = [
    pytest.mark.slow,
    pytest.mark.demo,
    pytest.mark.skipif(
        not (ODOO_PATH / "odoo-bin").is_file(), reason=f"no Odoo at {ODOO_PATH} (set ODOO_PATH)"
    ),
]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class DemoRun:
    """./run-demo in the background, its output collected line by line."""

    def __init__(self, env):
        self.lines = []
        self.process = subprocess.Popen(
            ["./run-demo"],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # Ctrl-C of the test run must not reach it: the test sends its own
            # A test run started in the background (CI, `cmd &`) ignores SIGINT, and a shell cannot trap a
            # signal ignored when it started: restored, so that the test's own Ctrl-C reaches the trap.
            preexec_fn=_default_sigint,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self):
        return "\n".join(self.lines)

    def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(READY_LINE in line for line in self.lines):
                return
            if self.process.poll() is not None:
                self._reader.join(5)
                pytest.fail(
                    f"./run-demo exited with {self.process.returncode} before it was ready:\n{self.output}"
                )
            time.sleep(1)
        pytest.fail(f"./run-demo was not ready after {timeout} s:\n{self.output}")

    def pid_of(self, name):
        prefix = f"run-demo: {name} pid "
        return int(next(line[len(prefix) :] for line in self.lines if line.startswith(prefix)))

    def kill(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


class OdooSession:
    def __init__(self, url):
        self.url = url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def rpc(self, path, params):
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "params": params}).encode()
        request = urllib.request.Request(self.url + path, body, {"Content-Type": "application/json"})
        with self.opener.open(request, timeout=60) as response:
            answer = json.loads(response.read())
        assert "error" not in answer, answer["error"]
        return answer["result"]

    def call(self, model, method, *args, **kwargs):
        params = {"model": model, "method": method, "args": list(args), "kwargs": kwargs}
        return self.rpc(f"/web/dataset/call_kw/{model}/{method}", params)


def odoo_python():
    """The Python that runs Odoo, as ./run-demo picks it (it has psycopg2; the one running pytest may not)."""
    return os.environ.get("ODOO_PYTHON") or (
        str(ODOO_PATH / ".venv/bin/python") if (ODOO_PATH / ".venv/bin/python").exists() else "python3"
    )


def drop_database(name):
    subprocess.run([odoo_python(), str(REPO / "tools" / "dropdb.py"), name], check=True, timeout=120)


def run_newcomer_tour(env):
    """Run the newcomer's tour on the demo database, with Odoo's options of ./run-demo.

    It runs in a test cursor with an emulator of its own: the demo database is left as it was. Returns Odoo's
    exit status and log.
    """
    db = env["DEMO_DB"]
    var = REPO / "var" / "demo" / db
    command = [
        odoo_python(),
        str(ODOO_PATH / "odoo-bin"),
        "-c",
        str(var / "odoo.conf"),
        "-d",
        db,
        "--db_host",
        env.get("PGHOST", "127.0.0.1"),
        "--db_port",
        env.get("PGPORT", "5432"),
        "--db_user",
        env.get("PGUSER", "root"),
        f"--addons-path={ODOO_PATH}/addons,{ODOO_PATH}/odoo/addons,{REPO}",
        "--data-dir",
        str(var / "data"),
        "--http-port",
        str(free_port()),
        "--max-cron-threads=0",
        # --test-file runs the tour; the tags leave nothing to Odoo's own test phases, whose post-install one
        # would build every asset bundle first (a minute here) and run the tour a second time.
        "--test-file",
        str(REPO / "caixa_pluggy/tests/test_newcomer_tour.py"),
        "--test-tags",
        "caixa_pluggy_demo,-post_install",
        "--stop-after-init",
        "--log-level=test",
    ]
    if env.get("PGPASSWORD"):
        command += ["--db_password", env["PGPASSWORD"]]
    done = subprocess.run(
        command,
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TOUR_TIMEOUT,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
def demo_env():
    db = f"caixa_pluggy_demo_test_{os.getpid()}"
    env = {
        **os.environ,
        "DEMO_DB": db,
        "DEMO_PORT": str(free_port()),
        "PLUGGY_EMULATOR_PORT": str(free_port()),
    }
    yield env
    drop_database(db)
    shutil.rmtree(REPO / "var" / "demo" / db, ignore_errors=True)


def demo_state(url, db):
    """What a newcomer finds after logging in: the connected banks, their lines, the invoices waiting."""
    odoo = OdooSession(url)
    session = odoo.rpc("/web/session/authenticate", {"db": db, "login": "admin", "password": "admin"})
    assert session["uid"], "admin/admin logs in"
    banks = odoo.call("pluggy.item", "search_read", [("state", "=", "connected")], ["name", "journal_ids"])
    journal_ids = [journal_id for bank in banks for journal_id in bank["journal_ids"]]
    lines = odoo.call(
        "account.bank.statement.line", "search_read", [("journal_id", "in", journal_ids)], ["id"]
    )
    invoices = odoo.call(
        "account.move",
        "search_read",
        [("move_type", "=", "out_invoice"), ("state", "=", "posted"), ("payment_state", "=", "not_paid")],
        ["amount_total"],
    )
    pix_paying_them = odoo.call(
        "account.bank.statement.line",
        "search_count",
        [
            ("journal_id", "in", journal_ids),
            ("transaction_type", "=", "PIX"),
            ("amount", "in", [invoice["amount_total"] for invoice in invoices]),
            ("is_reconciled", "=", False),
        ],
    )
    matched = odoo.call(
        "account.bank.statement.line",
        "search_read",
        [("journal_id", "in", journal_ids), ("pluggy_match_state", "!=", False)],
        ["pluggy_match_state", "transaction_type", "is_reconciled"],
    )
    bills = odoo.call("pluggy.card.bill", "search_read", [], ["state"], order="due_date")
    return {
        "banks": [bank["name"] for bank in banks],
        "line_ids": sorted(line["id"] for line in lines),
        "invoices": len(invoices),
        "pix_paying_them": pix_paying_them,
        "pix_reconciled_by_itself": sum(
            line["pluggy_match_state"] == "reconciled"
            and line["transaction_type"] == "PIX"
            and line["is_reconciled"]
            for line in matched
        ),
        "proposed": sum(line["pluggy_match_state"] == "proposed" for line in matched),
        "transfers_reconciled": sum(
            line["pluggy_match_state"] == "reconciled" and line["transaction_type"] != "PIX"
            for line in matched
        ),
        "bills": [bill["state"] for bill in bills],
    }


def stop(demo, signum):
    """Send a signal to ./run-demo; returns whether the emulator and Odoo are still alive afterwards."""
    emulator_pid, odoo_pid = demo.pid_of("emulator"), demo.pid_of("odoo")
    demo.process.send_signal(signum)
    try:
        demo.process.wait(90)
    except subprocess.TimeoutExpired:
        pytest.fail(f"./run-demo still runs 90 s after signal {signum}:\n{demo.output}")
    return alive(emulator_pid), alive(odoo_pid)


def test_run_demo_serves_a_connected_bank_with_a_pix_to_reconcile_stops_on_ctrl_c_and_runs_again(demo_env):
    url = f"http://127.0.0.1:{demo_env['DEMO_PORT']}"
    demo = DemoRun(demo_env)
    try:
        demo.wait_ready(START_TIMEOUT)
        assert url in demo.output and "admin" in demo.output, "the URL and the login are printed"
        first = demo_state(url, demo_env["DEMO_DB"])
        assert first["banks"] == ["Pluggy Bank"], "one connected demo bank"
        assert len(first["line_ids"]) > 20, "the demo bank's history is imported"
        assert first["invoices"] == 1 and first["pix_paying_them"], "an imported PIX pays an open invoice"
        assert first["pix_reconciled_by_itself"] == 1, "the invoice its PIX quotes is reconciled by itself"
        assert first["proposed"] >= 1, "the other invoice's PIX is proposed"
        assert first["bills"] == ["paid", "paid", "open"], "the card has two closed bills and one open"
        assert first["transfers_reconciled"] >= 4, "each paid bill's two payment lines, as a transfer"

        assert stop(demo, signal.SIGINT) == (False, False), "Ctrl-C stops the emulator and Odoo"
        assert demo.process.returncode == 130, demo.output
    finally:
        demo.kill()

    # Running it again reuses the database: the same bank, the same lines, no second invoice.
    again = DemoRun(demo_env)
    try:
        again.wait_ready(START_TIMEOUT)
        assert demo_state(url, demo_env["DEMO_DB"]) == first
        assert stop(again, signal.SIGTERM) == (False, False), "a TERM stops both too"
    finally:
        again.kill()

    # A newcomer's first hour on it, in headless Chromium: connect a bank, sync, reconcile an imported PIX.
    returncode, log = run_newcomer_tour(demo_env)
    # Odoo's records above INFO, each with the lines that follow it (a traceback, the tour's steps).
    problems = re.findall(
        r"^\S+ \S+ \d+ (?:WARNING|ERROR|CRITICAL) .*?(?=^\d{4}-\d\d-\d\d |\Z)", log, re.M | re.S
    )
    assert not problems, "the newcomer's tour failed:\n" + "".join(problems)
    assert re.search(r"\b0 failed, 0 error\(s\) of 1 tests\b", log), log[-3000:]
    assert not re.search(r"skipped .*TestNewcomerTour", log), log[-3000:]
    assert returncode == 0, log[-3000:]
