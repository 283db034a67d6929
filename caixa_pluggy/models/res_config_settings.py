from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..pluggy import errors as pluggy_errors
from ..sync.policy import DEFAULT_SYNC_HOURS
from .pluggy_api import DEFAULT_HISTORY_DAYS, DEFAULT_LOOKBACK_DAYS


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    pluggy_client_id = fields.Char(
        string="Pluggy Client ID", config_parameter="caixa_pluggy.client_id", groups="base.group_system"
    )
    # The secret is write-only: the browser only learns whether one is set, and a new value replaces it.
    pluggy_client_secret_new = fields.Char(string="New Pluggy Client Secret", groups="base.group_system")
    pluggy_client_secret_set = fields.Boolean(
        string="Client Secret Set", compute="_compute_pluggy_client_secret_set", groups="base.group_system"
    )
    pluggy_api_url = fields.Char(
        string="Pluggy API URL", config_parameter="caixa_pluggy.api_url", groups="base.group_system"
    )
    pluggy_sdk_url = fields.Char(
        string="Pluggy Connect Script URL",
        config_parameter="caixa_pluggy.sdk_url",
        groups="base.group_system",
    )
    pluggy_include_sandbox = fields.Boolean(
        string="Include Sandbox Banks", config_parameter="caixa_pluggy.include_sandbox"
    )
    pluggy_history_days = fields.Integer(
        string="Days of History on First Sync",
        config_parameter="caixa_pluggy.history_days",
        default=DEFAULT_HISTORY_DAYS,
    )
    pluggy_lookback_days = fields.Integer(
        string="Look-back Window (days)",
        config_parameter="caixa_pluggy.lookback_days",
        default=DEFAULT_LOOKBACK_DAYS,
    )
    # A plain field filled by get_values: a computed one without inverse would drop what the admin typed.
    pluggy_sync_interval_hours = fields.Integer(string="Sync Every (hours)")
    pluggy_import_pending = fields.Boolean(related="company_id.pluggy_import_pending", readonly=False)
    pluggy_webhook_url = fields.Char(string="Webhook URL", compute="_compute_pluggy_webhook_url")

    # -------------------------------------------------------------------------
    # COMPUTE METHODS
    # -------------------------------------------------------------------------

    def _compute_pluggy_client_secret_set(self):
        is_set = bool(self.env["pluggy.api"]._get_setting("caixa_pluggy.client_secret"))
        self.pluggy_client_secret_set = is_set

    def _compute_pluggy_webhook_url(self):
        self.pluggy_webhook_url = self.env["pluggy.webhook"]._url()

    # -------------------------------------------------------------------------
    # LOW-LEVEL METHODS
    # -------------------------------------------------------------------------

    @api.model
    def get_values(self):
        values = super().get_values()
        values["pluggy_sync_interval_hours"] = self._pluggy_sync_cron_hours()
        return values

    def set_values(self):
        res = super().set_values()
        # Blank (or spaces) keeps the current secret: the form never shows it, so empty means "unchanged".
        new_secret = (self.pluggy_client_secret_new or "").strip()
        if self.env.user.has_group("base.group_system") and new_secret:
            self.env["ir.config_parameter"].sudo().set_param("caixa_pluggy.client_secret", new_secret)
        if self.pluggy_client_secret_new:
            self.pluggy_client_secret_new = False
        # Only a changed value is written: a cron tuned by hand to minutes stays as it is.
        hours = self.pluggy_sync_interval_hours
        cron = self.env.ref("caixa_pluggy.ir_cron_sync", raise_if_not_found=False)
        if cron and hours > 0 and hours != self._pluggy_sync_cron_hours():
            cron.sudo().write({"interval_number": hours, "interval_type": "hours"})
        return res

    @api.constrains("pluggy_history_days", "pluggy_lookback_days")
    def _check_pluggy_days(self):
        for settings in self:
            if not 1 <= settings.pluggy_history_days <= 365:
                raise UserError(_("Pluggy keeps at most 365 days of history: choose between 1 and 365 days."))
            if not 1 <= settings.pluggy_lookback_days <= 90:
                raise UserError(_("Choose a look-back window between 1 and 90 days."))

    # -------------------------------------------------------------------------
    # ACTION METHODS
    # -------------------------------------------------------------------------

    def action_pluggy_test_connection(self):
        """Ask Pluggy for its bank list with the saved credentials and say what it answered."""
        self.ensure_one()
        self.execute()
        Api = self.env["pluggy.api"]
        try:
            with Api._get_client() as client:
                connectors = client.list_connectors(sandbox=Api._include_sandbox())
        except pluggy_errors.PluggyError as error:
            return self._pluggy_notification(self._pluggy_test_failure(error), "danger")
        return self._pluggy_notification(
            _("Connected to Pluggy: %(count)s banks available.", count=len(connectors)), "success"
        )

    def action_pluggy_register_webhooks(self):
        self.ensure_one()
        self.execute()
        Webhooks = self.env["pluggy.webhook"]
        try:
            count = Webhooks._register_at_pluggy()
        except pluggy_errors.PluggyError as error:
            return self._pluggy_notification(
                _(
                    "Pluggy refused the webhooks: %(error)s Pluggy calls only a public https:// address on a "
                    "domain name: if it refused this one, make the Webhook URL above that address (Odoo's "
                    "web.base.url), then click Register webhooks again.",
                    error=self.env["pluggy.api"]._describe_error(error),
                ),
                "danger",
            )
        return self._pluggy_notification(
            _("%(count)s webhooks registered at Pluggy for %(url)s.", count=count, url=Webhooks._url()),
            "success",
        )

    def action_pluggy_rotate_webhook_secret(self):
        """A new secret, sent to Pluggy at once when webhooks are registered."""
        self.ensure_one()
        Webhooks = self.env["pluggy.webhook"]
        Webhooks._rotate_secret()
        if Webhooks._is_registered():
            return self.action_pluggy_register_webhooks()
        return self._pluggy_notification(_("A new webhook secret was generated."), "success")

    @api.model
    def _pluggy_sync_cron_hours(self):
        cron = self.env.ref("caixa_pluggy.ir_cron_sync", raise_if_not_found=False)
        return cron.interval_number if cron and cron.interval_type == "hours" else DEFAULT_SYNC_HOURS

    def _pluggy_test_failure(self, error):
        """What Pluggy answered (its code and message, for the admin to look up) and what to do about it."""
        advice = self.env["pluggy.api"]._describe_error(error)
        if str(error) in advice:
            return _("The connection test failed. %(advice)s", advice=advice)
        return _(
            "The connection test failed: Pluggy answered %(answer)s. %(advice)s", answer=error, advice=advice
        )

    def _pluggy_notification(self, message, kind):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"message": message, "type": kind, "sticky": kind == "danger"},
        }
