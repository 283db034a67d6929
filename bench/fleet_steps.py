"""The Odoo side of the fleet benchmark (bench/fleet.py): register many connections, run one scheduled cycle
on Odoo's own cron processes, then check every journal against the emulator's rows.

Mixed into bench/odoo_side.py's Steps: each step runs in a process forked from the loaded registry.
"""

import collections
import json
import time
import urllib.request
from datetime import datetime, timezone
from decimal import Decimal

POLL_SECONDS = 0.5


class FleetSteps:
    def step_fleet_register(self, item_ids):
        """Each connection as the Connect callback registers it (journals created by caixa_pluggy itself),
        without the callback's quick first sync: the history comes with the first scheduled cycle."""

        def block(env):
            Item = env["pluggy.item"]
            client = env["pluggy.api"]._get_client()
            with client:
                for item_id in item_ids:
                    item = Item._upsert_from_pluggy(client.get_item(item_id), env.company)
                    item._upsert_accounts(client.list_accounts(item_id))
            accounts = Item.search([("pluggy_item_id", "in", item_ids)]).account_ids
            if not all(accounts.mapped("journal_id")):
                raise RuntimeError("some fleet accounts have no journal")
            return {"accounts": len(accounts)}

        return self.untimed(block)

    def step_fleet_cycle(self, timeout, failing=()):
        """Make every account due, trigger the sync job as its schedule would, and wait until the cron
        processes have tried every account once (a failing one records its error and counts as tried), then
        until the jobs have ended. ``failing``: the Pluggy ids of the connections failing on purpose."""
        # Naive UTC, as Odoo stores datetimes.
        start = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)

        def trigger(env):
            """The cycle's accounts: those the schedule finds due once every account was made due."""
            Account = env["pluggy.account"]
            Account._make_all_due()
            Account._flush_due_fields()
            env.cr.execute(Account._due_accounts_query())
            account_ids = [account_id for (account_id,) in env.cr.fetchall()]
            env.ref("caixa_pluggy.ir_cron_sync")._trigger()
            return account_ids

        clock = time.perf_counter()
        account_ids = self.untimed(trigger)
        untried = None
        while time.perf_counter() - clock < timeout:
            with self.registry.cursor() as cr:
                cr.execute(
                    "SELECT COUNT(*) FROM pluggy_account WHERE id = ANY(%s)"
                    " AND (last_sync_at IS NULL OR last_sync_at < %s)",
                    [account_ids, start],
                )
                untried = cr.fetchone()[0]
            if not untried:
                break
            time.sleep(POLL_SECONDS)
        seconds = time.perf_counter() - clock
        self._wait_for_sync_jobs(timeout)

        def details(env):
            env.cr.execute(
                "SELECT COUNT(*) FROM account_bank_statement_line WHERE create_date >= %s", [start]
            )
            created = env.cr.fetchone()[0]
            env.cr.execute(
                "SELECT COUNT(*), MAX(EXTRACT(EPOCH FROM account.last_sync_at - %s))"
                "  FROM pluggy_account account JOIN pluggy_item item ON item.id = account.item_id"
                " WHERE account.id = ANY(%s) AND NOT item.pluggy_item_id = ANY(%s)",
                [start, account_ids, list(failing)],
            )
            healthy, healthy_done = env.cr.fetchone()
            return {"lines": created, "healthy_accounts": healthy, "healthy_done_s": float(healthy_done or 0)}

        return {"seconds": seconds, "untried": untried, "started": start.isoformat(), **self.untimed(details)}

    def _wait_for_sync_jobs(self, timeout):
        """Until no run of the sync jobs is due or running (a running one holds its ir_cron row): the tail of
        the last runs (card bills, progress) is part of the cycle's CPU and queries."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            with self.registry.cursor() as cr:
                jobs = [self.env(cr).ref(xmlid).id for xmlid in _SYNC_JOBS]
                cr.execute(
                    "SELECT COUNT(*) FROM ir_cron_trigger WHERE cron_id = ANY(%s)"
                    " AND call_at <= NOW() AT TIME ZONE 'UTC'",
                    [jobs],
                )
                due = cr.fetchone()[0]
                cr.execute("SELECT id FROM ir_cron WHERE id = ANY(%s) FOR UPDATE SKIP LOCKED", [jobs])
                idle = len(cr.fetchall()) == len(jobs)
                cr.rollback()
            if idle and not due:
                return
            time.sleep(POLL_SECONDS)

    def step_fleet_account_ids(self, pluggy_account_ids):
        def block(env):
            accounts = env["pluggy.account"].search([("pluggy_account_id", "in", pluggy_account_ids)])
            return {"account_ids": accounts.ids}

        return self.untimed(block)

    def step_fleet_check(self, emulator_url, failing):
        """Every journal against the emulator's posted rows (0 missing, 0 duplicated, 0 different), and what
        each failing connection recorded; ``failing`` maps Pluggy item ids to how they fail."""
        from odoo.addons.caixa_pluggy.pluggy import map_transaction  # noqa: PLC0415

        def block(env):
            journals = env["account.journal"].search([("pluggy_account_id", "!=", False)])
            time_zone = env.company._pluggy_time_zone()
            missing = extra = flagged = 0
            bad_accounts = []
            for journal in journals:
                account = journal.pluggy_account_id
                expected = collections.Counter()
                for tx in emulator_rows(emulator_url, account.pluggy_account_id):
                    if tx["status"] != "POSTED":
                        continue
                    values = map_transaction(
                        tx,
                        account_type=account.account_type,
                        account_currency=account.currency_id.name,
                        currency_digits=account.currency_id.decimal_places,
                        time_zone=time_zone,
                    )
                    expected[(tx["id"], values["date"].isoformat(), values["amount"])] += 1
                env.cr.execute(
                    "SELECT line.pluggy_transaction_id, move.date, line.amount,"
                    "       line.is_reconciled AND line.pluggy_flag IS NOT NULL"
                    "  FROM account_bank_statement_line line"
                    "  JOIN account_move move ON move.id = line.move_id"
                    " WHERE line.journal_id = %s AND line.pluggy_transaction_id IS NOT NULL",
                    [journal.id],
                )
                actual, kept = collections.Counter(), set()
                for tx_id, day, amount, flagged_reconciled in env.cr.fetchall():
                    if flagged_reconciled:
                        # Reconciled (a card bill's payment, say) before the bank changed or dropped it: kept
                        # as it was and flagged for review, by design. Its row is not looked for.
                        kept.add(tx_id)
                        continue
                    actual[(tx_id, day.isoformat(), Decimal(amount).quantize(Decimal("0.01")))] += 1
                flagged += len(kept)
                for key in [key for key in expected if key[0] in kept]:
                    del expected[key]
                account_missing = sum((expected - actual).values())
                account_extra = sum((actual - expected).values())
                missing += account_missing
                extra += account_extra
                if account_missing or account_extra:
                    bad_accounts.append(
                        {
                            "account": account.pluggy_account_id,
                            "type": account.account_type,
                            "missing": [str(key) for key in (expected - actual)][:5],
                            "extra": [str(key) for key in (actual - expected)][:5],
                        }
                    )
            items = env["pluggy.item"].search([("pluggy_item_id", "in", list(failing))])
            recorded = collections.Counter()
            for item in items:
                kind = failing[item.pluggy_item_id]
                recorded[kind] += bool(_recorded(item, kind))
            healthy = env["pluggy.item"].search([("pluggy_item_id", "not in", list(failing))])
            return {
                "accounts": len(journals),
                "missing": missing,
                "extra": extra,
                "flagged": flagged,
                "bad_accounts": bad_accounts[:10],
                "failing": dict(collections.Counter(failing.values())),
                "failing_recorded": dict(recorded),
                "healthy_with_error": len(healthy.filtered(lambda item: item.state != "connected")),
            }

        return self.untimed(block)


_SYNC_JOBS = ("caixa_pluggy.ir_cron_sync", "caixa_pluggy.ir_cron_sync_worker")


def _recorded(item, kind):
    """What the accountant sees of a failing connection: the reason, on the connection or its accounts."""
    if kind == "login_error":
        return item.state == "needs_reconnect" and item.problem_description and item.activity_ids
    if kind == "bank_offline":
        return item.state == "error" and item.problem_description
    errors = item.account_ids.mapped("last_sync_error")
    return errors and all("slow down" in (error or "") for error in errors)


def emulator_rows(emulator_url, account_id):
    with urllib.request.urlopen(
        f"{emulator_url}/_emulator/accounts/{account_id}/transactions", timeout=60
    ) as reply:
        # Amounts as the client parses them: decimals, never floats.
        return json.loads(reply.read(), parse_float=Decimal)["results"]
