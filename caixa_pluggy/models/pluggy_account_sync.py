"""The sync of Pluggy accounts: locking them, one commit per unit of work, the chain that reads Pluggy and
hands pages to the line importer (caixa_pluggy.sync), and the cards' bills; when accounts are synced is
models/pluggy_account_schedule.py."""

# The sync and its schedule are each their own file of pluggy.account, by design (one job per file).
# pylint: disable=consider-merging-classes-inherited

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from odoo import _, api, fields, models, modules
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..pluggy import errors as pluggy_errors
from ..pluggy.dates import format_timestamp, local_date, parse_timestamp
from ..sync.importer import (
    STATISTICS_TABLES,
    AccountResult,
    LineImporter,
    ReadPlan,
    SyncSummary,
    analyze_query,
    newest_rows,
)
from ..sync.policy import (
    BILL_PAYMENT_DAYS,
    PREFETCH_THREADS,
    RATE_LIMIT_RETRY_SECONDS,
    RETRY_AFTER_FAILURE,
    SKIPPED_ROWS_NAMED,
    WATERMARK_MARGIN,
)
from ..sync.transaction import commit_unit, try_lock_row

_logger = logging.getLogger(__name__)


class PluggyAccount(models.Model):
    _inherit = "pluggy.account"

    # -------------------------------------------------------------------------
    # SYNC: the one entry point used by the cron, the buttons and the webhooks
    # -------------------------------------------------------------------------

    def _sync(self, *, quick=False, transaction_ids=None):
        """Import the transactions of these accounts from Pluggy.

        Each account is synced in its own savepoint and, outside tests, committed on its own: one failing
        account never rolls back or blocks the others. ``quick``, a number of lines per account, imports only
        the latest lines of the look-back window, so that a new connection shows them at once and the cron
        back-fills the history.
        ``transaction_ids`` (from a webhook) are re-read too: those Pluggy no longer returns were deleted.
        """
        summary = SyncSummary()
        client = self.env["pluggy.api"]._get_client()
        self._analyze_stale_tables()
        with client, ThreadPoolExecutor(PREFETCH_THREADS, thread_name_prefix="pluggy-read") as pool:
            try:
                for item, accounts in self.filtered("journal_id").grouped("item_id").items():
                    accounts._sync_connection(item, client, pool, summary, quick, transaction_ids)
            finally:
                # Reads of accounts that were not reached (a crash, a lock held elsewhere) are not waited for.
                pool.shutdown(cancel_futures=True)
        if summary.created_ids:
            # Right after a large import rather than at the start of the next sync, which is then as cheap as
            # a sync with nothing new should be.
            self._analyze_stale_tables()
        return summary

    def _sync_connection(self, item, client, pool, summary, quick, transaction_ids):
        """Sync these accounts of one connection, then record the connection's state."""
        prefetched = self._prefetch_reads(pool, client, quick)
        # Only the sync holding the connection's row writes it: a concurrent sync of the same connection (a
        # button during the cron, a second cron worker) reads the balances and goes on, instead of waiting
        # for that row until the other commits and then failing on it.
        if try_lock_row(item):
            bank_accounts = item._refresh_from_pluggy(client)
        else:
            bank_accounts = self._read_bank_accounts(item, client)
        for account in self:
            result = account._sync_one(
                client,
                bank_accounts,
                quick=quick,
                transaction_ids=transaction_ids,
                prefetched=prefetched.get(account.id),
            )
            summary.add(account, result)
            if result and result.changed_lines:
                # Kept as soon as it is written. An account with nothing new waits for the connection's
                # commit below: a commit per account would also empty the ORM cache each time.
                commit_unit(self.env)
        if try_lock_row(item):
            # Every account of the connection, not only this call's: the cron syncs only the due ones.
            failing = item.account_ids.filtered(
                lambda account: account.journal_id and account.last_sync_error
            )
            item.write(
                {
                    "last_sync_at": fields.Datetime.now(),
                    "last_sync_error": "\n".join(failing.mapped("last_sync_error")),
                }
            )
        commit_unit(self.env)
        if not quick:
            self._sync_card_bills(item, client)

    def _sync_card_bills(self, item, client):
        """The bills of the cards just synced; then every recent bill of the connection matches its payments,
        as the checking account's payment line may have arrived only now (the cron syncs only the accounts
        that are due).

        In a transaction of its own, begun after the lines were committed, holding the rows of the accounts
        whose lines it writes: two syncs of one connection (the cron and a webhook) would otherwise write the
        same lines at once, and one of them fail. What a held row prevents here, the sync holding it does when
        it ends. Stamping the card's row makes a sync that began before this one committed find the row
        changed (see try_lock_row) instead of reading the bills again over charge lines it cannot see yet.
        """
        # Bills are written by the sync only, like the accounts' sync state: no user group may edit them.
        Bill = self.env["pluggy.card.bill"].sudo()
        synced = Bill.browse()
        for account in self.filtered(
            lambda account: account.account_type == "CREDIT" and not account.last_sync_error
        ):
            if not try_lock_row(account):
                continue
            try:
                with self.env.cr.savepoint():
                    synced |= Bill._sync_bills(account, client)
                    account.bills_read_at = fields.Datetime.now()
            except Exception:  # noqa: BLE001 - bills are an extra: the lines of the sync are kept
                _logger.exception(
                    "Pluggy account %s: its bills could not be stored", account.pluggy_account_id
                )
        if all(map(try_lock_row, item.account_ids.filtered("journal_id"))):
            recent = fields.Date.subtract(fields.Date.context_today(self), days=BILL_PAYMENT_DAYS)
            bills = synced | Bill.search(
                [("account_id", "in", item.account_ids.ids), ("due_date", ">=", recent)]
            )
            try:
                with self.env.cr.savepoint():
                    bills._match_payments()
            except Exception:  # noqa: BLE001 - as above; the payments are matched again by the next sync
                _logger.exception("Pluggy item %s: bill payments could not be matched", item.pluggy_item_id)
        commit_unit(self.env)

    @api.model
    def _analyze_stale_tables(self):
        """Refresh PostgreSQL's statistics of the tables a sync fills, when they are missing or stale.

        Without them (a fresh database, autovacuum off or behind) PostgreSQL plans Odoo's own query for a
        journal's previous entry number as a scan of the whole journal, so each new line costs more than the
        last: minutes for a few thousand lines in one account. In its own short transaction, so that the lock
        ANALYZE takes is not held while the lines are imported.
        """
        if modules.module.current_test:
            return
        with self.env.registry.cursor() as cr:
            cr.execute(
                SQL(
                    """
                    SELECT relname
                      FROM pg_stat_user_tables
                     WHERE relname IN %s
                       AND (COALESCE(last_analyze, last_autoanalyze) IS NULL
                            OR n_mod_since_analyze > 50 + n_live_tup / 5)
                    """,
                    STATISTICS_TABLES,
                )
            )
            tables = [table for (table,) in cr.fetchall()]
            if tables:
                _logger.info("Pluggy sync: refreshing the statistics of %s", ", ".join(tables))
                cr.execute(analyze_query(tables))

    @api.model
    def _read_bank_accounts(self, item, client):
        """The connection's accounts at Pluggy, by id, for their balances; empty when Pluggy cannot say."""
        try:
            return {data["id"]: data for data in client.list_accounts(item.pluggy_item_id)}
        except pluggy_errors.PluggyError as error:
            _logger.info("Could not read the balances of Pluggy item %s: %s", item.pluggy_item_id, error)
            return {}

    def _sync_one(self, client, bank_accounts, *, quick=False, transaction_ids=None, prefetched=None):
        """Sync one account; returns its AccountResult, or None when another sync holds it."""
        self.ensure_one()
        try:
            with self.env.cr.savepoint():
                if not self._try_lock():
                    _logger.info("Pluggy account %s is already being synced: skipped", self.pluggy_account_id)
                    return None
                result = self._import_transactions(
                    client, quick=quick, transaction_ids=transaction_ids, prefetched=prefetched
                )
                self._store_sync_state(result, bank_accounts.get(self.pluggy_account_id))
        except pluggy_errors.PluggyError as error:
            message = self.item_id._describe_sync_failure(error)
            _logger.warning("Pluggy sync of account %s failed: %s", self.pluggy_account_id, error)
            self._record_failure(message, error)
            return AccountResult(error=message)
        except Exception as error:  # noqa: BLE001 - one broken account must never stop the others
            _logger.exception("Pluggy sync of account %s crashed", self.pluggy_account_id)
            message = _(
                "The sync of this account failed unexpectedly; the next sync tries again. If it keeps "
                "failing, send this message and Odoo's log to whoever maintains your Odoo: %(error)s",
                error=error,
            )
            self._record_failure(message)
            return AccountResult(error=message)
        return result

    def _record_failure(self, message, error=None):
        # Due again after a pause, not at once: the cron would otherwise claim the failing account again and
        # again in the same run, and never reach the others.
        now = fields.Datetime.now()
        pause = min(RETRY_AFTER_FAILURE, self._sync_interval())
        if isinstance(error, pluggy_errors.PluggyRateLimited):
            # Pluggy said when to come back (its limits are per minute): a run of the job is due then.
            pause = min(pause, timedelta(seconds=max(error.retry_after or 0, RATE_LIMIT_RETRY_SECONDS)))
            self.env.ref("caixa_pluggy.ir_cron_sync").sudo()._trigger(now + pause)
        retry_at = now + pause
        self.write({"last_sync_error": message, "last_sync_at": now, "next_sync_at": retry_at})

    def _try_lock(self):
        """Lock this account's row until the transaction ends; False when another sync holds it."""
        return try_lock_row(self)

    def _read_plan(self, quick):
        """What to read from Pluggy for this account: the window and, after the first sync, the rows created
        since the watermark. The window is re-read in full on every run: it carries late postings, edits and,
        by their absence, deletions that a createdAt watermark cannot see."""
        Api = self.env["pluggy.api"]
        days = Api._history_days() if self.history_pending and not quick else None
        since = None
        if self.transactions_watermark and not quick:
            since = parse_timestamp(self.transactions_watermark) - WATERMARK_MARGIN
        today = local_date(fields.Datetime.now(), self.company_id._pluggy_time_zone())
        return ReadPlan(
            self.pluggy_account_id,
            today - timedelta(days=days or Api._lookback_days()),
            bool(days),
            since,
        )

    def _prefetch_reads(self, pool, client, quick):
        """Start reading the look-back windows of these accounts at once, each in a thread of ``pool``, while
        the first accounts are written: Pluggy's latency is paid once instead of once per account. Only when
        several accounts are synced, and never for a history back-fill, whose rows are streamed page by page
        to keep memory flat."""
        if len(self) < 2:
            return {}
        plans = {}
        for account in self:
            try:
                plans[account.id] = account._read_plan(quick)
            except Exception:  # noqa: BLE001 - read again, and recorded, by the account's own sync
                _logger.debug("Pluggy account %s: no early read", account.pluggy_account_id, exc_info=True)
        return {
            account_id: (plan, pool.submit(plan.fetch, client))
            for account_id, plan in plans.items()
            if not plan.full_history
        }

    def _import_transactions(self, client, *, quick, transaction_ids=None, prefetched=None):
        """Read Pluggy's changes for this account and apply them to its journal's lines.

        ``quick`` (a number of lines) imports only the newest lines of the look-back window and leaves the
        watermark and the history to the next full sync. ``prefetched`` is ``(plan, future)`` from
        :meth:`_prefetch_reads`, used when this account's state still asks for that very plan.
        """
        plan = self._read_plan(quick)
        result = AccountResult(window_start=plan.window_start, full_history=plan.full_history)
        importer = LineImporter(self, result)
        if prefetched and prefetched[0] == plan:
            reads = prefetched[1].result()
        else:
            reads = plan.stream(client)
        if quick:
            importer.apply(newest_rows([tx for page in reads.window_pages for tx in page], quick))
            result.watermark = None
            return result
        for page in reads.window_pages:
            importer.apply(page, in_window=True)
        for page in reads.created_pages:
            importer.apply(page)
        # Asked for by id and not returned means deleted at Pluggy. Re-checked so: pending rows, which may
        # post under the same id or vanish long after the window has moved past them; rows skipped last time,
        # which Pluggy may have completed since; the rows a webhook names; and the window's lines Pluggy did
        # not return, which may only have been re-dated out of the window.
        recheck_ids = set(self.pending_transaction_ids or []) | set(self.skipped_transaction_ids or [])
        recheck_ids |= set(transaction_ids or [])
        recheck_ids |= importer.missing_in_window()
        unseen_ids = recheck_ids - result.seen_ids
        if unseen_ids:
            for page in client.iter_transaction_pages(self.pluggy_account_id, ids=sorted(unseen_ids)):
                importer.apply(page)
        importer.remove_missing(unseen_ids - result.seen_ids)
        if not result.watermark and not self.transactions_watermark:
            # No row at Pluggy yet: everything created before this read was read. Without a watermark, a row
            # posted later with a date before the look-back window would never be looked for.
            result.watermark = format_timestamp(reads.started)
        return result

    def _rows_without_line(self, date_from, date_to):
        """Pluggy's rows dated in this range (in the bank's calendar) that have no line on the journal."""
        self.ensure_one()
        client = self.env["pluggy.api"]._get_client()
        # Pluggy filters on UTC dates: a day more on each side holds every row of the bank's days.
        with client:
            rows = list(
                client.iter_transactions(
                    self.pluggy_account_id,
                    date_from=date_from - timedelta(days=1),
                    date_to=date_to + timedelta(days=1),
                )
            )
        existing = self.env["account.bank.statement.line"]._pluggy_existing_lines(
            self.journal_id, [tx["id"] for tx in rows if tx.get("id")]
        )
        return [tx for tx in rows if tx.get("id") not in existing]

    def _import_rows(self, rows):
        """Import these rows, pending ones too, as the accountant chose them (missing transactions tool)."""
        self.ensure_one()
        if not try_lock_row(self):
            raise UserError(_("This account is being synced right now: try again in a minute."))
        result = AccountResult()
        importer = LineImporter(self, result)
        importer.import_pending = True
        importer.apply(rows)
        if result.pending_ids:
            # Re-checked by the next syncs like any pending row: posted under the same id, or gone.
            self.pending_transaction_ids = sorted(
                set(self.pending_transaction_ids or []) | result.pending_ids
            )
        return result

    def _store_sync_state(self, result, bank_data):
        """Advance the watermark and store the bank balance, in the same transaction as the lines."""
        values = {
            "last_sync_at": fields.Datetime.now(),
            "last_sync_error": False,
            "last_sync_warning": self._describe_skipped_rows(result) or False,
            "pending_transaction_ids": sorted(result.pending_ids) or False,
            "skipped_transaction_ids": sorted(result.skipped) or False,
            "next_sync_at": fields.Datetime.now() + self._sync_interval(),
        }
        if result.watermark and (
            not self.transactions_watermark
            or parse_timestamp(result.watermark) > parse_timestamp(self.transactions_watermark)
        ):
            values["transactions_watermark"] = result.watermark
        if result.full_history:
            values["history_pending"] = False
        elif self.history_pending:
            # A quick sync (on connect) leaves the history to the cron: the account stays due, so the cron the
            # connect flow triggers back-fills it now instead of at the next interval.
            values["next_sync_at"] = fields.Datetime.now()
        if bank_data:
            values.update(self._balance_values(bank_data, self.currency_id, self.company_id))
        self.write(values)

    def _describe_skipped_rows(self, result):
        """The rows this sync could not import, in words an accountant can act on (and pass to support)."""
        problems = [self._describe_invalid_row(error) for error in result.skipped.values()]
        problems += [self._describe_invalid_row(error) for error in result.skipped_without_id]
        if not problems:
            return ""
        named = problems[:SKIPPED_ROWS_NAMED]
        if len(problems) > SKIPPED_ROWS_NAMED:
            named.append(_("and %(count)s more", count=len(problems) - SKIPPED_ROWS_NAMED))
        return _(
            "%(count)s transactions from the bank could not be imported; the rest of the account was. "
            "The next sync tries them again.\n%(rows)s",
            count=len(problems),
            rows="\n".join(f"- {problem}" for problem in named),
        )

    def _describe_invalid_row(self, error):
        if error.transaction_id is None:
            return _("A transaction without an id, which cannot be imported.")
        field = {"date": _("date"), "amount": _("amount")}.get(error.field, error.field)
        if error.value is None:
            return _("Transaction %(id)s has no %(field)s.", id=error.transaction_id, field=field)
        return _(
            "Transaction %(id)s has %(value)s as its %(field)s, which is not valid.",
            id=error.transaction_id,
            value=repr(error.value),
            field=field,
        )
