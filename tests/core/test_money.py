"""Integer-won money: percentages, interest and display."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.core.money import annual_interest, ensure_won, format_won, percent_of


def test_ensure_won_accepts_non_negative_int() -> None:
    assert ensure_won(0) == 0
    assert ensure_won(12_000) == 12_000
    assert type(ensure_won(12_000)) is int


def test_ensure_won_accepts_integral_decimal() -> None:
    assert ensure_won(Decimal("12000")) == 12_000
    assert type(ensure_won(Decimal("12000.00"))) is int


@pytest.mark.parametrize("value", [12_000.0, 0.5, True, False, Decimal("1.5"), Decimal("NaN"), "12000", None])
def test_ensure_won_rejects_non_whole_won(value: object) -> None:
    with pytest.raises(ValueError, match="must be a whole number of won"):
        ensure_won(value)


def test_ensure_won_rejects_negative() -> None:
    with pytest.raises(ValueError, match="price must be a whole number of won"):
        ensure_won(-1, field="price")


def test_percent_of_applies_percentage_between_minimum_and_cap() -> None:
    assert percent_of(123_456, 5, minimum=3_000, cap=20_000) == 6_172


def test_percent_of_raises_to_minimum() -> None:
    assert percent_of(10_000, 5, minimum=3_000) == 3_000


def test_percent_of_limits_to_cap() -> None:
    assert percent_of(1_000_000, 5, cap=20_000) == 20_000


def test_percent_of_accepts_string_percent_above_hundred() -> None:
    assert percent_of(999, "110") == 1_098


def test_percent_of_rounds_down_never_up() -> None:
    assert percent_of(199, 1) == 1
    assert percent_of(99, Decimal("99.99")) == 98
    assert percent_of(1, Decimal("99.99")) == 0
    assert percent_of(3, "33.33") == 0


def test_percent_of_cap_beats_minimum() -> None:
    assert percent_of(10_000, 5, minimum=3_000, cap=2_000) == 2_000
    assert percent_of(0, 5, minimum=3_000, cap=2_000) == 2_000


def test_percent_of_exact_for_huge_amounts() -> None:
    amount = 10**40 + 7
    assert percent_of(amount, Decimal("33.33")) == amount * 3333 // 10_000


@pytest.mark.parametrize("percent", [5.0, 0.1])
def test_percent_of_rejects_float_percent(percent: float) -> None:
    with pytest.raises(TypeError):
        percent_of(10_000, percent)  # type: ignore[arg-type]


def test_percent_of_rejects_bool_percent() -> None:
    with pytest.raises(TypeError):
        percent_of(10_000, True)


@pytest.mark.parametrize("percent", [-1, "-0.01", Decimal("-5"), "abc", "NaN", Decimal("Infinity")])
def test_percent_of_rejects_negative_or_invalid_percent(percent: object) -> None:
    with pytest.raises(ValueError, match="percent"):
        percent_of(10_000, percent)  # type: ignore[arg-type]


def test_percent_of_rejects_float_amount() -> None:
    with pytest.raises(ValueError, match="amount must be a whole number of won"):
        percent_of(10_000.0, 5)  # type: ignore[arg-type]


def test_percent_of_rejects_negative_amount_minimum_or_cap() -> None:
    with pytest.raises(ValueError, match="amount"):
        percent_of(-1, 5)
    with pytest.raises(ValueError, match="minimum"):
        percent_of(1_000, 5, minimum=-1)
    with pytest.raises(ValueError, match="cap"):
        percent_of(1_000, 5, cap=-1)


def test_annual_interest_late_refund_at_fifteen_percent() -> None:
    assert annual_interest(100_000, 15, 10) == 410
    assert annual_interest(100_000, Decimal("15"), 365) == 15_000
    assert annual_interest(100_000, "15", 0) == 0


def test_annual_interest_rounds_down() -> None:
    # 1,000,000 × 15 % × 1 / 365 = 410.958…
    assert annual_interest(1_000_000, 15, 1) == 410


def test_annual_interest_rejects_negative_days() -> None:
    with pytest.raises(ValueError, match="days"):
        annual_interest(100_000, 15, -1)


def test_annual_interest_rejects_float_rate_and_days() -> None:
    with pytest.raises(TypeError):
        annual_interest(100_000, 15.0, 10)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        annual_interest(100_000, 15, 10.0)  # type: ignore[arg-type]


def test_format_won_in_korean() -> None:
    assert format_won(12_000) == "12,000원"
    assert format_won(0) == "0원"
    assert format_won(1_234_567, "ko") == "1,234,567원"
    assert format_won(-12_000) == "-12,000원"


def test_format_won_in_english() -> None:
    assert format_won(12_000, "en") == "₩12,000"
    assert format_won(999, "en") == "₩999"
    assert format_won(-12_000, "en") == "-₩12,000"


def test_format_won_rejects_unknown_language_and_float() -> None:
    with pytest.raises(ValueError, match="language"):
        format_won(12_000, "ja")
    with pytest.raises(TypeError):
        format_won(12_000.0)  # type: ignore[arg-type]


@given(
    amount=st.integers(min_value=0, max_value=10**12),
    percent=st.decimals(min_value=0, max_value=200, places=2, allow_nan=False, allow_infinity=False),
)
def test_percent_of_floors_exact_product(amount: int, percent: Decimal) -> None:
    exact = Fraction(amount) * Fraction(percent) / 100
    result = percent_of(amount, percent)
    assert result <= exact
    assert result > exact - 1
