"""tools/dropdb.py drops a database, even one an Odoo left connected, and only that one."""

import uuid

import pytest

psycopg2 = pytest.importorskip("psycopg2")

from tools.dropdb import connection_settings, drop_database, main  # noqa: E402


def _databases():
    conn = psycopg2.connect(dbname="postgres", **connection_settings())
    try:
        with conn.cursor() as cr:
            cr.execute("SELECT datname FROM pg_database")
            return {row[0] for row in cr.fetchall()}
    finally:
        conn.close()


@pytest.fixture()
def database():
    try:
        conn = psycopg2.connect(dbname="postgres", **connection_settings())
    except psycopg2.OperationalError as error:
        pytest.skip(f"no PostgreSQL here: {error}")
    conn.autocommit = True
    name = f"caixa_dropdb_{uuid.uuid4().hex[:8]}-x"  # a dash: the name must be quoted
    with conn.cursor() as cr:
        cr.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    yield name
    drop_database(name)


def test_drops_a_database_a_client_is_still_connected_to(database):
    left_open = psycopg2.connect(dbname=database, **connection_settings())
    drop_database(database)
    assert database not in _databases()
    with pytest.raises(psycopg2.OperationalError):  # FORCE ended the session it still held
        left_open.cursor().execute("SELECT 1")
    left_open.close()


def test_command_line_drops_and_tolerates_a_missing_database(database):
    assert main([database]) == 0
    assert database not in _databases()
    assert main([database]) == 0, "dropping what is not there is not an error"
    assert main([]) == 2
