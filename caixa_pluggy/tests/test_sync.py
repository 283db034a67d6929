from odoo.tests import tagged

from .common import PluggyCase


@tagged("post_install", "-at_install")
class TestSync(PluggyCase):
    def test_connect_imports_latest_lines_once(self):
        item = self.pluggy.add_item(self.client_user_id)
        account = self.pluggy.add_account(item, balance="100.00")
        for day in range(8):
            self.pluggy.add_transaction(account, "-10.00", on=self.days_ago(day))
        result = self.connect(item)
        journal = self.env["account.journal"].browse(result["journal_ids"])
        self.assertEqual(len(self.lines(journal)), 8)
        journal.pluggy_account_id._sync()
        self.assertEqual(len(self.lines(journal)), 8)
