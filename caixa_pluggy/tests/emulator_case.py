"""Browser tours against the local Pluggy emulator and its Connect stand-in, with the settings pointing at it.

The emulator runs in threads of the test process: the browser loads the stand-in script and logs in with it,
and the server-side callback and syncs read the emulator over HTTP.
"""

import json
import os
import sys
import unittest
import urllib.request
from pathlib import Path
from unittest.mock import patch

from odoo.tests import HttpCase

# The emulator lives in the repository (tools/pluggy_emulator), next to the addon, not in an addons path.
REPO_ROOT = Path(__file__).resolve().parents[2]
if (REPO_ROOT / "tools" / "pluggy_emulator").is_dir() and str(REPO_ROOT) not in sys.path:
    sys.path.append(str(REPO_ROOT))
try:
    from tools.pluggy_emulator import start_emulator
except ImportError:  # the addon deployed on its own, without the repository's tools
    start_emulator = None

# Environment fallbacks of the settings: a developer's shell or container must not change what the tours see.
PLUGGY_ENV = ("PLUGGY_CLIENT_ID", "PLUGGY_CLIENT_SECRET", "PLUGGY_BASE_URL", "PLUGGY_CONNECT_URL")


class EmulatorTourCase(HttpCase):
    emulator_seed = 42

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if start_emulator is None:
            raise unittest.SkipTest("tools/pluggy_emulator is not next to the addon")
        cls.emulator = start_emulator(port=0, seed=cls.emulator_seed)
        cls.addClassCleanup(cls.emulator.stop)

    def setUp(self):
        super().setUp()
        # Odoo reads every addon's manifest when it serves its first static file. Done for the browser's first
        # page, whose fonts and icons come at once, those reads run in parallel threads, where CPython 3.11
        # can fail to parse ("AST constructor recursion depth mismatch", python/cpython#106905): serve one
        # before the browser does.
        self.url_open("/web/static/img/favicon.ico").raise_for_status()
        environ = patch.dict(os.environ)
        environ.start()
        self.addCleanup(environ.stop)
        for name in PLUGGY_ENV:
            os.environ.pop(name, None)
        config = self.emulator.state.config
        self._set_params(
            client_id=config.client_id,
            client_secret=config.client_secret,
            api_url=self.emulator.url,
            sdk_url=f"{self.emulator.url}/connect/pluggy-connect.js",
            include_sandbox="True",
        )
        # Only accounting administrators may connect banks; admin is one on a fresh database, say it anyway.
        self.env.ref("base.user_admin").groups_id |= self.env.ref("account.group_account_manager")

    def _set_params(self, **values):
        params = self.env["ir.config_parameter"].sudo()
        for key, value in values.items():
            params.set_param(f"caixa_pluggy.{key}", value)

    def _emulator(self, method, path, body=None):
        """Call the emulator's control API, as a test script would."""
        request = urllib.request.Request(
            self.emulator.url + path,
            data=json.dumps(body or {}).encode(),
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)
