"""Locale-aware formatting: the compiled formatters write exactly what Babel writes."""

from __future__ import annotations

import copy
import datetime as dt
import subprocess
import sys
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.numbers import format_currency, parse_pattern

from postloan_cli import i18n
from postloan_cli.i18n import (
    format_date,
    format_integer,
    format_money,
    format_number,
    format_percent,
    format_ratio,
)

# --- the reference: Babel called directly, as i18n did before its formatters were compiled


def _half_up(value: Any, decimals: int) -> Decimal:
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    result = number.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return result.copy_abs() if result == 0 else result


def _locale(lang: str | None) -> Locale:
    return i18n.babel_locale(lang)


def ref_number(value: Any, lang: str | None, *, max_decimals: int = 3) -> str:
    pattern = parse_pattern("#,##0." + "#" * max_decimals if max_decimals > 0 else "#,##0")
    return str(pattern.apply(_half_up(value, max(max_decimals, 0)), _locale(lang)))


def ref_integer(value: Any, lang: str | None) -> str:
    return ref_number(value, lang, max_decimals=0)


def ref_ratio(value: Any, lang: str | None) -> str:
    return str(parse_pattern("#,##0.00").apply(_half_up(value, 2), _locale(lang)))


def ref_percent(
    value: Any, lang: str | None, *, max_decimals: int = 2, min_decimals: int = 0
) -> str:
    pattern = copy.copy(_locale(lang or "en").percent_formats[None])
    pattern.frac_prec = (min_decimals, max(max_decimals, min_decimals))
    return str(pattern.apply(_half_up(value, max_decimals).scaleb(-2), _locale(lang)))


def ref_money(amount: Any, currency: str, lang: str | None) -> str:
    rounded = _half_up(amount, 2)
    try:
        return str(format_currency(rounded, currency, locale=_locale(lang or "en")))
    except (ValueError, LookupError):
        return f"{ref_ratio(rounded, lang)} {currency}"


def ref_date(value: dt.date, lang: str | None, *, style: str = "long") -> str:
    if isinstance(value, dt.datetime):
        value = value.date()
    if style == "iso":
        return value.isoformat()
    width = "medium" if style == "medium" else "long"
    return str(babel_format_date(value, width, locale=_locale(lang)))


def outcome(function: Callable[..., str], *args: Any, **kwargs: Any) -> str | tuple[str, str]:
    """The text, or the kind of error: both sides must also fail alike."""
    try:
        return function(*args, **kwargs)
    except Exception as error:
        return ("error", type(error).__name__)


LOCALES = [
    "en",
    "es",
    "zh",
    "es_MX",
    "es-MX",
    "en_IN",
    "de",
    "fr",
    "de_CH",
    "ar",
    "hi",
    "ja",
    "pt_BR",
    "xx-unknown",  # falls back to English
    "",
    None,
]

VALUES: list[Any] = [
    0,
    -0.0,
    Decimal("-0"),
    Decimal("0.000"),
    1,
    -1,
    7,
    True,
    0.125,
    -0.125,
    2.675,
    1.005,
    -1.005,
    0.5,
    -0.5,
    2.5,
    -2.5,
    0.015,
    99.995,
    999.9995,
    -999.9995,
    0.0049,  # rounds to zero
    -0.0049,
    -0.0004,
    1e-9,
    -1e-9,
    12.5,
    70,
    1000,
    -1000,
    100000,
    1234567.891,
    -1234567.891,
    1e15,
    -1e15,
    123456789012345678,
    Decimal("1234567890123456789012.5"),
    Decimal("1.23456"),
    Decimal("1E+3"),
    Decimal("-12345.6789"),
    1e25,  # too many digits once rounded: an error on both sides
    float("nan"),
    Decimal("NaN"),
    float("inf"),
]

CURRENCIES = [
    "EUR",
    "USD",
    "CNY",
    "GBP",
    "JPY",
    "BHD",
    "CHF",
    "INR",
    "MXN",
    "CLP",
    "XYZ",
    "eur",
    "",
]

DATES = [
    dt.date(2026, 3, 4),
    dt.date(2026, 11, 20),
    dt.date(2024, 2, 29),
    dt.date(1999, 12, 31),
    dt.date(1, 1, 1),
    dt.date(9999, 12, 31),
    dt.datetime(2026, 7, 14, 23, 59),
    *(dt.date(2025, month, month * 2) for month in range(1, 13)),
]


def _differences(
    mine: Callable[..., str], reference: Callable[..., str], lang: str | None, **kwargs: Any
) -> list[str]:
    found = []
    for value in VALUES:
        got, want = outcome(mine, value, lang, **kwargs), outcome(reference, value, lang, **kwargs)
        if got != want:
            found.append(f"{value!r}: {got!r} != Babel {want!r}")
    return found


@pytest.mark.parametrize("lang", LOCALES)
@pytest.mark.parametrize("max_decimals", [3, 1, 0, 6, -1])
def test_format_number_is_babels(lang: str | None, max_decimals: int) -> None:
    assert _differences(format_number, ref_number, lang, max_decimals=max_decimals) == []


@pytest.mark.parametrize("lang", LOCALES)
def test_format_integer_and_ratio_are_babels(lang: str | None) -> None:
    assert _differences(format_integer, ref_integer, lang) == []
    assert _differences(format_ratio, ref_ratio, lang) == []


@pytest.mark.parametrize("lang", LOCALES)
@pytest.mark.parametrize(
    ("max_decimals", "min_decimals"), [(2, 0), (2, 2), (0, 0), (1, 3), (4, 1), (-1, 0)]
)
def test_format_percent_is_babels(lang: str | None, max_decimals: int, min_decimals: int) -> None:
    found = _differences(
        format_percent, ref_percent, lang, max_decimals=max_decimals, min_decimals=min_decimals
    )
    assert found == []


@pytest.mark.parametrize("lang", LOCALES)
@pytest.mark.parametrize("currency", CURRENCIES)
def test_format_money_is_babels(lang: str | None, currency: str) -> None:
    found = [
        f"{value!r}: {outcome(format_money, value, currency, lang)!r}"
        for value in VALUES
        if outcome(format_money, value, currency, lang) != outcome(ref_money, value, currency, lang)
    ]
    assert found == []


@pytest.mark.parametrize("lang", LOCALES)
@pytest.mark.parametrize("style", ["long", "medium", "iso", "anything else"])
def test_format_date_is_babels(lang: str | None, style: str) -> None:
    for day in DATES:
        assert format_date(day, lang, style=style) == ref_date(day, lang, style=style), day


def test_many_more_babel_locales_format_as_babel() -> None:
    # a quarter of the ~1150 locales Babel knows (all of them take seconds, mostly
    # loading their data), fewer values: symbols, patterns and month names that
    # differ from the locales above (RTL marks, other groupings, eras...)
    from babel.localedata import locale_identifiers

    day = dt.date(2025, 12, 28)
    for lang in sorted(locale_identifiers())[::4]:
        for value in (-1234567.891, 0.125):
            assert format_number(value, lang) == ref_number(value, lang), (lang, value)
            assert format_percent(value, lang, min_decimals=2) == ref_percent(
                value, lang, min_decimals=2
            ), (lang, value)
            assert format_money(value, "EUR", lang) == ref_money(value, "EUR", lang), (lang, value)
        for style in ("long", "medium"):
            assert format_date(day, lang, style=style) == ref_date(day, lang, style=style), lang


def test_an_unknown_locale_formats_as_english() -> None:
    for lang in ("xx", "zz_ZZ", "not a locale", "en-"):
        assert format_number(1234.5, lang) == format_number(1234.5, "en") == "1,234.5"
        assert format_percent(12.5, lang) == "12.5%"
        assert format_money(1234.5, "USD", lang) == "$1,234.50"
        assert format_date(dt.date(2026, 3, 4), lang) == "March 4, 2026"


# --- what readers see, per shipped language


def test_english_examples() -> None:
    assert format_number(1234567.891, "en") == "1,234,567.891"
    assert format_number(2.5, "en", max_decimals=0) == "3"  # half up, not to even
    assert format_integer(-1234567, "en") == "-1,234,567"
    assert format_ratio(1.005, "en") == "1.01"
    assert format_ratio(-0.004, "en") == "0.00"  # no "-0.00"
    assert format_percent(70, "en") == "70%"
    assert format_percent(3.4, "en", min_decimals=2) == "3.40%"
    assert format_money(1234567.89, "EUR", "en") == "€1,234,567.89"
    assert format_money(-1234567.891, "USD", "en") == "-$1,234,567.89"
    assert format_money(1234.5, "JPY", "en") == "¥1,234"  # no decimals in yen
    assert format_date(dt.date(2026, 3, 4), "en") == "March 4, 2026"
    assert format_date(dt.date(2026, 3, 4), "en", style="medium") == "Mar 4, 2026"
    assert format_date(dt.date(2026, 3, 4), "en", style="iso") == "2026-03-04"


def test_spanish_examples() -> None:
    assert format_number(1234567.891, "es") == "1.234.567,891"
    assert format_integer(1234567, "es") == "1.234.567"
    assert format_ratio(0.4, "es") == "0,40"
    assert format_percent(12.5, "es") == "12,5\xa0%"
    assert format_money(1234567.89, "EUR", "es") == "1.234.567,89\xa0€"
    assert format_money(-1234.5, "CNY", "es") == "-1.234,50\xa0CNY"
    assert format_date(dt.date(2026, 11, 20), "es") == "20 de noviembre de 2026"


def test_chinese_examples() -> None:
    assert format_number(1234567.891, "zh") == "1,234,567.891"
    assert format_percent(70, "zh") == "70%"
    assert format_money(1234567.89, "CNY", "zh") == "¥1,234,567.89"
    assert format_money(-1234567.89, "EUR", "zh") == "-€1,234,567.89"
    assert format_date(dt.date(2026, 3, 4), "zh") == "2026年3月4日"


def test_other_locales_examples() -> None:
    assert format_money(1234567.89, "INR", "en_IN") == "₹12,34,567.89"  # lakh grouping
    assert format_money(1234567.89, "EUR", "de") == "1.234.567,89\xa0€"
    assert format_number(1234567.891, "fr") == "1\u202f234\u202f567,891"


# --- the compiled formatters are really in use, and Babel is still what decides


def test_shipped_languages_use_compiled_formatters() -> None:
    # a silent fall back to Babel would be correct but 3-10x slower
    for lang in ("en", "es", "zh"):
        assert i18n._plain_format(lang, 0, 3) is not None
        assert i18n._plain_format(lang, 2, 2) is not None
        assert i18n._percent_format(lang, 2, 2) is not None
        assert i18n._currency_format(lang, "EUR") is not None
        assert i18n._date_format(lang, "long") is not None


def test_dates_without_a_compiled_format_go_to_babel(monkeypatch: pytest.MonkeyPatch) -> None:
    def unknown(key: str, locale: Locale) -> Any:
        raise ValueError(key)

    monkeypatch.setattr(i18n, "_date_field", unknown)
    i18n._date_format.cache_clear()
    try:
        assert i18n._date_format("es", "long") is None
        for day in DATES:
            assert format_date(day, "es") == ref_date(day, "es") != ""
    finally:
        i18n._date_format.cache_clear()


def test_babel_is_not_imported_at_start_up() -> None:
    code = (
        "import sys, postloan_cli.i18n; print(any(m.split('.')[0] == 'babel' for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
