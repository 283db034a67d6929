"""The Odoo log check of ./run-tests: what fails a run and what does not, on lines as Odoo 18 logs them."""

from tools.odoo_log_check import check_log, main, render

DB = "caixa_pluggy_test_1"


def rec(level, logger, msg, ms="123"):
    return f"2026-12-07 06:03:26,{ms} 24240 {level} {DB} {logger}: {msg} \n"


def test_a_warning_with_its_traceback_fails_the_run_and_counted_failures_do_not():
    log = [
        rec("INFO", "odoo.modules.loading", "loading caixa_pluggy/views/x.xml"),
        rec(
            "WARNING",
            "odoo.addons.caixa_pluggy.models.pluggy_account_sync",
            "Pluggy sync of account a failed",
        ),
        "Traceback (most recent call last):\n",
        '  File "x.py", line 1, in <module>\n',
        rec("ERROR", "odoo.addons.caixa_pluggy.tests.test_sync", "FAIL: TestSync.test_x"),
        "AssertionError: 1 != 2\n",
        rec("ERROR", "odoo.tests.result", f"1 failed, 0 error(s) of 174 tests when loading database '{DB}'"),
    ]
    report = check_log(log)
    assert report.result == (1, 0, 174)
    assert len(report.bad) == 1
    assert "Pluggy sync of account a failed" in report.bad[0][0]
    assert report.bad[0][1] == "Traceback (most recent call last):"


def test_skips_are_counted_and_chrome_skips_told_apart():
    log = [
        rec("INFO", "odoo.addons.caixa_pluggy.tests.test_connect_tour", "skipped 'Chrome not found'"),
        rec("INFO", "odoo.addons.caixa_pluggy.tests.test_x", "skipped 'not on this database'"),
        rec("INFO", "odoo.tests.stats", "skipped nothing"),
    ]
    report = check_log(log)
    assert (report.skipped, report.chrome_skips, report.bad) == (2, 1, [])


def test_ignored_records_do_not_fail_the_run_and_the_output_keeps_its_format(tmp_path, capsys, monkeypatch):
    log = [
        rec("WARNING", "odoo.http", "a known warning of this machine"),
        rec("CRITICAL", "odoo.service.server", "Failed to initialize database"),
    ]
    assert [lines[0] for lines in check_log(log, ignore="known warning").bad] == [log[1].rstrip("\n")]
    path = tmp_path / "odoo.log"
    path.write_text("".join(log))
    monkeypatch.setenv("RUN_TESTS_LOG_IGNORE", "known warning")
    assert main([str(path)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[:3] == ["SKIPPED 0", "CHROME_SKIPS 0", "BAD 1"]
    assert printed[3].startswith("BADREC ") and "Failed to initialize database" in printed[3]
    assert "RESULT" not in render(check_log(log)), "no result line: Odoo did not get to run the tests"


JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest"
 errors="1" failures="2" skipped="2" tests="9">
<testcase classname="odoo.addons.caixa_pluggy.tests.test_sync.TestSync" name="test_ok" time="0.1" />
<testcase classname="odoo.addons.caixa_pluggy.tests.test_sync.TestSync" name="test_subtests" time="0.1">
<failure message="AssertionError: 1 != 2">x</failure><failure message="AssertionError: 3 != 2">y</failure>
</testcase>
<testcase classname="odoo.addons.caixa_pluggy.tests.test_sync.TestSync" name="test_setup" time="0.1">
<error message="failed on setup with KeyError">z</error></testcase>
<testcase classname="odoo.addons.caixa_pluggy.tests.test_tour.TestTour" name="test_tour" time="0.0">
<skipped type="pytest.skip" message="Chrome not found">x.py:1: Chrome not found</skipped></testcase>
<testcase classname="odoo.addons.caixa_pluggy.tests.test_x.TestX" name="test_elsewhere" time="0.0">
<skipped type="pytest.skip" message="not on this database">x.py:2</skipped></testcase>
</testsuite></testsuites>
"""


def test_a_pytest_run_counts_per_test_method_from_its_junit_and_still_checks_the_log(tmp_path, capsys):
    junit = tmp_path / "junit.xml"
    junit.write_text(JUNIT)
    log = tmp_path / "odoo.log"
    log.write_text(
        rec("INFO", "odoo.modules.loading", "Modules loaded.")
        + rec("WARNING", "py.warnings", "DeprecationWarning: x is deprecated")
        # A result line of an install in the same log does not count: the junit has the results.
        + rec("WARNING", "odoo.tests.result", f"0 failed, 0 error(s) of 0 tests when loading database '{DB}'")
    )
    assert main([str(log), "--junit", str(junit)]) == 0
    printed = capsys.readouterr().out.splitlines()
    # 5 test methods, not the 9 of the suite's attributes (which count each failed subtest again).
    assert printed[:4] == ["RESULT 1 1 5", "SKIPPED 2", "CHROME_SKIPS 1", "BAD 1"]
    assert "DeprecationWarning" in printed[4]


def test_a_pytest_run_without_junit_has_no_result(tmp_path, capsys):
    log = tmp_path / "odoo.log"
    log.write_text(rec("INFO", "odoo.modules.loading", "Modules loaded."))
    assert main([str(log), "--junit", str(tmp_path / "missing.xml")]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == ["SKIPPED 0", "CHROME_SKIPS 0"]
    assert main([str(log), "--junit"]) == 2
