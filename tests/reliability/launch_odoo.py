"""``odoo-bin`` for the reliability servers, with an idle stand-in for Odoo's websocket process.

A multi-worker Odoo re-runs its own command with ``gevent`` to serve websockets, and starts it again whenever
it exits. Where that process cannot start (in Odoo's venv here, gevent's plugin loader does not find
``zope.interface``), it crashes on import and is restarted at once, for ever: three quarters of a CPU core,
taken from the workers under test on a 2-core machine. No reliability test uses websockets, so that process
only waits here until the server is stopped with its process group.
"""

import os
import signal
import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["gevent"]:
        while True:
            signal.pause()
    # What odoo-bin does; run from here, so that the server re-runs this file for its websocket process.
    os.environ["TZ"] = "UTC"
    sys.path.insert(0, os.environ.get("ODOO_PATH", "/opt/odoo"))
    import odoo

    odoo.cli.main()
