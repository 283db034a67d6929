import logging
import time

from odoo import api, models, sql_db

_logger = logging.getLogger(__name__)
# bench/fleet.py reads these lines from the server's log.
METER = "bench-meter"


class PluggyAccount(models.Model):
    """Counts the SQL queries of each cron call and of each account's sync in it.

    Odoo counts every query of a process in ``sql_db.sql_counter``; a cron process runs one job at a time, so
    the difference around a call is that call's queries, whatever cursor ran them.
    """

    _inherit = "pluggy.account"

    @api.model
    def _cron_sync(self):
        queries, start = sql_db.sql_counter, time.perf_counter()
        try:
            return super()._cron_sync()
        finally:
            _logger.info(
                "%s cron queries=%d seconds=%.3f",
                METER,
                sql_db.sql_counter - queries,
                time.perf_counter() - start,
            )

    def _sync(self, *, quick=False, transaction_ids=None):
        queries, start = sql_db.sql_counter, time.perf_counter()
        try:
            return super()._sync(quick=quick, transaction_ids=transaction_ids)
        finally:
            _logger.info(
                "%s sync accounts=%s queries=%d seconds=%.3f",
                METER,
                ",".join(self.mapped("pluggy_account_id")),
                sql_db.sql_counter - queries,
                time.perf_counter() - start,
            )
