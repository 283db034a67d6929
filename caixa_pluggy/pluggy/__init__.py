"""Pure-Python Pluggy API client and transaction mapping (no Odoo import)."""

from . import errors
from .client import ApiKeyCache, PluggyClient
from .mapping import (
    InvalidBill,
    InvalidTransaction,
    digits_only,
    map_account,
    map_balance,
    map_bill,
    map_connector_health,
    map_item,
    map_transaction,
    transaction_fingerprint,
)

__all__ = [
    "ApiKeyCache",
    "InvalidBill",
    "InvalidTransaction",
    "PluggyClient",
    "digits_only",
    "errors",
    "map_account",
    "map_balance",
    "map_bill",
    "map_connector_health",
    "map_item",
    "map_transaction",
    "transaction_fingerprint",
]
