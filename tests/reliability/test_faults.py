"""Pluggy failing in the middle of a sync: Odoo retries within bounds, then records the failure in plain
words, keeps the account exactly as it was (lines and watermark), and the next run imports everything exactly
once.

One Odoo server and one connected bank serve every case of this module; each case adds its own rows at Pluggy.
Pages are 5 rows long, and each fault strikes the checking account's read after two of its pages; the card
account, read at the same time, is left alone.
"""

import time
from datetime import date, timedelta

import pytest
from flows import account_ids, connect_bank, item_error, lines_by_account, odoo_accounts, sync_now

from caixa_pluggy.pluggy import PluggyClient
from caixa_pluggy.pluggy.errors import PluggyTransportError

PAGE_SIZE = 5
NEW_ROWS = 12  # > 2 pages of the look-back window, so that the fault strikes in the middle of the read
AFTER_PAGES = 2

# (fault rules, what the connection must say) for faults that outlast the client's retries
FAILURES = [
    pytest.param([{"status": 500, "count": 1}], "Pluggy is unavailable right now (HTTP 500)", id="500"),
    pytest.param([{"status": 502, "count": 4}], "Pluggy is unavailable right now (HTTP 502)", id="502-x4"),
    pytest.param([{"status": 503, "count": 4}], "Pluggy is unavailable right now (HTTP 503)", id="503-x4"),
    pytest.param(
        [{"status": 504, "count": 4}], "Pluggy is unavailable right now (HTTP 504)", id="504-timeout-x4"
    ),
    pytest.param(
        [{"rate_limit": {"count": 1, "reset": 3600, "retry_after": 3600}}],
        "Pluggy asked us to slow down",
        id="429-reset-1h",
    ),
    pytest.param(
        [
            {"expire_keys": True},
            {
                "path": "/auth",
                "after_pages": 0,
                "status": 401,
                "count": 1,
                "codeDescription": "CLIENT_KEYS_UNAUTHORIZED",
                "message": "Client keys are invalid",
            },
        ],
        "Pluggy refused the client id and secret",
        id="key-revoked-mid-read-and-keys-refused",
    ),
]
# Faults the client's bounded retries absorb: the sync completes as if nothing happened.
SURVIVED = [
    pytest.param({"status": 502, "count": 3}, id="502-x3"),
    pytest.param({"status": 503, "count": 2}, id="503-x2"),
    pytest.param({"status": 504, "count": 1}, id="504-x1"),
    pytest.param({"rate_limit": {"count": 2, "reset": 1, "retry_after": 60}}, id="429-reset-1s-x2"),
    pytest.param({"expire_keys": True}, id="key-revoked-mid-read"),
]


@pytest.fixture(scope="module")
def bank(odoo, pluggy):
    """A running Odoo with one connected bank (checking account + card), its history already imported."""
    db = odoo.new_db()
    server = odoo.server(db)
    session = server.session()
    item, _result = connect_bank(session, pluggy, transactions=20, pending=1)
    accounts = account_ids(item)
    recent_rows(pluggy, accounts[0], 6, "initial")
    assert "0 new lines" not in sync_now(session, db, accounts)
    assert lines_by_account(db, accounts) == pluggy.expected_lines(accounts)
    pluggy.control("PATCH", "/config", {"page_size": PAGE_SIZE})
    return {"db": db, "server": server, "session": session, "item": item, "accounts": accounts}


def recent_rows(pluggy, account_id, count, label):
    """Rows dated in the last days (inside the look-back window every sync re-reads)."""
    today = date.today()
    return [
        pluggy.control(
            "POST",
            f"/accounts/{account_id}/transactions",
            {
                "amount": f"-{index + 1}.{count:02d}",
                "date": (today - timedelta(days=index % 5)).isoformat(),
                "description": f"{label} {index}",
            },
        )
        for index in range(count)
    ]


def change_the_bank(pluggy, bank, label):
    """New rows, one edited and one deleted line: a sync has creates, updates and removals to do."""
    checking = bank["accounts"][0]
    imported = {tx_id for tx_id, _amount, _pending in lines_by_account(bank["db"], [checking])[checking]}
    recent = [
        tx
        for tx in pluggy.rows(checking)
        if tx["id"] in imported and tx["date"][:10] >= (date.today() - timedelta(days=4)).isoformat()
    ]
    assert len(recent) >= 2, "the bank needs imported rows in the look-back window"
    pluggy.control(
        "PATCH", f"/transactions/{recent[0]['id']}", {"amount": -777.77, "description": f"{label} edit"}
    )
    pluggy.control("DELETE", f"/transactions/{recent[1]['id']}")
    recent_rows(pluggy, checking, NEW_ROWS, label)


def add_faults(pluggy, rules, account_id):
    """Faults on the transaction reads of one account (the sync reads its accounts at the same time)."""
    for rule in rules:
        if rule.get("path"):
            pluggy.fault(**{"after_pages": AFTER_PAGES, **rule})
        else:
            pluggy.fault(path="/v2/transactions", account_id=account_id, after_pages=AFTER_PAGES, **rule)


@pytest.mark.parametrize(("rules", "said"), FAILURES)
def test_fault_past_the_retries_leaves_the_account_as_before_and_the_next_run_completes(
    bank, pluggy, figures, rules, said
):
    db, session, accounts = bank["db"], bank["session"], bank["accounts"]
    checking, card = accounts
    change_the_bank(pluggy, bank, f"fault {said}")
    lines_before = lines_by_account(db, accounts)
    watermark_before = odoo_accounts(db)[checking][1]
    add_faults(pluggy, rules, checking)
    # Keys refused once fail whichever read asks for a new key first: with the card's and the connection's
    # read at the same time, not always the checking account's. That case syncs the checking account alone.
    synced = [checking] if any(rule.get("expire_keys") for rule in rules) else accounts

    started = time.monotonic()
    message = sync_now(session, db, synced)
    elapsed = time.monotonic() - started

    # Retried within bounds: every planned failure was consumed (no fewer tries), and the sync gave up instead
    # of waiting out an hour-long RateLimit-Reset.
    assert pluggy.control("GET", "/faults")["faults"] == [], (
        "the client gave up before its retries were spent"
    )
    assert elapsed < 60, f"the sync took {elapsed:.0f} s: it waited past its bounds"
    # A clear error, on the account and on its connection, and in the notification of the button.
    _odoo_id, watermark, error, _history = odoo_accounts(db)[checking]
    assert error and said in error, error
    assert said in (item_error(db, bank["item"]["id"]) or "")
    assert said in message
    # No partial import: the pages already read were rolled back with the rest; the watermark did not move.
    lines_after = lines_by_account(db, accounts)
    assert lines_after[checking] == lines_before[checking]
    assert watermark == watermark_before
    if card in synced:
        # The card account of the same connection was synced all the same.
        assert odoo_accounts(db)[card][2] is None
        assert lines_after[card] == pluggy.expected_lines([card])[card]

    # The next run completes: every Pluggy row exactly once, the edit applied, the deleted row gone.
    message = sync_now(session, db, accounts)
    assert odoo_accounts(db)[checking][2] is None, message
    assert not item_error(db, bank["item"]["id"])
    assert lines_by_account(db, accounts) == pluggy.expected_lines(accounts)
    figures["faults_failed_then_recovered"] = figures.get("faults_failed_then_recovered", 0) + 1


@pytest.mark.parametrize("rule", SURVIVED)
def test_fault_within_the_retries_is_survived_by_the_same_run(bank, pluggy, figures, rule):
    db, session, accounts = bank["db"], bank["session"], bank["accounts"]
    change_the_bank(pluggy, bank, f"survived {rule}")
    keys_before = len(pluggy.api_keys())
    add_faults(pluggy, [rule], accounts[0])

    message = sync_now(session, db, accounts)

    assert pluggy.control("GET", "/faults")["faults"] == [], "the fault never struck"
    assert all(error is None for _id, _watermark, error, _history in odoo_accounts(db).values()), message
    assert lines_by_account(db, accounts) == pluggy.expected_lines(accounts)
    if rule.get("expire_keys"):
        assert len(pluggy.api_keys()) == keys_before + 1, "a revoked key is replaced by one new key"
    figures["faults_survived_in_run"] = figures.get("faults_survived_in_run", 0) + 1


def test_pluggy_unreachable_is_recorded_and_the_next_run_completes(bank, pluggy, figures):
    """No answer at all (connection refused; a timeout takes the same path): Odoo says so, changes nothing."""
    db, session, accounts = bank["db"], bank["session"], bank["accounts"]
    change_the_bank(pluggy, bank, "unreachable")
    lines_before = lines_by_account(db, accounts)
    session.call("ir.config_parameter", "set_param", "caixa_pluggy.api_url", "http://127.0.0.1:9")
    try:
        message = sync_now(session, db, accounts)
    finally:
        session.call("ir.config_parameter", "set_param", "caixa_pluggy.api_url", pluggy.url)
    said = "Pluggy could not be reached"
    assert said in message
    assert all(said in error for _id, _watermark, error, _history in odoo_accounts(db).values())
    assert said in (item_error(db, bank["item"]["id"]) or "")
    assert lines_by_account(db, accounts) == lines_before

    sync_now(session, db, accounts)
    assert lines_by_account(db, accounts) == pluggy.expected_lines(accounts)
    figures["faults_failed_then_recovered"] = figures.get("faults_failed_then_recovered", 0) + 1


def test_client_timeout_on_a_slow_pluggy_is_retried_then_raised(pluggy, figures):
    """A real socket timeout (Pluggy slower than the client's timeout), over HTTP, by the client's rules.

    Odoo's client uses a 30 s timeout that no setting lowers, so the Odoo-level cases above use 504s and a
    refused connection, which take the same path (PluggyServerError / PluggyTransportError)."""
    item = pluggy.control(
        "POST", "/items", {"clientUserId": "timeout", "transactions": 3, "credit_accounts": 0}
    )
    account = item["accounts"][0]["id"]
    sleeps = []
    client = PluggyClient(
        pluggy.state.config.client_id,
        pluggy.state.config.client_secret,
        pluggy.url,
        timeout=0.3,
        sleep=sleeps.append,
    )
    with client:
        client.get_api_key()
        pluggy.fault(path="/v2/transactions", delay=1.0, delay_count=2)
        assert len(list(client.iter_transactions(account))) == 3  # two timeouts, then an answer
        assert len(sleeps) == 2
        pluggy.fault(path="/v2/transactions", delay=1.0, delay_count=4)
        with pytest.raises(PluggyTransportError) as caught:
            list(client.iter_transactions(account))
    assert "Timeout" in str(caught.value)
    assert pluggy.state.config.client_secret not in str(caught.value)
    assert len(sleeps) == 5  # 2 + 3 retries, then it gave up
    figures["faults_survived_in_run"] = figures.get("faults_survived_in_run", 0) + 1
