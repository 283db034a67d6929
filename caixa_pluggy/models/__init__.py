from . import pluggy_api
from . import res_company
from . import res_config_settings
from . import pluggy_item
from . import pluggy_account
from . import pluggy_webhook_event
from . import account_journal
from . import account_bank_statement_line
