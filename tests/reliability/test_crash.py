"""The Odoo process killed (SIGKILL) in the middle of a large first sync: after a restart, the next run
imports every transaction exactly once.

A bank with four accounts (three checking, one card) and their history: 1,000 rows in all by default. The
connect flow imports the latest lines at once and leaves the history to Odoo's two cron workers (its default),
which commit it account by account. Odoo is killed once two accounts are committed, while the others' pages
are written but not committed: Pluggy is slowed down on one of those pages so that the kill lands there.

``CAIXA_RELIABILITY_KILL_ROWS`` sets the size (``5000`` for a larger history). Odoo spends about 70 ms of CPU
per statement line on a 2-core machine, so 5,000 rows take minutes.
"""

import os

from flows import account_ids, connect_bank, history_imported, lines_by_account, odoo_accounts, wait_for
from harness import duplicate_lines, sql

ROWS = int(os.environ.get("CAIXA_RELIABILITY_KILL_ROWS", "1000"))
CHECKING_ACCOUNTS, CARD_ACCOUNTS = 3, 1
ROWS_PER_ACCOUNT = ROWS // (CHECKING_ACCOUNTS + CARD_ACCOUNTS)
PAGE_SIZE = max(40, ROWS_PER_ACCOUNT // 5)  # five pages of history per account
COMMITTED_BEFORE_KILL = 2
CRON_WORKERS = 2  # Odoo's default: the two sync jobs share the accounts


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


def backfilled(db, pluggy_ids):
    """The accounts whose history is committed."""
    accounts = odoo_accounts(db)
    return [pluggy_id for pluggy_id in pluggy_ids if not accounts[pluggy_id][3]]


def wake_cron(db):
    """What Odoo does when a job is due at once: a cron worker sleeps up to 70 s between polls, or until told.

    After a restart the cron finds the interrupted job on its own at its first poll; this only spares the test
    that wait. Sent on every poll of the test, since a new worker listens only once it has started."""
    sql("postgres", "SELECT pg_notify('cron_trigger', %s)", (db,))


def test_sigkill_in_the_middle_of_a_first_sync_then_restart_imports_every_row_once(odoo, pluggy, figures):
    db = odoo.new_db()
    server = odoo.server(db, workers=2, cron_threads=CRON_WORKERS)
    session = server.session()
    pluggy.control("PATCH", "/config", {"page_size": PAGE_SIZE})
    item, _result = connect_bank(
        session,
        pluggy,
        transactions=ROWS_PER_ACCOUNT,
        bank_accounts=CHECKING_ACCOUNTS,
        credit_accounts=CARD_ACCOUNTS,
        pending=0,
    )
    accounts = account_ids(item)
    quick_lines = lines_by_account(db, accounts)
    assert all(0 < len(quick_lines[account]) < ROWS_PER_ACCOUNT / 2 for account in accounts), (
        "the connect flow imports the latest lines only"
    )
    quick_state = odoo_accounts(db)

    # The cron commits the history account by account. Once two are in, Pluggy stalls on the page after
    # next: an account being read then has pages of lines written in an open transaction.
    wait_for(lambda: len(backfilled(db, accounts)) >= COMMITTED_BEFORE_KILL, 900, "two accounts' history")
    pluggy.fault(path="/v2/transactions", delay=600, delay_count=1, after_pages=1)
    wait_for(lambda: not pluggy.control("GET", "/faults")["faults"], 300, "the cron at the stalled page")
    assert lines_being_written(db), "the cron's transaction holds no write lock on the statement lines"
    server.kill()

    # No account is half imported: each one holds its whole history, committed before the kill, or is exactly
    # as the connect flow left it, the ones being read included.
    committed = backfilled(db, accounts)
    assert COMMITTED_BEFORE_KILL <= len(committed) < len(accounts), committed
    after_kill = lines_by_account(db, accounts)
    expected = pluggy.expected_lines(accounts)
    for account in accounts:
        if account in committed:
            assert after_kill[account] == expected[account]
        else:
            assert after_kill[account] == quick_lines[account]
            assert odoo_accounts(db)[account][1:] == quick_state[account][1:]

    # Restarted, Odoo's cron picks the pending history up again and completes it.
    pluggy.clear_faults()
    odoo.server(db, workers=2, cron_threads=CRON_WORKERS)
    wait_for(lambda: wake_cron(db) or history_imported(db), 900, "the restarted cron to import the history")
    assert sum(len(lines) for lines in expected.values()) == ROWS_PER_ACCOUNT * len(accounts)
    assert lines_by_account(db, accounts) == expected
    assert duplicate_lines(db) == []
    figures["sigkill_first_sync_rows"] = ROWS_PER_ACCOUNT * len(accounts)
    figures["sigkill_accounts"] = len(accounts)
    figures["sigkill_accounts_committed_at_kill"] = len(committed)
    figures["sigkill_duplicates"] = len(duplicate_lines(db))
