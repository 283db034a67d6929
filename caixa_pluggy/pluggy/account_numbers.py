"""Brazilian bank account numbers, compared the way a person reads them.

The same account is written ``0001/12345-6`` by Pluggy, ``12345-6`` with the agency ``0001`` in a separate
field (OCA's Brazilian localisation), ``1234-5``... with or without dots, dashes, leading zeros or the check
digit. Each side is parsed once into agency, account and check digit, and then compared part by part.
"""

import re
from dataclasses import dataclass

_NON_DIGITS = re.compile(r"\D")
# Between bank, agency and account: a slash or, as some people type them, spaces.
_SEPARATORS = re.compile(r"\s*/\s*|\s+")
# A check digit is a digit or, at some banks (Banco do Brasil), an X.
_NON_CHECK_DIGIT = re.compile(r"[^0-9X]")


@dataclass(frozen=True)
class AccountNumber:
    """An account number's parts, as digits without leading zeros; ``agency`` and ``check_digit`` are None
    when the number does not tell them apart."""

    account: str
    agency: str | None = None
    check_digit: str | None = None


def parse_account_number(number, agency=None, check_digit=None):
    """Parse ``number`` (``[bank/]agency/account-digit``, any part optional but the account, slashes or spaces
    between the parts); ``agency`` and ``check_digit``, when stored apart, win over what the number says.
    None when there is no account."""
    parts = _SEPARATORS.split(str(number or "").upper().strip())
    # "0001 54321 0": parts apart by spaces, the last one a lone check digit.
    if len(parts) >= 3 and "-" not in parts[-2] and len(parts[-1]) == 1:
        check_digit = check_digit or parts[-1]
        parts = parts[:-1]
    if len(parts) >= 2:
        agency = agency or parts[-2]
    text = parts[-1]
    if not check_digit and "-" in text:
        text, check_digit = text.rsplit("-", 1)
    account = _strip_zeros(_NON_DIGITS.sub("", text))
    if not account:
        return None
    return AccountNumber(
        account=account,
        agency=_strip_zeros(_NON_DIGITS.sub("", str(agency or ""))) or None,
        check_digit=_NON_CHECK_DIGIT.sub("", str(check_digit or "").upper()) or None,
    )


def match_rank(first, second):
    """How surely two parsed numbers are the same account: 0 when they are not; higher is surer.

    4  same agency, account and check digit (or same digits where one side did not separate its digit);
    3  the same, one side without an agency;
    2  same agency and account, one side without its check digit;
    1  the same, one side also without an agency.
    """
    if not first or not second:
        return 0
    if first.agency and second.agency and first.agency != second.agency:
        return 0
    same_agency = bool(first.agency and second.agency)
    if _full(first) == _full(second):
        return 4 if same_agency else 3
    if (first.check_digit is None) != (second.check_digit is None) and first.account == second.account:
        return 2 if same_agency else 1
    return 0


def best_match(target, candidates):
    """The key of the one candidate (``{key: AccountNumber}``) that matches ``target`` best, or None when
    none matches or several match equally well: a guess would link the wrong journal."""
    ranked = {}
    for key, candidate in candidates.items():
        rank = match_rank(target, candidate)
        if rank:
            ranked.setdefault(rank, []).append(key)
    if not ranked:
        return None
    best = ranked[max(ranked)]
    return best[0] if len(best) == 1 else None


def _full(number):
    """Account and check digit as one run of digits, which is how a number without a dash is written."""
    return _strip_zeros(number.account + (number.check_digit or ""))


def _strip_zeros(digits):
    return digits.lstrip("0") or ("0" if digits else "")
