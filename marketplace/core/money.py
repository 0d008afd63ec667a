"""Money as whole Korean won (int): validation, percentages, late-payment interest, display."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

_DAYS_PER_YEAR = 365


def ensure_won(value: object, *, field: str = "amount") -> int:
    """Return ``value`` as a non-negative whole number of won, or raise ValueError."""
    # bool is an int subclass, but True won is always a bug, never an amount.
    if isinstance(value, bool):
        raise ValueError(f"{field} must be a whole number of won, got a bool ({value!r})")
    if isinstance(value, int):
        won = int(value)
    elif isinstance(value, Decimal):
        # Numeric columns come back as Decimal; an integral one is a fine amount, a fractional one is not.
        if not value.is_finite() or value != value.to_integral_value():
            raise ValueError(f"{field} must be a whole number of won, got {value!r}")
        won = int(value)
    else:
        raise ValueError(f"{field} must be a whole number of won (int), got {type(value).__name__} {value!r}")
    if won < 0:
        raise ValueError(f"{field} must be a whole number of won and not negative, got {won}")
    return won


def _to_rate(value: object, *, field: str) -> Decimal:
    """Parse a percentage given as Decimal, int or str; floats are refused outright."""
    if isinstance(value, bool | float):
        raise TypeError(f"{field} must be a Decimal, int or str, not {type(value).__name__} ({value!r})")
    if isinstance(value, Decimal):
        rate = value
    elif isinstance(value, int | str):
        try:
            rate = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"{field} is not a number: {value!r}") from None
    else:
        raise TypeError(f"{field} must be a Decimal, int or str, not {type(value).__name__} ({value!r})")
    if not rate.is_finite():
        raise ValueError(f"{field} must be a finite number, got {value!r}")
    if rate < 0:
        raise ValueError(f"{field} must be >= 0, got {value!r}")
    return rate


def _floor_ratio(amount: int, rate: Decimal, numerator: int, denominator: int) -> int:
    """floor(amount × rate × numerator / denominator), exactly."""
    # Exact integer arithmetic on the Decimal's ratio: Decimal's default 28-digit context would round a
    # large product before the floor, and a rounded-up intermediate could overcharge by a won.
    rate_numerator, rate_denominator = rate.as_integer_ratio()
    return (amount * rate_numerator * numerator) // (rate_denominator * denominator)


def percent_of(amount: int, percent: Decimal | int | str, *, minimum: int | None = None, cap: int | None = None) -> int:
    """``percent`` % of ``amount``, rounded down to the won, raised to ``minimum``, then limited to ``cap``."""
    won = ensure_won(amount)
    rate = _to_rate(percent, field="percent")
    result = _floor_ratio(won, rate, 1, 100)
    if minimum is not None:
        result = max(result, ensure_won(minimum, field="minimum"))
    # Applied last on purpose: a cap is a legal or contractual ceiling, a minimum is only a courtesy floor.
    if cap is not None:
        result = min(result, ensure_won(cap, field="cap"))
    return result


def annual_interest(amount: int, annual_percent: Decimal | int | str, days: int) -> int:
    """Simple interest on ``amount`` for ``days`` calendar days at an annual rate (365-day year), rounded down."""
    won = ensure_won(amount)
    rate = _to_rate(annual_percent, field="annual_percent")
    if isinstance(days, bool) or not isinstance(days, int):
        raise TypeError(f"days must be an int, got {days!r}")
    if days < 0:
        raise ValueError(f"days must be >= 0, got {days}")
    return _floor_ratio(won, rate, days, 100 * _DAYS_PER_YEAR)


def format_won(amount: int, language: str = "ko") -> str:
    """Display an amount: ``12,000원`` in Korean, ``₩12,000`` in English; negatives get a leading minus."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError(f"amount must be an int number of won, got {amount!r}")
    sign = "-" if amount < 0 else ""
    digits = f"{abs(amount):,}"
    if language == "ko":
        return f"{sign}{digits}원"
    if language == "en":
        return f"{sign}₩{digits}"
    raise ValueError(f"language must be 'ko' or 'en', got {language!r}")
