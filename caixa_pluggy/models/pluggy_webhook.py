"""Pluggy's webhooks seen from Odoo: the address Pluggy calls, the secret it sends, registering them."""

import hmac
import ipaddress
import logging
import secrets
from urllib.parse import urlsplit

from odoo import api, models

from ..pluggy import errors as pluggy_errors
from ..pluggy import webhooks

_logger = logging.getLogger(__name__)

WEBHOOK_SECRET_HEADER = "X-Caixa-Pluggy-Secret"
WEBHOOK_ROUTE = "/caixa_pluggy/webhook"
SECRET_PARAM = "caixa_pluggy.webhook_secret"
REGISTERED_URL_PARAM = "caixa_pluggy.webhook_registered_url"


class PluggyWebhook(models.AbstractModel):
    _name = "pluggy.webhook"
    _description = "Pluggy Webhooks"

    @api.model
    def _url(self):
        base_url = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
        return base_url.rstrip("/") + WEBHOOK_ROUTE

    @api.model
    def _secret(self):
        """The secret Pluggy sends with each event, generated the first time it is asked for."""
        return self.env["ir.config_parameter"].sudo().get_param(SECRET_PARAM) or self._rotate_secret()

    @api.model
    def _rotate_secret(self):
        secret = secrets.token_hex(32)
        self.env["ir.config_parameter"].sudo().set_param(SECRET_PARAM, secret)
        return secret

    @api.model
    def _check_secret(self, received):
        """Whether a request carries the webhook secret; never true while no secret exists."""
        expected = self.env["ir.config_parameter"].sudo().get_param(SECRET_PARAM) or ""
        # Constant time, so the secret cannot be guessed byte by byte from response times.
        return bool(expected) and hmac.compare_digest((received or "").encode(), expected.encode())

    @api.model
    def _register_at_pluggy(self):
        """Create or update one Pluggy webhook per event, carrying the secret header; returns how many."""
        url = self._url()
        headers = {WEBHOOK_SECRET_HEADER: self._secret()}
        with self.env["pluggy.api"]._get_client() as client:
            existing = {hook["event"]: hook for hook in client.list_webhooks() if hook.get("url") == url}
            for event in webhooks.WEBHOOK_EVENTS:
                if event in existing:
                    client.update_webhook(existing[event]["id"], headers=headers, enabled=True)
                else:
                    client.create_webhook(url, event, headers=headers)
        self.env["ir.config_parameter"].sudo().set_param(REGISTERED_URL_PARAM, url)
        return len(webhooks.WEBHOOK_EVENTS)

    @api.model
    def _is_registered(self):
        return bool(self.env["ir.config_parameter"].sudo().get_param(REGISTERED_URL_PARAM))

    @api.model
    def _cron_register(self):
        """Register the webhooks on their own once this database has credentials and a public HTTPS address
        (Pluggy calls only such addresses), and again when that address changes."""
        url = self._url()
        params = self.env["ir.config_parameter"].sudo()
        if (
            params.get_param(REGISTERED_URL_PARAM) == url
            or not _is_public_https(url)
            or not self.env["pluggy.api"]._has_credentials()
        ):
            return
        try:
            self._register_at_pluggy()
        except pluggy_errors.PluggyError as error:
            _logger.warning("Pluggy webhooks could not be registered for %s: %s", url, error)


def _is_public_https(url):
    """Whether Pluggy accepts the URL for a webhook: HTTPS on a public domain name (not an IP, not local)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or parts.port not in (None, 443) or "." not in host:
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return not host.endswith((".local", ".internal", ".localhost", ".test", ".example", ".invalid"))
    return False
