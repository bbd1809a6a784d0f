"""Locale-aware formatting: the compiled formatters write exactly what Babel writes."""

from __future__ import annotations

import copy
import datetime as dt
import math
import random
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
    -float("inf"),
    # floats and ints take shorter ways than Decimal: near ties, near a new
    # group of digits, at the edges of those ways
    999.995,
    999.996,
    -999.996,
    999.4,
    1234.5,
    -1234.5,
    0.005,
    0.004999999999999999,
    1.0049999999999999,
    12.344999999999999,
    69.12412307692308,
    1e14 + 0.25,
    999999999999999.9,
    1e15 + 2,
    9.999999999999998e14,
    5e-324,
    -5e-324,
    1e-300,
    10**15 - 1,
    10**15,
    -(10**15) + 1,
    10**27,  # too many digits once rounded: an error on both sides
    999,
    -999,
    1000,
    123456789,
    Decimal("54258702"),
    Decimal("880000.0"),
    Decimal("-0.001"),
    Decimal("12.30"),
    Decimal("-Infinity"),
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
@pytest.mark.parametrize("max_decimals", [3, 1, 0, 6, 8, -1])
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


def _random_values(seed: int, count: int) -> list[Any]:
    """Floats, ints and Decimals of every size, many exactly at or next to a tie (``2.675``)."""
    rnd = random.Random(seed)
    values: list[Any] = []
    for _ in range(count):
        number = rnd.choice([-1, 1]) * 10 ** rnd.uniform(-4, 15)
        decimals = rnd.randint(0, 4)
        tie = rnd.randint(-(10**7), 10**7) / 10**decimals + 5 * 10.0 ** -(decimals + 1)
        values += [
            number,
            round(number, rnd.randint(0, 6)),
            tie,
            math.nextafter(tie, math.inf),
            math.nextafter(tie, -math.inf),
            Decimal(repr(tie)),
            rnd.randint(-(10**16), 10**16),
            rnd.randint(-2000, 2000),
            Decimal(rnd.randint(-(10**12), 10**12)).scaleb(-rnd.randint(0, 8)),
        ]
    return values


@pytest.mark.parametrize("lang", LOCALES)
def test_random_values_format_as_babel(lang: str | None) -> None:
    found = []
    for value in _random_values(seed=len(str(lang)), count=60):
        for mine, reference, args, kwargs in (
            (format_number, ref_number, (), {}),
            (format_number, ref_number, (), {"max_decimals": 1}),
            (format_integer, ref_integer, (), {}),
            (format_ratio, ref_ratio, (), {}),
            (format_percent, ref_percent, (), {}),
            (format_percent, ref_percent, (), {"min_decimals": 2}),
            (format_percent, ref_percent, (), {"min_decimals": 3, "max_decimals": 1}),
        ):
            got = outcome(mine, value, lang, *args, **kwargs)
            if got != outcome(reference, value, lang, *args, **kwargs):
                found.append(f"{mine.__name__}({value!r}, {kwargs}): {got!r}")
        for currency in ("EUR", "JPY", "BHD", "XYZ"):
            got = outcome(format_money, value, currency, lang)
            if got != outcome(ref_money, value, currency, lang):
                found.append(f"format_money({value!r}, {currency}): {got!r}")
    assert found == []


@pytest.mark.parametrize("lang", ["en", "es", "zh", "de_CH", "en_IN", None])
def test_locale_formats_write_what_the_functions_write(lang: str | None) -> None:
    formats = i18n.locale_formats(lang)
    assert i18n.locale_formats(lang) is formats  # made once
    for value in VALUES[:40]:
        assert outcome(formats.integer, value) == outcome(format_integer, value, lang)
        assert outcome(formats.ratio, value) == outcome(format_ratio, value, lang)
        for decimals in (3, 1):
            assert outcome(formats.number, value, max_decimals=decimals) == outcome(
                format_number, value, lang, max_decimals=decimals
            )
            assert outcome(formats.number_function(decimals), value) == outcome(
                format_number, value, lang, max_decimals=decimals
            )
        for minimum in (0, 2):
            assert outcome(formats.percent, value, min_decimals=minimum) == outcome(
                format_percent, value, lang, min_decimals=minimum
            )
            assert outcome(formats.percent_function(min_decimals=minimum), value) == outcome(
                format_percent, value, lang, min_decimals=minimum
            )
        for currency in ("EUR", "JPY"):
            assert outcome(formats.money, value, currency) == outcome(
                format_money, value, currency, lang
            )
            assert outcome(formats.money_function(currency), value) == outcome(
                format_money, value, currency, lang
            )
    for day in DATES:
        for style in ("long", "medium", "iso"):
            expected = ref_date(day, lang, style=style)
            assert formats.date(day, style=style) == expected
            assert formats.date_function(style)(day) == expected


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


def test_shipped_languages_format_without_babel(monkeypatch: pytest.MonkeyPatch) -> None:
    # Babel only compiles the formatters: a silent fall back to Babel for each
    # value would be correct but 3-10x slower
    import babel.dates
    import babel.numbers

    values = [Decimal("-1234567.891"), 0.125, 70, -0.0, Decimal("12.30")]
    langs = ("en", "es", "zh", "es-MX")

    def everything() -> list[str]:
        return [
            text
            for lang in langs
            for value in values
            for text in (
                format_number(value, lang),
                format_number(value, lang, max_decimals=1),
                format_integer(value, lang),
                format_ratio(value, lang),
                format_percent(value, lang),
                format_percent(value, lang, min_decimals=2),
                format_money(value, "EUR", lang),
                format_money(value, "JPY", lang),
                format_date(dt.date(2026, 3, 4), lang),
                format_date(dt.date(2026, 3, 4), lang, style="medium"),
            )
        ]

    before = everything()  # compiles

    def forbidden(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("Babel formatted a value")

    monkeypatch.setattr(babel.numbers.NumberPattern, "apply", forbidden)
    monkeypatch.setattr(babel.numbers, "format_currency", forbidden)
    monkeypatch.setattr(babel.dates, "format_date", forbidden)
    assert everything() == before


def test_dates_without_a_compiled_format_go_to_babel(monkeypatch: pytest.MonkeyPatch) -> None:
    def unknown(key: str, locale: Locale) -> Any:
        raise ValueError(key)

    monkeypatch.setattr(i18n, "_date_field", unknown)
    monkeypatch.setattr(i18n, "_LOCALE_FORMATS", {})
    assert i18n._date_format("es", "long") is None
    for day in DATES:
        assert format_date(day, "es") == ref_date(day, "es") != ""


def test_babel_is_not_imported_at_start_up() -> None:
    code = (
        "import sys, postloan_cli.i18n; print(any(m.split('.')[0] == 'babel' for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
