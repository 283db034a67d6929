import hashlib
import itertools
import logging
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import psycopg2

from odoo import _, api, fields, models, modules
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL, mute_logger

from odoo.addons.base.models.res_bank import sanitize_account_number

from ..pluggy import InvalidTransaction, map_transaction, transaction_fingerprint
from ..pluggy import errors as pluggy_errors
from ..pluggy.account_numbers import best_match, parse_account_number
from ..pluggy.dates import bank_datetime, format_timestamp, local_date, parse_timestamp

_logger = logging.getLogger(__name__)

# Rows Pluggy ingests around the same moment may commit out of order on its side: re-reading a short margin
# before the watermark costs a few duplicate rows (dropped by the dedupe) and never misses one.
WATERMARK_MARGIN = timedelta(hours=1)
# How many accounts one cron call syncs before reporting progress and letting Odoo call it again.
CRON_BATCH_SIZE = 10
# The prefixes of Odoo's default journal codes (account.journal.get_next_bank_cash_default_code).
JOURNAL_CODE_PREFIXES = {"bank": "BNK", "credit": "CCD"}
# A failed account is due again after this pause (or the sync interval, when shorter).
RETRY_AFTER_FAILURE = timedelta(minutes=30)
# The first lines of a new connection, imported while the Connect widget waits (Odoo spends tens of ms per
# line): shared among its accounts, at least FIRST_BATCH_MIN_LINES each; the cron back-fills the rest.
FIRST_BATCH_LINES = 50
FIRST_BATCH_MIN_LINES = 10
# Look-back windows read from Pluggy at the same time when several accounts are synced together.
PREFETCH_THREADS = 4
# A long import refreshes the planner statistics, inside its transaction, after this many lines and then each
# time the count doubles (see _LineImporter._refresh_statistics).
ANALYZE_AFTER_LINES = 500
# The tables a sync fills, whose planner statistics it keeps fresh.
STATISTICS_TABLES = ("account_move", "account_move_line", "account_bank_statement_line")
# How many skipped rows the account's warning names one by one.
SKIPPED_ROWS_NAMED = 5


# Bills due this many days ago or later still look for the checking account's line of their payments.
BILL_PAYMENT_DAYS = 90


class PluggyAccount(models.Model):
    """A bank or credit-card account of a Pluggy connection, imported into one journal."""

    _name = "pluggy.account"
    _description = "Pluggy Account"
    _order = "item_id, account_type, name, id"
    _check_company_auto = True

    name = fields.Char(required=True, readonly=True)
    item_id = fields.Many2one(
        "pluggy.item", string="Connection", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="item_id.company_id", store=True, index=True)
    active = fields.Boolean(related="item_id.active", store=True)
    pluggy_account_id = fields.Char(string="Pluggy Account ID", required=True, readonly=True, copy=False)
    account_type = fields.Selection(
        [("BANK", "Bank account"), ("CREDIT", "Credit card")], required=True, readonly=True, default="BANK"
    )
    subtype = fields.Char(readonly=True)
    number = fields.Char(readonly=True)
    owner = fields.Char(readonly=True)
    tax_number = fields.Char(string="Owner CPF/CNPJ", readonly=True)
    currency_id = fields.Many2one("res.currency", required=True, readonly=True)
    card_bill_ids = fields.One2many("pluggy.card.bill", "account_id", string="Bills")

    journal_ids = fields.One2many("account.journal", "pluggy_account_id", string="Linked Journals")
    journal_id = fields.Many2one(
        "account.journal",
        compute="_compute_journal_id",
        inverse="_inverse_journal_id",
        domain="[('type', 'in', ('bank', 'credit')), ('company_id', '=', company_id)]",
        check_company=True,
        help="The journal that receives this account's transactions.",
    )

    bank_balance = fields.Monetary(readonly=True, help="The balance the bank reported at the last sync.")
    bank_balance_at = fields.Datetime(string="Bank Balance Date", readonly=True)
    journal_balance = fields.Monetary(compute="_compute_balances")
    balance_difference = fields.Monetary(
        compute="_compute_balances",
        help="Journal balance minus the bank's balance: "
        "non-zero when lines are missing or were added by hand.",
    )

    transactions_watermark = fields.Char(
        readonly=True,
        help="Pluggy's createdAt of the newest transaction imported: the next sync reads from it.",
    )
    pending_transaction_ids = fields.Json(readonly=True, copy=False)
    skipped_transaction_ids = fields.Json(
        string="Skipped Transactions",
        readonly=True,
        copy=False,
        help="Pluggy rows that could not be imported (no date, no amount...): asked for again on every sync.",
    )
    history_pending = fields.Boolean(
        default=True, readonly=True, help="The first sync of the account history is still to be done."
    )
    next_sync_at = fields.Datetime(readonly=True, index=True)
    last_sync_at = fields.Datetime(readonly=True)
    last_sync_error = fields.Text(readonly=True)
    last_sync_warning = fields.Text(
        readonly=True, help="What the last sync could not import; the rest of the account was imported."
    )

    _sql_constraints = [
        (
            "pluggy_account_id_unique",
            "unique(pluggy_account_id)",
            "This Pluggy account is already registered.",
        ),
    ]

    # -------------------------------------------------------------------------
    # COMPUTE METHODS
    # -------------------------------------------------------------------------

    @api.depends("journal_ids")
    def _compute_journal_id(self):
        for account in self:
            account.journal_id = account.journal_ids[:1]

    def _inverse_journal_id(self):
        for account in self:
            account.journal_ids.filtered(
                lambda journal, account=account: journal != account.journal_id
            ).write({"pluggy_account_id": False, "bank_statements_source": "undefined"})
            if account.journal_id:
                account.journal_id.write(
                    {"pluggy_account_id": account.id, "bank_statements_source": "pluggy"}
                )

    @api.depends("bank_balance", "journal_ids")
    def _compute_balances(self):
        totals = dict(
            self.env["account.bank.statement.line"]._read_group(
                [("journal_id", "in", self.journal_ids.ids)], ["journal_id"], ["amount:sum"]
            )
        )
        for account in self:
            account.journal_balance = totals.get(account.journal_id, 0.0)
            account.balance_difference = account.currency_id.round(
                account.journal_balance - account._expected_journal_balance()
            )

    def _expected_journal_balance(self):
        """The bank's balance as the journal should show it: a card balance is money owed."""
        self.ensure_one()
        return -self.bank_balance if self.account_type == "CREDIT" else self.bank_balance

    # -------------------------------------------------------------------------
    # ACTION METHODS
    # -------------------------------------------------------------------------

    def action_sync_now(self):
        """Sync these accounts now, and tell the user what changed.

        Accountants and accounting administrators who see these accounts may sync them. The import runs as
        superuser, like the cron: it writes the sync state of the accounts (balance, watermark, pending ids),
        which accountants may not write, and creates lines, which Odoo lets only "Show Full Accounting
        Features" users create by hand, while an accounting administrator without that option must still be
        able to click "Sync now".
        """
        self.check_access("read")
        if not self.env.su and not self.env.user.has_groups(
            "account.group_account_user,account.group_account_manager"
        ):
            raise AccessError(
                _(
                    "Only accountants and accounting administrators can sync bank accounts. Ask one of them "
                    "to sync it."
                )
            )
        accounts = self.filtered("journal_id")
        if not accounts:
            raise UserError(
                _(
                    "Link the account to a journal before syncing it: choose one in the Journal column of "
                    "its connection's Accounts tab."
                )
            )
        summary = accounts.sudo()._sync()
        return accounts._sync_notification(summary)

    def action_create_opening_balance(self):
        """Add the line that makes the journal balance equal the bank's.

        It is dated before the first imported line.
        """
        for account in self.filtered(
            lambda account: not account.currency_id.is_zero(account.balance_difference)
        ):
            first_line = self.env["account.bank.statement.line"].search(
                [("journal_id", "=", account.journal_id.id)], order="date, id", limit=1
            )
            date = (first_line.date if first_line else fields.Date.context_today(self)) - timedelta(days=1)
            self.env["account.bank.statement.line"].create(
                {
                    "journal_id": account.journal_id.id,
                    "date": date,
                    "amount": -account.balance_difference,
                    "payment_ref": _("Opening balance (Pluggy)"),
                }
            )
        return True

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
        if _try_lock_row(item):
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
                self._commit_progress()
        if not quick:
            self._sync_card_bills(item, client)
        if _try_lock_row(item):
            # Every account of the connection, not only this call's: the cron syncs one at a time.
            failing = item.account_ids.filtered(
                lambda account: account.journal_id and account.last_sync_error
            )
            item.write(
                {
                    "last_sync_at": fields.Datetime.now(),
                    "last_sync_error": "\n".join(failing.mapped("last_sync_error")),
                }
            )
        self._commit_progress()

    def _sync_card_bills(self, item, client):
        """The bills of the cards just synced; then every bill of the connection matches its payments, as the
        checking account's payment line may have arrived only now (the cron syncs one account at a time)."""
        # Bills are written by the sync only, like the accounts' sync state: no user group may edit them.
        Bill = self.env["pluggy.card.bill"].sudo()
        for account in self.filtered(
            lambda account: account.account_type == "CREDIT" and not account.last_sync_error
        ):
            try:
                with self.env.cr.savepoint():
                    Bill._sync_bills(account, client)
            except Exception:  # noqa: BLE001 - bills are an extra: the lines of the sync are kept
                _logger.exception(
                    "Pluggy account %s: its bills could not be stored", account.pluggy_account_id
                )
        recent = fields.Date.subtract(fields.Date.context_today(self), days=BILL_PAYMENT_DAYS)
        Bill.search(
            [("account_id", "in", item.account_ids.ids), ("due_date", ">=", recent)]
        )._match_payments()

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
                cr.execute(_analyze_query(tables))

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
            self._record_failure(message)
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

    def _record_failure(self, message):
        # Due again after a pause, not at once: the cron would otherwise claim the failing account again and
        # again in the same run, and never reach the others.
        now = fields.Datetime.now()
        retry_at = now + min(RETRY_AFTER_FAILURE, self._sync_interval())
        self.write({"last_sync_error": message, "last_sync_at": now, "next_sync_at": retry_at})

    def _try_lock(self):
        """Lock this account's row until the transaction ends; False when another sync holds it."""
        return _try_lock_row(self)

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
        return _ReadPlan(
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
        plans = {account.id: account._read_plan(quick) for account in self}
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
        importer = _LineImporter(self, result)
        if prefetched and prefetched[0] == plan:
            reads = prefetched[1].result()
        else:
            reads = plan.stream(client)
        if quick:
            importer.apply(_newest([tx for page in reads.window_pages for tx in page], quick))
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
        if not _try_lock_row(self):
            raise UserError(_("This account is being synced right now: try again in a minute."))
        result = AccountResult()
        importer = _LineImporter(self, result)
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
            values.update(self._balance_values(bank_data, self.company_id))
        self.write(values)

    @api.model
    def _balance_values(self, bank_data, company):
        balance = bank_data.get("balance")
        if balance is None:
            return {}
        return {
            "bank_balance": float(balance),
            "bank_balance_at": bank_datetime(bank_data.get("updatedAt"), company._pluggy_time_zone())
            or fields.Datetime.now(),
        }

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

    def _sync_interval(self):
        cron = self.env.ref("caixa_pluggy.ir_cron_sync", raise_if_not_found=False)
        if not cron:
            return timedelta(hours=4)
        unit = {"minutes": "minutes", "hours": "hours", "days": "days", "weeks": "weeks"}.get(
            cron.interval_type
        )
        if unit is None:  # months: the closest timedelta
            return timedelta(days=30 * cron.interval_number)
        # A few minutes early, so the next cron run finds the account due.
        return timedelta(**{unit: cron.interval_number}) - timedelta(minutes=5)

    def _commit_progress(self):
        """Commit what one account's sync wrote; tests keep everything in their own transaction, and so does a
        caller that syncs inside its own savepoint (webhook processing), which a commit would destroy."""
        if not modules.module.current_test and not self.env.context.get("pluggy_sync_no_commit"):
            self.env.cr.commit()  # pylint: disable=invalid-commit - one account or event per transaction

    @api.model
    def _cron_sync(self):
        """Scheduled sync: claim due accounts one by one, so any number of cron workers can share the work."""
        if not self.env["pluggy.api"]._has_credentials():
            _logger.info("Pluggy sync skipped: no credentials configured")
            return
        self.env["pluggy.webhook.event"]._auto_register_webhooks()
        if self._count_due_accounts() > 1:
            # Share a backlog from the start: the second job claims accounts too (SKIP LOCKED) now, not
            # after this one has gone through a whole batch alone. Committed, so that it wakes up at once.
            self.env.ref("caixa_pluggy.ir_cron_sync_worker")._trigger()
            self._commit_progress()
        done = 0
        while done < CRON_BATCH_SIZE:
            account = self._claim_due_account()
            if not account:
                break
            account._sync()
            done += 1
        remaining = self._count_due_accounts()
        if remaining > 1:
            # A second cron worker may take part of the backlog: accounts are claimed with SKIP LOCKED.
            self.env.ref("caixa_pluggy.ir_cron_sync_worker")._trigger()
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)

    @api.model
    def _make_all_due(self):
        """Make every synced account due now: the next run of the sync job reads them all."""
        journals = self.env["account.journal"].search([("pluggy_account_id", "!=", False)])
        # An account another sync holds (or has just written) is being synced already: it is left to that one,
        # instead of waiting for its lock or failing on it.
        accounts = journals.pluggy_account_id.filtered(
            lambda account: account.item_id.active and _try_lock_row(account)
        )
        # Not "now": the due query compares with the transaction's start, which is before any now() written in
        # it. No next sync time means due, as for an account never synced.
        accounts.write({"next_sync_at": False})

    def _due_accounts_query(self, limit=None, lock=False):
        return SQL(
            """
            SELECT account.id
              FROM pluggy_account account
              JOIN pluggy_item item ON item.id = account.item_id
             WHERE item.active
               AND EXISTS (SELECT 1 FROM account_journal journal WHERE journal.pluggy_account_id = account.id)
               AND (account.next_sync_at IS NULL OR account.next_sync_at <= NOW() AT TIME ZONE 'UTC')
             ORDER BY account.next_sync_at NULLS FIRST, account.id
             %s %s
            """,
            SQL("LIMIT %s", limit) if limit else SQL(""),
            SQL("FOR NO KEY UPDATE OF account SKIP LOCKED") if lock else SQL(""),
        )

    @api.model
    def _flush_due_fields(self):
        """The due-accounts query reads these columns in SQL: pending ORM writes must reach them first."""
        self.flush_model(["next_sync_at", "item_id"])
        self.env["pluggy.item"].flush_model(["active"])
        self.env["account.journal"].flush_model(["pluggy_account_id"])

    @api.model
    def _claim_due_account(self):
        self._flush_due_fields()
        self.env.cr.execute(self._due_accounts_query(limit=1, lock=True))
        row = self.env.cr.fetchone()
        return self.browse(row[0]) if row else self.browse()

    @api.model
    def _count_due_accounts(self):
        self._flush_due_fields()
        self.env.cr.execute(SQL("SELECT COUNT(*) FROM (%s) due", self._due_accounts_query()))
        return self.env.cr.fetchone()[0]

    # -------------------------------------------------------------------------
    # HELPERS: PLUGGY -> ODOO
    # -------------------------------------------------------------------------

    @api.model
    def _values_from_pluggy(self, data, company):
        currency = self._currency_from_code(data.get("currencyCode") or "BRL")
        return {
            "name": data.get("marketingName") or data.get("name") or data.get("number") or data["id"],
            "account_type": "CREDIT" if data.get("type") == "CREDIT" else "BANK",
            "subtype": data.get("subtype"),
            "number": data.get("number"),
            "owner": data.get("owner"),
            "tax_number": data.get("taxNumber"),
            "currency_id": currency.id,
            **self._balance_values(data, company),
        }

    @api.model
    def _currency_from_code(self, code):
        currency = (
            self.env["res.currency"].with_context(active_test=False).search([("name", "=", code)], limit=1)
        )
        if not currency:
            raise UserError(
                _(
                    "The currency %(code)s of a Pluggy account is unknown to Odoo. Add it in Invoicing > "
                    "Configuration > Accounting > Currencies, then connect the bank again.",
                    code=code,
                )
            )
        if not currency.active:
            currency.sudo().active = True
        return currency

    def _link_journals(self):
        """Link each account to the company's journal with its bank account number, else to a new journal."""
        for account in self.filtered(lambda account: not account.journal_id):
            account.journal_id = account._matching_journal() or account._create_journal()

    def _journal_type(self):
        self.ensure_one()
        return "credit" if self.account_type == "CREDIT" else "bank"

    def _matching_journal(self):
        """The company's free journal of this account's type and currency whose bank account is this account,
        however either side spells it (see :mod:`..pluggy.account_numbers`); cards only by the exact number,
        their numbers being masked. None when the account has no number, or when several journals fit
        equally: an empty number would match every journal without one, a guess the wrong one."""
        self.ensure_one()
        Journal = self.env["account.journal"]
        target = parse_account_number(self.number)
        if not target:
            return Journal
        # A journal in another currency would show this account's amounts in the wrong currency.
        currencies = [self.currency_id.id]
        if self.currency_id == self.company_id.currency_id:
            currencies.append(False)
        domain = [
            *Journal._check_company_domain(self.company_id),
            ("type", "=", self._journal_type()),
            ("pluggy_account_id", "=", False),
            ("currency_id", "in", currencies),
        ]
        if self._journal_type() != "bank":
            domain.append(("bank_account_id.sanitized_acc_number", "=", sanitize_account_number(self.number)))
            return Journal.search(domain, limit=1)
        journals = Journal.search([*domain, ("bank_account_id", "!=", False)])
        candidates = {journal.id: journal.bank_account_id._pluggy_account_number() for journal in journals}
        return Journal.browse(best_match(target, candidates))

    def _create_journal(self):
        """A new journal for this account, with its bank account number unless another journal has it."""
        self.ensure_one()
        values = self._new_journal_values(self._journal_type())
        number = values.pop("bank_acc_number", None)
        journal = self.env["account.journal"].create(values)
        # The company's own bank account: created as superuser because Odoo lets only "Contact Creation" users
        # create bank accounts, a right many accounting administrators do not have.
        BankAccount = self.env["res.partner.bank"].sudo()
        if number and not BankAccount.search_count(
            [
                ("sanitized_acc_number", "=", sanitize_account_number(number)),
                ("partner_id", "=", self.company_id.partner_id.id),
            ],
            limit=1,
        ):
            journal.sudo().set_bank_account(number)
        return journal

    def _new_journal_values(self, journal_type):
        self.ensure_one()
        company_currency = self.company_id.currency_id
        values = {
            "name": f"{self.item_id.connector_name or 'Pluggy'} {self.name} {self.number or ''}".strip(),
            "type": journal_type,
            "code": self._free_journal_code(journal_type),
            "company_id": self.company_id.id,
            "currency_id": self.currency_id.id if self.currency_id != company_currency else False,
        }
        if journal_type == "bank" and self.number:
            values["bank_acc_number"] = self.number
        return values

    def _free_journal_code(self, journal_type):
        """A journal code no journal of the company has: Odoo's own BNK1..BNK99 (CCD1..CCD99 for cards), then
        the same sequence on, the prefix shortened to keep the code within its five characters: BN100..BN999,
        B1000..B9999. Odoo's default stops at 99, and the company's 100th bank journal would have no code."""
        self.ensure_one()
        prefix = JOURNAL_CODE_PREFIXES[journal_type]
        Journal = self.env["account.journal"].with_context(active_test=False)
        size = Journal._fields["code"].size
        taken = set(
            Journal.search(
                [*Journal._check_company_domain(self.company_id), ("code", "=like", f"{prefix[0]}%")]
            ).mapped("code")
        )
        for number in itertools.count(1):
            code = prefix[: size - len(str(number))] + str(number)
            if code not in taken:
                return code

    def _sync_notification(self, summary):
        return self.env["pluggy.item"]._notification(
            summary.message(self.env),
            "warning" if summary.errors or summary.warnings else "success",
            next_action=summary.new_lines_action(self.env),
        )


class _ReadPlan(namedtuple("_ReadPlan", "pluggy_account_id window_start full_history since")):
    """One account's reads from Pluggy; plain values only, so that a thread without a cursor can run them."""

    def stream(self, client):
        """The pages, read from Pluggy as they are consumed."""
        window_pages = client.iter_transaction_pages(self.pluggy_account_id, date_from=self.window_start)
        created_pages = ()
        if self.since:
            created_pages = client.iter_transaction_pages(
                self.pluggy_account_id, created_at_from=format_timestamp(self.since)
            )
        return _Reads(fields.Datetime.now(), window_pages, created_pages)

    def fetch(self, client):
        """The pages, all read now."""
        reads = self.stream(client)
        return reads._replace(window_pages=list(reads.window_pages), created_pages=list(reads.created_pages))


# ``started``: when the read began (naive UTC), so that rows created afterwards are not taken as read.
_Reads = namedtuple("_Reads", "started window_pages created_pages")


class AccountResult:
    """What one account's sync did."""

    def __init__(self, window_start=None, full_history=False, error=None):
        self.window_start = window_start
        self.full_history = full_history
        self.error = error
        self.created_ids = []
        self.updated = 0
        self.removed = 0
        self.flagged = 0
        # New or changed lines that a reconciliation model reconciled or found a proposal for.
        self.matched = 0
        self.seen_ids = set()
        self.pending_ids = set()
        # Rows that could not be mapped (InvalidTransaction), by Pluggy id; those without an id apart.
        self.skipped = {}
        self.skipped_without_id = []
        self.watermark = None

    @property
    def changed_lines(self):
        return bool(self.created_ids or self.updated or self.removed or self.flagged)


class SyncSummary:
    """What a sync of several accounts did, in words an accountant reads."""

    def __init__(self):
        self.created_ids = []
        self.updated = self.removed = self.flagged = self.matched = 0
        self.errors = []
        self.warnings = []
        self.skipped = 0

    def add(self, account, result):
        if result is None:
            self.skipped += 1
            return
        if result.error:
            self.errors.append(f"{account.display_name}: {result.error}")
            return
        self.created_ids += result.created_ids
        self.updated += result.updated
        self.removed += result.removed
        self.flagged += result.flagged
        self.matched += result.matched
        if account.last_sync_warning:
            self.warnings.append(f"{account.display_name}: {account.last_sync_warning}")

    def message(self, env):
        parts = [
            env._("%(count)s new lines", count=len(self.created_ids)),
            env._("%(count)s updated", count=self.updated),
            env._("%(count)s removed", count=self.removed),
        ]
        if self.matched:
            parts.append(env._("%(count)s matched with invoices or bills", count=self.matched))
        if self.flagged:
            parts.append(env._("%(count)s reconciled lines flagged for review", count=self.flagged))
        if self.skipped:
            parts.append(env._("%(count)s accounts already syncing", count=self.skipped))
        message = ", ".join(parts) + "."
        if self.errors or self.warnings:
            message += "\n" + "\n".join(self.errors + self.warnings)
        return message

    def new_lines_action(self, env):
        if not self.created_ids:
            return None
        return env["account.bank.statement.line"]._action_open_pluggy_lines(self.created_ids)


class _LineImporter:
    """Applies pages of Pluggy transactions to one journal: batched creates, one lookup query per page."""

    def __init__(self, account, result):
        self.account = account
        self.result = result
        self.journal = account.journal_id
        self.env = account.env
        self.import_pending = account.company_id.pluggy_import_pending
        self.time_zone = account.company_id._pluggy_time_zone()
        self.currency = account.currency_id
        # Partners the sync sets are not an accountant's choice to remember (see pluggy.partner.mapping).
        self.Line = self.env["account.bank.statement.line"].with_context(pluggy_importing=True)
        self.analyze_at = ANALYZE_AFTER_LINES

    def apply(self, transactions, in_window=False):
        rows = [tx for tx in transactions if not tx.get("id") or tx["id"] not in self.result.seen_ids]
        if not rows:
            return
        self.result.seen_ids.update(tx["id"] for tx in rows if tx.get("id"))
        self._advance_watermark(rows)
        mapped = self._map_rows(rows)
        if not mapped:
            return
        existing = self.Line._pluggy_existing_lines(
            self.journal, [values["pluggy_transaction_id"] for values in mapped]
        )
        partners = self.env["pluggy.partner.mapping"]._partners_by_document(
            self.account.company_id, {values["partner_vat"] for values in mapped}
        )
        to_create, changed = [], self.Line
        for values in mapped:
            line = existing.get(values["pluggy_transaction_id"])
            if values["pending"]:
                # Re-checked by id on the next syncs, imported or not: it may post under the same id, or
                # vanish, once the look-back window has moved past its date.
                self.result.pending_ids.add(values["pluggy_transaction_id"])
                if not self.import_pending:
                    continue
            values["fingerprint"] = _fingerprint(values)
            if not line:
                to_create.append(self.Line._pluggy_line_values(self.journal, values, partners))
            elif line["fingerprint"] != values["fingerprint"]:
                changed |= self._apply_change(line, values, partners)
        created = self.Line.create(to_create)
        # Only new lines and lines the bank changed before they were reconciled: a reconciled line is the
        # accountant's, whatever a later sync finds.
        (created | changed)._pluggy_match()
        self.result.created_ids += created.ids
        self.result.matched += len((created | changed).filtered("pluggy_match_state"))
        if created:
            # A long history is imported page by page in one transaction: written to the database, the page's
            # lines, entries and journal items leave the ORM cache, so that memory stays flat whatever the
            # number of pages instead of holding every record created so far.
            self.env.invalidate_all(flush=True)
            self._refresh_statistics()

    def _refresh_statistics(self):
        """Let PostgreSQL see the lines this transaction created, as they grow.

        Odoo numbers each new entry from the journal's previous one, with queries planned from statistics that
        still count this journal's entries as they were before the import: planned for a handful of rows,
        they scan every entry written so far, and each line costs more than the last. ANALYZE inside the
        transaction counts its own new rows; after 500 lines and at each doubling, so a few times per import.
        The lock it holds until the commit keeps out only another ANALYZE of these tables, never a read or a
        write; SKIP_LOCKED, because another sync analyzing them is enough and must not be waited for.
        """
        if len(self.result.created_ids) < self.analyze_at:
            return
        self.analyze_at = 2 * len(self.result.created_ids)
        self.env.cr.execute(_analyze_query(STATISTICS_TABLES))

    def missing_in_window(self):
        """Transaction ids of the lines dated in the re-read window that Pluggy did not return."""
        lines = self.Line._pluggy_lines_missing(self.journal, self.result.window_start, self.result.seen_ids)
        return set(lines.mapped("pluggy_transaction_id"))

    def remove_missing(self, deleted_ids):
        """Lines whose Pluggy row is gone (asked for by id and not returned): removed, or flagged when
        reconciled."""
        if not deleted_ids:
            return
        existing = self.Line._pluggy_existing_lines(self.journal, deleted_ids)
        gone = self.Line.browse(line["id"] for line in existing.values())
        unreconciled = gone.filtered(lambda line: not line.is_reconciled)
        reconciled = (gone - unreconciled).filtered(lambda line: line.pluggy_flag != "deleted")
        self.result.removed += len(unreconciled)
        unreconciled.unlink()
        reconciled._pluggy_flag("deleted", _("The bank no longer lists this transaction."))
        self.result.flagged += len(reconciled)

    def _map_rows(self, rows):
        """The rows' line values, row by row: a row that cannot be imported is set aside, with what is wrong
        with it, and the others go on; the next sync asks for it again."""
        mapped = []
        for tx in rows:
            try:
                mapped.append(
                    map_transaction(
                        tx,
                        account_type=self.account.account_type,
                        account_currency=self.currency.name,
                        currency_digits=self.currency.decimal_places,
                        time_zone=self.time_zone,
                    )
                )
            except InvalidTransaction as error:
                _logger.warning(
                    "Pluggy account %s: a transaction was not imported: %s",
                    self.account.pluggy_account_id,
                    error,
                )
                if error.transaction_id:
                    self.result.skipped[error.transaction_id] = error
                else:
                    self.result.skipped_without_id.append(error)
        return mapped

    def _advance_watermark(self, rows):
        created = [parse_timestamp(tx.get("createdAt")) for tx in rows]
        created = [value for value in created if value]
        if not created:
            return
        newest = max(created)
        if not self.result.watermark or newest > parse_timestamp(self.result.watermark):
            self.result.watermark = format_timestamp(newest)

    def _apply_change(self, line_data, values, partners):
        line = self.Line.browse(line_data["id"])
        if line_data["is_reconciled"]:
            note = line._pluggy_describe_change(values)
            # Told once: the same bank change found again by the next syncs is not news.
            if line.pluggy_flag != "changed" or line.pluggy_flag_note != note:
                line._pluggy_flag("changed", note)
                self.result.flagged += 1
            return self.Line
        line.write(self.Line._pluggy_update_values(values, partners))
        self.result.updated += 1
        return line


def _try_lock_row(record):
    """Lock a record's row until the transaction ends; False when another transaction holds it, or changed it
    since this one began (then it was just synced, and waiting would only end in a serialization failure)."""
    try:
        with mute_logger("odoo.sql_db"), record.env.cr.savepoint(flush=False):
            record.env.cr.execute(
                SQL(
                    "SELECT id FROM %s WHERE id = %s FOR NO KEY UPDATE NOWAIT",
                    SQL.identifier(record._table),
                    record.id,
                )
            )
    except (psycopg2.errors.LockNotAvailable, psycopg2.errors.SerializationFailure):
        return False
    return True


def _analyze_query(tables):
    return SQL("ANALYZE (SKIP_LOCKED) %s", SQL(", ").join(SQL.identifier(table) for table in tables))


def _newest(rows, count):
    """The ``count`` latest rows by bank date, then by Pluggy's creation time."""
    return sorted(rows, key=lambda tx: (tx.get("date") or "", tx.get("createdAt") or ""), reverse=True)[
        :count
    ]


def _fingerprint(values):
    return hashlib.sha1(repr(transaction_fingerprint(values)).encode(), usedforsecurity=False).hexdigest()
