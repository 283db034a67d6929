"""Emulator settings: defaults, environment variables (``PLUGGY_EMULATOR_<NAME>``) and command-line flags."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, fields


@dataclass
class Config:
    """Everything a test or the control API may tune; ``POST /_emulator/reset`` and
    ``PATCH /_emulator/config``
    accept the same names."""

    seed: int = 42
    client_id: str = "demo-client-id"
    client_secret: str = "demo-client-secret"
    page_size: int = 500  # rows per /v2/transactions page (Pluggy sizes pages server-side)
    key_ttl: int = 7200  # API key lifetime, seconds (Pluggy: 2 h)
    connect_token_ttl: int = 1800  # connect token lifetime, seconds (Pluggy: 30 min)
    min_update_hours: float = 24.0  # PATCH /items/{id} more often than this -> 409; 0 disables
    update_seconds: float = 0.3  # how long a PATCHed item stays UPDATING
    allow_local_webhooks: bool = True  # accept http:// and local hosts (tests, docker-compose)
    auto_webhooks: bool = True  # item/* events on connect, PATCH settle and DELETE
    webhook_timeout: float = 10.0
    today: str = ""  # YYYY-MM-DD anchor for generated history; empty = the current UTC date
    connect_transactions: int = 60  # per account, for items created through the Connect stand-in
    connect_history_days: int = 365
    card_expense_positive: bool = True  # card purchases as positive amounts (type DEBIT), payments negative

    def update(self, values: dict) -> None:
        """Set known fields from a dict, converting to each field's type; unknown names raise KeyError."""
        types = {f.name: f.type for f in fields(self)}
        for name, value in values.items():
            if name not in types:
                raise KeyError(name)
            setattr(self, name, _convert(types[name], value))

    def as_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["client_secret"] = "***"
        return data


def _convert(type_name, value):
    type_name = type_name if isinstance(type_name, str) else type_name.__name__
    if type_name == "bool":
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    if type_name == "int":
        return int(value)
    if type_name == "float":
        return float(value)
    return "" if value is None else str(value)


def parse_args(argv=None) -> tuple[str, int, Config]:
    """Read host, port and Config from env vars, then flags (flags win)."""
    config = Config()
    env = {}
    for f in fields(Config):
        raw = os.environ.get("PLUGGY_EMULATOR_" + f.name.upper())
        if raw is not None:
            env[f.name] = raw
    config.update(env)
    parser = argparse.ArgumentParser(prog="pluggy_emulator", description="Local emulator of the Pluggy API.")
    parser.add_argument("--host", default=os.environ.get("PLUGGY_EMULATOR_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PLUGGY_EMULATOR_PORT", "8787")))
    for f in fields(Config):
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None)
        else:
            parser.add_argument(flag, dest=f.name, default=None)
    args = parser.parse_args(argv)
    config.update(
        {f.name: getattr(args, f.name) for f in fields(Config) if getattr(args, f.name) is not None}
    )
    return args.host, args.port, config
