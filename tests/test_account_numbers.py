"""The same Brazilian bank account, however a journal and Pluggy spell it."""

import pytest

from caixa_pluggy.pluggy.account_numbers import AccountNumber, best_match, parse_account_number


@pytest.mark.parametrize(
    "number, agency, check_digit, expected",
    [
        ("0001/12345-6", None, None, AccountNumber("12345", "1", "6")),
        ("12345-6", "0001", None, AccountNumber("12345", "1", "6")),
        ("12.345-6", "0001", None, AccountNumber("12345", "1", "6")),
        ("0012345", "1", "6", AccountNumber("12345", "1", "6")),
        ("341/0001/12345-6", None, None, AccountNumber("12345", "1", "6")),
        ("123456", None, None, AccountNumber("123456")),
        ("1234-X", None, None, AccountNumber("1234", None, "X")),
        ("0001 54321 0", None, None, AccountNumber("54321", "1", "0")),
        ("0001 / 54321-0", None, None, AccountNumber("54321", "1", "0")),
        ("", None, None, None),
        ("-", None, None, None),
    ],
)
def test_parse_account_number(number, agency, check_digit, expected):
    assert parse_account_number(number, agency=agency, check_digit=check_digit) == expected


PLUGGY = parse_account_number("0001/12345-6")


@pytest.mark.parametrize(
    "journal_number",
    [
        "0001/12345-6",
        "1/12345-6",
        "0001/0012.345-6",
        "12345-6",  # the agency kept elsewhere, or not at all
        "123456",  # the check digit not separated
        "12345",  # without its check digit
    ],
)
def test_spellings_of_the_same_account_match(journal_number):
    assert best_match(PLUGGY, {"journal": parse_account_number(journal_number)}) == "journal"


def test_agency_stored_apart_matches():
    assert best_match(PLUGGY, {"journal": parse_account_number("12345-6", agency="0001")}) == "journal"


@pytest.mark.parametrize("journal_number", ["0002/12345-6", "12345-7", "0001/12346-6", "2345-6"])
def test_other_accounts_do_not_match(journal_number):
    assert best_match(PLUGGY, {"journal": parse_account_number(journal_number)}) is None


def test_the_surest_match_wins():
    candidates = {
        "same agency": parse_account_number("12345-6", agency="0001"),
        "no agency": parse_account_number("12345-6"),
    }
    assert best_match(PLUGGY, candidates) == "same agency"


def test_two_equally_good_journals_are_not_guessed_between():
    candidates = {"first": parse_account_number("12345-6"), "second": parse_account_number("123456")}
    assert best_match(PLUGGY, candidates) is None
