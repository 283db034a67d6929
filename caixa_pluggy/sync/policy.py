"""How often and how much a sync reads, retries and commits: the numbers in one place."""

from datetime import timedelta

# Rows Pluggy ingests around the same moment may commit out of order on its side: re-reading a short margin
# before the watermark costs a few duplicate rows (dropped by the dedupe) and never misses one.
WATERMARK_MARGIN = timedelta(hours=1)
# The sync job's interval as installed (data/ir_cron_data.xml), and when its cron record is gone.
DEFAULT_SYNC_HOURS = 4
# How many accounts one cron call syncs (a connection's due accounts at a time, so it may go a few over)
# before reporting progress and letting Odoo call it again.
CRON_BATCH_SIZE = 10
# A failed account is due again after this pause (or the sync interval, when shorter).
RETRY_AFTER_FAILURE = timedelta(minutes=30)
# The first lines of a new connection, imported while the Connect widget waits (Odoo spends tens of ms per
# line): shared among its accounts, at least FIRST_BATCH_MIN_LINES each; the cron back-fills the rest.
FIRST_BATCH_LINES = 50
FIRST_BATCH_MIN_LINES = 10
# A 429 whose window resets within this many seconds (Pluggy's per-minute limit about to reset) is waited
# out; a longer one fails the account at once, to be retried later: a cron process or an HTTP worker that
# sleeps a whole minute holds up every account behind it.
RATE_LIMIT_MAX_WAIT = 10
# An account failed by a longer 429 is tried again after Pluggy's Retry-After (always 60 s), not this sooner.
RATE_LIMIT_RETRY_SECONDS = 60
# How often a cron job tries again to claim due accounts when another job synced them under its snapshot.
CLAIM_ATTEMPTS = 3
# Look-back windows read from Pluggy at the same time when several accounts are synced together.
PREFETCH_THREADS = 4
# How many skipped rows the account's warning names one by one.
SKIPPED_ROWS_NAMED = 5


# Bills due this many days ago or later still look for the checking account's line of their payments.
BILL_PAYMENT_DAYS = 90
