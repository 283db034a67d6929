#!/usr/bin/env python3
"""Regenerate caixa_pluggy/i18n/caixa_pluggy.pot from the code and merge it into pt_BR.po.

The Odoo way: the addon is installed (or updated) in a database of its own, Odoo's exporter
(`odoo-bin --i18n-export`) extracts every term (Python `_()`/`env._()`, fields, selections, views, data
records, JS `_t()` and OWL templates), and the result is merged into the translation:

  * new terms are added with an empty msgstr (msgmerge may propose a translation flagged `fuzzy`: review it
    and remove the flag),
  * terms that are no longer in the code are dropped,
  * existing translations are kept.

Usage (from anywhere):

    tools/i18n/update_po.py                  # database caixa_pluggy_i18n, created on first use
    tools/i18n/update_po.py --db mydb        # a database of your own with the addon installed or installable

Then translate the empty (and fuzzy) msgstr of caixa_pluggy/i18n/pt_BR.po and run
`./run-tests --odoo-only --tags /caixa_pluggy:TestPtBrTranslations`.

Environment: ODOO_PATH (default /opt/odoo), ODOO_PYTHON (default $ODOO_PATH/.venv/bin/python),
PGHOST/PGPORT/PGUSER (default 127.0.0.1/5432/root).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULE = "caixa_pluggy"
I18N = REPO / MODULE / "i18n"
POT = I18N / f"{MODULE}.pot"
LANGS = {"pt_BR": "nplurals=2; plural=(n > 1);"}


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--db", default=f"{MODULE}_i18n", help="database to export from (default %(default)s)"
    )
    parser.add_argument(
        "--no-update", action="store_true", help="export as the database is, without installing/updating"
    )
    parser.add_argument("--no-msgmerge", action="store_true", help="merge with polib even if msgmerge exists")
    args = parser.parse_args()

    odoo_path = Path(os.environ.get("ODOO_PATH", "/opt/odoo"))
    python = os.environ.get("ODOO_PYTHON") or str(odoo_path / ".venv" / "bin" / "python")
    if not Path(python).exists():
        python = sys.executable
    odoo_cmd = [
        python,
        str(odoo_path / "odoo-bin"),
        "-d",
        args.db,
        "--db_host",
        os.environ.get("PGHOST", "127.0.0.1"),
        "--db_port",
        os.environ.get("PGPORT", "5432"),
        "--db_user",
        os.environ.get("PGUSER", "root"),
        f"--addons-path={odoo_path / 'addons'},{odoo_path / 'odoo' / 'addons'},{REPO}",
        "--stop-after-init",
        "--no-http",
        "--log-level=warn",
    ]

    if not args.no_update:
        # -i installs on a new database and is a no-op on an installed module; -u reloads the code's terms.
        step = ["-i", MODULE] if not _module_installed(python, args.db) else ["-u", MODULE]
        _run(odoo_cmd + step + ["--without-demo=all"], f"installing/updating {MODULE} in {args.db}")

    with tempfile.TemporaryDirectory() as tmp:
        new_pot = Path(tmp) / f"{MODULE}.pot"
        _run(odoo_cmd + [f"--i18n-export={new_pot}", f"--modules={MODULE}"], "exporting the terms")
        # Merging and writing use polib, which comes with Odoo: run that part with Odoo's Python.
        merge = [python, __file__, "--_merge", str(new_pot)] + (["--no-msgmerge"] if args.no_msgmerge else [])
        subprocess.run(merge, check=True)


def _module_installed(python, db):
    probe = (
        "import sys, psycopg2\n"
        "try:\n"
        "    db, host, port, user, module = sys.argv[1:6]\n"
        "    conn = psycopg2.connect(dbname=db, host=host, port=port, user=user)\n"
        "except psycopg2.OperationalError:\n"
        "    sys.exit(1)\n"
        "cr = conn.cursor()\n"
        "cr.execute(\"SELECT 1 FROM ir_module_module WHERE name = %s AND state = 'installed'\", (module,))\n"
        "sys.exit(0 if cr.fetchone() else 1)\n"
    )
    env = os.environ
    argv = [env.get("PGHOST", "127.0.0.1"), env.get("PGPORT", "5432"), env.get("PGUSER", "root")]
    return subprocess.run([python, "-c", probe, db, *argv, MODULE], capture_output=True).returncode == 0


def _run(cmd, what):
    print(f"update_po: {what}…", flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        sys.exit(f"update_po: {what} failed (exit {proc.returncode})")


# ---------------------------------------------------------------------------------------------------------
# merge (runs under Odoo's Python, where polib is installed)
# ---------------------------------------------------------------------------------------------------------


def merge(new_pot_path, use_msgmerge=True):
    import polib  # noqa: PLC0415 - only the merge step needs it

    new_pot = polib.pofile(str(new_pot_path))
    if POT.exists() and _terms(polib.pofile(str(POT))) == _terms(new_pot):
        print(f"update_po: {POT.relative_to(REPO)} is up to date")
    else:
        new_pot.save(str(POT))
        print(f"update_po: wrote {POT.relative_to(REPO)} ({len(new_pot)} terms)")

    for lang, plural_forms in LANGS.items():
        po_path = I18N / f"{lang}.po"
        if not po_path.exists():
            po = polib.POFile()
            po.header = new_pot.header
            po.metadata = dict(new_pot.metadata)
            po.save(str(po_path))
        msgmerge = shutil.which("msgmerge") if use_msgmerge else None
        if msgmerge:
            # msgmerge proposes translations of similar old terms (flagged fuzzy) for new ones.
            subprocess.run(
                [msgmerge, "--quiet", "--previous", "--output-file", str(po_path), str(po_path), str(POT)],
                check=True,
            )
            po = polib.pofile(str(po_path))
        else:
            po = polib.pofile(str(po_path))
            po.merge(polib.pofile(str(POT)))
        _normalise(po, polib.pofile(str(POT)), lang, plural_forms)
        po.save(str(po_path))
        _report(po, po_path)


def _terms(pofile):
    return sorted((e.msgid, tuple(e.occurrences), e.comment) for e in pofile if not e.obsolete)


def _normalise(po, pot, lang, plural_forms):
    """Drop stale entries, keep the .pot's order, and keep the header a translation needs."""
    order = {entry.msgid: index for index, entry in enumerate(pot)}
    kept = sorted((e for e in po if not e.obsolete and e.msgid in order), key=lambda e: order[e.msgid])
    po[:] = kept
    po.metadata["Language"] = lang
    po.metadata["Plural-Forms"] = plural_forms
    po.metadata["Content-Type"] = "text/plain; charset=UTF-8"


def _report(po, po_path):
    todo = [e for e in po if not e.msgstr or "fuzzy" in e.flags]
    print(
        f"update_po: wrote {po_path.relative_to(REPO)} ({len(po)} terms, {len(todo)} to translate or review)"
    )
    for entry in todo:
        state = "fuzzy" if "fuzzy" in entry.flags else "untranslated"
        print(f"  [{state}] {entry.msgid!r}")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--_merge":
        merge(sys.argv[2], use_msgmerge="--no-msgmerge" not in sys.argv[3:])
    else:
        main()
