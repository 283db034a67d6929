"""One unit of work per transaction: a sync commits each account, the inbox each event, and takes the rows it
writes without ever waiting for another transaction."""

import psycopg2

from odoo import modules
from odoo.tools import SQL, mute_logger


def commit_unit(env):
    """Commit one unit of work (an account's sync, a webhook event), so that a later failure never undoes it.

    Tests keep everything in their own transaction; so does a caller that works inside its own savepoint
    (webhook processing syncs in one), which a commit would destroy: it says so in the context,
    ``pluggy_sync_no_commit``.
    """
    if not modules.module.current_test and not env.context.get("pluggy_sync_no_commit"):
        env.cr.commit()  # pylint: disable=invalid-commit - one account or event per transaction


def try_lock_row(record):
    """Lock a record's row until the transaction ends; False when another transaction holds it, or changed it
    since this one began (then it was just synced, and waiting would only end in a serialization failure)."""
    try:
        with mute_logger("odoo.sql_db"), record.env.cr.savepoint(flush=False):
            record.env.cr.execute(
                SQL(
                    "SELECT id FROM %s WHERE id = %s FOR NO KEY UPDATE NOWAIT",
                    SQL.identifier(record._table),
                    record.id,
                )
            )
    except (psycopg2.errors.LockNotAvailable, psycopg2.errors.SerializationFailure):
        return False
    return True
