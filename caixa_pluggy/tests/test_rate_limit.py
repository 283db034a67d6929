"""The connect routes' rate limit on real cursors: one count for every worker of the database, kept when the
call's request fails, exact under a concurrent burst, and purged as it expires.

Complements test_connect_routes (the refusal as the browser gets it, per route and per user) and the
reliability suite (a burst against odoo-bin with two workers).
"""

import os
import subprocess
import sys
import textwrap
import threading
import uuid
from unittest.mock import patch

import odoo
from odoo import SUPERUSER_ID, api
from odoo.exceptions import UserError
from odoo.modules.registry import DummyRLock, Registry
from odoo.tests import BaseCase, get_db_name, tagged
from odoo.tools import SQL, config

from odoo.addons.caixa_pluggy.models.pluggy_rate_limit import RATE_LIMIT_CALLS, RATE_LIMIT_WINDOW

# Another Odoo process on the same database, as another worker is: it calls the limit as many times as asked,
# each call in a request that fails (its transaction rolled back), and prints how many were refused.
OTHER_WORKER = textwrap.dedent(
    """
    import sys

    from odoo import api
    from odoo.exceptions import UserError
    from odoo.modules.registry import Registry
    from odoo.tools import config

    db, uid, route, calls = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    config.parse_config(sys.argv[5:])
    registry = Registry(db)
    refused = 0
    for _call in range(calls):
        with registry.cursor() as cr:
            try:
                api.Environment(cr, uid, {})["pluggy.api"]._check_rate_limit(route)
            except UserError:
                refused += 1
            cr.rollback()
    print(refused)
    """
)


@tagged("post_install", "-at_install")
class TestRateLimitRealCursors(BaseCase):
    """Each call in its own committed transaction, as the workers of a running Odoo make them.

    The calls are counted under routes of this test's own, removed again by the cleanups.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = Registry(get_db_name())
        with cls.registry.cursor() as cr:
            cls.admin_id = api.Environment(cr, SUPERUSER_ID, {}).ref("base.user_admin").id

    def setUp(self):
        super().setUp()
        # The test runner holds the registry lock while tests run, and every new Environment of another thread
        # takes it: swap it for a dummy, as Odoo's own test mode does for the HTTP server's threads.
        self.startPatcher(patch.object(Registry, "_lock", DummyRLock()))
        self.route = f"test-{uuid.uuid4().hex[:12]}"
        self.addCleanup(self._forget, self.route)

    def _forget(self, route):
        with self.registry.cursor() as cr:
            cr.execute(SQL("DELETE FROM pluggy_rate_limit WHERE route LIKE %s", f"{route}%"))

    def call(self, route=None):
        """One call through the limit in a request that then fails; returns the refusal's message, or None."""
        with self.registry.cursor() as cr:
            try:
                api.Environment(cr, self.admin_id, {})["pluggy.api"]._check_rate_limit(route or self.route)
            except UserError as error:
                return str(error)
            finally:
                cr.rollback()
        return None

    def assertToldToWait(self, message, low=1, high=RATE_LIMIT_WINDOW):
        self.assertRegex(message or "", r"^Too many attempts\. Try again in \d+ s\.$")
        seconds = int(message.split(" in ")[1].split()[0])
        self.assertTrue(low <= seconds <= high, f"told to wait {seconds} s")

    def call_in_another_worker(self, calls):
        """Make calls from another Odoo process on this database; returns how many it saw refused."""
        odoo_root = os.path.dirname(os.path.dirname(os.path.abspath(odoo.release.__file__)))
        options = [
            f"--addons-path={config['addons_path']}",
            f"--data-dir={config['data_dir']}",
            "--log-level=warn",
        ]
        options += [
            f"--{key}={config[key]}"
            for key in ("db_host", "db_port", "db_user", "db_password")
            if config[key]
        ]
        process = subprocess.run(
            [sys.executable, "-c", OTHER_WORKER, get_db_name(), str(self.admin_id), self.route, str(calls)]
            + options,
            env={**os.environ, "PYTHONPATH": odoo_root},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        self.assertEqual(process.returncode, 0, process.stderr[-2000:])
        return int(process.stdout.split()[-1])

    # -------------------------------------------------------------------------

    def test_calls_made_through_another_worker_count_in_this_one(self):
        self.assertEqual(self.call_in_another_worker(RATE_LIMIT_CALLS), 0)
        # This process has not seen a single one of those calls, and still refuses the next.
        self.assertToldToWait(self.call())
        self.assertIsNone(self.call(f"{self.route}-other"), "another route is counted apart")

    def test_a_call_whose_request_failed_still_counts(self):
        for _call in range(RATE_LIMIT_CALLS):
            self.assertIsNone(self.call())
        self.assertToldToWait(self.call())
        with self.registry.cursor() as cr:
            cr.execute(SQL("SELECT COUNT(*) FROM pluggy_rate_limit WHERE route = %s", self.route))
            self.assertEqual(cr.fetchone()[0], RATE_LIMIT_CALLS, "a refused call is not counted")

    def test_a_concurrent_burst_lets_exactly_the_limit_through(self):
        burst = 3 * RATE_LIMIT_CALLS
        start = threading.Barrier(burst)
        outcomes = []

        def one_call():
            start.wait(timeout=30)
            outcomes.append(self.call())

        threads = [threading.Thread(target=one_call, name=f"rate-limit-{index}") for index in range(burst)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        self.assertFalse([thread.name for thread in threads if thread.is_alive()], "no call is left waiting")
        passed = [outcome for outcome in outcomes if outcome is None]
        self.assertEqual(len(outcomes), burst)
        self.assertEqual(len(passed), RATE_LIMIT_CALLS)
        for message in set(outcomes) - {None}:
            self.assertToldToWait(message)

    def test_the_wait_is_counted_from_the_oldest_call_and_expired_calls_are_purged(self):
        calls = [(self.route, 50)] * RATE_LIMIT_CALLS + [(f"{self.route}-old", RATE_LIMIT_WINDOW + 5)]
        with self.registry.cursor() as cr:
            for route, age in calls:
                cr.execute(
                    SQL(
                        """
                        INSERT INTO pluggy_rate_limit (route, user_ref, called_at)
                        VALUES (%s, %s, NOW() AT TIME ZONE 'UTC' - make_interval(secs => %s))
                        """,
                        route,
                        self.admin_id,
                        age,
                    )
                )
        # The oldest of the ten calls leaves the window in about ten seconds.
        self.assertToldToWait(self.call(), low=9, high=11)
        with self.registry.cursor() as cr:
            cr.execute(SQL("SELECT COUNT(*) FROM pluggy_rate_limit WHERE route = %s", f"{self.route}-old"))
            self.assertEqual(cr.fetchone()[0], 0, "a call older than the window is gone")
