"""Drop a PostgreSQL database, even with connections left open (a killed Odoo's): the one way run-tests,
run-demo, the benchmark and the test harnesses drop their databases.

    python tools/dropdb.py NAME

Connection settings come from PGHOST, PGPORT, PGUSER, PGPASSWORD (defaults 127.0.0.1, 5432, root, none), or
the keyword arguments of :func:`drop_database`. Needs psycopg2 (Odoo's Python has it).
"""

import os
import sys


def connection_settings(host=None, port=None, user=None, password=None):
    return {
        "host": host or os.environ.get("PGHOST") or "127.0.0.1",
        "port": port or os.environ.get("PGPORT") or "5432",
        "user": user or os.environ.get("PGUSER") or "root",
        "password": password or os.environ.get("PGPASSWORD") or None,
    }


def drop_database(name, **settings):
    """``DROP DATABASE IF EXISTS name WITH (FORCE)``; the name is quoted as an identifier."""
    import psycopg2  # noqa: PLC0415 - only the Python that drops databases needs it
    from psycopg2 import sql  # noqa: PLC0415

    conn = psycopg2.connect(dbname="postgres", **connection_settings(**settings))
    conn.autocommit = True
    try:
        with conn.cursor() as cr:
            cr.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    finally:
        conn.close()


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    drop_database(args[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
