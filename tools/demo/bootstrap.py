"""The demo database: what state it is in, and its creation the way Odoo's database manager does it.

Used by ./run-demo and by the docker-compose init service (tools/demo/docker-init.sh):

    python tools/demo/bootstrap.py state  --db NAME [--db_host H --db_port P --db_user U --db_password W]
    python tools/demo/bootstrap.py create --db NAME [same options] [--odoo-path /opt/odoo] [--addons-path ...]

``state`` prints the database's state: ``absent`` (no database), ``empty`` (a database Odoo never
initialised), ``bare`` (Odoo is there but caixa_pluggy is not installed) or ``installed``.

``create`` makes the database as Odoo's database manager does with country Brazil: base installed without
demo data, the company in Brazil with its currency (BRL), and the login admin/admin. Installing ``account`` in
it then loads the Brazilian chart of accounts (``l10n_br``): Odoo picks the chart from the company's country.
"""

import argparse
import sys


def _connect(args, dbname):
    import psycopg2

    params = {"dbname": dbname, "host": args.db_host, "port": args.db_port, "user": args.db_user}
    if args.db_password:
        params["password"] = args.db_password
    return psycopg2.connect(**{key: value for key, value in params.items() if value})


def database_state(args):
    """The state of the demo database: absent, empty, bare or installed."""
    conn = _connect(args, "postgres")
    try:
        with conn.cursor() as cr:
            cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", (args.db,))
            exists = bool(cr.fetchone())
    finally:
        conn.close()
    if not exists:
        return "absent"
    conn = _connect(args, args.db)
    try:
        with conn.cursor() as cr:
            cr.execute("SELECT to_regclass('ir_module_module')")
            if not cr.fetchone()[0]:
                return "empty"
            cr.execute("SELECT state FROM ir_module_module WHERE name = 'caixa_pluggy'")
            row = cr.fetchone()
    finally:
        conn.close()
    return "installed" if row and row[0] == "installed" else "bare"


def create_database(args):
    """Create and initialise the database with country Brazil and admin/admin, as Odoo's database manager."""
    if args.odoo_path:
        sys.path.insert(0, args.odoo_path)
    import odoo
    from odoo.service import db as db_service

    options = ["--database", args.db, "--without-demo=all"]
    if args.config:
        options += ["--config", args.config]
    for name in ("db_host", "db_port", "db_user", "db_password"):
        if getattr(args, name):
            options += [f"--{name}", str(getattr(args, name))]
    if args.addons_path:
        options.append(f"--addons-path={args.addons_path}")
    if args.data_dir:
        options += ["--data-dir", args.data_dir]
    odoo.tools.config.parse_config(options, setup_logging=True)

    state = database_state(args)
    if state == "empty":  # a creation that died half-way: start again
        db_service.exp_drop(args.db)
        state = "absent"
    if state != "absent":
        print(f"bootstrap: database {args.db} already exists ({state})")
        return 0
    db_service._create_empty_database(args.db)
    # _initialize_db logs and swallows its errors: the state check below is what tells.
    db_service._initialize_db(None, args.db, False, "en_US", "admin", login="admin", country_code="BR")
    state = database_state(args)
    if state not in ("bare", "installed"):
        print(f"bootstrap: database {args.db} could not be initialised (see the log above)", file=sys.stderr)
        return 1
    print(f"bootstrap: database {args.db} created (company in Brazil, login admin/admin)")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("state", "create"))
    parser.add_argument("--db", required=True)
    parser.add_argument("--db_host")
    parser.add_argument("--db_port")
    parser.add_argument("--db_user")
    parser.add_argument("--db_password")
    parser.add_argument("--config", help="an Odoo configuration file (default: Odoo's, e.g. $ODOO_RC)")
    parser.add_argument(
        "--odoo-path", help="an Odoo source tree to import odoo from (not needed when installed)"
    )
    parser.add_argument("--addons-path")
    parser.add_argument("--data-dir")
    args = parser.parse_args(argv)
    if args.command == "state":
        print(database_state(args))
        return 0
    return create_database(args)


if __name__ == "__main__":
    sys.exit(main())
