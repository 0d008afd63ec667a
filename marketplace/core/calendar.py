"""Business days in Asia/Seoul: weekends, Korean public holidays and the platform's own days off."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Literal
from zoneinfo import ZoneInfo

import holidays

# Our language names → the codes the holidays package ships translations for. The package silently
# falls back to the process locale for an unknown code (LANG=C.UTF-8 gives English), so never pass
# it anything it did not list as supported.
_LANGUAGE_CODES: Mapping[str, str] = MappingProxyType({"ko": "ko", "en": "en_US"})

_END_OF_DAY = time(23, 59, 59)
_SATURDAY = 5


@dataclass(frozen=True, slots=True)
class Holiday:
    """One day off: a public holiday or a day the platform added itself."""

    day: date
    name: str
    source: Literal["public", "platform"]


def _holidays_language(language: str) -> str:
    """Map ``ko``/``en`` to a language code this version of the holidays package supports."""
    if language not in _LANGUAGE_CODES:
        raise ValueError(f"language must be one of {sorted(_LANGUAGE_CODES)}, got {language!r}")
    supported = holidays.KR.supported_languages
    wanted = _LANGUAGE_CODES[language]
    if wanted in supported:
        return wanted
    # Another regional variant of the same language (en_GB, ...) beats the locale-dependent fallback.
    for code in supported:
        if code.split("_")[0] == language:
            return code
    return holidays.KR.default_language or "ko"


@lru_cache(maxsize=512)
def _public_holidays(year: int, language: str) -> Mapping[date, str]:
    """Korean public holidays (lunar and substitute days included) of one year, by day."""
    # Built per year and frozen so that every calendar shares it and nothing mutates it from another
    # thread; the package's own auto-expanding dict grows on lookup. Outside the years the package
    # covers (1948–2100 in 0.109) it returns nothing, so only weekends and platform days count there.
    public = holidays.country_holidays("KR", years=year, language=_holidays_language(language))
    return MappingProxyType({day: name for day, name in public.items() if day.year == year})


def _require_day(day: object) -> date:
    """Refuse anything but a plain date: a datetime would hash and compare as a different key."""
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError(f"expected a date, got {day!r}")
    return day


class BusinessCalendar:
    """Business-day arithmetic for deadlines such as "within 3 business days"."""

    def __init__(
        self, timezone: str | ZoneInfo = "Asia/Seoul", extra_holidays: Mapping[date, str] | None = None
    ) -> None:
        self.tz: ZoneInfo = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
        self._extra: dict[date, str] = {}
        for day, name in (extra_holidays or {}).items():
            self._extra[_require_day(day)] = str(name)
        # Sorted ordinals of each year's business days: bisect answers "the N-th business day after"
        # and "how many business days between" without walking day by day through long spans.
        self._business_ordinals: dict[int, tuple[int, ...]] = {}

    def local_date(self, instant: datetime) -> date:
        """The calendar date of an aware instant in this calendar's time zone."""
        if not isinstance(instant, datetime):
            raise TypeError(f"expected a datetime, got {instant!r}")
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError(f"instant must be timezone-aware, got naive {instant!r}")
        return instant.astimezone(self.tz).date()

    def end_of_day(self, day: date) -> datetime:
        """23:59:59 local time on ``day``, as an aware UTC datetime."""
        return datetime.combine(_require_day(day), _END_OF_DAY, tzinfo=self.tz).astimezone(UTC)

    def holiday_name(self, day: date, language: str = "ko") -> str | None:
        """The name of the holiday on ``day`` (platform days win over public ones), or None."""
        _require_day(day)
        if day in self._extra:
            return self._extra[day]
        return _public_holidays(day.year, language).get(day)

    def is_business_day(self, day: date) -> bool:
        """True unless ``day`` is a Saturday, Sunday, public holiday or platform holiday."""
        _require_day(day)
        ordinals = self._ordinals(day.year)
        index = bisect_right(ordinals, day.toordinal())
        return index > 0 and ordinals[index - 1] == day.toordinal()

    def holidays_between(self, first: date, last: date, language: str = "ko") -> list[Holiday]:
        """Public and platform holidays from ``first`` to ``last`` inclusive, sorted by day."""
        _require_day(first)
        _require_day(last)
        found: dict[date, Holiday] = {}
        for year in range(first.year, last.year + 1):
            for day, name in _public_holidays(year, language).items():
                if first <= day <= last:
                    found[day] = Holiday(day, name, "public")
        # One entry per day, and the platform's name wins, as in holiday_name.
        for day, name in self._extra.items():
            if first <= day <= last:
                found[day] = Holiday(day, name, "platform")
        return [found[day] for day in sorted(found)]

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """End (23:59:59 local, as UTC) of the ``days``-th business day after ``start``'s local date."""
        if isinstance(days, bool) or not isinstance(days, int):
            raise TypeError(f"days must be an int, got {days!r}")
        if days < 0:
            raise ValueError(f"days must be >= 0, got {days}")
        day = self.local_date(start)
        if days == 0:
            return self.end_of_day(day)
        year = day.year
        after = day.toordinal()
        remaining = days
        while True:
            ordinals = self._ordinals(year)
            index = bisect_right(ordinals, after)
            available = len(ordinals) - index
            if remaining <= available:
                return self.end_of_day(date.fromordinal(ordinals[index + remaining - 1]))
            remaining -= available
            year += 1

    def business_days_between(self, start: datetime, end: datetime) -> int:
        """Business days d with local(start) < d <= local(end); negative when ``end`` is earlier."""
        first = self.local_date(start)
        last = self.local_date(end)
        if last < first:
            return -self._count_after(last, first)
        return self._count_after(first, last)

    def _count_after(self, first: date, last: date) -> int:
        """Number of business days d with first < d <= last (first <= last)."""
        if first.year == last.year:
            ordinals = self._ordinals(first.year)
            return bisect_right(ordinals, last.toordinal()) - bisect_right(ordinals, first.toordinal())
        head = self._ordinals(first.year)
        count = len(head) - bisect_right(head, first.toordinal())
        for year in range(first.year + 1, last.year):
            count += len(self._ordinals(year))
        return count + bisect_right(self._ordinals(last.year), last.toordinal())

    def _ordinals(self, year: int) -> tuple[int, ...]:
        """Sorted ordinals of the business days of ``year``, computed once per year."""
        cached = self._business_ordinals.get(year)
        if cached is not None:
            return cached
        public = _public_holidays(year, "ko")
        ordinals: list[int] = []
        day = date(year, 1, 1)
        one_day = timedelta(days=1)
        while day.year == year:
            if day.weekday() < _SATURDAY and day not in public and day not in self._extra:
                ordinals.append(day.toordinal())
            if day == date.max:
                break
            day += one_day
        result = tuple(ordinals)
        # A racing thread computes the same tuple, so a plain dict store is safe without a lock.
        self._business_ordinals[year] = result
        return result
