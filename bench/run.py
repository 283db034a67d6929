#!/usr/bin/env python3
"""Benchmark caixa_pluggy's sync against Odoo's own floor and against OCA's online import (issue #7).

    python bench/run.py            # the full table: N = 500, 2,000, 5,000 over 1 and 10 accounts, + workers
    python bench/run.py --quick    # N = 500 over 5 accounts (+ workers on 10 accounts): a few minutes

Needs the local PostgreSQL (127.0.0.1:5432, role root) and Odoo 18 at $ODOO_PATH (default /opt/odoo) with its
venv's Python at $ODOO_PYTHON (default /opt/odoo/.venv/bin/python). Creates a fresh database (--db, dropped
first), installs caixa_pluggy, OCA's account_statement_import_online (pip-installed into the Odoo venv with
--no-deps when missing) and bench/addons/bench_oca_pluggy, starts the Pluggy emulator on 127.0.0.1, measures
and prints one table, then one last line ``ratios: ...`` for scripts. This driver only needs the standard
library; everything measured runs in Odoo processes (bench/odoo_side.py, and odoo-bin for the workers).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = BENCH / "out"
ODOO_PATH = Path(os.environ.get("ODOO_PATH", "/opt/odoo"))
ODOO_PYTHON = os.environ.get("ODOO_PYTHON", str(ODOO_PATH / ".venv" / "bin" / "python"))
DB_HOST, DB_PORT, DB_USER = "127.0.0.1", "5432", "root"
CLIENT_ID, CLIENT_SECRET = "demo-client-id", "demo-client-secret"
# The emulator spreads each account's rows over this many days; Odoo's first window is one year, so the whole
# generated history is read by the first sync.
EMULATOR_HISTORY_DAYS = 360
HISTORY_DAYS = 365
OCA_PACKAGES = (
    "odoo-addon-account-statement-base==18.0.*",
    "odoo-addon-account-statement-import-base==18.0.*",
    "odoo-addon-account-statement-import-online==18.0.*",
)
OCA_MODULES = ("account_statement_base", "account_statement_import_base", "account_statement_import_online")
MODULES = ("caixa_pluggy", "account_statement_import_online", "bench_oca_pluggy")
WORKERS_TIMEOUT = 900
# Every size over both 1 and 10 accounts, each created three times (floor, ours, OCA), makes 45,000 lines at
# Odoo's ~25 lines/s: most of an hour. The full plan covers each size and both layouts where they matter and
# stays near 20 min on an idle 2-core machine; OCA runs up to N = 2,000 (where its 1.14 x floor was seen).
FULL_PLAN = "500x1,500x10,2000x10,5000x1:no-oca"
QUICK_PLAN = "500x5"


def main(argv=None):
    args = parse_args(argv)
    OUT.mkdir(exist_ok=True)
    started = time.perf_counter()
    machine = machine_facts()
    log(f"machine: {machine['cpu']} x{machine['nproc']}, {machine['ram_gb']} GB RAM, load {machine['load']}")
    ensure_oca_installed()
    if args.fleet:
        main_fleet(args, machine, started)
        return
    # A reused database already holds the rows of seed 42: another seed gives new Pluggy ids.
    with Emulator(seed=int(time.time()) if args.reuse_db else 42) as emulator:
        log(f"emulator on {emulator.url}")
        if not args.reuse_db:
            create_database(args.db)
            install_modules(args.db)
        with OdooSide(args.db) as odoo:
            setup = odoo.call(
                "setup",
                api_url=emulator.url,
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                history_days=HISTORY_DAYS,
            )
            rows = []
            for n, accounts, oca in args.configs:
                rows += measure_config(odoo, emulator, setup, n, accounts, oca=oca, profile=args.profile)
            if args.matching:
                rows += measure_matching(odoo, emulator, args.matching_n)
            if args.workers:
                rows += measure_workers(odoo, emulator, args)
    summary = summarise(rows, args)
    table = render_table(rows)
    print()
    print(table)
    print()
    for line in summary["notes"]:
        print(line)
    elapsed = time.perf_counter() - started
    machine["load_end"] = load_average()
    (OUT / "results.json").write_text(
        json.dumps({"rows": rows, "summary": summary, "machine": machine}, indent=1)
    )
    if args.results:
        write_results(Path(args.results), table, summary, machine, args, elapsed)
        log(f"table written to {args.results}")
    if not args.keep_db:
        drop_database(args.db)
    log(f"done in {elapsed / 60:.1f} min")
    print(summary["ratios"], flush=True)


def main_fleet(args, machine, started):
    import fleet  # noqa: PLC0415 - bench/fleet.py imports this module

    results = fleet.main(args)
    print()
    print(fleet.render_table(results))
    print()
    for note in fleet.notes(results):
        print(note)
    elapsed = time.perf_counter() - started
    machine["load_end"] = load_average()
    (OUT / "fleet-results.json").write_text(json.dumps({"results": results, "machine": machine}, indent=1))
    fleet.write_results(Path(args.results), results, machine, args.command, elapsed)
    log(f"fleet table written to {args.results}; done in {elapsed / 60:.1f} min")
    print(fleet.ratios(results), flush=True)
    if not all(fleet.check_passed(rows[f"workers{n}"]["check"]) for rows in results for n in (1, 2)):
        raise SystemExit("the exactness check failed: see the table")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 500 over 5 accounts, workers on 500 rows")
    parser.add_argument("--db", default="cp_bench", help="database to (re)create (default cp_bench)")
    parser.add_argument(
        "--plan",
        default=FULL_PLAN,
        help=f"N x accounts configurations, ':no-oca' to skip OCA (default {FULL_PLAN})",
    )
    parser.add_argument(
        "--workers-n", type=int, default=2000, help="transactions of the 10-account workers run"
    )
    parser.add_argument(
        "--no-workers", dest="workers", action="store_false", help="skip the cron workers runs"
    )
    parser.add_argument(
        "--no-matching", dest="matching", action="store_false", help="skip the matching on/off runs"
    )
    parser.add_argument(
        "--matching-n", type=int, default=2000, help="transactions of the matching on/off first syncs"
    )
    parser.add_argument("--profile", action="store_true", help="also profile our first sync (bench/out/)")
    parser.add_argument("--keep-db", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse-db",
        action="store_true",
        help="measure on an existing --db (developing the benchmark only: not a fresh database)",
    )
    parser.add_argument(
        "--results",
        help="markdown file for the table (default: bench/RESULTS.md, or "
        "bench/out/RESULTS-quick.md with --quick)",
    )
    parser.add_argument(
        "--fleet",
        nargs="?",
        const="1000",
        type=lambda text: [int(size) for size in text.split(",")],
        help="instead of the table above, the fleet benchmark: one scheduled cycle of N connections "
        "(default 1000; several sizes as 100,300,1000), with 1 and 2 cron workers",
    )
    parser.add_argument("--fleet-quick", action="store_true", help="the fleet benchmark on 100 connections")
    args = parser.parse_args(argv)
    if args.fleet_quick:
        args.fleet = [100]
    if args.quick:
        args.plan = QUICK_PLAN
        args.workers_n = 500
        args.matching_n = 500
    args.configs = []
    for entry in filter(None, args.plan.split(",")):
        size, _, option = entry.partition(":")
        n, accounts = (int(value) for value in size.split("x"))
        args.configs.append((n, accounts, option != "no-oca"))
    if args.results is None:
        if args.fleet_quick:
            args.results = str(OUT / "RESULTS-fleet-quick.md")
        else:
            args.results = str(OUT / "RESULTS-quick.md") if args.quick else str(BENCH / "RESULTS.md")
    args.command = "python bench/run.py " + " ".join(shlex.quote(arg) for arg in (argv or sys.argv[1:]))
    return args


def log(message):
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- measurements
def measure_config(odoo, emulator, setup, n, accounts, oca=True, profile=False):
    label = f"N{n}x{accounts}"
    per_account = n // accounts
    log(f"{label}: {accounts} account(s) x {per_account} transactions")
    item = emulator.create_item(f"bench-{label}", per_account, accounts)
    prepared = odoo.call("prepare", label=label, item_id=item["id"])
    base = {"n": per_account * accounts, "accounts": accounts}
    rows = []

    def row(step, result):
        rows.append({**base, "step": step, **result})
        log(
            f"{label} {step}: {result['seconds']:.2f} s, {result.get('queries', '?')} queries, "
            f"{result.get('lines', '?')} lines"
        )
        return result

    row("floor", odoo.call("floor", emulator_url=emulator.url, floor_journals=prepared["floor_journals"]))
    if profile:
        # Profiling slows the sync down: it runs on a second copy of the connection, outside the table.
        twin = emulator.create_item(f"bench-{label}-profile", per_account, accounts)
        twin_accounts = odoo.call("prepare", label=label + "p", item_id=twin["id"])["account_ids"]
        profiled = odoo.call("profile_sync", account_ids=twin_accounts)
        (OUT / f"profile-{label}.txt").write_text(
            profiled.pop("profile")
            + "\n\nTop queries (seconds, count, query):\n"
            + "\n".join(f"{s:8.3f} {c:6d}  {q}" for s, c, q in profiled.pop("top_queries"))
        )
        log(f"{label} profile written to bench/out/profile-{label}.txt")
    row("first_sync", odoo.call("sync", account_ids=prepared["account_ids"]))
    row("resync", odoo.call("sync", account_ids=prepared["account_ids"]))
    if oca:
        providers = list(prepared["oca_providers"].values())
        row("oca_first", odoo.call("oca_pull", provider_ids=providers, history_days=HISTORY_DAYS))
        row("oca_resync", odoo.call("oca_pull", provider_ids=providers, history_days=HISTORY_DAYS))
    fresh = emulator.create_item(setup["client_user_id"], per_account, accounts)
    result = odoo.call("first_lines", item_id=fresh["id"], dsn=dsn(odoo.db))
    result["seconds"] = result.get("first_lines_s", float("nan"))
    row("first_lines", result)
    return rows


def measure_matching(odoo, emulator, n):
    """The same first sync, on like data with open invoices, with the Pluggy reconciliation models off, then
    on."""
    rows = []
    for step, active in (("sync_no_matching", False), ("sync_matching", True)):
        item = emulator.create_item(f"bench-{step}", n, 1)
        prepared = odoo.call(
            "matching_prepare", emulator_url=emulator.url, item_id=item["id"], rules_active=active
        )
        result = odoo.call("sync", account_ids=prepared["account_ids"])
        rows.append({"n": n, "accounts": 1, "step": step, "invoices": prepared["invoices"], **result})
        log(
            f"{step}: {result['seconds']:.2f} s, {result['lines']} lines, "
            f"{prepared['invoices']} open invoices, {result['matched']} matched"
        )
    return rows


def measure_workers(odoo, emulator, args):
    rows = []
    per_account = args.workers_n // 10
    for threads in (1, 2):
        label = f"workers{threads}"
        item = emulator.create_item(f"bench-{label}", per_account, 10)
        account_ids = odoo.call("workers_prepare", item_id=item["id"])["account_ids"]
        with OdooServer(odoo.db, threads) as server:
            cpu = server.cron_cpu()
            result = odoo.call("workers_run", account_ids=account_ids, timeout=WORKERS_TIMEOUT)
            result["rss_mb"] = server.peak_rss_mb()
            # CPU of the cron processes only (their PostgreSQL backends are not counted here)
            result["cpu_by_process"] = [
                round(after - cpu.get(pid, 0.0), 1) for pid, after in server.cron_cpu().items()
            ]
            result["cpu"] = sum(result["cpu_by_process"])
        if result["pending"]:
            raise SystemExit(f"{label}: {result['pending']} accounts still pending after {WORKERS_TIMEOUT} s")
        rows.append({"n": per_account * 10, "accounts": 10, "step": label, "threads": threads, **result})
        log(
            f"{label}: {result['seconds']:.2f} s, {result['lines']} lines, "
            f"cron batches {result['cron_batches']}, CPU s by cron process {result['cpu_by_process']}"
        )
    return rows


# ---------------------------------------------------------------------------------------------- summary
STEP_NAMES = {
    "floor": "floor: one create() of N mapped lines",
    "first_sync": "caixa_pluggy first sync",
    "resync": "caixa_pluggy re-sync, nothing new",
    "oca_first": "OCA online import, first pull",
    "oca_resync": "OCA re-pull, nothing new",
    "first_lines": "first lines after connect",
    "sync_no_matching": "first sync, reconciliation models off",
    "sync_matching": "first sync, reconciliation models on",
    "workers1": "cron first sync, 1 thread",
    "workers2": "cron first sync, 2 threads",
}
CREATES = ("floor", "first_sync", "oca_first", "workers1", "workers2", "sync_no_matching", "sync_matching")


def find(rows, step, n=None, accounts=None):
    for row in rows:
        if (
            row["step"] == step
            and (n is None or row["n"] == n)
            and (accounts is None or row["accounts"] == accounts)
        ):
            return row
    return None


def ratio(a, b):
    return a / b if a is not None and b else float("nan")


def summarise(rows, args):
    configs = sorted({(row["n"], row["accounts"]) for row in rows if row["step"] == "first_sync"})
    if not configs and not find(rows, "sync_matching"):
        return {"ratios": "ratios: (no configuration measured)", "values": {}, "notes": []}
    for row in rows:
        floor = find(rows, "floor", row["n"], row["accounts"])
        first = find(rows, "first_sync", row["n"], row["accounts"])
        base = {"first_sync": floor, "resync": first, "oca_first": first}.get(row["step"])
        if row["step"] == "oca_resync":
            base = find(rows, "resync", row["n"], row["accounts"])
        row["ratio"] = ratio(row["seconds"], base["seconds"]) if base else None
        row["ratio_to"] = {
            "first_sync": "floor",
            "resync": "first sync",
            "oca_first": "first sync",
            "oca_resync": "re-sync",
        }.get(row["step"])
        if row["step"] == "sync_matching" and find(rows, "sync_no_matching"):
            row["ratio"] = ratio(row["seconds"], find(rows, "sync_no_matching")["seconds"])
            row["ratio_to"] = "models off"
        if row["step"] == "workers2" and find(rows, "workers1"):
            row["ratio"] = ratio(find(rows, "workers1")["seconds"], row["seconds"])
            row["ratio_to"] = "speed-up over 1 thread"

    # Each ratio comes from the largest configuration that measured both of its steps.
    def pair(step, base):
        for n, accounts in sorted(configs, reverse=True):
            row, base_row = find(rows, step, n, accounts), find(rows, base, n, accounts)
            if row and base_row:
                used[step] = f"N = {n} over {accounts}"
                return row, base_row
        return None, None

    def seconds_ratio(step, base):
        row, base_row = pair(step, base)
        return ratio(row and row["seconds"], base_row and base_row["seconds"])

    used = {}
    workers1, workers2 = find(rows, "workers1"), find(rows, "workers2")
    resync, _ = pair("resync", "first_sync")
    matching_on, matching_off = find(rows, "sync_matching"), find(rows, "sync_no_matching")
    first_lines, _ = pair("first_lines", "first_sync")
    values = {
        "first_sync/floor": seconds_ratio("first_sync", "floor"),
        "resync/first_sync": seconds_ratio("resync", "first_sync"),
        "oca_first/first_sync": seconds_ratio("oca_first", "first_sync"),
        "oca_resync/resync": seconds_ratio("oca_resync", "resync"),
        "first_lines_s": first_lines["seconds"] if first_lines else float("nan"),
        "workers2/workers1": ratio(workers1 and workers1["seconds"], workers2 and workers2["seconds"]),
        "queries_per_account": ratio(resync["queries"], resync["accounts"]) if resync else float("nan"),
        "matching_on/off": ratio(
            matching_on and matching_on["seconds"], matching_off and matching_off["seconds"]
        ),
    }
    digits = {
        "first_sync/floor": 2,
        "resync/first_sync": 3,
        "oca_first/first_sync": 2,
        "oca_resync/resync": 1,
        "first_lines_s": 1,
        "workers2/workers1": 2,
        "queries_per_account": 0,
        "matching_on/off": 3,
    }
    ratios = "ratios: " + " ".join(f"{key}={value:.{digits[key]}f}" for key, value in values.items())
    sources = {}
    for step, config in used.items():
        sources.setdefault(config, []).append(step)
    notes = [
        "ratios line: "
        + "; ".join(f"{', '.join(steps)} at {config} account(s)" for config, steps in sources.items())
    ]
    notes += cpu_notes(rows)
    notes += memory_and_query_notes(rows)
    return {"ratios": ratios, "values": values, "notes": notes}


def cpu_notes(rows):
    """The same comparisons in CPU seconds (Odoo process + its PostgreSQL backend): what each step costs, less
    sensitive than wall time to whatever else runs on the machine."""
    notes = []
    for row in rows:
        if row["step"] in ("first_sync", "oca_first") and row.get("cpu"):
            floor = find(rows, "floor", row["n"], row["accounts"])
            if floor and floor.get("cpu"):
                notes.append(
                    f"N = {row['n']} over {row['accounts']}: {STEP_NAMES[row['step']]} used "
                    f"{row['cpu']:.1f} CPU s (Odoo {row['odoo_cpu']:.1f} + PostgreSQL {row['db_cpu']:.1f}), "
                    f"the floor {floor['cpu']:.1f}: "
                    f"{row['cpu'] / floor['cpu']:.3f} x floor in CPU"
                )
    return notes


def memory_and_query_notes(rows):
    notes = []
    firsts = sorted(
        (row for row in rows if row["step"] == "first_sync"), key=lambda row: (row["accounts"], row["n"])
    )
    for accounts in sorted({row["accounts"] for row in firsts}):
        same = [row for row in firsts if row["accounts"] == accounts]
        if len(same) > 1:
            low, high = same[0], same[-1]
            notes.append(
                f"first sync over {accounts} account(s): peak RSS {low['rss_mb']:.0f} MB at N = {low['n']}"
                f" -> {high['rss_mb']:.0f} MB at N = {high['n']} (+{high['rss_mb'] - low['rss_mb']:.0f} MB)"
            )
    for row in rows:
        if row["step"] != "first_sync":
            continue
        floor = find(rows, "floor", row["n"], row["accounts"])
        resync = find(rows, "resync", row["n"], row["accounts"])
        extra = (row["queries"] - floor["queries"]) / row["accounts"]
        notes.append(
            f"N = {row['n']} over {row['accounts']}: first sync issues {extra:+.0f} queries per account"
            f" beyond the floor's create(); re-sync {resync['queries'] / row['accounts']:.0f} per account"
        )
    return notes


def fmt(value, digits=2):
    if value is None or value != value:  # None or NaN
        return "—"
    return f"{value:,.{digits}f}"


def render_table(rows):
    header = (
        "| step | N | accounts | seconds | tx/s | CPU s | SQL queries | peak RSS MB | ratio |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---|"
    )
    lines = [header]
    for row in rows:
        step = row["step"]
        name = STEP_NAMES.get(step, step)
        tx_s = row["n"] / row["seconds"] if step in CREATES and row["seconds"] else None
        queries = row.get("queries")
        if step == "first_lines":
            count, returned = row.get("first_lines_count", "?"), fmt(row["callback_s"], 1)
            due = f"{row.get('backfill_due', '?')}/{row['accounts']}"
            name += f" ({count} lines; callback returned at {returned} s; history back-fill due: {due})"
        if step.startswith("workers"):
            queries = None
            name += (
                f" (CPU s by cron process: {', '.join(str(cpu) for cpu in row.get('cpu_by_process', []))})"
            )
        ratio_text = f"{fmt(row['ratio'], 3)} × {row['ratio_to']}" if row.get("ratio") is not None else ""
        lines.append(
            f"| {name} | {row['n']:,} | {row['accounts']} | {fmt(row['seconds'])} | {fmt(tx_s, 1)} | "
            f"{fmt(row.get('cpu'), 1)} | "
            f"{fmt(queries, 0)} | {fmt(row.get('rss_mb'), 0)} | {ratio_text} |"
        )
    return "\n".join(lines)


def write_results(path, table, summary, machine, args, elapsed):
    text = f"""# Benchmark results (issue #7)

- Date: {machine["date"]}
- Command: `{args.command}` ({elapsed / 60:.1f} min in all)
- Machine: {machine["cpu"]}, {machine["nproc"]} cores (nproc), {machine["ram_gb"]} GB RAM,
  {machine["os"]}; load average {machine["load"]} at the start, {machine["load_end"]} at the end
  (the benchmark itself loads about 1 core, 2 in its workers step: more means something else ran)
- Software: Odoo {machine["odoo"]}, PostgreSQL {machine["postgres"]}, OCA {machine["oca"]}

{table}

{chr(10).join("- " + note for note in summary["notes"])}

```
{summary["ratios"]}
```

How each figure is taken (bench/odoo_side.py): every step runs in its own process forked from one loaded
Odoo registry, in a fresh cursor, and commits as production does; seconds are wall-clock, SQL queries are
counted on Odoo's cursor, peak RSS is the step process's `ru_maxrss` (for the workers, the largest VmHWM of
the `odoo-bin` cron processes).
The floor creates our sync's very line values in one `create()`. The OCA pulls go through
bench/addons/bench_oca_pluggy, a provider reading the same emulator rows with the same HTTP client and
mapping, with monthly statements, over the same one-year range each time. "First lines" is the time from the
callback's start until a second connection sees a line of the new connection. The workers rows are an
`odoo-bin` server started with `--max-cron-threads=1`, then `2`, the sync cron triggered as the connect flow
does, timed until every account's history is in.
"""
    path.write_text(text)


# ---------------------------------------------------------------------------------------------- machine
def machine_facts():
    meminfo = Path("/proc/meminfo").read_text()
    total_kb = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    match = re.search(r"model name\s*:\s*(.+)", cpuinfo)
    if match:
        cpu = match.group(1).strip()
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "ram_gb": round(total_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "os": f"{platform.system()} {platform.release()}",
        "load": load_average(),
        "odoo": odoo_version(),
        "postgres": run_python(
            f"import psycopg2; c = psycopg2.connect(host={DB_HOST!r}, port={DB_PORT!r}, user={DB_USER!r},"
            " dbname='postgres'); cur = c.cursor(); cur.execute('SHOW server_version');"
            " print(cur.fetchone()[0])"
        ).strip(),
        "oca": oca_versions(),
    }


def load_average():
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def odoo_version():
    text = (ODOO_PATH / "odoo" / "release.py").read_text()
    match = re.search(r"version_info = \(([^)]*)\)", text)
    return ".".join(part.strip().strip("'\"") for part in match.group(1).split(",")[:3]) if match else "?"


def run_python(code, check=True):
    return subprocess.run([ODOO_PYTHON, "-c", code], check=check, capture_output=True, text=True).stdout


def oca_versions():
    code = (
        "import importlib.metadata as m\n"
        f"for name in {[package.split('==')[0] for package in OCA_PACKAGES]!r}:\n"
        "    try: print(name.replace('odoo-addon-', ''), m.version(name))\n"
        "    except m.PackageNotFoundError: pass\n"
    )
    return ", ".join(run_python(code).split("\n")[:-1]) or "not installed"


def ensure_oca_installed():
    """OCA's modules come from PyPI into the Odoo venv (--no-deps: Odoo itself is not a pip package here)."""
    code = (
        "import sysconfig, pathlib\n"
        "root = pathlib.Path(sysconfig.get_paths()['purelib']) / 'odoo' / 'addons'\n"
        f"print(all((root / name / '__manifest__.py').exists() for name in {list(OCA_MODULES)!r}))"
    )
    if run_python(code).strip() == "True":
        return
    log("installing OCA's online bank statement import from PyPI into the Odoo venv (--no-deps)")
    subprocess.run([ODOO_PYTHON, "-m", "pip", "install", "--quiet", "--no-deps", *OCA_PACKAGES], check=True)


# ---------------------------------------------------------------------------------------------- processes
def process_cpu(pids):
    """User + system CPU seconds of these processes, by pid (those that ended meanwhile left out)."""
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        cpu[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return cpu


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dsn(db):
    return {"host": DB_HOST, "port": DB_PORT, "user": DB_USER, "dbname": db}


def addons_path():
    return ",".join(
        str(path) for path in (ODOO_PATH / "addons", ODOO_PATH / "odoo" / "addons", ROOT, BENCH / "addons")
    )


def odoo_bin_args(db):
    return [
        ODOO_PYTHON,
        str(ODOO_PATH / "odoo-bin"),
        "-d",
        db,
        f"--db_host={DB_HOST}",
        f"--db_port={DB_PORT}",
        f"--db_user={DB_USER}",
        f"--addons-path={addons_path()}",
        "--without-demo=all",
        "--http-interface=127.0.0.1",
        f"--http-port={free_port()}",
        f"--data-dir={OUT / 'data'}",
    ]


def drop_database(db):
    env = {**os.environ, "PGHOST": DB_HOST, "PGPORT": str(DB_PORT), "PGUSER": DB_USER}
    subprocess.run([ODOO_PYTHON, str(ROOT / "tools" / "dropdb.py"), db], check=True, env=env)


def copy_database(source, target):
    """``target`` as a copy of ``source`` (no connection may be open on it), its filestore included."""
    drop_database(target)
    subprocess.run(
        ["createdb", "-h", DB_HOST, "-p", DB_PORT, "-U", DB_USER, "-T", source, target], check=True
    )
    filestore = OUT / "data" / "filestore"
    if (filestore / source).exists():
        shutil.copytree(filestore / source, filestore / target, dirs_exist_ok=True)


def create_database(db):
    drop_database(db)
    log(f"fresh database {db}")


def install_modules(db, modules=MODULES):
    log(f"installing {', '.join(modules)} (log: bench/out/install.log)")
    start = time.perf_counter()
    with open(OUT / "install.log", "w") as logfile:
        subprocess.run(
            [
                *odoo_bin_args(db),
                "-i",
                ",".join(modules),
                "--stop-after-init",
                "--log-level=warn",
                "--max-cron-threads=0",
            ],
            check=True,
            stdout=logfile,
            stderr=subprocess.STDOUT,
        )
    log(f"installed in {time.perf_counter() - start:.0f} s")


class Emulator:
    """tools/pluggy_emulator as a subprocess on a free port of 127.0.0.1."""

    def __init__(self, seed=42):
        self.seed = seed

    def __enter__(self):
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.logfile = open(OUT / "emulator.log", "w")  # noqa: SIM115 - closed in __exit__
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "tools" / "pluggy_emulator" / "server.py"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--seed",
                str(self.seed),
                "--client-id",
                CLIENT_ID,
                "--client-secret",
                CLIENT_SECRET,
            ],
            stdout=self.logfile,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                self.control("GET", "/_emulator/state")
                return self
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise SystemExit(
                        "the Pluggy emulator did not start: see bench/out/emulator.log"
                    ) from None
                time.sleep(0.1)

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(10)
        self.logfile.close()

    def control(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=120) as reply:
            return json.loads(reply.read())

    def create_item(self, client_user_id, per_account, accounts):
        return self.control(
            "POST",
            "/_emulator/items",
            {
                "clientUserId": client_user_id,
                "transactions": per_account,
                "history_days": EMULATOR_HISTORY_DAYS,
                "pending": 0,
                "bank_accounts": accounts,
                "credit_accounts": 0,
            },
        )


class OdooSide:
    """bench/odoo_side.py: one loaded registry answering step commands, each run in a forked process."""

    def __init__(self, db):
        self.db = db

    def __enter__(self):
        self.stderr = open(OUT / "odoo_side.log", "w")  # noqa: SIM115 - closed in __exit__
        self.process = subprocess.Popen(
            [
                ODOO_PYTHON,
                str(BENCH / "odoo_side.py"),
                "--odoo-path",
                str(ODOO_PATH),
                "--db",
                self.db,
                "--addons-path",
                addons_path(),
                "--db-host",
                DB_HOST,
                "--db-port",
                DB_PORT,
                "--db-user",
                DB_USER,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        self._read()
        return self

    def __exit__(self, *exc):
        if self.process.poll() is None:
            self.process.stdin.write(json.dumps({"step": "quit"}) + "\n")
            self.process.stdin.close()
            self.process.wait(60)
        self.stderr.close()

    def _read(self):
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit("the Odoo side stopped: see bench/out/odoo_side.log")
        return json.loads(line)

    def call(self, step, **args):
        self.process.stdin.write(json.dumps({"step": step, "args": args}) + "\n")
        self.process.stdin.flush()
        result = self._read()
        if "error" in result:
            raise SystemExit(f"step {step} failed:\n{result['error']}")
        return result


class OdooServer:
    """A running odoo-bin in multi-process mode, as in production: each cron thread is its own process.

    (In threaded mode, --workers=0, all cron threads share one Python interpreter and its GIL: a second thread
    cannot use a second core.) The CPU and real-time limits are raised for the back-fill: see bench/README.md.
    """

    def __init__(self, db, threads, label=None):
        self.db = db
        self.threads = threads
        self.label = label or f"cron{threads}"

    def __enter__(self):
        self.logpath = OUT / f"server-{self.label}.log"
        self.logpath.write_text("")
        self.process = subprocess.Popen(
            [
                *odoo_bin_args(self.db),
                "--workers=1",
                f"--max-cron-threads={self.threads}",
                "--limit-time-cpu=3600",
                "--limit-time-real=3600",
                "--limit-time-real-cron=3600",
                "--log-level=info",
                f"--logfile={self.logpath}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 300
        # The registry is loaded before the cron processes are forked: wait until they all are.
        while len(self.cron_pids()) < self.threads:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit(f"odoo-bin did not start: see {self.logpath}")
            time.sleep(0.2)
        return self

    def cron_pids(self):
        return [
            int(pid) for pid in re.findall(r"Worker WorkerCron \((\d+)\) alive", self.logpath.read_text())
        ]

    def cron_cpu(self):
        """User + system CPU seconds of each cron process, by pid."""
        return process_cpu(self.cron_pids())

    def peak_rss_mb(self):
        """The largest peak RSS of the cron processes (VmHWM)."""
        peaks = []
        for pid in self.cron_pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except FileNotFoundError:  # recycled
                continue
            peaks.append(int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024)
        return max(peaks, default=float("nan"))

    def __exit__(self, *exc):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


if __name__ == "__main__":
    main()
