import json
import logging
from datetime import timedelta

import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..pluggy import errors as pluggy_errors
from ..pluggy import webhooks
from ..pluggy.mapping import map_connector_health
from ..sync.transaction import commit_unit

_logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
PROCESS_BATCH_SIZE = 50
RETRY_DELAY = timedelta(minutes=2)


class PluggyWebhookEvent(models.Model):
    """The webhook inbox: every Pluggy event once, stored in milliseconds and processed by a cron."""

    _name = "pluggy.webhook.event"
    _description = "Pluggy Webhook Event"
    _order = "id desc"
    _rec_name = "event"

    event_id = fields.Char(string="Event ID", required=True, readonly=True, index=True)
    event = fields.Char(required=True, readonly=True)
    item_ref = fields.Char(string="Pluggy Item ID", readonly=True, index=True)
    account_ref = fields.Char(string="Pluggy Account ID", readonly=True)
    # The company of the connection the event names, when it is one of this database's; see the record rules.
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    payload = fields.Json(string="Raw Payload", readonly=True)
    payload_display = fields.Text(string="Payload", compute="_compute_payload_display")
    state = fields.Selection(
        [("new", "To process"), ("done", "Processed"), ("ignored", "Ignored"), ("failed", "Failed")],
        default="new",
        required=True,
        readonly=True,
        index=True,
    )
    attempts = fields.Integer(readonly=True)
    error = fields.Text(readonly=True)
    processed_at = fields.Datetime(readonly=True)

    _sql_constraints = [
        ("event_id_unique", "unique(event_id)", "This Pluggy event was already received."),
    ]

    # -------------------------------------------------------------------------
    # COMPUTE METHODS
    # -------------------------------------------------------------------------

    @api.depends("payload")
    def _compute_payload_display(self):
        for event in self:
            event.payload_display = json.dumps(event.payload, indent=2, ensure_ascii=False)

    # -------------------------------------------------------------------------
    # ACTION METHODS
    # -------------------------------------------------------------------------

    def action_retry(self):
        self.write({"state": "new", "attempts": 0, "error": False, "processed_at": False})
        self._trigger_processing()

    # -------------------------------------------------------------------------
    # RECEIVING (called by the webhook route: must answer in milliseconds)
    # -------------------------------------------------------------------------

    @api.model
    def _receive(self, payload):
        """Store an event once, whatever the retries and replays; returns True when it was new."""
        item_ref, account_ref = webhooks.item_ref(payload), webhooks.account_ref(payload)
        # The company is read by the insert below, in SQL.
        self.env["pluggy.item"].flush_model(["pluggy_item_id", "company_id"])
        self.env["pluggy.account"].flush_model(["pluggy_account_id", "company_id"])
        query = SQL(
            """
            INSERT INTO pluggy_webhook_event
                   (event_id, event, item_ref, account_ref, company_id, payload, state, attempts,
                    create_date, write_date, create_uid, write_uid)
            VALUES (%s, %s, %s, %s,
                    COALESCE((SELECT company_id FROM pluggy_item WHERE pluggy_item_id = %s),
                             (SELECT company_id FROM pluggy_account WHERE pluggy_account_id = %s)),
                    %s, 'new', 0, NOW() AT TIME ZONE 'UTC', NOW() AT TIME ZONE 'UTC', %s, %s)
            ON CONFLICT (event_id) DO NOTHING
            RETURNING id
            """,
            webhooks.event_key(payload, fields.Datetime.now()),
            payload["event"],
            item_ref,
            account_ref,
            item_ref,
            account_ref,
            json.dumps(payload),
            self.env.uid,
            self.env.uid,
        )
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(query, log_exceptions=False)
                created = bool(self.env.cr.fetchone())
        except psycopg2.errors.SerializationFailure:
            # The same event delivered twice at once: the other delivery's row, committed after this
            # transaction began, is reported as a serialization failure (Odoo runs in REPEATABLE READ). It is
            # this very event, so this delivery is a duplicate: answered now, not after Odoo retried the whole
            # request a second later.
            return False
        if created:
            self._trigger_processing()
        return created

    @api.model
    def _assign_company(self, items):
        """Give the events received before their connection was registered (Pluggy may announce a new item
        before the browser's callback) the connection's company."""
        for item in items:
            self.sudo().search([("item_ref", "=", item.pluggy_item_id), ("company_id", "=", False)]).write(
                {"company_id": item.company_id.id}
            )

    @api.model
    def _trigger_processing(self, at=None):
        self.env.ref("caixa_pluggy.ir_cron_process_webhooks").sudo()._trigger(at=at)

    # -------------------------------------------------------------------------
    # PROCESSING (cron)
    # -------------------------------------------------------------------------

    @api.model
    def _cron_process(self):
        events = self._due_events()[:PROCESS_BATCH_SIZE]
        for event in events:
            event._process()
            commit_unit(self.env)
        remaining = len(self._due_events())
        self.env["ir.cron"]._notify_progress(done=len(events), remaining=remaining)

    @api.model
    def _due_events(self):
        """Events to process now: new ones, and those to try again whose delay has passed. The cron runs again
        at once while some remain, so an event waiting for its delay must not count, or it would be retried
        in a tight loop until its attempts run out."""
        now = fields.Datetime.now()
        domain = [("state", "in", ("new", "failed")), ("attempts", "<", MAX_ATTEMPTS)]
        return self.search(domain, order="id").filtered(
            lambda event: (
                not event.processed_at or event.processed_at + RETRY_DELAY * max(event.attempts, 1) <= now
            )
        )

    def _process(self):
        """Process one event; re-reads Pluggy, since the payload is only a signal."""
        self.ensure_one()
        handler = EVENT_HANDLERS.get(self.event)
        if not handler:
            self._finish("ignored", _("Event not handled by caixa_pluggy."))
            return
        try:
            with self.env.cr.savepoint():
                # A sync must not commit inside this savepoint: the commit would end it, and the cron commits
                # the event with what its handler wrote.
                outcome = getattr(self.with_context(pluggy_sync_no_commit=True), handler)()
        except (pluggy_errors.PluggyError, UserError) as error:
            self._fail(str(error))
            return
        except Exception as error:  # noqa: BLE001 - a broken event must not block the inbox
            _logger.exception("Pluggy webhook event %s failed", self.event_id)
            self._fail(str(error))
            return
        if outcome == "retry":
            # Another sync holds the account: process again shortly, without counting an attempt.
            self.processed_at = fields.Datetime.now()
            self._trigger_processing(at=fields.Datetime.now() + RETRY_DELAY)
            return
        self._finish(*outcome) if isinstance(outcome, tuple) else self._finish("done")

    def _finish(self, state, error=False):
        self.write({"state": state, "error": error, "processed_at": fields.Datetime.now()})

    def _fail(self, message):
        _logger.warning("Pluggy webhook event %s (%s) failed: %s", self.event_id, self.event, message)
        attempts = self.attempts + 1
        self.write(
            {"state": "failed", "attempts": attempts, "error": message, "processed_at": fields.Datetime.now()}
        )
        if attempts < MAX_ATTEMPTS:
            self._trigger_processing(at=fields.Datetime.now() + RETRY_DELAY * attempts)

    # -------------------------------------------------------------------------
    # HANDLERS: each returns None (done), "retry", or (state, note)
    # -------------------------------------------------------------------------

    def _connection(self):
        return (
            self.env["pluggy.item"]
            .with_context(active_test=False)
            .search([("pluggy_item_id", "=", self.item_ref or "")], limit=1)
        )

    def _account(self):
        return self.env["pluggy.account"].search(
            [("pluggy_account_id", "=", self.account_ref or ""), ("item_id.active", "=", True)], limit=1
        )

    def _handle_item_event(self):
        item = self._connection()
        if not item:
            return ("ignored", _("Not a connection of this database."))
        if self.event == "item/deleted":
            item.write({"active": False})
            item._log_note(_("The connection was deleted at Pluggy. The imported lines are kept."))
            return None
        with self.env["pluggy.api"]._get_client() as client:
            bank_accounts = item._refresh_from_pluggy(client)
            if self.event in ("item/created", "item/updated") and bank_accounts:
                item._upsert_accounts(list(bank_accounts.values()))
        if self.event == "item/updated" and item.active:
            item.account_ids.filtered("journal_id").write({"next_sync_at": fields.Datetime.now()})
            self.env.ref("caixa_pluggy.ir_cron_sync").sudo()._trigger()
        return None

    def _handle_transactions_event(self):
        account = self._account()
        if not account or not account.journal_id:
            return ("ignored", _("Not an account synced by this database."))
        transaction_ids = webhooks.transaction_ids(self.payload or {})
        summary = account._sync(transaction_ids=transaction_ids)
        if summary.skipped:
            return "retry"
        if summary.errors:
            raise UserError("\n".join(summary.errors))
        return None

    def _handle_connector_event(self):
        connector_id = webhooks.connector_ref(self.payload or {})
        # Pluggy's sandbox bank is connector 0: only a missing id names no connector.
        items = self.env["pluggy.item"]
        if connector_id is not None:
            items = items.search([("connector_id", "=", connector_id)])
        if not items:
            return ("ignored", _("No connection uses this bank."))
        with self.env["pluggy.api"]._get_client() as client:
            connector = client.get_connector(connector_id, health_details=True)
        items.write(map_connector_health(connector.get("health")))
        return None


EVENT_HANDLERS = {
    **dict.fromkeys(webhooks.ITEM_EVENTS, "_handle_item_event"),
    **dict.fromkeys(webhooks.CONNECTOR_EVENTS, "_handle_connector_event"),
    **dict.fromkeys(webhooks.TRANSACTION_EVENTS, "_handle_transactions_event"),
}
