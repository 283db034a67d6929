"""The webhook's promises: the route stores each Pluggy event once and answers at once; the processing cron
re-reads Pluggy and applies it."""

import json
import uuid
from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from odoo.addons.caixa_pluggy.models.pluggy_webhook import WEBHOOK_ROUTE, WEBHOOK_SECRET_HEADER
from odoo.addons.caixa_pluggy.models.pluggy_webhook_event import MAX_ATTEMPTS

from .common import PluggyCase
from .test_sync import ENGINE_LOGGER, INBOX_LOGGER, SyncMixin, fail_page

MIB = 1024 * 1024


@tagged("post_install", "-at_install")
class TestWebhook(SyncMixin, PluggyCase, HttpCase):
    def setUp(self):
        super().setUp()
        self.secret = self.env["pluggy.webhook"]._secret()
        self.Event = self.env["pluggy.webhook.event"].sudo()
        self.cron = self.env.ref("caixa_pluggy.ir_cron_process_webhooks").sudo()

    # ----- helpers -----

    def post(self, payload=None, *, body=None, secret=None, with_secret=True):
        headers = {"Content-Type": "application/json"}
        if with_secret:
            headers[WEBHOOK_SECRET_HEADER] = self.secret if secret is None else secret
        return self.url_open(
            WEBHOOK_ROUTE, data=json.dumps(payload) if body is None else body, headers=headers
        )

    def payload(self, event, **values):
        return {"event": event, "eventId": str(uuid.uuid4()), **values}

    def stored(self, payload):
        return self.Event.search([("event_id", "=", payload["eventId"])])

    def process(self):
        """Run the processing cron as Odoo's cron worker would."""
        self.cron.method_direct_trigger()

    def transaction_requests(self):
        return [request for request in self.pluggy.requests if request.url.path == "/v2/transactions"]

    # -------------------------------------------------------------------------
    # The route
    # -------------------------------------------------------------------------

    def test_wrong_or_missing_secret_is_refused_with_401_and_nothing_stored(self):
        for label, kwargs in (
            ("wrong", {"secret": self.secret[:-1] + ("0" if self.secret[-1] != "0" else "1")}),
            ("empty", {"secret": ""}),
            ("missing", {"with_secret": False}),
        ):
            with self.subTest(secret=label):
                payload = self.payload("transactions/created", itemId="x", accountId="y")
                response = self.post(payload, **kwargs)
                self.assertEqual(response.status_code, 401)
                self.assertFalse(self.stored(payload))

    def test_malformed_event_is_refused_with_400_and_nothing_stored(self):
        count = self.Event.search_count([])
        for label, body in (
            ("not JSON", '{"event": "item/updated", "eventId": '),
            ("not an object", '["item/updated"]'),
            ("no event", json.dumps({"eventId": "x", "itemId": "x"})),
        ):
            with self.subTest(body=label):
                self.assertEqual(self.post(body=body).status_code, 400)
        self.assertEqual(self.Event.search_count([]), count)

    def test_body_over_one_mebibyte_is_refused_with_400(self):
        payload = self.payload("item/updated", itemId="x", padding="a" * MIB)
        response = self.post(payload)
        self.assertEqual(response.status_code, 400)
        self.assertFalse(self.stored(payload))

    def test_event_is_stored_at_once_and_processed_by_the_cron(self):
        item = self.pluggy.add_item(self.client_user_id)
        account = self.pluggy.add_account(item)
        self.pluggy.add_transaction(account, "-5.00", on=self.days_ago(3))
        journal = self.connect_and_sync(item).journal_id
        new_rows = [self.pluggy.add_transaction(account, amount) for amount in ("-19.90", "250.00")]
        triggers_before = self.env["ir.cron.trigger"].sudo().search_count([("cron_id", "=", self.cron.id)])

        payload = self.payload(
            "transactions/created", itemId=item["id"], accountId=account["id"], transactionsCount=2
        )
        response = self.post(payload)

        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.stored(payload).state, "new")
        self.assertFalse(self.line_of(new_rows[0]), "the route only stores the event")
        triggers = self.env["ir.cron.trigger"].sudo().search_count([("cron_id", "=", self.cron.id)])
        self.assertGreater(triggers, triggers_before, "the processing cron is triggered")

        self.process()

        self.assertEqual(self.stored(payload).state, "done")
        for tx in new_rows:
            self.assertEqual(self.line_of(tx).journal_id, journal)
        self.assertEqual(len(self.lines(journal)), 3)

    def test_same_event_id_twice_is_stored_once_and_processed_once(self):
        item = self.pluggy.add_item(self.client_user_id)
        account = self.pluggy.add_account(item)
        journal = self.connect_and_sync(item).journal_id
        tx = self.pluggy.add_transaction(account, "-42.00")
        payload = self.payload("transactions/created", itemId=item["id"], accountId=account["id"])

        first, second = self.post(payload), self.post(payload)
        self.assertEqual((first.status_code, second.status_code), (200, 200))
        self.assertEqual((first.json()["duplicate"], second.json()["duplicate"]), (False, True))
        self.assertEqual(len(self.stored(payload)), 1)

        self.process()
        reads = len(self.transaction_requests())
        self.assertEqual(self.post(payload).status_code, 200, "a replay after processing is accepted too")
        self.process()

        self.assertEqual(self.stored(payload).state, "done")
        self.assertEqual(len(self.transaction_requests()), reads, "the replay did not sync again")
        self.assertEqual(len(self.line_of(tx)), 1)
        self.assertEqual(len(self.lines(journal)), 1)

    # -------------------------------------------------------------------------
    # Processing
    # -------------------------------------------------------------------------

    def test_transactions_deleted_removes_the_unreconciled_line_and_flags_the_reconciled_one(self):
        item = self.pluggy.add_item(self.client_user_id)
        account = self.pluggy.add_account(item)
        # Dated before the look-back window: only the event's ids tell the sync they are gone.
        unreconciled = self.pluggy.add_transaction(account, "-60.00", on=self.days_ago(40))
        reconciled = self.pluggy.add_transaction(account, "-75.00", on=self.days_ago(41))
        kept = self.pluggy.add_transaction(account, "-90.00", on=self.days_ago(42))
        journal = self.connect_and_sync(item).journal_id
        reconciled_line = self.reconcile(self.line_of(reconciled))

        self.pluggy.delete_transaction(unreconciled)
        self.pluggy.delete_transaction(reconciled)
        ids = [unreconciled["id"], reconciled["id"]]
        self.post(
            self.payload(
                "transactions/deleted", itemId=item["id"], accountId=account["id"], transactionIds=ids
            )
        )
        self.process()

        self.assertFalse(self.line_of(unreconciled))
        self.assertRecordValues(
            reconciled_line, [{"amount": -75.0, "is_reconciled": True, "pluggy_flag": "deleted"}]
        )
        self.assertEqual(self.lines(journal), self.line_of(reconciled) | self.line_of(kept))

    def test_item_error_marks_the_connection_for_reconnect(self):
        item = self.pluggy.add_item(self.client_user_id)
        self.pluggy.add_account(item)
        connection = self.connect_and_sync(item).item_id
        self.assertEqual(connection.state, "connected")

        item.update(status="LOGIN_ERROR", error={"code": "INVALID_CREDENTIALS", "message": "Senha inválida"})
        payload = self.payload("item/error", itemId=item["id"], error={"code": "INVALID_CREDENTIALS"})
        self.post(payload)
        self.process()

        self.assertEqual(self.stored(payload).state, "done")
        self.assertRecordValues(
            connection, [{"state": "needs_reconnect", "error_code": "INVALID_CREDENTIALS"}]
        )
        self.assertTrue(connection.can_reconnect)
        self.assertIn(
            self.env.user, connection.activity_ids.user_id, "the accounting administrators are told"
        )

    def test_unknown_event_is_kept_and_marked_ignored(self):
        payloads = [
            self.payload("payment_intent/created", paymentIntentId="pi-1"),
            self.payload("item/login_succeeded", itemId="whatever"),
        ]
        for payload in payloads:
            self.assertEqual(self.post(payload).status_code, 200)
        self.process()
        for payload in payloads:
            event = self.stored(payload)
            self.assertEqual(event.state, "ignored")
            self.assertEqual(event.payload, payload)
        self.assertFalse(self.pluggy.requests)

    def test_event_of_a_foreign_item_is_ignored_and_writes_nothing_outside_the_inbox(self):
        item = self.pluggy.add_item(self.client_user_id)
        account = self.pluggy.add_account(item)
        self.pluggy.add_transaction(account, "-1.00")
        pluggy_account = self.connect_and_sync(item)
        connection = pluggy_account.item_id
        stamps = (
            connection.write_date,
            pluggy_account.write_date,
            len(self.lines(pluggy_account.journal_id)),
        )
        counts = [self.env[model].sudo().search_count([]) for model in ("pluggy.item", "pluggy.account")]
        self.pluggy.requests.clear()

        foreign = [
            self.payload("item/updated", itemId=str(uuid.uuid4())),
            self.payload("item/error", itemId=str(uuid.uuid4())),
            self.payload("transactions/created", itemId=str(uuid.uuid4()), accountId=str(uuid.uuid4())),
        ]
        for payload in foreign:
            self.post(payload)
        self.process()

        self.assertEqual([self.stored(payload).state for payload in foreign], ["ignored"] * len(foreign))
        self.assertFalse(self.pluggy.requests, "Pluggy was not even asked")
        self.assertEqual(
            [self.env[model].sudo().search_count([]) for model in ("pluggy.item", "pluggy.account")], counts
        )
        self.assertEqual(
            (connection.write_date, pluggy_account.write_date, len(self.lines(pluggy_account.journal_id))),
            stamps,
        )

    def test_failed_event_keeps_its_error_and_is_retried_a_bounded_number_of_times(self):
        item = self.pluggy.add_item(self.client_user_id)
        account = self.pluggy.add_account(item)
        journal = self.connect_and_sync(item).journal_id
        tx = self.pluggy.add_transaction(account, "-33.00")
        fail_page(self.pluggy, account, after=None)
        payload = self.payload("transactions/created", itemId=item["id"], accountId=account["id"])
        self.post(payload)
        event = self.stored(payload)

        with mute_logger(ENGINE_LOGGER, INBOX_LOGGER):
            self.process()
            self.assertRecordValues(event, [{"state": "failed", "attempts": 1}])
            self.assertIn("HTTP 500", event.error)
            error = event.error

            # Not again before its retry delay, even though the cron runs again at once while work remains.
            reads = len(self.transaction_requests())
            self.process()
            self.assertEqual(event.attempts, 1)
            self.assertEqual(len(self.transaction_requests()), reads)

            for _attempt in range(MAX_ATTEMPTS + 2):
                event.processed_at = fields.Datetime.now() - timedelta(days=1)
                self.process()

        self.assertRecordValues(event, [{"state": "failed", "attempts": MAX_ATTEMPTS, "error": error}])
        self.assertFalse(self.line_of(tx))

        # Once Pluggy answers again, the accountant's "Retry" brings the lines.
        self.pluggy.fault = None
        event.action_retry()
        self.process()
        self.assertEqual(event.state, "done")
        self.assertEqual(self.line_of(tx).journal_id, journal)
