from . import online_bank_statement_provider
