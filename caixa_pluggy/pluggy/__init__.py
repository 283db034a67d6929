"""Pure-Python Pluggy API client and transaction mapping (no Odoo import)."""

from . import errors
from .client import ApiKeyCache, PluggyClient
from .mapping import InvalidTransaction, digits_only, map_transaction, transaction_fingerprint

__all__ = [
    "ApiKeyCache",
    "InvalidTransaction",
    "PluggyClient",
    "digits_only",
    "errors",
    "map_transaction",
    "transaction_fingerprint",
]
