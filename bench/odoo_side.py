"""The Odoo side of the benchmark: loads the registry once, then runs each step in a forked child.

Started by bench/run.py with the Odoo venv's Python. Reads one JSON command per line on stdin and answers one
JSON line on stdout per command. Every step runs in a child forked from the loaded registry, so that it starts
from the same memory, opens its own fresh cursor and connection, commits like production and reports the peak
RSS of its own process (``ru_maxrss`` of the child).
"""

import argparse
import json
import os
import resource
import sys
import threading
import time
import traceback
from datetime import date, datetime, timedelta
from pathlib import Path

from fleet_steps import FleetSteps, emulator_rows

POLL_SECONDS = 0.05


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--odoo-path", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--addons-path", required=True)
    parser.add_argument("--db-host", default="127.0.0.1")
    parser.add_argument("--db-port", default="5432")
    parser.add_argument("--db-user", default="root")
    args = parser.parse_args()
    # The protocol owns the real stdout; anything Odoo prints goes to stderr with its logs.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.path.insert(0, args.odoo_path)
    import odoo  # noqa: PLC0415 - only importable once ODOO_PATH is on sys.path
    from odoo.modules.registry import Registry  # noqa: PLC0415
    from odoo.tools import config  # noqa: PLC0415

    config.parse_config(
        [
            f"--addons-path={args.addons_path}",
            f"--db_host={args.db_host}",
            f"--db_port={args.db_port}",
            f"--db_user={args.db_user}",
            "--log-level=warn",
            "-d",
            args.db,
        ]
    )
    registry = Registry(args.db)
    warm_up(registry)
    # No connection may cross a fork: each child opens its own.
    odoo.sql_db.close_all()
    print(json.dumps({"ready": True}), file=out, flush=True)
    for raw in sys.stdin:
        if not raw.strip():
            continue
        command = json.loads(raw)
        if command.get("step") == "quit":
            break
        print(json.dumps(run_in_child(registry, command)), file=out, flush=True)


def warm_up(registry):
    """What a long-running Odoo server has done long before a sync: the steps must not pay it each time."""
    import httpx  # noqa: PLC0415

    httpx.Client().close()  # imports httpcore and its transport lazily
    registry._field_triggers  # noqa: B018 - a lazy property, built on the first write of a process
    try:  # the TLS context caixa_pluggy builds once per process
        from odoo.addons.caixa_pluggy.models.pluggy_api import _ssl_context  # noqa: PLC0415

        _ssl_context()
    except ImportError:
        pass


def run_in_child(registry, command):
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        try:
            result = Steps(registry, command).run()
        except Exception:  # noqa: BLE001 - reported to the driver, which stops the run
            result = {"error": traceback.format_exc()}
        with os.fdopen(write_end, "w") as pipe:
            pipe.write(json.dumps(result, default=str))
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(data) if data else {"error": "the step's process died without an answer"}


class Steps(FleetSteps):
    """One benchmark step; ``measure()`` times a block in a fresh cursor, counting its SQL queries."""

    def __init__(self, registry, command):
        import odoo  # noqa: PLC0415

        self.odoo = odoo
        self.registry = registry
        self.command = command
        # Caches filled while the parent loaded the registry may predate a previous step's writes.
        registry.clear_all_caches()
        registry.cache_invalidated.clear()

    def run(self):
        return getattr(self, "step_" + self.command["step"])(**self.command.get("args", {}))

    # ------------------------------------------------------------------ helpers
    def env(self, cr, uid=None, context=None):
        odoo = self.odoo
        return odoo.api.Environment(cr, uid or odoo.SUPERUSER_ID, context or {})

    def measure(self, block, uid=None, context=None):
        """Run ``block(env)`` in a fresh cursor, then commit: seconds, CPU, queries and peak RSS."""
        odoo = self.odoo
        with self.registry.cursor() as cr:
            env = self.env(cr, uid, context)
            cr.execute("SELECT pg_backend_pid()")
            backend = cr.fetchone()[0]
            queries = odoo.sql_db.sql_counter
            db_cpu = _process_cpu(backend)
            cpu = time.process_time()
            start = time.perf_counter()
            extra = block(env) or {}
            cr.commit()
            seconds = time.perf_counter() - start
            cpu = time.process_time() - cpu
            db_cpu = _process_cpu(backend) - db_cpu
            queries = odoo.sql_db.sql_counter - queries
        return {
            "seconds": seconds,
            # CPU spent by this Odoo process and by its PostgreSQL backend: the cost of the step, whatever
            # else the machine was doing meanwhile.
            "cpu": cpu + db_cpu,
            "odoo_cpu": cpu,
            "db_cpu": db_cpu,
            "queries": queries,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            **extra,
        }

    def untimed(self, block, uid=None, context=None):
        with self.registry.cursor() as cr:
            result = block(self.env(cr, uid, context))
            cr.commit()
        return result

    # ------------------------------------------------------------------ set-up
    def step_setup(self, api_url, client_id, client_secret, history_days):
        def block(env):
            company = env.company
            brl = env.ref("base.BRL")
            brl.active = True
            if company.currency_id != brl:
                # A fresh database has no entries yet: the company can still change its currency.
                company.currency_id = brl
            params = env["ir.config_parameter"].sudo()
            params.set_param("caixa_pluggy.api_url", api_url)
            params.set_param("caixa_pluggy.client_id", client_id)
            params.set_param("caixa_pluggy.client_secret", client_secret)
            params.set_param("caixa_pluggy.history_days", str(history_days))
            # Only the crons the workers step asks for may run while the benchmark's server is up.
            keep = env.ref("caixa_pluggy.ir_cron_sync") | env.ref("caixa_pluggy.ir_cron_sync_worker")
            (env["ir.cron"].search([]) - keep).write({"active": False})
            keep.write({"nextcall": datetime.now() + timedelta(days=30)})
            return {
                "client_user_id": env["pluggy.api"]._client_user_id(company),
                "company_currency": company.currency_id.name,
            }

        return self.untimed(block)

    def step_prepare(self, label, item_id):
        """Register the connection for our sync, and separate journals for the floor and for OCA."""

        def block(env):
            accounts = self._register_item(env, item_id)
            journals = env["account.journal"]
            floor, oca = {}, {}
            for index, account in enumerate(accounts, 1):
                floor[account.pluggy_account_id] = journals.create(
                    {"name": f"Floor {label} {index}", "type": "bank", "code": _free_journal_code(env, "F")}
                ).id
                oca_journal = journals.create(
                    {"name": f"OCA {label} {index}", "type": "bank", "code": _free_journal_code(env, "O")}
                )
                oca[account.pluggy_account_id] = (
                    env["online.bank.statement.provider"]
                    .create(
                        {
                            "journal_id": oca_journal.id,
                            "service": "pluggy_bench",
                            "origin": account.pluggy_account_id,
                            "statement_creation_mode": "monthly",
                        }
                    )
                    .id
                )
            return {"account_ids": accounts.ids, "floor_journals": floor, "oca_providers": oca}

        prepared = self.untimed(block)
        # Every configuration starts from fresh planner statistics, as autovacuum keeps a production database
        # (it is off on some clusters): the floor and OCA are then measured with PostgreSQL's good plans, and
        # our sync refreshes them on its own (timed) when the floor's lines made them stale.
        with self.registry.cursor() as cr:
            cr.execute("ANALYZE account_move, account_move_line, account_bank_statement_line")
        return prepared

    def _register_item(self, env, item_id):
        """The connection as the callback registers it, without the callback's quick first sync.

        Each account gets a journal made beforehand with its bank account number, which the registration links
        (Odoo numbers new bank journals BNK1 to BNK99 only, and a full run needs more journals than that).
        """
        client = env["pluggy.api"]._get_client()
        with client:
            item_data = client.get_item(item_id)
            accounts_data = client.list_accounts(item_id)
        for data in accounts_data:
            env["account.journal"].create(
                {
                    "name": f"Pluggy {data['number']}",
                    "type": "bank",
                    "code": _free_journal_code(env, "P"),
                    "bank_acc_number": data["number"],
                }
            )
        item = env["pluggy.item"]._upsert_from_pluggy(item_data, env.company)
        item._upsert_accounts(accounts_data)
        accounts = item.account_ids.sorted("id")
        if len(accounts) != len(accounts_data) or not all(accounts.mapped("journal_id")):
            raise RuntimeError(f"item {item_id}: {len(accounts)} accounts registered, not all with a journal")
        return accounts

    # ------------------------------------------------------------------ (1) the floor
    def step_floor(self, emulator_url, floor_journals):
        from odoo.addons.bench_oca_pluggy.models.online_bank_statement_provider import (  # noqa: PLC0415
            posted_values,
        )
        from odoo.addons.caixa_pluggy.sync.importer import line_fingerprint  # noqa: PLC0415

        def mapped_values(env):
            """The very values our sync hands to create(), mapped before the clock starts."""
            Line = env["account.bank.statement.line"]
            currency = env.company.currency_id
            values_list = []
            for pluggy_account_id, journal_id in floor_journals.items():
                journal = env["account.journal"].browse(journal_id)
                for values in posted_values(emulator_rows(emulator_url, pluggy_account_id), currency):
                    values["pluggy_fingerprint"] = line_fingerprint(values)
                    values_list.append(Line._pluggy_line_values(journal, values, {}))
            return values_list

        values_list = self.untimed(mapped_values)

        def block(env):
            lines = env["account.bank.statement.line"].create(values_list)
            return {"lines": len(lines)}

        return self.measure(block)

    # ------------------------------------------------------------------ matching
    def step_matching_prepare(self, emulator_url, item_id, rules_active):
        """A connection whose credits pay open invoices: by their PIX reference (the emulator's rows that
        carry one), else a tenth of the others by partner and amount. ``rules_active`` switches the Pluggy
        reconciliation models on or off: the sync is then timed with and without matching on like data."""
        from odoo import Command  # noqa: PLC0415

        def block(env):
            accounts = self._register_item(env, item_id)
            env["account.reconcile.model"].with_context(active_test=False).search(
                [("company_id", "=", env.company.id), ("pluggy_rule", "!=", False)]
            ).active = rules_active
            credits = [
                tx
                for account in accounts
                for tx in emulator_rows(emulator_url, account.pluggy_account_id)
                if tx["type"] == "CREDIT" and tx["status"] == "POSTED" and tx.get("paymentData")
            ]
            invoices = []
            for index, tx in enumerate(credits):
                payment = tx["paymentData"]
                payer = payment.get("payer") or {}
                document = (payer.get("documentNumber") or {}).get("value")
                if not payment.get("receiverReferenceId") and (index % 10 or not document):
                    continue
                partner = env["res.partner"].create({"name": payer.get("name") or "Cliente", "vat": document})
                invoices.append(
                    {
                        "move_type": "out_invoice",
                        "partner_id": partner.id,
                        "payment_reference": payment.get("receiverReferenceId") or False,
                        "invoice_line_ids": [
                            Command.create(
                                {
                                    "name": "Bench",
                                    "price_unit": float(tx["amount"]),
                                    "tax_ids": [Command.clear()],
                                }
                            )
                        ],
                    }
                )
            env["account.move"].create(invoices).action_post()
            return {"account_ids": accounts.ids, "invoices": len(invoices)}

        return self.untimed(block)

    # ------------------------------------------------------------------ (2) (3) our sync
    def step_sync(self, account_ids, by_connection=False):
        """``by_connection``: a ``_sync()`` call per connection, as the cron makes them."""

        def block(env):
            accounts = env["pluggy.account"].browse(account_ids)
            calls = accounts.grouped("item_id").values() if by_connection else [accounts]
            summaries = [call._sync() for call in calls]
            errors = [error for summary in summaries for error in summary.errors]
            if errors:
                raise RuntimeError("; ".join(errors))
            return {
                "lines": sum(len(summary.created_ids) for summary in summaries),
                "updated": sum(summary.updated for summary in summaries),
                "removed": sum(summary.removed for summary in summaries),
                "matched": sum(summary.matched for summary in summaries),
            }

        return self.measure(block)

    def step_profile_sync(self, account_ids, top=40, by_connection=False):
        """Our first sync under cProfile, with the most frequent queries (for the report, not the table)."""
        import collections  # noqa: PLC0415
        import cProfile  # noqa: PLC0415
        import io  # noqa: PLC0415
        import pstats  # noqa: PLC0415

        odoo = self.odoo
        counts, durations = collections.Counter(), collections.Counter()
        execute = odoo.sql_db.Cursor.execute

        def counted(cursor, query, params=None, log_exceptions=True):
            text = query.code if hasattr(query, "code") else str(query)
            key = " ".join(text.split())[:140]
            start = time.perf_counter()
            try:
                return execute(cursor, query, params, log_exceptions)
            finally:
                counts[key] += 1
                durations[key] += time.perf_counter() - start

        odoo.sql_db.Cursor.execute = counted
        profiler = cProfile.Profile()
        profiler.enable()
        result = self.step_sync(account_ids, by_connection=by_connection)
        profiler.disable()
        odoo.sql_db.Cursor.execute = execute
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(top)
        result["profile"] = stream.getvalue()
        result["top_queries"] = [
            (round(durations[key], 3), counts[key], key) for key, _ in durations.most_common(top)
        ]
        return result

    # ------------------------------------------------------------------ (4) OCA
    def step_oca_pull(self, provider_ids, history_days):
        def block(env):
            providers = env["online.bank.statement.provider"].browse(provider_ids)
            before = env["account.bank.statement.line"].search_count(
                [("journal_id", "in", providers.journal_id.ids)]
            )
            # What the pull wizard does for the whole history, from its first day up to now.
            since = datetime.combine(date.today() - timedelta(days=history_days), datetime.min.time())
            providers._pull(since, datetime.now())
            env.flush_all()
            after = env["account.bank.statement.line"].search_count(
                [("journal_id", "in", providers.journal_id.ids)]
            )
            return {"lines": after - before}

        return self.measure(block)

    # ------------------------------------------------------------------ (5) time to first lines
    def step_first_lines(self, item_id, dsn):
        """The callback of a new connection, as the controller calls it, while another connection watches."""
        admin = self.untimed(lambda env: env.ref("base.user_admin").id)
        company = self.untimed(lambda env: env.company.id)
        found = {}
        stop = threading.Event()
        start = time.perf_counter()
        watcher = threading.Thread(target=_watch_lines, args=(dsn, item_id, start, found, stop), daemon=True)
        watcher.start()

        def block(env):
            result = env["pluggy.item"]._connect_callback(item_id)
            journal_ids = result["journal_ids"]
            return {"journal_ids": journal_ids}

        result = self.measure(block, uid=admin, context={"allowed_company_ids": [company]})
        callback_done = time.perf_counter() - start
        # The lines committed by the callback are visible now: give the watcher one more look.
        deadline = time.perf_counter() + 5
        while "first_lines_s" not in found and time.perf_counter() < deadline:
            time.sleep(POLL_SECONDS)
        stop.set()
        watcher.join()

        def count(env):
            return env["account.bank.statement.line"].search_count(
                [("journal_id", "in", result["journal_ids"])]
            )

        def backfill_due(env):
            """The history is left to the cron the callback triggered: those accounts must be due now."""
            accounts = env["pluggy.item"].search([("pluggy_item_id", "=", item_id)]).account_ids
            return len(accounts.filtered(lambda a: a.history_pending and a.next_sync_at <= datetime.now()))

        result.update(found)
        result["callback_s"] = callback_done
        result["lines"] = self.untimed(count)
        result["backfill_due"] = self.untimed(backfill_due)
        return result

    # ------------------------------------------------------------------ (6) workers
    def step_workers_prepare(self, item_id):
        def block(env):
            # Earlier steps' connections are done: only this one's accounts may be due.
            env["pluggy.item"].search([("pluggy_item_id", "!=", item_id)]).write({"active": False})
            accounts = self._register_item(env, item_id)
            return {"account_ids": accounts.ids}

        return self.untimed(block)

    def step_workers_run(self, account_ids, timeout, trigger_worker=False):
        """Trigger the sync cron as the connect flow does, then wait until every account's history is in."""
        start = time.perf_counter()

        def trigger(env):
            env.ref("caixa_pluggy.ir_cron_sync")._trigger()
            if trigger_worker:
                env.ref("caixa_pluggy.ir_cron_sync_worker")._trigger()

        self.untimed(trigger)
        pending = len(account_ids)
        while time.perf_counter() - start < timeout:
            with self.registry.cursor() as cr:
                cr.execute(
                    "SELECT COUNT(*) FROM pluggy_account WHERE id = ANY(%s) AND history_pending",
                    [list(account_ids)],
                )
                pending = cr.fetchone()[0]
            if not pending:
                break
            time.sleep(0.2)
        seconds = time.perf_counter() - start

        def details(env):
            accounts = env["pluggy.account"].browse(account_ids)
            lines = env["account.bank.statement.line"].search_count(
                [("journal_id", "in", accounts.journal_id.ids)]
            )
            errors = [error for error in accounts.mapped("last_sync_error") if error]
            env.cr.execute(
                "SELECT cron_id, COUNT(*) FROM ir_cron_progress"
                " WHERE create_date >= NOW() AT TIME ZONE 'UTC' - make_interval(secs => %s) AND done > 0"
                " GROUP BY cron_id",
                [seconds + 5],
            )
            return {"lines": lines, "errors": errors, "cron_batches": dict(env.cr.fetchall())}

        return {"seconds": seconds, "pending": pending, **self.untimed(details)}

    # ------------------------------------------------------------------ housekeeping
    def step_count_lines(self):
        def block(env):
            env.cr.execute("SELECT COUNT(*) FROM account_bank_statement_line")
            return {"lines": env.cr.fetchone()[0]}

        return self.untimed(block)


def _process_cpu(pid):
    """User + system CPU seconds of a process of this machine (the PostgreSQL backend of a cursor)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_journal_code(env, prefix):
    env.cr.execute("SELECT code FROM account_journal WHERE code LIKE %s", [prefix + "%"])
    taken = {code for (code,) in env.cr.fetchall()}
    return next(f"{prefix}{number}" for number in range(1, 10000) if f"{prefix}{number}" not in taken)


def _watch_lines(dsn, item_id, start, found, stop):
    """Poll from another connection, as the accountant's browser would, until a line shows."""
    import psycopg2  # noqa: PLC0415

    connection = psycopg2.connect(**dsn)
    connection.autocommit = True
    try:
        with connection.cursor() as cr:
            while not stop.is_set():
                cr.execute(
                    """
                    SELECT COUNT(*)
                      FROM account_bank_statement_line line
                      JOIN account_journal journal ON journal.id = line.journal_id
                      JOIN pluggy_account account ON account.id = journal.pluggy_account_id
                      JOIN pluggy_item item ON item.id = account.item_id
                     WHERE item.pluggy_item_id = %s
                    """,
                    [item_id],
                )
                count = cr.fetchone()[0]
                if count:
                    found["first_lines_s"] = time.perf_counter() - start
                    found["first_lines_count"] = count
                    return
                time.sleep(POLL_SECONDS)
    finally:
        connection.close()


if __name__ == "__main__":
    main()
