"""The fleet benchmark (issue #16): the steady state of many connections, one scheduled cycle at a time.

    python bench/run.py --fleet              # 1,000 connections x (checking account + card)
    python bench/run.py --fleet 100,300      # one run per size, each on its own database
    python bench/run.py --fleet-quick        # 100 connections: a few minutes

For each size: the emulator serves the connections, each with a short history; Odoo registers them and its
cron processes import that history (the seed, measured but not the point). The seeded database is then copied
twice, the emulator applies one cycle of bank changes (new rows, a late posting, edits and a deletion in the
look-back window per account; 5 % of the connections failing: login error, bank offline, 429), and the same
cycle runs on each copy with Odoo's ``max_cron_threads`` = 1, then 2. Each run ends with the exactness check:
every journal equals the emulator's posted rows, and every failing connection says why.
"""

from __future__ import annotations

import json
import random
import re
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import run
from run import OUT, Emulator, OdooServer, OdooSide, log

# History of each account before the cycle, spread over more days than the look-back window (10 days).
HISTORY_ROWS, HISTORY_DAYS = 12, 14
# One cycle per account: new rows of the last days (one of them a late posting dated before the window),
# rows of the window edited, and deleted.
NEW_ROWS, LATE_ROWS, EDITED, DELETED = 19, 1, 2, 1
WINDOW_DAYS = 9
FAILING_SHARE = 0.05
FAILURES = ("login_error", "bank_offline", "rate_limited")
OFFLINE_CONNECTOR = 203  # the failing "bank offline" connections are all of one bank
FLEET_MODULES = (*run.MODULES, "bench_fleet_meter")
CYCLE_TIMEOUT = 3 * 3600
METER_LINE = re.compile(r"bench-meter (cron|sync) (?:accounts=(\S*) )?queries=(\d+) seconds=([\d.]+)")


def main(args):
    results = []
    for size in args.fleet:
        results.append(measure_size(args, size))
        # Kept as each size ends: a long run stopped halfway still has the sizes it measured.
        (OUT / f"fleet-{size}.json").write_text(json.dumps(results[-1], indent=1))
    return results


def measure_size(args, size):
    seed_db = f"{args.db}_fleet{size}"
    log(f"fleet of {size} connections (database {seed_db})")
    with Emulator(seed=size) as emulator:
        run.create_database(seed_db)
        run.install_modules(seed_db, FLEET_MODULES)
        with OdooSide(seed_db) as odoo:
            setup = odoo.call(
                "setup",
                api_url=emulator.url,
                client_id=run.CLIENT_ID,
                client_secret=run.CLIENT_SECRET,
                history_days=30,
            )
            failing = create_fleet(emulator, setup["client_user_id"], size)
            started = time.perf_counter()
            odoo.call("fleet_register", item_ids=list(failing))
            log(f"registered in {time.perf_counter() - started:.0f} s")
            failing = {item_id: kind for item_id, kind in failing.items() if kind}
        seed = run_cycle(seed_db, emulator, threads=2, label=f"fleet{size}-seed")
        log(f"seed (history) with 2 cron workers: {seed['seconds']:.0f} s, {seed['lines']} lines")
        copies = {threads: f"{seed_db}_w{threads}" for threads in (1, 2)}
        for copy in copies.values():
            run.copy_database(seed_db, copy)
        apply_cycle(emulator, failing)
        if args.profile:
            profile_cycle(seed_db, emulator, failing, size)
        rows = {"size": size, "seed": seed}
        for threads, copy in copies.items():
            result = run_cycle(copy, emulator, threads, label=f"fleet{size}-w{threads}", failing=failing)
            rows[f"workers{threads}"] = result
            log(
                f"{size} connections, {threads} cron worker(s): {result['seconds']:.0f} s, "
                f"{result['lines']} new lines, {result['queries_per_account']:.0f} queries and "
                f"{result['http_per_account']:.1f} HTTP calls per account, check {result['check']}"
            )
        if not args.keep_db:
            for db in (seed_db, *copies.values()):
                run.drop_database(db)
    return rows


def create_fleet(emulator, client_user_id, size):
    """The connections at Pluggy, each a checking account and a card; returns {item id: failure or None}."""
    kinds = [None] * size
    every = round(1 / FAILING_SHARE)
    for index in range(every - 1, size, every):
        kinds[index] = FAILURES[(index // every) % len(FAILURES)]

    def create(kind):
        item = emulator.control(
            "POST",
            "/_emulator/items",
            {
                "clientUserId": client_user_id,
                "connectorId": OFFLINE_CONNECTOR if kind == "bank_offline" else 0,
                "transactions": HISTORY_ROWS,
                "history_days": HISTORY_DAYS,
                "pending": 0,
                "bank_accounts": 1,
                "credit_accounts": 1,
            },
        )
        return item["id"], kind

    with ThreadPoolExecutor(8) as pool:
        return dict(pool.map(create, kinds))


def apply_cycle(emulator, failing):
    """One cycle of bank changes at Pluggy. A failing connection gets none: its bank could not be read."""
    today = date.today()
    state = emulator.control("GET", "/_emulator/state")
    account_types = {
        account["id"]: account["type"]
        for item in state["items"]
        if item["id"] not in failing
        for account in item["accounts"]
    }
    accounts = list(account_types)

    def change(account_id):
        rng = random.Random(account_id)
        window_start = (today - timedelta(days=WINDOW_DAYS)).isoformat()
        rows = emulator.control("GET", f"/_emulator/accounts/{account_id}/transactions")["results"]
        in_window = [row for row in rows if row["status"] == "POSTED" and row["date"] >= window_start]
        touched = rng.sample(in_window, min(len(in_window), EDITED + DELETED))
        # A checking account's payments are negative; a card's purchases positive (as Pluggy sends them).
        sign = "" if account_types[account_id] == "CREDIT" else "-"
        for index in range(NEW_ROWS + LATE_ROWS):
            days_ago = 40 if index < LATE_ROWS else rng.randint(0, 3)
            emulator.control(
                "POST",
                f"/_emulator/accounts/{account_id}/transactions",
                {
                    "amount": f"{sign}{rng.randint(100, 99999) / 100:.2f}",
                    "date": (today - timedelta(days=days_ago)).isoformat(),
                    "description": f"COMPRA fleet {index}" if sign == "" else f"PIX ENVIADO fleet {index}",
                },
            )
        for row in touched[:EDITED]:
            emulator.control(
                "PATCH",
                f"/_emulator/transactions/{row['id']}",
                {
                    "amount": f"{sign}{rng.randint(100, 99999) / 100:.2f}",
                    "description": row["description"] + " *",
                },
            )
        for row in touched[EDITED:]:
            emulator.control("DELETE", f"/_emulator/transactions/{row['id']}")

    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(change, accounts))
    fail_connections(emulator, failing)
    log(f"cycle applied at the emulator in {time.perf_counter() - started:.0f} s ({len(accounts)} accounts)")


def fail_connections(emulator, failing):
    state = {item["id"]: item for item in emulator.control("GET", "/_emulator/state")["items"]}
    for item_id, kind in failing.items():
        if kind == "login_error":
            emulator.control(
                "PATCH",
                f"/_emulator/items/{item_id}",
                {
                    "status": "LOGIN_ERROR",
                    "executionStatus": "INVALID_CREDENTIALS",
                    "error": {"code": "INVALID_CREDENTIALS", "message": "Invalid credentials"},
                },
            )
        elif kind == "bank_offline":
            emulator.control(
                "PATCH",
                f"/_emulator/items/{item_id}",
                {
                    "status": "OUTDATED",
                    "executionStatus": "SITE_NOT_AVAILABLE",
                    "error": {"code": "SITE_NOT_AVAILABLE", "message": "The bank's site is not available"},
                },
            )
        else:
            # Pluggy's own 429 (Retry-After: 60) on every read of this connection's transactions, all cycle.
            for account in state[item_id]["accounts"]:
                emulator.control(
                    "POST",
                    "/_emulator/faults",
                    {
                        "path": "/v2/transactions",
                        "account_id": account["id"],
                        "rate_limit": {"count": 1_000_000, "reset": 60, "retry_after": 60},
                    },
                )
    emulator.control("PATCH", f"/_emulator/connectors/{OFFLINE_CONNECTOR}", {"health": {"status": "OFFLINE"}})


def profile_cycle(seed_db, emulator, failing, size, connections=10):
    """The cycle's sync of a few healthy connections, one call each as the cron makes it, under cProfile with
    its most expensive queries (bench/out/profile-fleet<size>.txt), on a copy of its own."""
    copy = f"{seed_db}_profile"
    run.copy_database(seed_db, copy)
    state = emulator.control("GET", "/_emulator/state")
    healthy = [item for item in state["items"] if item["id"] not in failing][:connections]
    pluggy_ids = [account["id"] for item in healthy for account in item["accounts"]]
    with OdooSide(copy) as odoo:
        account_ids = odoo.call("fleet_account_ids", pluggy_account_ids=pluggy_ids)["account_ids"]
        profiled = odoo.call("profile_sync", account_ids=account_ids, by_connection=True)
    run.drop_database(copy)
    (OUT / f"profile-fleet{size}.txt").write_text(
        f"{len(account_ids)} accounts, {profiled['queries']} queries, {profiled['seconds']:.2f} s\n\n"
        + profiled.pop("profile")
        + "\n\nTop queries (seconds, count, query):\n"
        + "\n".join(f"{s:8.3f} {c:6d}  {q}" for s, c, q in profiled.pop("top_queries"))
    )
    log(f"profile written to bench/out/profile-fleet{size}.txt")


def run_cycle(db, emulator, threads, label, failing=None):
    """One scheduled cycle on ``db`` with ``threads`` cron processes: its figures and the exactness check."""
    before = http_calls(emulator)
    with OdooSide(db) as odoo, OdooServer(db, threads, label=label) as server:
        cpu, pg_cpu = server.cron_cpu(), postgres_cpu()
        result = odoo.call("fleet_cycle", timeout=CYCLE_TIMEOUT, failing=list(failing or ()))
        result["cron_cpu"] = cpu_spent(cpu, server.cron_cpu())
        result["pg_cpu"] = cpu_spent(pg_cpu, postgres_cpu())
        result["rss_mb"] = server.peak_rss_mb()
        if result["untried"]:
            raise SystemExit(f"{label}: {result['untried']} accounts not synced after {CYCLE_TIMEOUT} s")
        if failing is not None:
            result["check"] = odoo.call("fleet_check", emulator_url=emulator.url, failing=failing)
        meter = read_meter(server.logpath)
        result["log_errors"] = log_errors(server.logpath)
        if failing is not None:
            result["check"]["log_errors"] = result["log_errors"]
    accounts = result["check"]["accounts"] if failing is not None else None
    result["http_calls"] = http_calls(emulator) - before
    synced = meter["accounts"] or 1
    result["queries_per_account"] = meter["queries"] / synced
    result["http_per_account"] = result["http_calls"] / synced
    result["synced_accounts"] = meter["accounts"]
    result["accounts"] = accounts or meter["accounts"]
    result["rows_per_s"] = result["lines"] / result["seconds"] if result["seconds"] else float("nan")
    result["sync_s"] = meter["sync_s"]
    result["failing_sync_s"] = meter_failing(meter, emulator, failing)
    return result


def log_errors(logpath):
    """The ERROR and CRITICAL records of the server's log (a cron job that crashed, say): none is expected."""
    return sum(" ERROR " in line or " CRITICAL " in line for line in Path(logpath).read_text().splitlines())


def read_meter(logpath):
    """The cron calls' queries, the accounts synced and each sync call's seconds by account, from
    bench_fleet_meter's log lines."""
    queries = 0
    sync_s = {}
    for kind, account_ids, count, seconds in METER_LINE.findall(Path(logpath).read_text()):
        if kind == "cron":
            queries += int(count)
        else:
            for account_id in filter(None, account_ids.split(",")):
                # A failed account tried again later in the cycle (a 429's retry) counts once: its first try.
                sync_s.setdefault(account_id, float(seconds))
    return {"queries": queries, "accounts": len(sync_s), "sync_s": sync_s}


def meter_failing(meter, emulator, failing):
    """Seconds of each sync call (the cron syncs a connection's due accounts in one), for the failing
    connections and for the others: the longest and the median; a failure that held its cron process
    (waiting out a 429, say) shows here."""
    if not failing:
        return None
    state = emulator.control("GET", "/_emulator/state")
    failing_accounts = {a["id"] for item in state["items"] if item["id"] in failing for a in item["accounts"]}
    groups = {"failing": [], "healthy": []}
    for account_id, seconds in meter["sync_s"].items():
        groups["failing" if account_id in failing_accounts else "healthy"].append(seconds)
    return {
        name: {"max": max(values), "median": statistics.median(values)} if values else None
        for name, values in groups.items()
    }


def http_calls(emulator):
    """Pluggy API calls the emulator answered, plus those it refused with a fault (a 429 counts too)."""
    state = emulator.control("GET", "/_emulator/state")
    answered = sum(count for route, count in state["requests"].items() if _is_api_route(route))
    return answered + sum(rule["fired"] for rule in state["faults"])


def _is_api_route(route):
    """Route names are "METHOD /path": the control API and the widget's files are not Pluggy's API."""
    return not route.split(" ", 1)[1].startswith(("/_emulator/", "/connect/"))


def cpu_spent(before, after):
    """CPU seconds spent between two readings by pid (a process started meanwhile counts from zero)."""
    return round(sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items()), 1)


def postgres_cpu():
    """CPU seconds of every PostgreSQL process of this machine, by pid."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "postgres":
                pids.append(int(entry.name))
        except FileNotFoundError:  # ended meanwhile
            continue
    return run.process_cpu(pids)


# ---------------------------------------------------------------------------------------------- report
def render_table(results):
    header = (
        "| connections | cron workers | cycle s | new lines | rows/s | SQL queries / account"
        " | HTTP calls / account | Odoo CPU s | PostgreSQL CPU s | peak RSS MB | check |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    )
    lines = [header]
    for rows in results:
        for threads in (1, 2):
            row = rows[f"workers{threads}"]
            lines.append(
                f"| {rows['size']:,} | {threads} | {row['seconds']:.0f} | {row['lines']:,}"
                f" | {row['rows_per_s']:.1f} | {row['queries_per_account']:.0f}"
                f" | {row['http_per_account']:.1f} | {row['cron_cpu']:.0f}"
                f" | {row['pg_cpu']:.0f} | {row['rss_mb']:.0f} | {check_text(row['check'])} |"
            )
    return "\n".join(lines)


def check_text(check):
    failing = ", ".join(
        f"{kind} {check['failing_recorded'].get(kind, 0)}/{count}"
        for kind, count in sorted(check["failing"].items())
    )
    verdict = "passed" if check_passed(check) else "FAILED"
    return (
        f"{verdict}: {check['missing']} missing, {check['extra']} duplicated or different over "
        f"{check['accounts']:,} journals ({check['flagged']} reconciled lines changed at the bank: kept,"
        " flagged);"
        f" failing connections that say why: {failing}; {check['log_errors']} errors in Odoo's log"
    )


def check_passed(check):
    return (
        not check["missing"]
        and not check["extra"]
        and not check["log_errors"]
        and check["failing_recorded"] == check["failing"]
        and not check["healthy_with_error"]
    )


def notes(results):
    lines = []
    for rows in results:
        seed, size = rows["seed"], rows["size"]
        lines.append(
            f"{size:,} connections: the seed (each account's history, {seed['lines']:,} lines) took "
            f"{seed['seconds']:.0f} s with 2 cron workers"
        )
        for threads in (1, 2):
            row = rows[f"workers{threads}"]
            timing = row["failing_sync_s"]
            if not (timing and timing["failing"] and timing["healthy"]):
                continue
            lines.append(
                f"{size:,} connections, {threads} worker(s): the healthy accounts were all done at "
                f"{row['healthy_done_s']:.0f} s; a connection's sync took"
                f" {timing['healthy']['median']:.2f} s (median, longest {timing['healthy']['max']:.1f} s),"
                f" a failing connection's at most {timing['failing']['max']:.1f} s"
            )
    if len(results) > 1:
        low, high = results[0]["workers2"], results[-1]["workers2"]
        lines.append(
            f"from {results[0]['size']:,} to {results[-1]['size']:,} connections (2 workers): SQL queries"
            f" per account {low['queries_per_account']:.0f} -> {high['queries_per_account']:.0f},"
            f" HTTP calls per account {low['http_per_account']:.1f} -> {high['http_per_account']:.1f},"
            f" peak RSS {low['rss_mb']:.0f} -> {high['rss_mb']:.0f} MB, rows/s {low['rows_per_s']:.1f} -> "
            f"{high['rows_per_s']:.1f}"
        )
    return lines


def ratios(results):
    largest = results[-1]
    one, two = largest["workers1"], largest["workers2"]
    return (
        f"fleet_cycle_s={two['seconds']:.0f} fleet_workers2/workers1={one['seconds'] / two['seconds']:.2f} "
        f"fleet_queries_per_account={two['queries_per_account']:.0f}"
    )


def write_results(path, results, machine, command, elapsed):
    """The fleet section of ``path`` (bench/RESULTS.md keeps the other figures), and the fleet ratios on its
    closing ``ratios:`` line."""
    section = f"""{FLEET_START}
## Fleet: one scheduled cycle of many connections (issue #16)

- Date: {machine["date"]}
- Command: `{command}` ({elapsed / 60:.1f} min in all)
- Machine: {machine["cpu"]}, {machine["nproc"]} cores (nproc), {machine["ram_gb"]} GB RAM,
  {machine["os"]}; load average {machine["load"]} at the start, {machine["load_end"]} at the end
- Each connection: a checking account and a card, each with {HISTORY_ROWS} rows of history over {HISTORY_DAYS}
  days already imported; the cycle brings each account {NEW_ROWS} new rows of the last days and
  {LATE_ROWS} late posting dated 40 days ago, {EDITED} rows of the look-back window edited and {DELETED}
  deleted.
  One connection in {round(1 / FAILING_SHARE)} fails instead, in turn: login error, bank offline, Pluggy's 429
  on every read of its transactions (Retry-After 60 s).

{render_table(results)}

{chr(10).join("- " + note for note in notes(results))}

How each figure is taken (bench/fleet.py): `odoo-bin --workers=1 --max-cron-threads=N` on a copy of the seeded
database; the sync job is triggered once with every account due, as its schedule makes them, and the cycle
ends when each account has been tried. SQL queries are counted in the cron processes around each call of the
sync job (bench/addons/bench_fleet_meter); HTTP calls are those the emulator answered or refused; Odoo CPU is
the cron processes', PostgreSQL CPU all of its processes'; peak RSS is the largest VmHWM of a cron process.
{FLEET_END}"""
    text = path.read_text() if path.exists() else ""
    if FLEET_START in text:
        before, rest = text.split(FLEET_START, 1)
        text = before + section + rest.split(FLEET_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    line = ratios(results)
    match = re.search(r"^ratios: .*$", text, flags=re.MULTILINE)
    if match:
        kept = " ".join(part for part in match.group(0).split()[1:] if not part.startswith("fleet_"))
        text = text[: match.start()] + f"ratios: {kept} {line}".replace("  ", " ") + text[match.end() :]
    else:
        text += f"\n```\nratios: {line}\n```\n"
    path.write_text(text)


FLEET_START, FLEET_END = "<!-- fleet: written by bench/run.py --fleet -->", "<!-- /fleet -->"
