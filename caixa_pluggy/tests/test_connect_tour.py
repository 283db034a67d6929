"""The "Connect bank" widget in headless Chromium, against the local Pluggy emulator and its Connect stand-in.

The emulator runs in threads of this process: the browser loads the stand-in script and logs in through it,
and the server-side callback reads the new item and runs the first sync over HTTP against the same emulator.
"""

from odoo.tests import tagged
from odoo.tools import mute_logger

from .emulator_case import EmulatorTourCase

DASHBOARD_URL = "/odoo/action-account.open_account_journal_dashboard_kanban"
CONNECTIONS_URL = "/odoo/action-caixa_pluggy.action_pluggy_item"


@tagged("post_install", "-at_install")
class TestConnectTour(EmulatorTourCase):
    def test_connect_bank_from_dashboard_lands_on_the_connection_with_its_journals(self):
        self.start_tour(DASHBOARD_URL, "caixa_pluggy_connect_bank", login="admin")

        connection = self.env["pluggy.item"].search([("company_id", "=", self.env.company.id)])
        self.assertEqual(connection.mapped("name"), ["Pluggy Bank"])
        self.assertIn(connection.pluggy_item_id, self.emulator.state.items)
        journals = connection.account_ids.journal_id
        self.assertGreaterEqual(len(journals), 2, "one journal per bank or card account")
        self.assertEqual(set(journals.mapped("bank_statements_source")), {"pluggy"})
        # "Ready to sync": the first quick sync, run by the callback, went through for every account.
        for account in connection.account_ids:
            self.assertTrue(account.last_sync_at, f"{account.name} was never synced")
            self.assertFalse(account.last_sync_error, f"{account.name}: {account.last_sync_error}")

    def test_reconnect_after_a_refused_login_updates_the_same_connection(self):
        client_user_id = self.env["pluggy.api"]._client_user_id(self.env.company)
        item = self._emulator("POST", "/_emulator/items", {"clientUserId": client_user_id, "transactions": 5})
        self._emulator(
            "PATCH",
            f"/_emulator/items/{item['id']}",
            {
                "status": "LOGIN_ERROR",
                "executionStatus": "INVALID_CREDENTIALS",
                "error": {"code": "INVALID_CREDENTIALS", "message": "Invalid credentials"},
            },
        )
        Connection = self.env["pluggy.item"]
        connection = Connection.browse(Connection._connect_callback(item["id"])["connection_id"])
        self.assertTrue(connection.can_reconnect)

        self.start_tour(f"{CONNECTIONS_URL}/{connection.id}", "caixa_pluggy_reconnect_bank", login="admin")

        connection.invalidate_recordset()
        self.assertEqual(connection.pluggy_status, "UPDATED")
        self.assertFalse(connection.can_reconnect)
        all_connections = Connection.with_context(active_test=False).search([])
        self.assertEqual(all_connections, connection, "no second connection")

    def test_closing_the_widget_closes_the_dialog_and_connects_nothing(self):
        self.start_tour(CONNECTIONS_URL, "caixa_pluggy_connect_cancel", login="admin")

        self.assertFalse(self.env["pluggy.item"].with_context(active_test=False).search([]))

    def test_unreachable_connect_script_is_explained_in_the_dialog(self):
        self._set_params(sdk_url=f"{self.emulator.url}/connect/missing-pluggy-connect.js")
        self.start_tour(CONNECTIONS_URL, "caixa_pluggy_connect_script_unreachable", login="admin")

    # The refusal is what this tour checks, in the dialog; Odoo also logs it as a warning.
    @mute_logger("odoo.http")
    def test_missing_credentials_point_the_admin_to_settings(self):
        self._set_params(client_id=False, client_secret=False)
        self.start_tour(CONNECTIONS_URL, "caixa_pluggy_connect_no_credentials", login="admin")
