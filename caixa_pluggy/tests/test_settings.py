import json
import os
import uuid
from unittest.mock import patch

import httpx

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from odoo.addons.caixa_pluggy.models.pluggy_webhook import WEBHOOK_SECRET_HEADER
from odoo.addons.caixa_pluggy.pluggy import webhooks

from .common import BASE_URL, PluggyCase

CREDENTIAL_FIELDS = (
    "pluggy_client_id",
    "pluggy_client_secret_new",
    "pluggy_client_secret_set",
    "pluggy_api_url",
    "pluggy_sdk_url",
)


@tagged("post_install", "-at_install")
class TestSettings(PluggyCase):
    """Accounting > Settings > Pluggy Open Finance, as a system administrator uses it."""

    def setUp(self):
        super().setUp()
        self.params = self.env["ir.config_parameter"].sudo()

    # ----- helpers -----

    def save_settings(self, **values):
        """Fill the settings form and click Save; returns the saved record."""
        settings = self.env["res.config.settings"].create(values)
        settings.execute()
        return settings

    def unique(self, prefix):
        return f"{prefix}-{uuid.uuid4().hex[:12]}"

    def auth_bodies(self):
        return [
            json.loads(request.content) for request in self.pluggy.requests if request.url.path == "/auth"
        ]

    def click_test_connection(self, **values):
        """Click Test connection; returns the notification's params."""
        action = self.env["res.config.settings"].create(values).action_pluggy_test_connection()
        self.assertEqual(action["tag"], "display_notification")
        return action["params"]

    def refuse_auth(self, status, code, message):
        self.pluggy.fault = lambda request: (
            httpx.Response(status, json={"code": status, "codeDescription": code, "message": message})
            if request.url.path == "/auth"
            else None
        )

    # ----- parameters -----

    def test_parameters_are_saved(self):
        self.save_settings(
            pluggy_client_id=" client-from-settings ",
            pluggy_api_url="https://api.pluggy.example",
            pluggy_sdk_url="https://cdn.pluggy.example/connect.js",
            pluggy_include_sandbox=True,
            pluggy_history_days=200,
            pluggy_lookback_days=14,
            pluggy_sync_interval_hours=6,
        )
        self.assertEqual(self.params.get_param("caixa_pluggy.client_id"), "client-from-settings")
        self.assertEqual(self.params.get_param("caixa_pluggy.api_url"), "https://api.pluggy.example")
        self.assertEqual(
            self.params.get_param("caixa_pluggy.sdk_url"), "https://cdn.pluggy.example/connect.js"
        )
        Api = self.env["pluggy.api"]
        self.assertTrue(Api._include_sandbox())
        self.assertEqual(Api._history_days(), 200)
        self.assertEqual(Api._lookback_days(), 14)
        cron = self.env.ref("caixa_pluggy.ir_cron_sync")
        self.assertEqual((cron.interval_number, cron.interval_type), (6, "hours"))

        reopened = self.env["res.config.settings"].create({})
        self.assertEqual(reopened.pluggy_client_id, "client-from-settings")
        self.assertEqual(reopened.pluggy_history_days, 200)
        self.assertEqual(reopened.pluggy_sync_interval_hours, 6)
        self.assertTrue(reopened.pluggy_include_sandbox)

    def test_saving_other_settings_keeps_a_cron_tuned_by_hand(self):
        cron = self.env.ref("caixa_pluggy.ir_cron_sync")
        cron.write({"interval_number": 30, "interval_type": "minutes"})
        self.save_settings(pluggy_lookback_days=12)
        self.assertEqual((cron.interval_number, cron.interval_type), (30, "minutes"))

    def test_history_beyond_what_pluggy_keeps_is_refused(self):
        with self.assertRaisesRegex(UserError, "365"):
            self.save_settings(pluggy_history_days=400)
        with self.assertRaisesRegex(UserError, "look-back"):
            self.save_settings(pluggy_lookback_days=0)

    def test_clearing_a_url_falls_back_to_the_default(self):
        self.save_settings(pluggy_api_url="https://api.pluggy.example")
        with patch.dict(os.environ, {"PLUGGY_BASE_URL": ""}):
            self.save_settings(pluggy_api_url="")
            self.assertFalse(self.params.get_param("caixa_pluggy.api_url"))
            self.assertEqual(
                self.env["pluggy.api"]._get_setting("caixa_pluggy.api_url"), "https://api.pluggy.ai"
            )

    # ----- the secret is write-only -----

    def test_secret_is_never_read_back(self):
        secret = self.unique("secret")
        saved = self.save_settings(pluggy_client_secret_new=secret)
        self.assertEqual(self.params.get_param("caixa_pluggy.client_secret"), secret)

        self.env.flush_all()
        self.env.cr.execute(
            "SELECT count(*) FROM res_config_settings WHERE pluggy_client_secret_new IS NOT NULL AND id = %s",
            [saved.id],
        )
        self.assertEqual(self.env.cr.fetchone()[0], 0, "the secret must not linger in the settings table")

        reopened = self.env["res.config.settings"].create({})
        values = reopened.read()[0]
        self.assertNotIn(secret, json.dumps(values, default=str))
        self.assertTrue(values["pluggy_client_secret_set"])
        defaults = self.env["res.config.settings"].default_get(list(reopened.fields_get()))
        self.assertNotIn(secret, json.dumps(defaults, default=str))

    def test_new_secret_replaces_the_old_one(self):
        self.save_settings(pluggy_client_secret_new="first-secret")
        self.save_settings(pluggy_client_secret_new="  second-secret  ")
        self.assertEqual(self.params.get_param("caixa_pluggy.client_secret"), "second-secret")

    def test_leaving_the_secret_empty_keeps_it(self):
        self.save_settings(pluggy_client_secret_new="kept-secret")
        for empty in (False, "", "   "):
            with self.subTest(value=empty):
                self.save_settings(pluggy_client_secret_new=empty, pluggy_client_id="another-client")
                self.assertEqual(self.params.get_param("caixa_pluggy.client_secret"), "kept-secret")

    def test_secret_set_flag_says_whether_a_secret_exists(self):
        self.params.set_param("caixa_pluggy.client_secret", False)
        with patch.dict(os.environ, {"PLUGGY_CLIENT_SECRET": ""}):
            self.assertFalse(self.env["res.config.settings"].create({}).pluggy_client_secret_set)
        self.params.set_param("caixa_pluggy.client_secret", "some-secret")
        self.assertTrue(self.env["res.config.settings"].create({}).pluggy_client_secret_set)

    # ----- environment fallbacks -----

    def test_environment_is_used_when_parameters_are_unset(self):
        for key in ("client_id", "client_secret", "api_url", "sdk_url"):
            self.params.set_param(f"caixa_pluggy.{key}", False)
        client_id = self.unique("env-client")
        environ = {
            "PLUGGY_CLIENT_ID": client_id,
            "PLUGGY_CLIENT_SECRET": "env-secret-value",
            "PLUGGY_BASE_URL": BASE_URL,
            "PLUGGY_CONNECT_URL": "https://cdn.pluggy.example/env-connect.js",
        }
        self.pluggy.connectors = [{"id": 1, "name": "Banco Env"}]
        with patch.dict(os.environ, environ):
            Api = self.env["pluggy.api"]
            self.assertTrue(Api._has_credentials())
            self.assertTrue(self.env["res.config.settings"].create({}).pluggy_client_secret_set)
            notification = self.click_test_connection()
            token = self.env["pluggy.item"]._connect_token_for()
        self.assertEqual(notification["type"], "success", notification["message"])
        self.assertEqual(self.auth_bodies(), [{"clientId": client_id, "clientSecret": "env-secret-value"}])
        self.assertEqual(token["sdk_url"], "https://cdn.pluggy.example/env-connect.js")

    def test_parameters_win_over_the_environment(self):
        self.params.set_param("caixa_pluggy.sdk_url", "https://cdn.pluggy.example/param.js")
        with patch.dict(os.environ, {"PLUGGY_CONNECT_URL": "https://cdn.pluggy.example/env.js"}):
            self.assertEqual(
                self.env["pluggy.api"]._get_setting("caixa_pluggy.sdk_url"),
                "https://cdn.pluggy.example/param.js",
            )

    def test_defaults_apply_when_nothing_is_configured(self):
        self.params.set_param("caixa_pluggy.api_url", False)
        self.params.set_param("caixa_pluggy.sdk_url", False)
        environ = {key: value for key, value in os.environ.items() if not key.startswith("PLUGGY_")}
        with patch.dict(os.environ, environ, clear=True):
            Api = self.env["pluggy.api"]
            self.assertEqual(Api._get_setting("caixa_pluggy.api_url"), "https://api.pluggy.ai")
            self.assertRegex(Api._get_setting("caixa_pluggy.sdk_url"), r"^https://cdn\.pluggy\.ai/.+\.js$")

    # ----- Test connection -----

    def test_test_connection_reports_the_number_of_banks(self):
        self.pluggy.connectors = [{"id": index, "name": f"Banco {index}"} for index in range(7)]
        notification = self.click_test_connection(pluggy_include_sandbox=True)
        self.assertEqual(notification["type"], "success")
        self.assertIn("7", notification["message"])
        [listing] = [request for request in self.pluggy.requests if request.url.path == "/connectors"]
        self.assertEqual(listing.url.params.get("sandbox"), "true")

    def test_test_connection_shows_pluggys_error_code_and_message(self):
        self.refuse_auth(401, "CLIENT_KEYS_UNAUTHORIZED", "Invalid client credentials")
        secret = self.unique("wrong-secret")
        notification = self.click_test_connection(pluggy_client_secret_new=secret)
        self.assertEqual(notification["type"], "danger")
        self.assertIn("CLIENT_KEYS_UNAUTHORIZED", notification["message"])
        self.assertIn("Invalid client credentials", notification["message"])
        self.assertNotIn(secret, notification["message"])

    def test_test_connection_explains_a_refused_ip(self):
        self.refuse_auth(403, "CLIENT_IP_NOT_ALLOWED", "Your IP is not allowed")
        notification = self.click_test_connection(pluggy_client_secret_new=self.unique("secret"))
        self.assertEqual(notification["type"], "danger")
        self.assertIn("CLIENT_IP_NOT_ALLOWED", notification["message"])
        self.assertIn("allowlist", notification["message"])

    def test_test_connection_saves_what_was_typed_first(self):
        client_id = self.unique("typed-client")
        self.click_test_connection(
            pluggy_client_id=client_id, pluggy_client_secret_new=self.unique("typed-secret")
        )
        self.assertEqual(self.params.get_param("caixa_pluggy.client_id"), client_id)
        self.assertEqual([body["clientId"] for body in self.auth_bodies()], [client_id])

    def test_test_connection_without_credentials_says_what_to_do(self):
        self.params.set_param("caixa_pluggy.client_id", False)
        with (
            patch.dict(os.environ, {"PLUGGY_CLIENT_ID": ""}),
            self.assertRaisesRegex(UserError, "Set your Pluggy"),
        ):
            self.click_test_connection()
        self.assertFalse(self.pluggy.requests)

    # ----- who sees the credentials -----

    def test_only_system_administrators_read_the_credentials(self):
        accounting_admin = new_test_user(
            self.env,
            login="pluggy_settings_admin",
            groups="base.group_user,account.group_account_manager",
            company_id=self.company.id,
            company_ids=[Command.set(self.company.ids)],
        )
        settings = self.env["res.config.settings"].create({})
        visible = self.env["res.config.settings"].with_user(accounting_admin).fields_get()
        for field in CREDENTIAL_FIELDS:
            with self.subTest(field=field):
                self.assertNotIn(field, visible)
                with self.assertRaises(AccessError):
                    settings.with_user(accounting_admin).read([field])
        with self.assertRaises(AccessError):
            self.env["ir.config_parameter"].with_user(accounting_admin).get_param(
                "caixa_pluggy.client_secret"
            )
        # A system administrator sees them, the secret excepted.
        self.assertTrue(set(CREDENTIAL_FIELDS) <= set(self.env["res.config.settings"].fields_get()))


@tagged("post_install", "-at_install")
class TestWebhookRegistration(PluggyCase):
    """The webhooks Pluggy calls: registered by the Settings button, or on their own by their job."""

    def setUp(self):
        super().setUp()
        self.params = self.env["ir.config_parameter"].sudo()
        self.params.set_param("caixa_pluggy.webhook_registered_url", "")
        self.Webhooks = self.env["pluggy.webhook"]

    def registered(self):
        """Pluggy's webhooks as it stores them: {event: (url, secret header)}."""
        return {
            hook["event"]: (hook["url"], hook["headers"].get(WEBHOOK_SECRET_HEADER))
            for hook in self.pluggy.webhooks.values()
        }

    def webhook_calls(self):
        return [request for request in self.pluggy.requests if request.url.path.startswith("/webhooks")]

    def test_register_button_sends_each_event_with_the_secret_and_rotating_resends_it(self):
        self.params.set_param("web.base.url", "https://erp.example.com.br")
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(settings.action_pluggy_register_webhooks()["params"]["type"], "success")
        url = "https://erp.example.com.br/caixa_pluggy/webhook"
        self.assertEqual(
            self.registered(), dict.fromkeys(webhooks.WEBHOOK_EVENTS, (url, self.Webhooks._secret()))
        )
        old_secret = self.Webhooks._secret()
        settings.action_pluggy_rotate_webhook_secret()
        new_secret = self.Webhooks._secret()
        self.assertNotEqual(new_secret, old_secret)
        # Updated in place: still one webhook per event, each with the new secret.
        self.assertEqual(self.registered(), dict.fromkeys(webhooks.WEBHOOK_EVENTS, (url, new_secret)))

    def test_job_registers_a_public_https_address_once_and_the_sync_job_never_does(self):
        register_job = self.env.ref("caixa_pluggy.ir_cron_register_webhooks")
        self.assertTrue(register_job.active)
        self.params.set_param("web.base.url", "http://localhost:8069")
        self.Webhooks._cron_register()
        self.assertEqual(self.webhook_calls(), [], "Pluggy calls no local address: nothing to register")
        self.params.set_param("web.base.url", "https://erp.example.com.br")
        self.env["pluggy.account"]._cron_sync()
        self.assertEqual(self.webhook_calls(), [], "the sync job has no side job")
        self.Webhooks._cron_register()
        self.assertEqual(set(self.registered()), set(webhooks.WEBHOOK_EVENTS))
        calls = len(self.webhook_calls())
        self.Webhooks._cron_register()
        self.assertEqual(len(self.webhook_calls()), calls, "an address already registered is not sent again")

    def test_webhook_secret_check(self):
        secret = self.Webhooks._secret()
        self.assertTrue(self.Webhooks._check_secret(secret))
        self.assertFalse(self.Webhooks._check_secret(secret[:-1]))
        self.assertFalse(self.Webhooks._check_secret(None))
        self.params.set_param("caixa_pluggy.webhook_secret", "")
        self.assertFalse(self.Webhooks._check_secret(""), "no secret configured accepts nothing")
