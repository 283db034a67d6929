"""Read an Odoo test run's log: its result line, the skipped tests, and every record above INFO that is not a
test failure already counted (a clean install and test run logs none). Used by ./run-tests.

    python tools/odoo_log_check.py LOG        # prints RESULT/SKIPPED/CHROME_SKIPS/BAD/BADREC lines
    python tools/odoo_log_check.py LOG --junit JUNIT

With --junit, the tests ran under pytest (pytest-odoo), whose junit XML gives the results, in the same
lines (RESULT failed errors tests, one test per test method whatever its subtests); LOG, the log Odoo wrote
meanwhile, still gives the records above INFO.

RUN_TESTS_LOG_IGNORE, a regex, names records that may appear (searched in the record with its traceback).
"""

import os
import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

RECORD = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \d+ (?P<level>[A-Z]+) (?P<db>\S+) (?P<logger>\S+): (?P<msg>.*)$"
)
RESULT = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database")
# Records that report a test failure already counted in the result line.
COUNTED = re.compile(
    r"^(FAIL|ERROR): |^Module \S+: \d+ failures, \d+ errors of \d+ tests|"
    r"^At least one test failed when loading the modules\.|" + RESULT.pattern
)
CHROME_SKIP = re.compile(r"chrome|websocket-client", re.I)
SHOWN_LINES = 12
SHOWN_RECORDS = 30


@dataclass
class LogReport:
    result: tuple = None  # (failed, errors, run) from Odoo's result line, when there is one
    skipped: int = 0
    chrome_skips: int = 0  # skipped because no Chrome/Chromium or websocket-client
    bad: list = field(default_factory=list)  # each a record's lines, traceback included


def records(lines):
    """Each log record as (match, its lines): a line that starts no record belongs to the one before."""
    found = []
    for line in lines:
        line = line.rstrip("\n")
        match = RECORD.match(line)
        if match:
            found.append((match, [line]))
        elif found:
            found[-1][1].append(line)
    return found


def check_log(lines, ignore=None):
    ignore_re = re.compile(ignore, re.M) if ignore else None
    report = LogReport()
    for match, record_lines in records(lines):
        msg, level, logger = match["msg"], match["level"], match["logger"]
        if logger == "odoo.tests.result" and RESULT.search(msg):
            report.result = tuple(int(x) for x in RESULT.search(msg).groups())
        if level == "INFO" and logger.startswith("odoo.addons.") and msg.startswith("skipped "):
            report.skipped += 1
            if CHROME_SKIP.search(msg):
                report.chrome_skips += 1
        if level in ("WARNING", "ERROR", "CRITICAL") and not COUNTED.search(msg):
            if ignore_re and ignore_re.search("\n".join(record_lines)):
                continue
            report.bad.append(record_lines)
    return report


def apply_junit(report, path):
    """Take the results of a pytest junit XML file into the report: per test method (a <testcase>), failed
    when it has a failure (a failed subtest is one), else errored when it has an error, else maybe skipped."""
    failed = errors = tests = 0
    report.skipped = report.chrome_skips = 0
    for case in ET.parse(path).getroot().iter("testcase"):
        tests += 1
        if case.find("failure") is not None:
            failed += 1
        elif case.find("error") is not None:
            errors += 1
        elif (skip := case.find("skipped")) is not None:
            report.skipped += 1
            if CHROME_SKIP.search(skip.get("message", "") + (skip.text or "")):
                report.chrome_skips += 1
    report.result = (failed, errors, tests)
    return report


def render(report):
    out = []
    if report.result:
        out.append("RESULT " + " ".join(map(str, report.result)))
    out += [f"SKIPPED {report.skipped}", f"CHROME_SKIPS {report.chrome_skips}", f"BAD {len(report.bad)}"]
    for lines in report.bad[:SHOWN_RECORDS]:
        shown = lines[:SHOWN_LINES]
        if len(lines) > SHOWN_LINES:
            shown.append(f"    ... ({len(lines) - SHOWN_LINES} more lines)")
        out.append("BADREC " + "\nBADREC ".join(shown))
    return "\n".join(out)


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    junit = None
    if len(args) == 3 and args[1] == "--junit":
        junit = args[2]
    elif len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with open(args[0], errors="replace") as log:
        report = check_log(log, os.environ.get("RUN_TESTS_LOG_IGNORE"))
    if junit:
        report.result = None
        if os.path.exists(junit) and os.path.getsize(junit):
            apply_junit(report, junit)
    print(render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
