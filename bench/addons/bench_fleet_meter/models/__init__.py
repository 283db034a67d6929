from . import pluggy_account
