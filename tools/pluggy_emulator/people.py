"""People and companies in paymentData: names, valid CPF/CNPJ, bank branch and account."""

from __future__ import annotations

import random
from decimal import Decimal

from . import catalog


def cents(rng: random.Random, low: float, high: float) -> Decimal:
    return Decimal(rng.randrange(int(low * 100), int(high * 100) + 1)).scaleb(-2)


def _check_digits(digits: list[int], weights_list: list[list[int]]) -> list[int]:
    for weights in weights_list:
        total = sum(d * w for d, w in zip(digits, weights, strict=True))
        rest = total % 11
        digits = digits + [0 if rest < 2 else 11 - rest]
    return digits


def cpf(rng: random.Random) -> str:
    d = _check_digits([rng.randrange(10) for _ in range(9)], [list(range(10, 1, -1)), list(range(11, 1, -1))])
    s = "".join(map(str, d))
    return f"{s[:3]}.{s[3:6]}.{s[6:9]}-{s[9:]}"


def cnpj(rng: random.Random) -> str:
    base = [rng.randrange(10) for _ in range(8)] + [0, 0, 0, 1]
    d = _check_digits(base, [[5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2], [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]])
    s = "".join(map(str, d))
    return f"{s[:2]}.{s[2:5]}.{s[5:8]}/{s[8:12]}-{s[12:]}"


class Party:
    """A payer or receiver in paymentData."""

    __slots__ = ("account", "bank", "branch", "doc", "doc_type", "name")

    def __init__(self, rng: random.Random, name: str, company: bool):
        self.name = name
        self.doc_type = "CNPJ" if company else "CPF"
        self.doc = cnpj(rng) if company else cpf(rng)
        self.bank = rng.choice(catalog.BANKS)
        self.branch = f"{rng.randrange(1, 9999):04d}"
        self.account = f"{rng.randrange(10000, 999999)}-{rng.randrange(10)}"

    def json(self) -> dict:
        return {
            "name": self.name,
            "documentNumber": {"type": self.doc_type, "value": self.doc},
            "accountNumber": self.account,
            "branchNumber": self.branch,
            "routingNumber": self.bank[0],
            "routingNumberISPB": self.bank[1],
        }
