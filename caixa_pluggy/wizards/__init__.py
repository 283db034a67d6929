from . import pluggy_missing_transactions
