"""Fixtures of the reliability tests: the Pluggy emulator, one installed Odoo database per session, fresh
copies.

The session installs caixa_pluggy once into a throwaway database; each test works on a copy of it
(PostgreSQL's ``CREATE DATABASE ... TEMPLATE``, seconds instead of a reinstall) served by its own ``odoo-bin``
processes on free ports. Every database, server and data directory is removed at the end, whatever failed.

These tests skip, loudly, only when no Odoo is found at ``$ODOO_PATH``. For development,
``CAIXA_RELIABILITY_TEMPLATE=<db>:<data dir>`` reuses an already installed database as the template (it is
never dropped then).
"""

import itertools
import json
import os
import secrets
import shutil
import warnings
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from harness import (
    OdooServer,
    copy_database,
    drop_database,
    install_database,
    odoo_missing_reason,
    set_params,
    sql,
)

from caixa_pluggy.pluggy.mapping import map_transaction
from tools.pluggy_emulator import start_emulator

HERE = Path(__file__).resolve().parent
# Secrets unique to this run, so that finding one in a log or a reply can only mean it leaked.
CLIENT_ID = "rel-client-" + secrets.token_hex(6)
CLIENT_SECRET = "rel-secret-" + secrets.token_hex(16)
HISTORY_DAYS = 365
# Databases are named <prefix>_<pid>[_c<n>]: several people sharing one PostgreSQL each set their own prefix.
DB_PREFIX = os.environ.get("CAIXA_RELIABILITY_DB_PREFIX", "caixa_rel")


def pytest_configure(config):
    config.addinivalue_line("markers", "reliability: drives real odoo-bin processes and the Pluggy emulator")


def pytest_collection_modifyitems(config, items):
    reason = odoo_missing_reason()
    ours = [item for item in items if Path(str(item.fspath)).resolve().is_relative_to(HERE)]
    needing_odoo = [item for item in ours if "odoo" in getattr(item, "fixturenames", ())]
    for item in ours:
        item.add_marker(pytest.mark.reliability)
        item.add_marker(pytest.mark.slow)
    if reason:
        for item in needing_odoo:
            item.add_marker(pytest.mark.skip(reason=f"REAL-ODOO RELIABILITY TESTS NOT RUN: {reason}"))
        if needing_odoo:
            warnings.warn(f"{len(needing_odoo)} real-Odoo reliability tests skipped: {reason}", stacklevel=1)


# ---------------------------------------------------------------------------------------------------------
# Pluggy
# ---------------------------------------------------------------------------------------------------------


class Pluggy:
    """The emulator (in this process, over real HTTP) and its control API."""

    def __init__(self, emulator):
        self.emulator = emulator
        self.url = emulator.url
        self.state = emulator.state
        self.http = httpx.Client(base_url=emulator.url, timeout=60)

    def control(self, method, path, body=None):
        response = self.http.request(method, "/_emulator" + path, json=body)
        assert response.status_code < 400, f"{method} {path}: {response.status_code} {response.text[:300]}"
        return response.json() if response.content else None

    def reset(self, **config):
        defaults = {"page_size": 500, "min_update_hours": 0, "auto_webhooks": False}
        self.control("POST", "/reset", {"seed": 42, **defaults, **config})

    def fault(self, **rule):
        return self.control("POST", "/faults", rule)

    def clear_faults(self):
        self.control("DELETE", "/faults")

    def rows(self, account_id):
        return self.control("GET", f"/accounts/{account_id}/transactions")["results"]

    def expected_lines(self, account_ids, with_pending=False):
        """What each journal must hold: {account: sorted [(id, amount, pending)]} of Pluggy's rows."""
        expected = {}
        for account_id in account_ids:
            account = self.state.accounts[account_id]
            lines = []
            for tx in self.rows(account_id):
                if tx["status"] == "PENDING" and not with_pending:
                    continue
                values = map_transaction(
                    _decimals(tx), account_type=account["type"], account_currency=account["currencyCode"]
                )
                lines.append((tx["id"], values["amount"], values["pluggy_pending"]))
            expected[account_id] = sorted(lines)
        return expected

    def api_keys(self):
        return list(self.state.api_keys)


def _decimals(tx):
    """The emulator's control API answers JSON numbers; the client would have parsed them as Decimal."""
    return {
        key: Decimal(str(value))
        if key in ("amount", "amountInAccountCurrency") and value is not None
        else value
        for key, value in tx.items()
    }


@pytest.fixture(scope="session")
def emulator():
    emulator = start_emulator(port=0, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, auto_webhooks=False)
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def pluggy(emulator):
    """The emulator, emptied for each test module (whose tests may share its data)."""
    pluggy = Pluggy(emulator)
    pluggy.reset()
    yield pluggy
    pluggy.clear_faults()
    pluggy.http.close()


@pytest.fixture(autouse=True)
def _no_fault_survives_its_test(request):
    yield
    if "pluggy" in request.fixturenames:
        request.getfixturevalue("pluggy").clear_faults()


# ---------------------------------------------------------------------------------------------------------
# Odoo
# ---------------------------------------------------------------------------------------------------------

_names = itertools.count(1)


class Odoo:
    """Copies of the installed database and the servers that serve them; all cleaned up by the fixture."""

    def __init__(self, template, data_dir, work_dir, pluggy_url):
        self.template = template
        self.data_dir = data_dir
        self.work_dir = work_dir
        self.pluggy_url = pluggy_url
        self.databases = []
        self.servers = []

    def new_db(self, **params):
        name = f"{DB_PREFIX}_{os.getpid()}_c{next(_names)}"
        copy_database(self.template, name, self.data_dir)
        self.databases.append(name)
        set_params(
            name,
            {
                "caixa_pluggy.client_id": CLIENT_ID,
                "caixa_pluggy.client_secret": CLIENT_SECRET,
                "caixa_pluggy.api_url": self.pluggy_url,
                "caixa_pluggy.history_days": str(HISTORY_DAYS),
                **params,
            },
        )
        # Only the addon's crons may run in these servers (others would call odoo.com, say).
        sql(
            name,
            "UPDATE ir_cron SET active = FALSE WHERE id NOT IN "
            "(SELECT res_id FROM ir_model_data WHERE module = 'caixa_pluggy' AND model = 'ir.cron')",
        )
        return name

    def server(self, db, *, workers=0, cron_threads=0, log_level="info", extra=()):
        log = self.work_dir / f"odoo-{db}-{len(self.servers) + 1}.log"
        server = OdooServer(
            db,
            self.data_dir,
            log,
            workers=workers,
            cron_threads=cron_threads,
            log_level=log_level,
            extra=extra,
        )
        self.servers.append(server)
        return server.start()

    def cleanup(self):
        for server in self.servers:
            server.stop()
        for name in self.databases:
            drop_database(name)
            shutil.rmtree(Path(self.data_dir) / "filestore" / name, ignore_errors=True)


def drop_stale_databases():
    """Databases a killed earlier run left behind (its process is gone): named <prefix>_<pid>[_c<n>]."""
    prefix = DB_PREFIX + "_"
    query = "SELECT datname FROM pg_database WHERE starts_with(datname, %s)"
    for (name,) in sql("postgres", query, (prefix,)):
        pid = name[len(prefix) :].split("_")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            drop_database(name)


@pytest.fixture(scope="session")
def odoo_template(tmp_path_factory, emulator):
    """(database, data dir) of one throwaway database with caixa_pluggy installed, for the whole session."""
    reuse = os.environ.get("CAIXA_RELIABILITY_TEMPLATE")
    if reuse:
        name, data_dir = reuse.split(":", 1)
        yield name, Path(data_dir)
        return
    data_dir = tmp_path_factory.mktemp("odoo-data")
    name = f"{DB_PREFIX}_{os.getpid()}"
    drop_stale_databases()
    try:
        install_database(name, data_dir, data_dir / "install.log")
        yield name, data_dir
    finally:
        drop_database(name)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def odoo(odoo_template, emulator, tmp_path_factory):
    """Databases and servers of one test module, removed when the module is done."""
    template, data_dir = odoo_template
    odoo = Odoo(template, data_dir, tmp_path_factory.mktemp("odoo-logs"), emulator.url)
    try:
        yield odoo
    finally:
        odoo.cleanup()


# ---------------------------------------------------------------------------------------------------------
# Figures for the README and the issue: printed at the end of the run, kept in var/reliability/figures.json
# ---------------------------------------------------------------------------------------------------------

FIGURES = {}


@pytest.fixture(scope="session")
def figures():
    """A dict each test fills with what it measured (faults survived, requests held, latencies...)."""
    return FIGURES


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    terminalreporter.section("reliability figures")
    for name, value in sorted(FIGURES.items()):
        terminalreporter.write_line(f"{name}: {value}")
    out = HERE.parents[1] / "var" / "reliability"
    out.mkdir(parents=True, exist_ok=True)
    (out / "figures.json").write_text(json.dumps(FIGURES, indent=1, sort_keys=True, default=str) + "\n")
