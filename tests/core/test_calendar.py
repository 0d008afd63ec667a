"""Business-day deadlines in Asia/Seoul across lunar, substitute and platform holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.core.calendar import BusinessCalendar, Holiday

KST = ZoneInfo("Asia/Seoul")
CALENDAR = BusinessCalendar()


def kst(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """An aware datetime in Korea Standard Time."""
    return datetime(year, month, day, hour, minute, second, tzinfo=KST)


def test_add_business_days_skips_chuseok_and_weekend() -> None:
    result = CALENDAR.add_business_days(kst(2026, 9, 23, 15), 3)
    assert result == kst(2026, 9, 30, 23, 59, 59)
    assert result.tzinfo is UTC
    assert result == datetime(2026, 9, 30, 14, 59, 59, tzinfo=UTC)


def test_add_business_days_skips_seollal_2026() -> None:
    assert CALENDAR.add_business_days(kst(2026, 2, 13, 10), 1) == kst(2026, 2, 19, 23, 59, 59)


def test_add_business_days_skips_seollal_2027_substitute_day() -> None:
    assert not CALENDAR.is_business_day(date(2027, 2, 9))
    assert CALENDAR.add_business_days(kst(2027, 2, 5, 12), 1) == kst(2027, 2, 10, 23, 59, 59)


def test_is_business_day_false_on_substitute_for_foundation_day() -> None:
    assert not CALENDAR.is_business_day(date(2026, 10, 5))
    assert CALENDAR.holiday_name(date(2026, 10, 5)) == "개천절 대체 휴일"
    assert CALENDAR.add_business_days(kst(2026, 10, 2, 9), 1) == kst(2026, 10, 6, 23, 59, 59)


def test_is_business_day_false_on_weekend_true_on_plain_weekday() -> None:
    assert not CALENDAR.is_business_day(date(2026, 9, 19))
    assert not CALENDAR.is_business_day(date(2026, 9, 20))
    assert CALENDAR.is_business_day(date(2026, 9, 21))


def test_is_business_day_works_in_later_years() -> None:
    assert not CALENDAR.is_business_day(date(2030, 1, 1))
    assert CALENDAR.is_business_day(date(2030, 1, 2))
    assert CALENDAR.add_business_days(kst(2030, 12, 31, 9), 1) == kst(2031, 1, 2, 23, 59, 59)


def test_add_business_days_skips_platform_holiday() -> None:
    calendar = BusinessCalendar(extra_holidays={date(2026, 9, 29): "플랫폼 정기 휴무"})
    assert not calendar.is_business_day(date(2026, 9, 29))
    assert calendar.add_business_days(kst(2026, 9, 23, 15), 3) == kst(2026, 10, 1, 23, 59, 59)
    # The default calendar must not see another instance's platform days.
    assert CALENDAR.is_business_day(date(2026, 9, 29))


def test_add_business_days_counts_from_seoul_date_when_utc_date_differs() -> None:
    instant = datetime(2026, 9, 22, 23, 30, tzinfo=UTC)
    assert CALENDAR.local_date(instant) == date(2026, 9, 23)
    assert CALENDAR.add_business_days(instant, 3) == kst(2026, 9, 30, 23, 59, 59)


def test_add_business_days_zero_ends_same_local_day() -> None:
    assert CALENDAR.add_business_days(kst(2026, 9, 25, 8), 0) == kst(2026, 9, 25, 23, 59, 59)
    assert CALENDAR.add_business_days(datetime(2026, 9, 22, 23, 30, tzinfo=UTC), 0) == kst(2026, 9, 23, 23, 59, 59)


def test_add_business_days_late_in_day_still_skips_that_day() -> None:
    assert CALENDAR.add_business_days(kst(2026, 9, 21, 0, 0, 1), 1) == kst(2026, 9, 22, 23, 59, 59)
    assert CALENDAR.add_business_days(kst(2026, 9, 21, 23, 59, 59), 1) == kst(2026, 9, 22, 23, 59, 59)


def test_add_business_days_rejects_negative_days() -> None:
    with pytest.raises(ValueError, match="days"):
        CALENDAR.add_business_days(kst(2026, 9, 23), -1)


@pytest.mark.parametrize("days", [True, 1.0, "1", None])
def test_add_business_days_rejects_non_int_days(days: object) -> None:
    with pytest.raises(TypeError):
        CALENDAR.add_business_days(kst(2026, 9, 23), days)  # type: ignore[arg-type]


def test_add_business_days_rejects_naive_datetime() -> None:
    with pytest.raises(ValueError, match="aware"):
        CALENDAR.add_business_days(datetime(2026, 9, 23, 15), 1)


def test_business_days_between_rejects_naive_datetime() -> None:
    with pytest.raises(ValueError, match="aware"):
        CALENDAR.business_days_between(datetime(2026, 9, 23), kst(2026, 9, 30))


def test_local_date_rejects_naive_datetime() -> None:
    with pytest.raises(ValueError):
        CALENDAR.local_date(datetime(2026, 9, 23, 15))


def test_is_business_day_rejects_datetime() -> None:
    with pytest.raises(TypeError):
        CALENDAR.is_business_day(kst(2026, 9, 23))  # type: ignore[arg-type]


def test_end_of_day_returns_utc_second_before_midnight() -> None:
    result = CALENDAR.end_of_day(date(2026, 9, 30))
    assert result == datetime(2026, 9, 30, 14, 59, 59, tzinfo=UTC)
    assert result.microsecond == 0
    assert result.tzinfo is UTC


def test_business_days_between_counts_two_days_late_refund() -> None:
    deadline = CALENDAR.add_business_days(kst(2026, 9, 23, 15), 3)
    assert CALENDAR.business_days_between(deadline, kst(2026, 10, 2, 10)) == 2


def test_business_days_between_is_zero_on_same_day_and_over_holidays() -> None:
    assert CALENDAR.business_days_between(kst(2026, 9, 23, 1), kst(2026, 9, 23, 23)) == 0
    assert CALENDAR.business_days_between(kst(2026, 9, 23, 15), kst(2026, 9, 27, 15)) == 0


def test_business_days_between_negative_when_end_is_earlier() -> None:
    assert CALENDAR.business_days_between(kst(2026, 10, 2, 10), kst(2026, 9, 30, 23, 59, 59)) == -2
    assert CALENDAR.business_days_between(kst(2026, 9, 30), kst(2026, 9, 23)) == -3


def test_business_days_between_spans_years() -> None:
    start = kst(2020, 1, 1, 12)
    end = kst(2035, 12, 31, 12)
    count = CALENDAR.business_days_between(start, end)
    expected = sum(
        1
        for offset in range(1, (end.date() - start.date()).days + 1)
        if CALENDAR.is_business_day(start.date() + timedelta(days=offset))
    )
    assert count == expected
    assert CALENDAR.add_business_days(start, count) == CALENDAR.end_of_day(date(2035, 12, 31))


def test_holiday_name_in_korean_and_english() -> None:
    assert CALENDAR.holiday_name(date(2026, 9, 25)) == "추석"
    assert CALENDAR.holiday_name(date(2026, 9, 25), language="ko") == "추석"
    assert CALENDAR.holiday_name(date(2026, 9, 25), language="en") == "Chuseok"
    assert CALENDAR.holiday_name(date(2027, 2, 9), language="en") == "Alternative holiday for Korean New Year"
    assert CALENDAR.holiday_name(date(2026, 9, 23)) is None
    assert CALENDAR.holiday_name(date(2026, 9, 19)) is None


def test_holiday_name_platform_name_wins_over_public() -> None:
    calendar = BusinessCalendar(extra_holidays={date(2026, 9, 25): "플랫폼 휴무"})
    assert calendar.holiday_name(date(2026, 9, 25)) == "플랫폼 휴무"
    assert calendar.holiday_name(date(2026, 9, 25), language="en") == "플랫폼 휴무"


def test_holiday_name_rejects_unknown_language() -> None:
    with pytest.raises(ValueError, match="language"):
        CALENDAR.holiday_name(date(2026, 9, 25), language="fr")


def test_holidays_between_lists_public_and_platform_days_with_source() -> None:
    calendar = BusinessCalendar(extra_holidays={date(2026, 9, 29): "플랫폼 정기 휴무"})
    found = calendar.holidays_between(date(2026, 9, 20), date(2026, 10, 5))
    assert found == [
        Holiday(date(2026, 9, 24), "추석 전날", "public"),
        Holiday(date(2026, 9, 25), "추석", "public"),
        Holiday(date(2026, 9, 26), "추석 다음날", "public"),
        Holiday(date(2026, 9, 29), "플랫폼 정기 휴무", "platform"),
        Holiday(date(2026, 10, 3), "개천절", "public"),
        Holiday(date(2026, 10, 5), "개천절 대체 휴일", "public"),
    ]


def test_holidays_between_is_inclusive_and_translates() -> None:
    found = CALENDAR.holidays_between(date(2026, 9, 24), date(2026, 9, 26), language="en")
    assert [(h.day, h.name) for h in found] == [
        (date(2026, 9, 24), "The day preceding Chuseok"),
        (date(2026, 9, 25), "Chuseok"),
        (date(2026, 9, 26), "The second day of Chuseok"),
    ]


def test_holidays_between_empty_when_range_reversed() -> None:
    assert CALENDAR.holidays_between(date(2026, 10, 5), date(2026, 9, 20)) == []


def test_holidays_between_spans_year_boundary() -> None:
    found = CALENDAR.holidays_between(date(2026, 12, 20), date(2027, 1, 5))
    assert [h.day for h in found] == [date(2026, 12, 25), date(2027, 1, 1)]


def test_init_accepts_zoneinfo_instance() -> None:
    calendar = BusinessCalendar(timezone=ZoneInfo("Asia/Seoul"))
    assert calendar.tz == KST
    assert calendar.add_business_days(kst(2026, 9, 23, 15), 3) == kst(2026, 9, 30, 23, 59, 59)


instants = st.datetimes(
    min_value=datetime(2020, 1, 1),
    max_value=datetime(2035, 12, 31, 23, 59, 59),
    timezones=st.sampled_from([UTC, KST, ZoneInfo("America/New_York"), ZoneInfo("Pacific/Kiritimati")]),
)


@settings(max_examples=300, deadline=None)
@given(start=instants, days=st.integers(min_value=0, max_value=60))
def test_business_days_between_inverts_add_business_days(start: datetime, days: int) -> None:
    deadline = CALENDAR.add_business_days(start, days)
    assert CALENDAR.business_days_between(start, deadline) == days
    assert CALENDAR.business_days_between(deadline, start) == -days


@settings(max_examples=300, deadline=None)
@given(start=instants, days=st.integers(min_value=1, max_value=60))
def test_add_business_days_lands_on_business_day(start: datetime, days: int) -> None:
    deadline = CALENDAR.add_business_days(start, days)
    assert CALENDAR.is_business_day(CALENDAR.local_date(deadline))
    assert CALENDAR.local_date(deadline) > CALENDAR.local_date(start)


@settings(max_examples=300, deadline=None)
@given(start=instants, days=st.integers(min_value=0, max_value=60))
def test_add_business_days_ends_at_local_235959(start: datetime, days: int) -> None:
    deadline = CALENDAR.add_business_days(start, days)
    assert deadline.tzinfo is UTC
    assert deadline.astimezone(KST).timetz().replace(tzinfo=None) == time(23, 59, 59)
    assert deadline.microsecond == 0
