"""bench/run.py --fleet writes its own section of bench/RESULTS.md and its figures on the `ratios:` line,
keeping the rest of the file; its exactness check fails the run on any missing line, duplicate, error in
Odoo's log or failing connection that does not say why."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import fleet  # noqa: E402

MACHINE = {
    "date": "2026-12-07 12:00 UTC",
    "cpu": "Test CPU",
    "nproc": 2,
    "ram_gb": 24,
    "os": "Linux",
    "load": "0.1",
    "load_end": "2.0",
}
RESULTS = """# Benchmark results (issue #7)

| step | N |
|---|---:|

```
ratios: first_sync/floor=0.68 resync/first_sync=0.001 workers2/workers1=2.19 queries_per_account=33
```

How each figure is taken: the first table's own text.
"""


def _check(**changes):
    check = {
        "accounts": 200,
        "missing": 0,
        "extra": 0,
        "flagged": 0,
        "failing": {"login_error": 2, "rate_limited": 1},
        "failing_recorded": {"login_error": 2, "rate_limited": 1},
        "healthy_with_error": 0,
        "log_errors": 0,
    }
    return {**check, **changes}


def _size(size, seconds1, seconds2):
    def run(seconds):
        return {
            "seconds": seconds,
            "lines": 3800,
            "rows_per_s": 3800 / seconds,
            "queries_per_account": 674.4,
            "http_per_account": 4.45,
            "cron_cpu": 120.0,
            "pg_cpu": 40.0,
            "rss_mb": 139.0,
            "healthy_done_s": seconds - 1,
            "failing_sync_s": {
                "failing": {"max": 0.1, "median": 0.05},
                "healthy": {"max": 2.4, "median": 1.8},
            },
            "check": _check(),
        }

    return {
        "size": size,
        "seed": {"seconds": 49.0, "lines": 2493},
        "workers1": run(seconds1),
        "workers2": run(seconds2),
    }


def test_fleet_section_and_ratios_are_written_once_and_the_rest_kept(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text(RESULTS)

    fleet.write_results(path, [_size(100, 176.0, 95.0)], MACHINE, "python bench/run.py --fleet 100", 600)
    fleet.write_results(path, [_size(300, 596.0, 316.0)], MACHINE, "python bench/run.py --fleet 300", 900)

    text = path.read_text()
    assert text.count(fleet.FLEET_START) == text.count(fleet.FLEET_END) == 1
    assert "| 300 | 2 | 316 |" in text and "| 100 |" not in text, "the second run replaced the first"
    assert "How each figure is taken: the first table's own text." in text
    ratios = [line for line in text.splitlines() if line.startswith("ratios:")]
    assert ratios == [
        "ratios: first_sync/floor=0.68 resync/first_sync=0.001 workers2/workers1=2.19 queries_per_account=33"
        " fleet_cycle_s=316 fleet_workers2/workers1=1.89 fleet_queries_per_account=674"
    ]


@pytest.mark.parametrize(
    "changes",
    [
        {"missing": 1},
        {"extra": 1},
        {"log_errors": 1},
        {"healthy_with_error": 1},
        {"failing_recorded": {"login_error": 1, "rate_limited": 1}},
    ],
    ids=["missing", "duplicated", "log-error", "healthy-in-error", "failure-unsaid"],
)
def test_the_exactness_check_fails_on_any_loss_or_unexplained_failure(changes):
    assert fleet.check_passed(_check())
    assert not fleet.check_passed(_check(**changes))
    assert fleet.check_text(_check(**changes)).startswith("FAILED")
