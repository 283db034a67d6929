"""Real processes for the reliability tests: throwaway PostgreSQL databases, odoo-bin servers, JSON-RPC.

Nothing here imports Odoo: the servers are ``odoo-bin`` subprocesses of the Odoo at ``$ODOO_PATH``, reached
over HTTP on 127.0.0.1 like a browser or Pluggy would, and the database is read with psycopg2 (what Odoo
itself uses).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import httpx

from tools import dropdb as tools_dropdb

REPO = Path(__file__).resolve().parents[2]
ODOO_PATH = Path(os.environ.get("ODOO_PATH", "/opt/odoo"))
_VENV_PYTHON = ODOO_PATH / ".venv" / "bin" / "python"
ODOO_PYTHON = os.environ.get("ODOO_PYTHON") or (
    str(_VENV_PYTHON) if _VENV_PYTHON.exists() else sys.executable
)
PG = {
    "host": os.environ.get("PGHOST", "127.0.0.1"),
    "port": os.environ.get("PGPORT", "5432"),
    "user": os.environ.get("PGUSER", "root"),
}
if os.environ.get("PGPASSWORD"):
    PG["password"] = os.environ["PGPASSWORD"]
ADMIN = ("admin", "admin")  # the administrator of a database installed without demo data
ODOO_READY_TIMEOUT = 120


def odoo_missing_reason():
    """Why the real-Odoo tests cannot run here, or None when they can."""
    if not (ODOO_PATH / "odoo-bin").is_file():
        return f"no Odoo 18 at ODOO_PATH={ODOO_PATH} (odoo-bin not found)"
    try:
        import psycopg2  # noqa: F401 - Odoo's own driver, present wherever Odoo runs
    except ImportError:
        return f"psycopg2 is not importable by {sys.executable}: run these tests with {ODOO_PYTHON}"
    return None


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------------------


def pg_connect(dbname="postgres", autocommit=True):
    import psycopg2

    conn = psycopg2.connect(dbname=dbname, **PG)
    conn.autocommit = autocommit
    return conn


def drop_database(name):
    tools_dropdb.drop_database(name, **PG)


def copy_database(template, name, data_dir):
    """``createdb -T``: a fresh copy of the installed database (seconds, instead of a reinstall)."""
    conn = pg_connect()
    try:
        with conn.cursor() as cr:
            cr.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        conn.close()
    source = Path(data_dir) / "filestore" / template
    if source.is_dir():
        shutil.copytree(source, Path(data_dir) / "filestore" / name, dirs_exist_ok=True)


def sql(db, query, params=None):
    """Rows of one query on a database, in autocommit (each call sees what is committed)."""
    conn = pg_connect(db)
    try:
        with conn.cursor() as cr:
            cr.execute(query, params)
            return cr.fetchall() if cr.description else []
    finally:
        conn.close()


def set_params(db, params):
    for key, value in params.items():
        sql(
            db,
            """
            INSERT INTO ir_config_parameter (key, value, create_uid, write_uid, create_date, write_date)
            VALUES (%s, %s, 1, 1, NOW(), NOW())
            ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value
            """,
            (key, value),
        )


def get_param(db, key):
    rows = sql(db, "SELECT value FROM ir_config_parameter WHERE key = %s", (key,))
    return rows[0][0] if rows else None


# ---------------------------------------------------------------------------------------------------------
# odoo-bin
# ---------------------------------------------------------------------------------------------------------


def odoo_command(db, data_dir, *extra):
    config = Path(data_dir) / "empty.cfg"
    config.touch()  # an empty config: a developer's ~/.odoorc must not change the run
    return [
        ODOO_PYTHON,
        str(ODOO_PATH / "odoo-bin"),
        "-c",
        str(config),
        # -d alone serves that one database; with --db-filter, Odoo would open a connection to list every
        # database on each request that carries no session (a webhook delivery), which costs more than the
        # route itself.
        "-d",
        db,
        "--db_host",
        PG["host"],
        "--db_port",
        str(PG["port"]),
        "--db_user",
        PG["user"],
        f"--addons-path={ODOO_PATH / 'addons'},{ODOO_PATH / 'odoo' / 'addons'},{REPO}",
        "--data-dir",
        str(data_dir),
        *extra,
    ]


def install_database(db, data_dir, log_path, timeout=1200):
    """Install caixa_pluggy (and account) into a new database; raises with the log tail on failure."""
    command = odoo_command(
        db,
        data_dir,
        "-i",
        "caixa_pluggy",
        "--stop-after-init",
        "--without-demo=all",
        "--http-port",
        str(free_port()),
        "--max-cron-threads=0",
        "--log-level=warn",
        "--logfile",
        str(log_path),
    )
    result = subprocess.run(
        command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
    )
    installed = (
        sql(db, "SELECT state FROM ir_module_module WHERE name = 'caixa_pluggy'")
        if result.returncode == 0
        else []
    )
    if installed != [("installed",)]:
        raise RuntimeError(
            f"installing caixa_pluggy into {db} failed (exit {result.returncode}):\n"
            + tail(log_path)
            + result.stdout[-2000:]
            + result.stderr[-2000:]
        )


def tail(path, lines=60):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:]) + "\n"
    except OSError:
        return ""


class OdooServer:
    """One ``odoo-bin`` serving one database on a free port, in its own process group."""

    def __init__(self, db, data_dir, log_path, *, workers=0, cron_threads=0, log_level="info", extra=()):
        self.db = db
        self.data_dir = data_dir
        self.log_path = Path(log_path)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.command = odoo_command(
            db,
            data_dir,
            "--http-interface",
            "127.0.0.1",
            "--http-port",
            str(self.port),
            "--gevent-port",
            str(free_port()),
            f"--workers={workers}",
            f"--max-cron-threads={cron_threads}",
            # A first sync of thousands of rows runs in one request: the default 120 s limit is for browsing.
            "--limit-time-real=900",
            "--limit-time-cpu=900",
            "--limit-time-real-cron=900",
            f"--log-level={log_level}",
            "--logfile",
            str(self.log_path),
            *extra,
        )
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + ODOO_READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"odoo-bin exited {self.process.returncode}:\n{tail(self.log_path)}")
            try:
                if httpx.get(self.url + "/web/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"odoo-bin did not answer on {self.url} within {ODOO_READY_TIMEOUT} s:\n{tail(self.log_path)}"
        )

    def kill(self):
        """SIGKILL the whole process group: master, HTTP and cron workers die at once, like a crash."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self):
        if not self.process or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def session(self, login=ADMIN[0], password=ADMIN[1]):
        return Session(self, login, password)


# ---------------------------------------------------------------------------------------------------------
# JSON-RPC, as the web client speaks it
# ---------------------------------------------------------------------------------------------------------


class RpcError(Exception):
    def __init__(self, error):
        data = error.get("data") or {}
        self.error = error
        self.name = data.get("name") or ""
        self.message = data.get("message") or error.get("message") or ""
        super().__init__(f"{self.name}: {self.message}")


class Session:
    """A logged-in user of one server. Every raw reply body is kept in ``replies`` for the secret checks."""

    def __init__(self, server, login, password, timeout=900):
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=timeout)
        self.replies = []
        reply = self.json(
            "/web/session/authenticate", {"db": server.db, "login": login, "password": password}
        )
        if "error" in reply:
            raise RpcError(reply["error"])
        self.uid = reply["result"]["uid"]

    def close(self):
        self.http.close()

    def json(self, path, params=None):
        """POST a JSON-RPC call; returns the decoded reply ({"result"} or {"error"})."""
        body = {"jsonrpc": "2.0", "method": "call", "id": uuid.uuid4().hex[:8], "params": params or {}}
        response = self.http.post(path, json=body)
        self.replies.append(response.text)
        if response.status_code != 200:
            raise AssertionError(f"{path} answered HTTP {response.status_code}: {response.text[:500]}")
        return response.json()

    def get(self, path):
        response = self.http.get(path)
        self.replies.append(response.text)
        return response

    def call(self, model, method, *args, **kwargs):
        reply = self.json(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
        )
        if "error" in reply:
            raise RpcError(reply["error"])
        return reply["result"]

    def run_cron(self, xmlid):
        """The cron's "Run Manually" button: the job runs in this HTTP worker, with its commits."""
        module, name = xmlid.split(".")
        cron_id = self.call("ir.model.data", "check_object_reference", module, name)[1]
        return self.call("ir.cron", "method_direct_trigger", [cron_id])


# ---------------------------------------------------------------------------------------------------------
# What Odoo imported, next to what Pluggy has
# ---------------------------------------------------------------------------------------------------------


def imported_lines(db):
    """Every Pluggy line by Pluggy account: {account: [(transaction id, amount, pending)]}, duplicates
    kept."""
    rows = sql(
        db,
        """
        SELECT account.pluggy_account_id, line.pluggy_transaction_id, move.amount_total_signed, line.amount,
               COALESCE(line.pluggy_pending, FALSE)
          FROM account_bank_statement_line line
          JOIN account_move move ON move.id = line.move_id
          JOIN account_journal journal ON journal.id = line.journal_id
          JOIN pluggy_account account ON account.id = journal.pluggy_account_id
         WHERE line.pluggy_transaction_id IS NOT NULL
        """,
    )
    lines = {}
    for account_id, transaction_id, _total, amount, pending in rows:
        lines.setdefault(account_id, []).append(
            (transaction_id, Decimal(str(amount)).quantize(Decimal("0.01")), pending)
        )
    return lines


def duplicate_lines(db):
    """(journal, transaction id, count) of every Pluggy transaction imported more than once in a journal."""
    return sql(
        db,
        """
        SELECT journal_id, pluggy_transaction_id, COUNT(*)
          FROM account_bank_statement_line
         WHERE pluggy_transaction_id IS NOT NULL
         GROUP BY journal_id, pluggy_transaction_id
        HAVING COUNT(*) > 1
        """,
    )


def dumps(data):
    return json.dumps(data, default=str)


def log_problems(server, allowed=()):
    """Records above INFO in a server's log (with their first line), minus those matching ``allowed``."""
    problems = []
    for line in server.log().splitlines():
        parts = line.split(" ", 4)
        if len(parts) > 3 and parts[3] in ("WARNING", "ERROR", "CRITICAL"):
            if not any(pattern in line for pattern in allowed):
                problems.append(line)
    return problems
