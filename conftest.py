"""The Odoo tests of caixa_pluggy (caixa_pluggy/tests/) under pytest, through the pytest-odoo plugin.

The Odoo-free tests (tests/, the default of `pytest`) need none of this: pytest-odoo imports Odoo when it is
loaded, so pyproject.toml blocks it (``-p no:odoo``) and only a run given ``-p odoo`` loads it. Such a run, on
a database that has caixa_pluggy installed (see the README, "Running one Odoo test with pytest"), gets here:

- the tests Odoo itself would run after the install (``post_install``) and that ``--odoo-test-tags`` selects,
  an odoo-bin ``--test-tags`` spec (default ``/caixa_pluggy``: the ``standard`` tests, as ./run-tests runs);
  ``at_install`` tests run inside the install, by odoo-bin (./run-tests does that);
- each test's Odoo tags as pytest markers (``-m post_install``, ``-m caixa_pluggy_demo``), plus ``odoo`` on
  every Odoo test and ``odoo_http`` on the HttpCase ones;
- Odoo's HTTP server (pytest-odoo's ``--odoo-http``), which the HttpCase tests and browser tours talk to;
- Odoo's "a test runs" flag (no mail leaves, as under odoo-bin's test runner).
"""

import sys
import types

import pytest


def _import_odoo_tests_in_test_mode():
    """Import odoo.tests as odoo-bin's test mode does, before pytest-odoo does it with test_enable off.

    Imported with test_enable off (pytest-odoo turns it on per test module, once the registry is loaded), it
    logs an ERROR ("Importing test framework, avoid importing from business modules...") that the log check of
    ./run-tests would count. pytest-odoo (when -p odoo loaded it) imports odoo.tests in its
    pytest_cmdline_main, which runs after this conftest is loaded.
    """
    if "pytest_odoo" not in sys.modules or "odoo.tests.common" in sys.modules:
        return
    import odoo.tools

    test_enable = odoo.tools.config["test_enable"]
    odoo.tools.config["test_enable"] = True
    try:
        import odoo.tests.common  # noqa: F401
    finally:
        odoo.tools.config["test_enable"] = test_enable


_import_odoo_tests_in_test_mode()


def _odoo_plugin(config):
    return config.pluginmanager.get_plugin("odoo") or config.pluginmanager.get_plugin("pytest_odoo")


def pytest_addoption(parser):
    group = parser.getgroup("caixa_pluggy", "caixa_pluggy's Odoo tests (with -p odoo)")
    group.addoption(
        "--odoo-test-tags",
        default="/caixa_pluggy",
        help="odoo-bin --test-tags spec selecting the Odoo tests to run (default: /caixa_pluggy)",
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "odoo: an Odoo test of caixa_pluggy/tests (runs with -p odoo)")
    config.addinivalue_line(
        "markers", "odoo_http: an Odoo HttpCase test (Odoo's HTTP server, maybe a browser)"
    )
    if not _odoo_plugin(config):
        return
    import odoo
    import odoo.modules.module

    if not odoo.tools.config["db_name"]:
        raise pytest.UsageError("-p odoo: give the database with --odoo-database or --odoo-config")
    config.option.odoo_http = True
    odoo.modules.module.current_test = True


def _as_odoo_test(item):
    """What Odoo's TagsSelector reads of a test, for a collected item: None when it is no Odoo test."""
    cls = getattr(item, "cls", None)
    if cls is None or not hasattr(cls, "test_tags"):
        return None
    return types.SimpleNamespace(
        test_tags=set(cls.test_tags),
        test_module=cls.test_module,
        test_class=cls.test_class,
        _testMethodName=item.name,
    )


def pytest_collection_modifyitems(config, items):
    if not _odoo_plugin(config):
        return
    from odoo.tests import HttpCase
    from odoo.tests.tag_selector import TagsSelector

    wanted = TagsSelector(config.getoption("--odoo-test-tags"))
    post_install = TagsSelector("post_install")
    selected, deselected = [], []
    for item in items:
        test = _as_odoo_test(item)
        if test is None:
            selected.append(item)
            continue
        if not (wanted.check(test) and post_install.check(test)):
            deselected.append(item)
            continue
        selected.append(item)
        item.add_marker("odoo")
        if issubclass(item.cls, HttpCase):
            item.add_marker("odoo_http")
        for tag in sorted(test.test_tags):
            config.addinivalue_line("markers", f"{tag}: the Odoo test tag {tag}")
            item.add_marker(tag)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected
