import re

from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestInstall(TransactionCase):
    """What installing caixa_pluggy brings: models, fields, jobs, a webhook secret and a bank feed source."""

    def test_models_are_registered(self):
        for model in ("pluggy.item", "pluggy.account", "pluggy.webhook.event", "pluggy.api"):
            with self.subTest(model=model):
                self.assertIn(model, self.env)
        self.assertEqual(
            self.env["account.journal"]._fields["pluggy_account_id"].comodel_name, "pluggy.account"
        )
        self.assertIn("pluggy_transaction_id", self.env["account.bank.statement.line"]._fields)

    def test_crons_exist_and_run_the_sync_and_the_webhook_inbox(self):
        sync = self.env.ref("caixa_pluggy.ir_cron_sync")
        webhooks = self.env.ref("caixa_pluggy.ir_cron_process_webhooks")
        self.assertEqual(sync.model_id.model, "pluggy.account")
        self.assertIn("_cron_sync", sync.code)
        self.assertEqual(webhooks.model_id.model, "pluggy.webhook.event")
        self.assertIn("_cron_process", webhooks.code)
        self.assertTrue(sync.active and webhooks.active)

    def test_webhook_secret_is_generated_at_install(self):
        secret = self.env["ir.config_parameter"].sudo().get_param("caixa_pluggy.webhook_secret")
        self.assertRegex(secret or "", r"^[0-9a-f]{64}$")

    def test_webhook_secret_is_kept_once_generated(self):
        Webhooks = self.env["pluggy.webhook"]
        first = Webhooks._secret()
        self.assertEqual(Webhooks._secret(), first)
        rotated = Webhooks._rotate_secret()
        self.assertNotEqual(rotated, first)
        self.assertTrue(re.fullmatch(r"[0-9a-f]{64}", rotated))

    def test_journals_can_be_fed_by_pluggy(self):
        sources = dict(
            self.env["account.journal"]._fields["bank_statements_source"]._description_selection(self.env)
        )
        self.assertIn("pluggy", sources)
        # The standard sources stay available next to ours.
        self.assertIn("undefined", sources)
