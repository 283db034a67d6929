import logging
from contextlib import contextmanager
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..pluggy import errors as pluggy_errors
from ..pluggy.dates import local_date, parse_timestamp
from ..pluggy.mapping import map_item
from ..sync.policy import FIRST_BATCH_LINES, FIRST_BATCH_MIN_LINES

_logger = logging.getLogger(__name__)

RECONNECT_STATUSES = ("LOGIN_ERROR", "OUTDATED", "WAITING_USER_INPUT", "WAITING_USER_ACTION")
USER_NEEDED_STATUSES = ("LOGIN_ERROR", "WAITING_USER_INPUT", "WAITING_USER_ACTION")
SYNCING_STATUSES = ("UPDATING", "MERGING")
CONSENT_REMINDER_DAYS = (15, 3, 1)


class PluggyItem(models.Model):
    """A connection: one Pluggy item (a bank login) of one company, with its accounts."""

    _name = "pluggy.item"
    _description = "Pluggy Connection"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "connector_name, id"
    _check_company_auto = True

    name = fields.Char(compute="_compute_name", store=True)
    pluggy_item_id = fields.Char(
        string="Pluggy Item ID", required=True, readonly=True, copy=False, index=True
    )
    company_id = fields.Many2one(
        "res.company", required=True, readonly=True, default=lambda self: self.env.company, index=True
    )
    active = fields.Boolean(default=True, tracking=True)
    account_ids = fields.One2many("pluggy.account", "item_id", string="Accounts")
    journal_ids = fields.Many2many("account.journal", compute="_compute_journal_ids", string="Journals")

    # The bank, as Pluggy calls it (a "connector")
    connector_id = fields.Integer(readonly=True)
    connector_name = fields.Char(string="Bank", readonly=True)
    connector_image_url = fields.Char(string="Bank Logo", readonly=True)
    connector_is_sandbox = fields.Boolean(string="Sandbox Bank", readonly=True)
    connector_is_open_finance = fields.Boolean(string="Open Finance", readonly=True)
    connector_health = fields.Selection(
        [("ONLINE", "Online"), ("UNSTABLE", "Unstable"), ("OFFLINE", "Offline")],
        string="Bank Health",
        readonly=True,
        help="The bank's health at Pluggy: when it is unstable or offline, syncs may fail for a while.",
    )
    connector_incidents = fields.Text(string="Open Incidents", readonly=True)

    # The item's state at Pluggy, kept raw so new Pluggy values never break a write
    pluggy_status = fields.Char(readonly=True, tracking=True)
    execution_status = fields.Char(readonly=True)
    error_code = fields.Char(readonly=True)
    error_message = fields.Char(readonly=True)
    consent_expires_at = fields.Datetime(string="Consent Expires", readonly=True)
    pluggy_updated_at = fields.Datetime(
        string="Last Bank Update", readonly=True, help="When Pluggy last read this connection from the bank."
    )
    next_auto_sync_at = fields.Datetime(string="Next Bank Update", readonly=True)
    last_sync_at = fields.Datetime(string="Last Sync", readonly=True)
    last_sync_error = fields.Text(readonly=True)

    state = fields.Selection(
        [
            ("connected", "Connected"),
            ("syncing", "Syncing"),
            ("needs_reconnect", "Needs reconnect"),
            ("error", "Error"),
            ("disconnected", "Disconnected"),
        ],
        compute="_compute_state",
        store=True,
    )
    can_reconnect = fields.Boolean(compute="_compute_can_reconnect")
    problem_description = fields.Text(compute="_compute_can_reconnect", string="What to do")

    _sql_constraints = [
        ("pluggy_item_id_unique", "unique(pluggy_item_id)", "This Pluggy connection is already registered."),
    ]

    # -------------------------------------------------------------------------
    # COMPUTE METHODS
    # -------------------------------------------------------------------------

    @api.depends("connector_name", "pluggy_item_id")
    def _compute_name(self):
        for item in self:
            item.name = item.connector_name or item.pluggy_item_id

    @api.depends("account_ids.journal_id")
    def _compute_journal_ids(self):
        for item in self:
            item.journal_ids = item.account_ids.journal_id

    @api.depends("active", "pluggy_status", "consent_expires_at", "last_sync_error")
    def _compute_state(self):
        for item in self:
            if not item.active:
                item.state = "disconnected"
            elif item.pluggy_status in USER_NEEDED_STATUSES or item._consent_expired():
                item.state = "needs_reconnect"
            elif item.pluggy_status == "OUTDATED" or item.last_sync_error:
                item.state = "error"
            elif item.pluggy_status in SYNCING_STATUSES:
                item.state = "syncing"
            else:
                item.state = "connected"

    @api.depends("active", "pluggy_status", "error_code", "consent_expires_at", "last_sync_error")
    def _compute_can_reconnect(self):
        for item in self:
            consent_expired = item._consent_expired()
            item.can_reconnect = item.active and (item.pluggy_status in RECONNECT_STATUSES or consent_expired)
            item.problem_description = item._explain_state(consent_expired)

    def _consent_expired(self):
        return bool(self.consent_expires_at and self.consent_expires_at <= fields.Datetime.now())

    def _explain_state(self, consent_expired):
        self.ensure_one()
        if consent_expired:
            return _("The consent given to the bank has expired. Click Reconnect to renew it.")
        if self.pluggy_status == "LOGIN_ERROR":
            return _(
                "The bank refused the login (%(code)s). Click Reconnect and log in again.",
                code=self.error_code,
            )
        if self.pluggy_status in ("WAITING_USER_INPUT", "WAITING_USER_ACTION"):
            return _("The bank is waiting for you (a code or an approval in its app). Click Reconnect.")
        if self.pluggy_status == "OUTDATED":
            return _(
                "The bank could not be read last time (%(code)s). Pluggy retries on its own; "
                "you can also click Refresh from bank.",
                code=self.error_code or _("unknown error"),
            )
        if self.last_sync_error:
            return self.last_sync_error
        return False

    # -------------------------------------------------------------------------
    # LOW-LEVEL METHODS
    # -------------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        items = super().create(vals_list)
        self.env["pluggy.webhook.event"]._assign_company(items)
        return items

    # -------------------------------------------------------------------------
    # ACTION METHODS
    # -------------------------------------------------------------------------

    def action_open_connect(self):
        """Open the Pluggy Connect widget: for a new bank, or in update mode for this connection."""
        params = {"item_id": self.pluggy_item_id} if len(self) == 1 else {}
        return {
            "type": "ir.actions.client",
            "tag": "caixa_pluggy.connect",
            "name": _("Reconnect bank") if params else _("Connect bank"),
            "target": "new",
            "params": params,
        }

    def action_sync_now(self):
        accounts = self.account_ids.filtered("journal_id")
        return accounts.action_sync_now()

    def action_refresh_from_bank(self):
        """Ask Pluggy to read the bank again now: user-triggered only, Pluggy forbids scheduled refreshes."""
        self.ensure_one()
        client = self.env["pluggy.api"]._get_client()
        try:
            with client:
                item_data = client.update_item(self.pluggy_item_id, {})
        except pluggy_errors.PluggyConflict as error:
            raise UserError(self._describe_too_frequent(error)) from error
        except pluggy_errors.PluggyError as error:
            raise UserError(self.env["pluggy.api"]._describe_error(error)) from error
        self._write_from_pluggy(item_data)
        return self._notification(
            _("The bank is being read again. New transactions will arrive in a few minutes."), "info"
        )

    def action_disconnect(self):
        """Delete the item at Pluggy and stop syncing; every imported line stays."""
        client = self.env["pluggy.api"]._get_client()
        with client:
            for item in self:
                try:
                    client.delete_item(item.pluggy_item_id)
                except pluggy_errors.PluggyNotFound:
                    _logger.info("Pluggy item %s was already deleted at Pluggy", item.pluggy_item_id)
                except pluggy_errors.PluggyError as error:
                    raise UserError(self.env["pluggy.api"]._describe_error(error)) from error
                item._log_note(_("Disconnected from Pluggy. The imported lines are kept."))
        self.write({"active": False})
        return True

    # -------------------------------------------------------------------------
    # CONNECT FLOW (see controllers/main.py)
    # -------------------------------------------------------------------------

    @api.model
    def _connect_token_for(self, item_id=None):
        """A fresh connect token for the current company; with item_id, in update mode for that connection."""
        Api = self.env["pluggy.api"]
        if item_id:
            item = self.search([("pluggy_item_id", "=", item_id), ("company_id", "=", self.env.company.id)])
            if not item:
                raise AccessError(
                    _(
                        "This bank connection does not belong to your current company. Switch to its company "
                        "(top right) and click Reconnect again."
                    )
                )
        client = Api._get_client()
        try:
            with client:
                token = client.create_connect_token(
                    item_id=item_id,
                    client_user_id=Api._client_user_id(self.env.company),
                    avoid_duplicates=True,
                )
        except pluggy_errors.PluggyError as error:
            raise UserError(Api._describe_error(error)) from error
        return {
            "connect_token": token,
            "sdk_url": Api._get_setting("caixa_pluggy.sdk_url"),
            "include_sandbox": Api._include_sandbox(),
            "update_item": item_id or False,
        }

    @api.model
    def _connect_callback(self, item_id):
        """Register the item the widget created: read it from Pluggy (never trust the browser) and check that
        this database issued its clientUserId for the current company."""
        Api = self.env["pluggy.api"]
        company = self.env.company
        client = Api._get_client()
        try:
            with client:
                item_data = client.get_item(item_id)
                if item_data.get("clientUserId") != Api._client_user_id(company):
                    _logger.warning(
                        "Refused Pluggy item %s: it was not created for company %s", item_id, company.id
                    )
                    raise AccessError(_("This bank connection was not created from this company."))
                accounts_data = client.list_accounts(item_id)
        except pluggy_errors.PluggyNotFound as error:
            raise UserError(
                _(
                    "Pluggy does not know this bank connection. Close this window and click Connect bank "
                    "again."
                )
            ) from error
        except pluggy_errors.PluggyError as error:
            raise UserError(Api._describe_error(error)) from error
        connection = self._upsert_from_pluggy(item_data, company)
        new_accounts = connection._upsert_accounts(accounts_data)
        connection._log_note(_("Connected through Pluggy by %(user)s.", user=self.env.user.name))
        if new_accounts:
            connection._start_first_sync(new_accounts)
        return {"connection_id": connection.id, "journal_ids": connection.account_ids.journal_id.ids}

    def _start_first_sync(self, accounts):
        """Import the latest lines at once, so the accountant sees them in seconds; the cron back-fills
        the rest of the window and the history.

        As superuser, like the cron: an accounting administrator may connect banks without the right to
        create statement lines by hand (Odoo's "Show Full Accounting Features"), and the import must not
        depend on it.
        """
        per_account = max(FIRST_BATCH_MIN_LINES, FIRST_BATCH_LINES // len(accounts))
        accounts.sudo()._sync(quick=per_account)
        self.env.ref("caixa_pluggy.ir_cron_sync").sudo()._trigger()

    # -------------------------------------------------------------------------
    # HELPERS: PLUGGY -> ODOO
    # -------------------------------------------------------------------------

    @api.model
    def _values_from_pluggy(self, item_data, company):
        return map_item(item_data, time_zone=company._pluggy_time_zone())

    def _write_from_pluggy(self, item_data):
        self.ensure_one()
        previous_state = self.state
        self._write_changed(self._values_from_pluggy(item_data, self.company_id))
        if self.state == "needs_reconnect" and previous_state != "needs_reconnect":
            self._schedule_reconnect_activity()

    def _write_changed(self, values):
        """Write only the values that differ from the record's: a sync that finds the connection as it was
        then writes nothing (no UPDATE, no tracking, no ORM cache invalidated)."""
        self.ensure_one()
        changed = {}
        for name, value in values.items():
            field = self._fields[name]
            if field.convert_to_record(field.convert_to_cache(value, self), self) != self[name]:
                changed[name] = value
        if changed:
            self.write(changed)

    @api.model
    def _upsert_from_pluggy(self, item_data, company):
        """Create or update the connection of a Pluggy item for a company."""
        item = self.with_context(active_test=False).search(
            [("pluggy_item_id", "=", item_data["id"])], limit=1
        )
        values = {**self._values_from_pluggy(item_data, company), "active": True}
        if item:
            if item.company_id != company:
                raise UserError(
                    _("This bank connection belongs to another company. Switch to that company to use it.")
                )
            item.write(values)
            return item
        return self.create({**values, "pluggy_item_id": item_data["id"], "company_id": company.id})

    def _upsert_accounts(self, accounts_data):
        """Create or update this connection's accounts and link each to a journal.

        Returns the new accounts.
        """
        self.ensure_one()
        Account = self.env["pluggy.account"].with_context(active_test=False)
        existing = Account.search([("pluggy_account_id", "in", [data["id"] for data in accounts_data])])
        by_pluggy_id = {account.pluggy_account_id: account for account in existing}
        new_accounts = Account
        for data in accounts_data:
            values = Account._values_from_pluggy(data, self.company_id)
            account = by_pluggy_id.get(data["id"])
            if account:
                account.write(values)
            else:
                new_accounts |= Account.create(
                    {**values, "item_id": self.id, "pluggy_account_id": data["id"]}
                )
        new_accounts._link_journals()
        return new_accounts

    def _describe_too_frequent(self, error):
        data = error.data or {}
        hours = data.get("minUpdateFrequencyAllowedInHours")
        last = parse_timestamp(data.get("lastUpdatedAt"))
        if hours and last:
            next_allowed = fields.Datetime.context_timestamp(self, last + timedelta(hours=int(hours)))
            return _(
                "The bank was read recently. Pluggy allows a new refresh from %(when)s.",
                when=next_allowed.strftime("%d/%m/%Y %H:%M"),
            )
        return _(
            "The bank was read recently, and Pluggy limits how often it may be read: try again later, in a "
            "few hours. The scheduled sync goes on meanwhile."
        )

    def _notification(self, message, kind="success", next_action=None):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"message": message, "type": kind, "sticky": False, "next": next_action},
        }

    # -------------------------------------------------------------------------
    # HELPERS: CRON
    # -------------------------------------------------------------------------

    def _refresh_from_pluggy(self, client):
        """Read the connection and its accounts' balances from Pluggy (GET only: no scheduled refreshes).

        Returns the Pluggy accounts by id; empty when Pluggy could not be read, the error being recorded.
        """
        self.ensure_one()
        try:
            self._write_from_pluggy(client.get_item(self.pluggy_item_id))
            accounts = client.list_accounts(self.pluggy_item_id)
        except pluggy_errors.PluggyNotFound:
            self.write({"active": False})
            self._log_note(_("Pluggy no longer knows this connection: it was disconnected."))
            return {}
        except pluggy_errors.PluggyError as error:
            _logger.warning("Could not read Pluggy connection %s: %s", self.pluggy_item_id, error)
            self.last_sync_error = self._describe_sync_failure(error)
            return {}
        self._schedule_consent_activities()
        return {account["id"]: account for account in accounts}

    def _describe_sync_failure(self, error):
        """Plain words for a failed sync; says so when the bank itself is down at Pluggy."""
        self.ensure_one()
        message = self.env["pluggy.api"]._describe_error(error)
        if self.connector_health in ("OFFLINE", "UNSTABLE"):
            health = dict(self._fields["connector_health"]._description_selection(self.env))[
                self.connector_health
            ]
            message = _(
                "%(bank)s is %(health)s at Pluggy right now, so its data cannot be read. The sync will be "
                "retried automatically. (%(error)s)",
                bank=self.name,
                health=health.lower(),
                error=message,
            )
        return message

    def _schedule_reconnect_activity(self):
        for item in self:
            item._schedule_activity_once(
                _("Reconnect %(bank)s", bank=item.name), item.problem_description or _("Reconnect the bank.")
            )

    def _schedule_consent_activities(self):
        now = fields.Datetime.now()
        for item in self.filtered("consent_expires_at"):
            time_zone = item.company_id._pluggy_time_zone()
            days_left = (local_date(item.consent_expires_at, time_zone) - local_date(now, time_zone)).days
            if days_left in CONSENT_REMINDER_DAYS:
                item._schedule_activity_once(
                    _("Consent for %(bank)s expires in %(days)s days", bank=item.name, days=days_left),
                    _("Click Reconnect on the connection to renew the consent before it expires."),
                )

    def _schedule_activity_once(self, summary, note):
        """One open activity per summary and connection, for every accounting administrator.

        A courtesy: it never blocks what the user or the cron is doing (see :meth:`_courtesy`).
        """
        self.ensure_one()
        activity_type = self.env.ref("caixa_pluggy.mail_activity_type_pluggy_reconnect")
        managers = (
            self.env.ref("account.group_account_manager")
            .sudo()
            .users.filtered(lambda user: self.company_id in user.company_ids and not user.share)
        )
        existing = self.activity_ids.filtered(lambda activity: activity.summary == summary).user_id
        # Odoo e-mails the assignee in the name of the current user and refuses when that user has no e-mail
        # address: such a user (an accountant created with a plain login) still leaves the activity, unmailed.
        record = self.with_context(mail_activity_quick_update=not self.env.user.partner_id.email)
        for user in managers - existing:
            with self._courtesy(f"activity {summary!r}"):
                record.activity_schedule(
                    activity_type_id=activity_type.id, summary=summary, note=note, user_id=user.id
                )

    def _log_note(self, body):
        """A line in the connection's chatter. Logged, not posted: it e-mails no one, so it needs neither an
        outgoing mail server nor an author with an e-mail address."""
        for item in self:
            with item._courtesy("note"):
                item._message_log(body=body)

    @contextmanager
    def _courtesy(self, what):
        """Run a chatter write that must never undo the operation around it (a connection, a sync): on any
        error it is rolled back alone and logged."""
        try:
            with self.env.cr.savepoint():
                yield
        except Exception:
            _logger.exception("Could not write the %s on Pluggy connection %s; carrying on", what, self.ids)
