"""Read an Odoo test run's log: its result line, the skipped tests, and every record above INFO that is not a
test failure already counted (a clean install and test run logs none). Used by ./run-tests.

    python tools/odoo_log_check.py LOG        # prints RESULT/SKIPPED/CHROME_SKIPS/BAD/BADREC lines

RUN_TESTS_LOG_IGNORE, a regex, names records that may appear (searched in the record with its traceback).
"""

import os
import re
import sys
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
            if re.search(r"chrome|websocket-client", msg, re.I):
                report.chrome_skips += 1
        if level in ("WARNING", "ERROR", "CRITICAL") and not COUNTED.search(msg):
            if ignore_re and ignore_re.search("\n".join(record_lines)):
                continue
            report.bad.append(record_lines)
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
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with open(args[0], errors="replace") as log:
        print(render(check_log(log, os.environ.get("RUN_TESTS_LOG_IGNORE"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
