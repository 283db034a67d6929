from odoo import api, fields, models
from odoo.tools import SQL, create_index

# Per user and route: a burst beyond this many calls in the window is refused (the system replaced had it).
RATE_LIMIT_CALLS = 10
RATE_LIMIT_WINDOW = 60


class PluggyRateLimit(models.Model):
    """The recent calls of each user to the connect routes, kept in the database so that every worker of it
    counts the same calls. Rows older than the window are purged by the next call."""

    _name = "pluggy.rate.limit"
    _description = "Pluggy Connect Call"
    _log_access = False

    route = fields.Char(required=True, readonly=True)
    # An id, not a link: a foreign key would make each count wait for any lock on the user's row.
    user_ref = fields.Integer(string="User ID", required=True, readonly=True)
    called_at = fields.Datetime(required=True, readonly=True)

    def init(self):
        create_index(
            self.env.cr,
            "pluggy_rate_limit_route_user_ref_idx",
            self._table,
            ["route", "user_ref", "called_at"],
        )

    # -------------------------------------------------------------------------
    # HELPERS
    # -------------------------------------------------------------------------

    @api.model
    def _count_call(self, route, user_id):
        """Count one call of a user to a route; returns 0 when it is allowed, else the seconds to wait.

        Must be the first thing its transaction does, and that transaction committed at once: Odoo's
        transactions are REPEATABLE READ, and one sees what the others committed before its first query. The
        table lock comes first, so that query runs after the previous counts were committed; it serializes
        the counts, and they wait for nothing else, so a burst of calls queues up and never deadlocks.
        """
        cr = self.env.cr
        cr.execute(SQL("LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE", SQL.identifier(self._table)))
        # The database's clock, the same for every worker whatever its host.
        now = SQL("clock_timestamp() AT TIME ZONE 'UTC'")
        window = SQL("make_interval(secs => %s)", RATE_LIMIT_WINDOW)
        cr.execute(SQL("DELETE FROM %s WHERE called_at <= %s - %s", SQL.identifier(self._table), now, window))
        cr.execute(
            SQL(
                """
                SELECT COUNT(*), EXTRACT(EPOCH FROM MIN(called_at) + %s - %s)
                  FROM %s
                 WHERE route = %s AND user_ref = %s
                """,
                window,
                now,
                SQL.identifier(self._table),
                route,
                user_id,
            )
        )
        calls, seconds_left = cr.fetchone()
        if calls >= RATE_LIMIT_CALLS:
            return int(seconds_left) + 1
        cr.execute(
            SQL(
                "INSERT INTO %s (route, user_ref, called_at) VALUES (%s, %s, %s)",
                SQL.identifier(self._table),
                route,
                user_id,
                now,
            )
        )
        return 0
