"""What a user and Pluggy do, step by step, against a running Odoo: connect a bank, sync, read the outcome."""

import random
import time
from datetime import date, timedelta

from harness import imported_lines, sql


def connect_bank(session, pluggy, **item):
    """The Connect flow: a connect token from Odoo, an item made at Pluggy with it, then Odoo's callback.

    ``item`` goes to the emulator's ``POST /_emulator/items`` (transactions, history_days, pending...).
    Returns (the Pluggy item with its accounts, the callback's result).
    """
    token = session.json("/caixa_pluggy/connect_token")["result"]["connect_token"]
    client_user_id = pluggy.state.connect_tokens[token]["clientUserId"]
    created = pluggy.control("POST", "/items", {"clientUserId": client_user_id, "history_days": 300, **item})
    reply = session.json("/caixa_pluggy/callback", {"item_id": created["id"]})
    assert "result" in reply, reply
    return created, reply["result"]


def account_ids(item):
    return [account["id"] for account in item["accounts"]]


def odoo_accounts(db):
    """{pluggy account id: (odoo id, watermark, last error, history pending)} of every Pluggy account."""
    rows = sql(
        db,
        "SELECT pluggy_account_id, id, transactions_watermark, last_sync_error, history_pending "
        "FROM pluggy_account",
    )
    return {row[0]: row[1:] for row in rows}


def history_imported(db):
    """Whether no account waits for its history any more (the cron back-fills it after a connect)."""
    return not any(history_pending for _id, _watermark, _error, history_pending in odoo_accounts(db).values())


def odoo_account_ids(db, pluggy_ids):
    accounts = odoo_accounts(db)
    return [accounts[pluggy_id][0] for pluggy_id in pluggy_ids]


def sync_now(session, db, pluggy_ids):
    """The account's "Sync now" button; returns the notification's message."""
    action = session.call("pluggy.account", "action_sync_now", odoo_account_ids(db, pluggy_ids))
    return action["params"]["message"]


def lines_by_account(db, pluggy_ids):
    """What Odoo holds, shaped like Pluggy.expected_lines (duplicates kept, so that they show)."""
    lines = imported_lines(db)
    return {pluggy_id: sorted(lines.get(pluggy_id, [])) for pluggy_id in pluggy_ids}


def item_error(db, pluggy_item_id):
    rows = sql(db, "SELECT last_sync_error FROM pluggy_item WHERE pluggy_item_id = %s", (pluggy_item_id,))
    return rows[0][0] if rows else None


def inbox_counts(db):
    return dict(sql(db, "SELECT state, COUNT(*) FROM pluggy_webhook_event GROUP BY state"))


BILL_PAYMENTS = {"PAGAMENTO FATURA CARTAO", "PAGAMENTO RECEBIDO - OBRIGADO"}


def bank_changes(pluggy, pluggy_ids, *, seed, new=4, edits=2, deletes=1, posts=1, late=1):
    """Changes at Pluggy as banks make them, each with the webhook payload Pluggy sends about it.

    Per account: ``new`` rows of the last days, ``late`` postings dated 40 days ago (created now), ``edits``
    amounts changed, ``deletes`` rows removed, ``posts`` pending rows posted under a new id (old one deleted).
    Returns the complete payloads (with their eventId), in the order Pluggy would send them.
    """
    rng = random.Random(seed)
    state = pluggy.state
    today = date.today()
    payloads = []
    with state.lock:
        for account_id in pluggy_ids:
            rows = list(state.ledgers[account_id].sorted_rows())
            posted = [row for row in rows if row["status"] == "POSTED"]
            pending = [row for row in rows if row["status"] == "PENDING"]
            # Card-bill payments are left alone: Odoo reconciles each pair as a transfer, and flags a
            # reconciled line, never changes it, when the bank edits or deletes its row.
            changeable = [row for row in posted if row["description"] not in BILL_PAYMENTS]
            touched = rng.sample(changeable, min(len(changeable), edits + deletes))
            created = [
                state.create_transaction(
                    account_id,
                    {
                        "amount": f"-{rng.randint(1, 99999) / 100:.2f}",
                        "date": (
                            today - timedelta(days=40 if index < late else rng.randint(0, 6))
                        ).isoformat(),
                        "description": f"change {seed} {index}",
                    },
                )
                for index in range(new + late)
            ]
            if created:
                payloads.append(state.created_event(created, pluggy.url))
            edited = touched[:edits]
            for row in edited:
                state.edit_transaction(row["id"], {"amount": f"{rng.randint(1, 99999) / 100:.2f}"})
            if edited:
                payloads.append(state.changed_event("transactions/updated", edited))
            deleted = [state.delete_transaction(row["id"]) for row in touched[edits:]]
            if deleted:
                payloads.append(state.changed_event("transactions/deleted", deleted))
            for row in pending[:posts]:
                old, new_row = state.post_transaction(row["id"], {})
                payloads.append(state.changed_event("transactions/deleted", [old]))
                payloads.append(state.created_event([new_row], pluggy.url))
        return [state.complete_payload(payload) for payload in payloads]


def drain_inbox(session, db, runs=20):
    """Process the webhook inbox with the cron's "Run manually" until nothing is left to do.

    Events put off because another sync held their account wait a couple of minutes by design: the clock is
    moved past that wait before each run. Returns the inbox counts by state.
    """
    for _run in range(runs):
        sql(
            db,
            "UPDATE pluggy_webhook_event SET processed_at = processed_at - INTERVAL '1 day' "
            "WHERE state = 'new'",
        )
        session.run_cron("caixa_pluggy.ir_cron_process_webhooks")
        counts = inbox_counts(db)
        if not counts.get("new"):
            return counts
    raise AssertionError(f"the webhook inbox is not empty after {runs} runs: {inbox_counts(db)}")


def wait_for(condition, timeout, what):
    """Poll ``condition`` until it returns something true, and return that; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
