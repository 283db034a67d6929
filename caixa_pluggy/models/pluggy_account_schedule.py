"""When Pluggy accounts are synced: the interval, the accounts due, and the cron jobs that claim them a
connection at a time so that any number of cron workers share the work (the sync itself:
models/pluggy_account_sync.py)."""

# The sync and its schedule are each their own file of pluggy.account, by design (one job per file).
# pylint: disable=consider-merging-classes-inherited

import logging
from datetime import timedelta

import psycopg2

from odoo import api, models
from odoo.tools import SQL, mute_logger

from ..sync.policy import CLAIM_ATTEMPTS, CRON_BATCH_SIZE, DEFAULT_SYNC_HOURS
from ..sync.transaction import commit_unit, try_lock_row

_logger = logging.getLogger(__name__)


class PluggyAccount(models.Model):
    _inherit = "pluggy.account"

    def _sync_interval(self):
        cron = self.env.ref("caixa_pluggy.ir_cron_sync", raise_if_not_found=False)
        if not cron:
            return timedelta(hours=DEFAULT_SYNC_HOURS)
        unit = {"minutes": "minutes", "hours": "hours", "days": "days", "weeks": "weeks"}.get(
            cron.interval_type
        )
        if unit is None:  # months: the closest timedelta
            return timedelta(days=30 * cron.interval_number)
        # A few minutes early, so the next cron run finds the account due.
        return timedelta(**{unit: cron.interval_number}) - timedelta(minutes=5)

    @api.model
    def _cron_sync(self):
        """Scheduled sync: claim due accounts a connection at a time, so any number of cron workers can share
        the work."""
        if not self.env["pluggy.api"]._has_credentials():
            _logger.info("Pluggy sync skipped: no credentials configured")
            return
        if self._count_due_accounts() > 1:
            # Share a backlog from the start: the second job claims accounts too (SKIP LOCKED) now, not
            # after this one has gone through a whole batch alone. Committed, so that it wakes up at once.
            self.env.ref("caixa_pluggy.ir_cron_sync_worker")._trigger()
            commit_unit(self.env)
        done = 0
        while done < CRON_BATCH_SIZE:
            accounts = self._claim_due_accounts()
            if not accounts:
                break
            accounts._sync()
            done += len(accounts)
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
            lambda account: account.item_id.active and try_lock_row(account)
        )
        # Not "now": the due query compares with the transaction's start, which is before any now() written in
        # it. No next sync time means due, as for an account never synced.
        accounts.write({"next_sync_at": False})

    def _due_accounts_query(self, limit=None, lock=False, item_id=None):
        return SQL(
            """
            SELECT account.id
              FROM pluggy_account account
              JOIN pluggy_item item ON item.id = account.item_id
             WHERE item.active
               AND EXISTS (
                   SELECT 1 FROM account_journal journal
                    WHERE journal.pluggy_account_id = account.id AND journal.active
               )
               AND (account.next_sync_at IS NULL OR account.next_sync_at <= NOW() AT TIME ZONE 'UTC')
               %s
             ORDER BY account.next_sync_at NULLS FIRST, account.id
             %s %s
            """,
            SQL("AND account.item_id = %s", item_id) if item_id else SQL(""),
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
    def _claim_due_accounts(self):
        """The next due account, with the other due accounts of its connection that no other sync holds:
        synced together, they read the connection once and their look-back windows at the same time.

        Held until the sync's first commit: a sibling not synced by then may be taken by another job, and
        this sync then skips it (see try_lock_row).
        """
        for _attempt in range(CLAIM_ATTEMPTS):
            try:
                with mute_logger("odoo.sql_db"), self.env.cr.savepoint(flush=False):
                    return self._lock_next_due_connection()
            except psycopg2.errors.SerializationFailure:
                # Another job synced a due account after this transaction's snapshot (REPEATABLE READ): SKIP
                # LOCKED skips only rows still locked. A new transaction sees that account as not due.
                commit_unit(self.env)
        return self.browse()

    @api.model
    def _lock_next_due_connection(self):
        self._flush_due_fields()
        self.env.cr.execute(self._due_accounts_query(limit=1, lock=True))
        row = self.env.cr.fetchone()
        if not row:
            return self.browse()
        account = self.browse(row[0])
        self.env.cr.execute(self._due_accounts_query(lock=True, item_id=account.item_id.id))
        return account | self.browse(other for (other,) in self.env.cr.fetchall())

    @api.model
    def _count_due_accounts(self):
        self._flush_due_fields()
        self.env.cr.execute(SQL("SELECT COUNT(*) FROM (%s) due", self._due_accounts_query()))
        return self.env.cr.fetchone()[0]
