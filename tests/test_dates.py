"""The bank's calendar date of Pluggy's timestamps: what an accountant sees as the line's date."""

import datetime

import pytest

from caixa_pluggy.pluggy.dates import bank_date, bank_datetime, format_timestamp, local_date, parse_timestamp


@pytest.mark.parametrize(
    "value, expected",
    [
        # A withdrawal at 23:59 on 22 October in São Paulo, as Itaú sends it through Pluggy.
        ("2024-10-23T02:59:00Z", datetime.date(2024, 10, 22)),
        ("2024-10-23T02:59:00.000Z", datetime.date(2024, 10, 22)),
        # Brazilian midnight, the shape many connectors send.
        ("2024-10-23T03:00:00.000Z", datetime.date(2024, 10, 23)),
        # UTC midnight, the shape of Pluggy's own examples: a date without a time of day keeps its date.
        ("2020-10-14T00:00:00.000Z", datetime.date(2020, 10, 14)),
        ("2024-03-01T00:00:00Z", datetime.date(2024, 3, 1)),
        # An afternoon purchase: the same date in both zones.
        ("2024-10-23T18:30:12.345Z", datetime.date(2024, 10, 23)),
        # With an explicit offset, and as a bare date.
        ("2024-10-22T23:59:00-03:00", datetime.date(2024, 10, 22)),
        ("2024-10-22", datetime.date(2024, 10, 22)),
    ],
)
def test_bank_date_is_the_calendar_date_in_sao_paulo(value, expected):
    assert bank_date(value) == expected


def test_month_end_withdrawal_stays_in_its_month():
    # 31 January at 22:10 in São Paulo is already 1 February in UTC.
    assert bank_date("2025-02-01T01:10:00.000Z") == datetime.date(2025, 1, 31)


def test_company_time_zone_is_used_when_given():
    # 02:59 UTC is still 22 October in Manaus (UTC-4) and already 23 October in Lisbon.
    assert bank_date("2024-10-23T02:59:00Z", "America/Manaus") == datetime.date(2024, 10, 22)
    assert bank_date("2024-10-23T02:59:00Z", "Europe/Lisbon") == datetime.date(2024, 10, 23)


@pytest.mark.parametrize("value", [None, "", "not a date", "2024-13-45", "15/10/2020"])
def test_unreadable_dates_are_none(value):
    assert bank_date(value) is None
    assert bank_datetime(value) is None


def test_consent_expiring_on_a_date_shows_that_date_at_the_banks_midnight():
    # Stored as Odoo stores a Datetime (naive UTC): 03:00 UTC is 00:00 in São Paulo on 31 January.
    assert bank_datetime("2027-01-31T00:00:00.000Z") == datetime.datetime(2027, 1, 31, 3, 0)
    assert local_date(bank_datetime("2027-01-31T00:00:00.000Z")) == datetime.date(2027, 1, 31)


def test_a_moment_is_stored_as_naive_utc_unchanged():
    assert bank_datetime("2026-12-06T14:05:09.120Z") == datetime.datetime(2026, 12, 6, 14, 5, 9, 120000)


def test_local_date_of_an_odoo_datetime_is_the_banks_day():
    # 01:30 UTC on 7 December is still the evening of 6 December in São Paulo.
    assert local_date(datetime.datetime(2026, 12, 7, 1, 30)) == datetime.date(2026, 12, 6)
    assert local_date(datetime.datetime(2026, 12, 7, 3, 30)) == datetime.date(2026, 12, 7)


def test_timestamps_round_trip_in_pluggys_format():
    moment = parse_timestamp("2025-02-13T17:21:53.719Z")
    assert moment == datetime.datetime(2025, 2, 13, 17, 21, 53, 719000)
    assert format_timestamp(moment) == "2025-02-13T17:21:53.719Z"
    assert parse_timestamp("2025-02-13") is None
