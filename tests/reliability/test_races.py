"""The cron, the "Sync now" button and webhook processing racing on the same accounts, each in its own Odoo
worker process: no duplicate line, no deadlock or other error left unhandled, no lost update.

Each round changes the bank at Pluggy (new rows, late postings, edits, deletions, pending rows posted under a
new id), delivers the matching webhooks, then starts the three at the same instant while Pluggy answers
slowly, so that they overlap. Once the inbox is processed, the journals must equal Pluggy exactly, without any
further sync: an update lost in the race would show there.
"""

import json
import threading

import httpx
from flows import (
    account_ids,
    bank_changes,
    connect_bank,
    drain_inbox,
    lines_by_account,
    odoo_accounts,
    sync_now,
)
from harness import RpcError, duplicate_lines, get_param, log_problems, sql

ROUNDS = 3
PLUGGY_DELAY = 0.15  # seconds per transactions page: long enough for the three to overlap


def race(callers):
    """Start every caller at once, each in its own thread; returns their results (or the exception raised)."""
    barrier = threading.Barrier(len(callers))
    results = {}

    def run(name, call):
        barrier.wait()
        try:
            results[name] = call()
        except Exception as error:  # noqa: BLE001 - the test reports it
            results[name] = error

    threads = [threading.Thread(target=run, args=item) for item in callers.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    return results


def test_cron_sync_now_and_webhooks_racing_on_the_same_accounts(odoo, pluggy, figures):
    db = odoo.new_db()
    server = odoo.server(db, workers=4)
    cron_user, accountant, inbox = server.session(), server.session(), server.session()
    item, _result = connect_bank(accountant, pluggy, transactions=24, pending=3)
    ours = account_ids(item)
    sync_now(accountant, db, ours)
    secret = get_param(db, "caixa_pluggy.webhook_secret")
    odoo_ids = [odoo_accounts(db)[pluggy_id][0] for pluggy_id in ours]
    outcomes = []

    for round_ in range(ROUNDS):
        events = bank_changes(pluggy, ours, seed=100 + round_, new=3, edits=2, deletes=1, posts=1, late=1)
        for event in events:
            response = httpx.post(
                server.url + "/caixa_pluggy/webhook",
                content=json.dumps(event),
                headers={"X-Caixa-Pluggy-Secret": secret},
            )
            assert response.status_code == 200
        sql(db, "UPDATE pluggy_account SET next_sync_at = NULL")  # due for the cron
        pluggy.fault(path="/v2/transactions", delay=PLUGGY_DELAY)

        results = race(
            {
                "cron": lambda: cron_user.run_cron("caixa_pluggy.ir_cron_sync"),
                "sync now": lambda: accountant.call("pluggy.account", "action_sync_now", odoo_ids),
                "webhooks": lambda: inbox.run_cron("caixa_pluggy.ir_cron_process_webhooks"),
            }
        )
        pluggy.clear_faults()
        errors = {
            name: result for name, result in results.items() if isinstance(result, (RpcError, Exception))
        }
        assert not errors, errors
        outcomes.append(results["sync now"]["params"]["message"])
        assert all(error is None for _id, _watermark, error, _history in odoo_accounts(db).values())
        assert duplicate_lines(db) == []

        # Every change has its webhook: once they are processed, nothing may be missing or stale.
        counts = drain_inbox(inbox, db)
        assert "failed" not in counts, sql(
            db, "SELECT event, error FROM pluggy_webhook_event WHERE state = 'failed'"
        )
        assert lines_by_account(db, ours) == pluggy.expected_lines(ours), f"round {round_ + 1}"

    assert log_problems(server) == []
    sync_now(accountant, db, ours)
    assert lines_by_account(db, ours) == pluggy.expected_lines(ours)
    figures["race_rounds"] = ROUNDS
    figures["race_sync_now_skipped_as_busy"] = sum("already syncing" in outcome for outcome in outcomes)
    figures["race_duplicate_lines"] = len(duplicate_lines(db))
