"""Make ``caixa_pluggy.pluggy`` importable without Odoo.

The addon's own ``__init__`` imports Odoo models; the Pluggy package beneath it does not. Registering a bare
``caixa_pluggy`` package lets the Odoo-free tests import the client and the mapping exactly as the addon does.
"""

import sys
import types
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

if "caixa_pluggy" not in sys.modules:
    package = types.ModuleType("caixa_pluggy")
    package.__path__ = [str(REPO_ROOT / "caixa_pluggy")]
    sys.modules["caixa_pluggy"] = package

if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
