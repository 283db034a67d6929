"""The plain machinery of an import: what to read from Pluggy, how pages of rows become statement lines,
and what a sync did. No model here: the pluggy.account sync (models/pluggy_account_sync.py) drives it."""

import hashlib
import logging
from collections import namedtuple

from odoo import _, fields
from odoo.tools import SQL

from ..pluggy import InvalidTransaction, map_transaction, transaction_fingerprint
from ..pluggy.dates import format_timestamp, parse_timestamp

_logger = logging.getLogger(__name__)

# A long import refreshes the planner statistics, inside its transaction, after this many lines and then each
# time the count doubles (see LineImporter._refresh_statistics).
ANALYZE_AFTER_LINES = 500
# The tables a sync fills, whose planner statistics it keeps fresh.
STATISTICS_TABLES = ("account_move", "account_move_line", "account_bank_statement_line")


class ReadPlan(namedtuple("ReadPlan", "pluggy_account_id window_start full_history since")):
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


class LineImporter:
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
            self.account.company_id, {values["pluggy_partner_vat"] for values in mapped}
        )
        to_create, changed = [], self.Line
        for values in mapped:
            line = existing.get(values["pluggy_transaction_id"])
            if values["pluggy_pending"]:
                # Re-checked by id on the next syncs, imported or not: it may post under the same id, or
                # vanish, once the look-back window has moved past its date.
                self.result.pending_ids.add(values["pluggy_transaction_id"])
                if not self.import_pending:
                    continue
            values["pluggy_fingerprint"] = line_fingerprint(values)
            if not line:
                to_create.append(self.Line._pluggy_line_values(self.journal, values, partners))
            elif line["pluggy_fingerprint"] != values["pluggy_fingerprint"]:
                changed |= self._apply_change(line, values, partners)
        # Only new lines (matched as they are created) and lines the bank changed before they were reconciled:
        # a reconciled line is the accountant's, whatever a later sync finds.
        created = self.Line.with_context(pluggy_match_new_lines=True).create(to_create)
        changed._pluggy_match()
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
        self.env.cr.execute(analyze_query(STATISTICS_TABLES))

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
            self.result.flagged += len(line._pluggy_flag("changed", line._pluggy_describe_change(values)))
            return self.Line
        line.write(self.Line._pluggy_update_values(values, partners))
        self.result.updated += 1
        return line


def analyze_query(tables):
    return SQL("ANALYZE (SKIP_LOCKED) %s", SQL(", ").join(SQL.identifier(table) for table in tables))


def newest_rows(rows, count):
    """The ``count`` latest rows by bank date, then by Pluggy's creation time."""
    return sorted(rows, key=lambda tx: (tx.get("date") or "", tx.get("createdAt") or ""), reverse=True)[
        :count
    ]


def line_fingerprint(values):
    return hashlib.sha1(repr(transaction_fingerprint(values)).encode(), usedforsecurity=False).hexdigest()
