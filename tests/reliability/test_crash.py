"""The Odoo process killed (SIGKILL) in the middle of a large first sync: after a restart, the next run
imports every transaction exactly once.

The first sync of the history runs in Odoo's own cron worker, as it does after a bank is connected. Pluggy is
slowed down on one page in the middle of it, so that the kill lands while eighty lines are written but not
yet committed. ``CAIXA_RELIABILITY_KILL_ROWS`` sets the size: 200 by default, because Odoo itself spends
60-180 ms of CPU per statement line on a small machine (5,000 rows take 5 to 15 minutes); the test holds at
any size, e.g. ``CAIXA_RELIABILITY_KILL_ROWS=5000``.
"""

import os
import time

from flows import account_ids, connect_bank, lines_by_account, odoo_accounts
from harness import duplicate_lines, sql

ROWS = int(os.environ.get("CAIXA_RELIABILITY_KILL_ROWS", "200"))
# Five pages of history; the connect flow's first read (the last 10 of 300 days) fits in one.
PAGE_SIZE = max(40, ROWS // 5)
PAGES_BEFORE_KILL = 2


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def lines_being_written(db):
    """Whether a transaction of another connection holds a write lock on the statement lines right now."""
    return sql(
        db,
        """
        SELECT activity.pid
          FROM pg_locks lock
          JOIN pg_class relation ON relation.oid = lock.relation
          JOIN pg_stat_activity activity ON activity.pid = lock.pid
         WHERE relation.relname = 'account_bank_statement_line'
           AND lock.mode = 'RowExclusiveLock'
           AND activity.datname = %s
           AND activity.pid <> pg_backend_pid()
        """,
        (db,),
    )


def test_sigkill_in_the_middle_of_a_first_sync_then_restart_imports_every_row_once(odoo, pluggy, figures):
    db = odoo.new_db()
    server = odoo.server(db, workers=2, cron_threads=1)
    session = server.session()
    pluggy.control("PATCH", "/config", {"page_size": PAGE_SIZE})
    # The connect flow imports the last days at once and leaves the history to the cron, which it wakes up;
    # the history read stops for a while on its third page, when two pages of lines are written.
    pluggy.fault(path="/v2/transactions", delay=120, delay_count=1, after_pages=1 + PAGES_BEFORE_KILL)
    item, _result = connect_bank(session, pluggy, transactions=ROWS, credit_accounts=0, pending=0)
    (checking,) = account_ids(item)
    quick_lines = lines_by_account(db, [checking])[checking]
    assert 0 < len(quick_lines) < ROWS / 2, "the connect flow imports the latest lines only"
    _id, quick_watermark, _error, history_pending = odoo_accounts(db)[checking]
    assert history_pending

    wait_for(lambda: not pluggy.control("GET", "/faults")["faults"], 300, "the cron to reach the slowed page")
    assert lines_being_written(db), "the cron's transaction holds no write lock on the statement lines"
    server.kill()

    # Nothing of the interrupted run was committed: the account is exactly as the connect flow left it.
    assert lines_by_account(db, [checking])[checking] == quick_lines
    assert odoo_accounts(db)[checking][1:] == (quick_watermark, None, True)

    # Restarted, Odoo's cron picks the pending history up again on its own and completes it.
    pluggy.clear_faults()
    odoo.server(db, workers=2, cron_threads=1)
    wait_for(lambda: not odoo_accounts(db)[checking][3], 900, "the restarted cron to import the history")
    expected = pluggy.expected_lines([checking])
    assert len(expected[checking]) == ROWS
    assert lines_by_account(db, [checking]) == expected
    assert duplicate_lines(db) == []
    figures["sigkill_first_sync_rows"] = ROWS
    figures["sigkill_duplicates"] = len(duplicate_lines(db))
