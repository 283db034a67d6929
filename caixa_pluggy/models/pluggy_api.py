import functools
import hashlib
import hmac
import logging
import os

import httpx

from odoo import _, api, models
from odoo.exceptions import UserError

from ..pluggy import ApiKeyCache, PluggyClient
from ..pluggy import errors as pluggy_errors
from ..pluggy.client import DEFAULT_BASE_URL
from ..sync.policy import RATE_LIMIT_MAX_WAIT

_logger = logging.getLogger(__name__)

# One cache per Odoo process: every request and cron of this worker reuses the same 2-hour API key instead of
# calling POST /auth (rate limited per IP) on each sync.
_API_KEY_CACHE = ApiKeyCache()

DEFAULT_SDK_URL = "https://cdn.pluggy.ai/pluggy-connect/v2.14.2/pluggy-connect.js"

# System parameter -> (environment variable used when the parameter is unset, default)
PARAMETERS = {
    "caixa_pluggy.client_id": ("PLUGGY_CLIENT_ID", ""),
    "caixa_pluggy.client_secret": ("PLUGGY_CLIENT_SECRET", ""),
    "caixa_pluggy.api_url": ("PLUGGY_BASE_URL", DEFAULT_BASE_URL),
    "caixa_pluggy.sdk_url": ("PLUGGY_CONNECT_URL", DEFAULT_SDK_URL),
}
DEFAULT_HISTORY_DAYS = 90
DEFAULT_LOOKBACK_DAYS = 10


@functools.cache
def _ssl_context():
    """One TLS context per process: loading the CA bundle for each client (each sync) costs about 90 ms,
    more than a whole no-op sync of an account."""
    return httpx.create_ssl_context()


class PluggyApi(models.AbstractModel):
    """The one place where Odoo meets the Pluggy client: settings, credentials and error wording."""

    _name = "pluggy.api"
    _description = "Pluggy API access"

    # -------------------------------------------------------------------------
    # SETTINGS
    # -------------------------------------------------------------------------

    @api.model
    def _get_setting(self, key):
        """A system parameter, else its environment variable, else its default."""
        env_var, default = PARAMETERS[key]
        value = self.env["ir.config_parameter"].sudo().get_param(key)
        return value or os.environ.get(env_var) or default

    @api.model
    def _get_int_setting(self, key, default):
        try:
            value = int(self.env["ir.config_parameter"].sudo().get_param(key) or default)
        except ValueError:
            return default
        return value if value > 0 else default

    @api.model
    def _history_days(self):
        return min(self._get_int_setting("caixa_pluggy.history_days", DEFAULT_HISTORY_DAYS), 365)

    @api.model
    def _lookback_days(self):
        return self._get_int_setting("caixa_pluggy.lookback_days", DEFAULT_LOOKBACK_DAYS)

    @api.model
    def _include_sandbox(self):
        return bool(self.env["ir.config_parameter"].sudo().get_param("caixa_pluggy.include_sandbox"))

    @api.model
    def _has_credentials(self):
        return bool(
            self._get_setting("caixa_pluggy.client_id") and self._get_setting("caixa_pluggy.client_secret")
        )

    # -------------------------------------------------------------------------
    # CLIENT
    # -------------------------------------------------------------------------

    @api.model
    def _get_client(self):
        """A Pluggy client for this database's credentials; raises a plain-words UserError when unset."""
        if not self._has_credentials():
            raise UserError(
                _(
                    "Set your Pluggy credentials first: a system administrator enters them in Invoicing "
                    "(Accounting) > Configuration > Settings > Pluggy Open Finance."
                )
            )
        return PluggyClient(
            self._get_setting("caixa_pluggy.client_id"),
            self._get_setting("caixa_pluggy.client_secret"),
            base_url=self._get_setting("caixa_pluggy.api_url"),
            key_cache=_API_KEY_CACHE,
            max_rate_limit_wait=RATE_LIMIT_MAX_WAIT,
            transport=httpx.HTTPTransport(verify=_ssl_context()),
        )

    @api.model
    def _client_user_id(self, company):
        """The opaque clientUserId this database gives Pluggy for a company.

        Derived from the database secret, so it cannot be guessed from outside and never changes for a
        company.
        """
        params = self.env["ir.config_parameter"].sudo()
        key = params.get_param("database.secret").encode()
        message = f"{params.get_param('database.uuid')}:{company.id}".encode()
        return "caixa-" + hmac.new(key, message, hashlib.sha256).hexdigest()[:32]

    @api.model
    def _company_for_client_user_id(self, client_user_id):
        """The company that owns a clientUserId, or an empty recordset."""
        if not client_user_id:
            return self.env["res.company"]
        for company in self.env["res.company"].sudo().search([]):
            if hmac.compare_digest(self._client_user_id(company), client_user_id):
                return company
        return self.env["res.company"]

    @api.model
    def _check_rate_limit(self, route):
        """Refuse a burst of calls to a connect route by one user, saying when to try again.

        Counted in the database, shared by every worker, and in a transaction of its own: a call counts even
        when its request then fails and is rolled back.
        """
        # Not named cr: the translation below would take its language from a local cursor, closed by then.
        with self.env.registry.cursor() as count_cr:
            wait = self.env(cr=count_cr, su=True)["pluggy.rate.limit"]._count_call(route, self.env.uid)
        if wait:
            raise UserError(_("Too many attempts. Try again in %(seconds)s s.", seconds=wait))

    # -------------------------------------------------------------------------
    # ERRORS IN PLAIN WORDS
    # -------------------------------------------------------------------------

    @api.model
    def _describe_error(self, error):
        """What a Pluggy error means for the user, and what to do about it."""
        code = getattr(error, "code_description", None)
        if isinstance(error, pluggy_errors.PluggyTransportError):
            return _(
                "Pluggy could not be reached (%(error)s). The sync will be retried automatically.",
                error=error,
            )
        if code == "CLIENT_KEYS_UNAUTHORIZED" or isinstance(error, pluggy_errors.PluggyAuthError):
            return _("Pluggy refused the client id and secret. Check them in Settings > Pluggy Open Finance.")
        if code == "CLIENT_IP_NOT_ALLOWED":
            return _(
                "Pluggy refused this server's IP address. Add it to the allowlist in the Pluggy dashboard."
            )
        if isinstance(error, pluggy_errors.PluggyRateLimited):
            return _("Pluggy asked us to slow down. The sync will be retried automatically in a minute.")
        if isinstance(error, pluggy_errors.PluggyServerError):
            return _(
                "Pluggy is unavailable right now (HTTP %(status)s). The sync will be retried automatically.",
                status=error.status,
            )
        if isinstance(error, pluggy_errors.PluggyNotFound):
            return _(
                "Pluggy no longer knows this connection or account (%(error)s). Connect the bank again with "
                "Connect bank; the lines already imported are kept.",
                error=error,
            )
        return _(
            "Pluggy could not do this (%(error)s). Try again later; if it fails again, send this message to "
            "Pluggy's support.",
            error=error,
        )
