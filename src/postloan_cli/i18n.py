"""Languages: choosing the text for a language, with a fallback that is never empty."""

from __future__ import annotations

import copy
import datetime as dt
import functools
import operator
import re
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from postloan_cli.models import Text

if TYPE_CHECKING:
    from babel import Locale
    from babel.numbers import NumberPattern


def localize(text: Text | None, lang: str, default: str = "en") -> str:
    """``text`` in ``lang``; else the checklist's default language; else any language.

    A missing translation falls back, never to an empty string (unless the
    text itself is absent).
    """
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    for candidate in (lang, lang.split("-")[0], default):
        value = text.get(candidate)
        if value:
            return value
    for value in text.values():
        if value:
            return value
    return ""


# --- locale-aware formatting (Babel) ---------------------------------------------
#
# Reports format numbers, money, percentages and dates for the report language,
# exactly as Babel formats them. Babel's general-purpose code costs 5-15 µs a
# value and a report shows about a hundred, so for each (locale, kind, decimals)
# the pieces Babel would use (decimal and group symbols, grouping sizes, the
# prefixes and suffixes of its pattern, the currency symbol, month names) are
# read once from Babel's own data and compiled into a small formatter that
# repeats Babel's steps with plain string operations. What a compiled formatter
# does not cover (scientific or significant-digit patterns, long currency
# names, NaN, unusual date fields...) is formatted by Babel itself.
# tests/test_i18n.py compares the two over many values and locales.
# Unknown or malformed locale strings fall back to English, never to an error.
#
# A formatter is a closure of the value, with its settings as local names:
# floats and ints mostly skip Decimal, and Python's "," format groups digits
# (Babel's usual grouping). The formatters of one language are gathered in a
# LocaleFormats, made once per language and kept by the language as callers
# spell it: a format_* call costs two dictionary look-ups and two Python calls
# (code that formats many values, as a report, can hold the LocaleFormats or
# the formatters it gives and skip the look-ups).

FALLBACK_LANG = "en"


@functools.lru_cache(maxsize=64)
def babel_locale(lang: str | None) -> Locale:
    """The Babel locale for ``lang`` (``es``, ``zh``, ``es-MX``...), else English."""
    from babel import Locale as BabelLocale
    from babel import UnknownLocaleError

    if lang:
        try:
            return BabelLocale.parse(lang.replace("-", "_"))
        except (UnknownLocaleError, ValueError, TypeError, LookupError):
            pass
    return BabelLocale.parse(FALLBACK_LANG)


@functools.lru_cache(maxsize=32)
def _pattern(pattern: str) -> NumberPattern:
    from babel.numbers import parse_pattern

    return parse_pattern(pattern)


_NumberLike = int | float | Decimal

#: ``Decimal("0.01")`` for 2 decimals...: the steps values are rounded to, made once.
_STEPS = tuple(Decimal(1).scaleb(-decimals) for decimals in range(10))


def _step(decimals: int) -> Decimal:
    return _STEPS[decimals] if 0 <= decimals < len(_STEPS) else Decimal(1).scaleb(-decimals)


def _rounded(value: _NumberLike, step: Decimal) -> Decimal:
    """``value`` rounded half up (as people round money) to ``step``; zero is never negative."""
    number = value if isinstance(value, Decimal) else _decimal(value)
    result = number.quantize(step, ROUND_HALF_UP)
    return result.copy_abs() if result.is_signed() and not result else result


def _decimal(value: _NumberLike) -> Decimal:
    # a float by its shortest repr: 2.675 is 2.675 as written (so 2.68), not
    # the binary 2.67499999... it is stored as
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


#: Babel's last step: text in single quotes loses them; ``''`` is one quote.
_QUOTED = re.compile(r"'([^']*)'")


def _unquote(match: re.Match[str]) -> str:
    return match.group(1) or "'"


class _Pattern(NamedTuple):
    """What ``NumberPattern.apply`` takes from a plain pattern and a locale (:func:`_compile`)."""

    decimal: str
    group: str
    grouping: tuple[int, int]
    prefix: tuple[str, str]  # (positive, negative), currency symbol in place
    suffix: tuple[str, str]
    frac_prec: tuple[int, int]  # (minimum, maximum) decimals shown


#: Writes a number (int, float, Decimal) as text.
_NumberFunction = Callable[[_NumberLike], str]


def _number_function(
    decimals: int, fallback: Callable[[Decimal], str], pattern: _Pattern | None
) -> _NumberFunction:
    """Values rounded half up to ``decimals`` (zero never negative), written as Babel writes them.

    ``fallback`` is Babel itself, given the rounded value. With a compiled
    ``pattern`` the function repeats ``NumberPattern.apply`` as string steps
    for finite values and leaves the rest (NaN) to ``fallback``; without, all
    values go to ``fallback``. The caller applies the pattern's scale (``%``)
    beforehand. A closure: this runs for every number of every report, and
    its settings are then local names, not attributes.
    """
    step = _step(decimals)
    if pattern is None:

        def babel(value: _NumberLike) -> str:
            return fallback(_rounded(value, step))

        return babel

    decimal, group, grouping, prefix, suffix, (frac_min, frac_max) = pattern
    first_group = grouping[0]
    # Babel's (3, 3) grouping, the usual one, is Python's "," format
    thousands = grouping == (3, 3)
    # ... and with Python's symbols too (en, zh), its text is Babel's as it is
    python_symbols = thousands and decimal == "." and group == ","
    # optional decimals, whose trailing zeros go (Babel's _format_frac)
    trim = frac_min < frac_max
    # the same quantum as Babel's get_decimal_quantum(frac_max); values come
    # with ``decimals`` decimals, so mostly there is nothing to round again
    quantum = Decimal(10) ** -frac_max
    requantize = frac_max != decimals
    # str() of a Decimal is plain digits (no exponent) down to 6 decimals
    str_digits = frac_max <= 6
    point = -frac_max - 1  # where the decimal point is in the digits
    # Babel removes quotes from the whole result, digits and symbols included
    # (a group symbol "'", as in de_CH, vanishes between two of them)
    unquote = "'" in "".join((decimal, group, *prefix, *suffix))

    # Floats and ints skip Decimal where that gives the same digits (see below).
    # A float is rounded by its shortest repr (2.675 as 2.68); Python's own
    # float formatting rounds the exact binary value (2.67499999... as 2.67).
    # The two agree unless a tie (2.675) is within an ulp of the value: only
    # floats well away from every tie take the short way (so not 2.675, which
    # takes Decimal), well inside the range where float arithmetic is exact
    # enough for that test (the scaled value below 1e15).
    fast_floats = not requantize and decimals <= 6
    scale = 10.0**decimals
    float_spec, grouped_float_spec = f".{decimals}f", f",.{decimals}f"
    # an int has no decimals to round: its digits and frac_max zeros (ints below
    # 1e15 are far from the Decimal context's precision, 28 digits)
    zeros = "." + "0" * frac_max if frac_max else ""

    def compiled(value: _NumberLike) -> str:
        digits = None
        cls = value.__class__
        if cls is float and fast_floats:
            size: float = abs(value)  # type: ignore[assignment]  # and -0.0 is 0.0
            scaled = size * scale
            # NaN and infinities fail the first test
            if scaled < 1e15 and abs(scaled % 1.0 - 0.5) > 1e-9 * (scaled + 1.0):
                negative = value < 0.0 and scaled > 0.5  # zero is never negative
                grouped = thousands and size >= 999.0  # 999.996 is 1,000.00
                digits = format(size, grouped_float_spec if grouped else float_spec)
        elif cls is int:
            whole: int = abs(value)  # type: ignore[assignment]
            if whole < 10**15:
                negative = value < 0
                grouped = thousands and whole >= 1000
                digits = f"{format(whole, ',') if grouped else whole}{zeros}"
        if digits is None:
            # _rounded, inline
            if isinstance(value, Decimal):
                number = value.quantize(step, ROUND_HALF_UP)
            elif isinstance(value, float):
                number = Decimal(repr(value)).quantize(step, ROUND_HALF_UP)
            else:
                number = Decimal(value).quantize(step, ROUND_HALF_UP)
            negative = number.is_signed()
            if negative:
                if not number:
                    number = number.copy_abs()
                    negative = False
                elif number.is_finite():
                    # As Babel: the sign first (-0.40 in a currency without
                    # decimals is "-0"), then the absolute value
                    number = abs(number)
            if not number.is_finite():
                return fallback(number)
            if requantize:  # Babel's rounding to the pattern's decimals (the context's)
                number = number.quantize(quantum)
            # the number's exponent is -frac_max: the digits have frac_max decimals
            grouped = thousands and number.adjusted() >= 3  # 4 digits or more before the point
            if grouped:
                digits = format(number, ",f")  # "1,234,567.89"
            else:
                digits = str(number) if str_digits else format(number, "f")
        if python_symbols and not trim:
            text = f"{prefix[negative]}{digits}{suffix[negative]}"
        elif python_symbols and frac_min == 0:
            # trailing zeros go, and the point if no decimal is left
            text = f"{prefix[negative]}{digits.rstrip('0').rstrip('.')}{suffix[negative]}"
        else:
            if frac_max:
                integer = digits[:point]
                fraction = digits[point + 1 :]
                if trim:
                    kept = fraction.rstrip("0")
                    if len(kept) < frac_min:
                        kept = fraction[:frac_min]
                else:
                    kept = fraction
            else:
                integer, kept = digits, ""
            if grouped:
                if group != ",":
                    integer = integer.replace(",", group)
            elif len(integer) > first_group:
                integer = _group(integer, group, grouping)
            if kept:
                text = f"{prefix[negative]}{integer}{decimal}{kept}{suffix[negative]}"
            else:
                text = f"{prefix[negative]}{integer}{suffix[negative]}"
        return _QUOTED.sub(_unquote, text) if unquote else text

    return compiled


def _group(digits: str, group: str, grouping: tuple[int, int]) -> str:
    """Group symbols between groups of digits: the primary size, then the secondary."""
    size, secondary = grouping
    groups = ""
    while len(digits) > size:
        groups = group + digits[-size:] + groups
        digits = digits[:-size]
        size = secondary
    return digits + groups


def _compile(
    pattern: NumberPattern,
    locale: Locale,
    frac_prec: tuple[int, int],
    decimals: int,
    *,
    scale: int = 0,
    currency: str | None = None,
) -> _Pattern | None:
    """``pattern`` applied in ``locale``, compiled; ``None`` where that would not be Babel.

    ``frac_prec``: the (minimum, maximum) decimals shown; ``decimals``: those
    the values come rounded to; ``scale``: the pattern's scale (2 for ``%``),
    applied by the caller; ``currency``: the code that replaces ``¤`` (``¤¤``
    is the code itself).

    Only where the compiled steps reproduce Babel exactly: a plain pattern (no
    scientific or significant-digit notation), Latin digits (as Babel by
    default); the formatter leaves values that are not finite to Babel.
    """
    from babel.numbers import get_currency_symbol

    frac_min, frac_max = frac_prec
    if (
        pattern.exp_prec  # scientific notation
        or "@" in pattern.pattern  # significant digits
        or pattern.number_pattern == ""
        or pattern.scale != scale
        or pattern.int_prec[0] > 1  # zero padding of the integer part (never in CLDR)
        or min(pattern.grouping) < 1
        or not 0 <= frac_min <= frac_max
        or decimals < 0
    ):
        return None
    try:
        symbols = locale.number_symbols["latn"]  # Babel's default numbering system
    except LookupError:
        return None
    prefix, suffix = pattern.prefix, pattern.suffix
    if currency is not None:
        pieces = (*prefix, *suffix)
        if any("¤¤¤" in piece for piece in pieces):
            return None  # the currency's long name, which depends on the amount
        symbol = get_currency_symbol(currency, locale)
        code = currency.upper()
        pos_prefix, neg_prefix, pos_suffix, neg_suffix = (
            piece.replace("¤¤", code).replace("¤", symbol) for piece in pieces
        )
        prefix, suffix = (pos_prefix, neg_prefix), (pos_suffix, neg_suffix)
    return _Pattern(
        decimal=symbols.get("decimal", "."),
        group=symbols.get("group", ","),
        grouping=pattern.grouping,
        prefix=(prefix[0], prefix[1]),
        suffix=(suffix[0], suffix[1]),
        frac_prec=frac_prec,
    )


def _plain_pattern(min_decimals: int, max_decimals: int) -> str:
    """``#,##0.00##``: grouped, ``min_decimals`` to ``max_decimals`` decimals."""
    if max_decimals <= 0:
        return "#,##0"
    return "#,##0." + "0" * min_decimals + "#" * (max_decimals - min_decimals)


def _plain_format(lang: str | None, min_decimals: int, max_decimals: int) -> _NumberFunction:
    """:func:`_plain_pattern` in ``lang``, for values rounded to ``max_decimals``."""
    pattern = _pattern(_plain_pattern(min_decimals, max_decimals))
    locale = babel_locale(lang)

    def babel(number: Decimal) -> str:
        return str(pattern.apply(number, locale))

    compiled = _compile(pattern, locale, pattern.frac_prec, max_decimals)
    return _number_function(max_decimals, babel, compiled)


@functools.lru_cache(maxsize=64)
def _percent_pattern(lang: str, min_decimals: int, max_decimals: int) -> NumberPattern:
    """The locale's own percent pattern (``#,##0 %`` in es) with the wanted decimals."""
    pattern: NumberPattern = copy.copy(babel_locale(lang).percent_formats[None])
    pattern.frac_prec = (min_decimals, max_decimals)
    return pattern


def _percent_format(lang: str, min_decimals: int, max_decimals: int) -> _NumberFunction:
    """:func:`_percent_pattern` for per-hundred values rounded to ``max_decimals``.

    Values are already per hundred: the compiled pattern neither divides by 100
    nor multiplies back as Babel does; Babel gets the value divided.
    """
    pattern = _percent_pattern(lang, min_decimals, max(max_decimals, min_decimals))
    locale = babel_locale(lang)

    def babel(number: Decimal) -> str:
        return str(pattern.apply(number.scaleb(-2), locale))

    compiled = _compile(pattern, locale, pattern.frac_prec, max_decimals, scale=2)
    return _number_function(max_decimals, babel, compiled)


def _currency_format(lang: str, currency: str) -> _NumberFunction:
    """Babel's ``format_currency`` (standard pattern, the currency's decimals) for
    amounts rounded to 2 decimals; an unknown currency code: ``1,234.50 XYZ``."""
    from babel.numbers import get_currency_precision

    locale = babel_locale(lang)

    def babel(amount: Decimal) -> str:
        try:
            from babel.numbers import format_currency

            return str(format_currency(amount, currency, locale=locale))
        except (ValueError, LookupError):  # an unknown currency code
            return f"{format_ratio(amount, lang)} {currency}"

    compiled: _Pattern | None
    try:
        pattern = locale.currency_formats["standard"]
        # as format_currency: the currency's own number of decimals (JPY none)
        frac_prec = (get_currency_precision(currency),) * 2 if currency else pattern.frac_prec
        compiled = _compile(pattern, locale, frac_prec, 2, currency=currency)
    except (ValueError, LookupError, AttributeError):
        compiled = None
    return _number_function(2, babel, compiled)


#: How many formatters of one kind a LocaleFormats keeps (currency codes come from files).
_MAX_FORMATS = 256

#: A date (or the date of a datetime) as text.
_DateFunction = Callable[[dt.date], str]


class LocaleFormats:
    """Every formatter of one language (from :func:`locale_formats`).

    ``formats.ratio(value)`` is ``format_ratio(value, lang)``, and so on for
    each ``format_*`` function of this module, without looking up the
    language's formatters for each value: code that formats many values in
    one language (a report) holds one. ``integer`` and ``ratio`` are
    functions of the value; the ``*_function`` methods give such a function
    for the other kinds (``percent_function(min_decimals=2)``), compiled on
    first use, for code that formats many values of one kind.
    """

    __slots__ = ("_dates", "_moneys", "_numbers", "_percents", "integer", "lang", "ratio")

    def __init__(self, lang: str | None) -> None:
        self.lang = lang
        #: :func:`format_integer` in this language.
        self.integer: _NumberFunction = _plain_format(lang, 0, 0)
        #: :func:`format_ratio` in this language.
        self.ratio: _NumberFunction = _plain_format(lang, 2, 2)
        self._numbers: dict[int, _NumberFunction] = {}
        self._percents: dict[tuple[int, int], _NumberFunction] = {}
        self._moneys: dict[str, _NumberFunction] = {}
        self._dates: dict[str, _DateFunction] = {}

    def number(self, value: _NumberLike, *, max_decimals: int = 3) -> str:
        """:func:`format_number` in this language."""
        return (self._numbers.get(max_decimals) or self.number_function(max_decimals))(value)

    def percent(self, value: _NumberLike, *, max_decimals: int = 2, min_decimals: int = 0) -> str:
        """:func:`format_percent` in this language."""
        function = self._percents.get((min_decimals, max_decimals))
        if function is None:
            function = self.percent_function(max_decimals=max_decimals, min_decimals=min_decimals)
        return function(value)

    def money(self, amount: _NumberLike, currency: str) -> str:
        """:func:`format_money` in this language."""
        return (self._moneys.get(currency) or self.money_function(currency))(amount)

    def date(self, value: dt.date, *, style: str = "long") -> str:
        """:func:`format_date` in this language."""
        return (self._dates.get(style) or self.date_function(style))(value)

    def number_function(self, max_decimals: int = 3) -> _NumberFunction:
        """``format_number(value, lang, max_decimals=max_decimals)`` as a function of the value."""
        function = self._numbers.get(max_decimals)
        if function is None:
            function = _plain_format(self.lang, 0, max(max_decimals, 0))
            _remember(self._numbers, max_decimals, function)
        return function

    def percent_function(self, *, max_decimals: int = 2, min_decimals: int = 0) -> _NumberFunction:
        """:func:`format_percent` with these decimals as a function of the value."""
        key = (min_decimals, max_decimals)
        function = self._percents.get(key)
        if function is None:
            function = _percent_format(self.lang or FALLBACK_LANG, min_decimals, max_decimals)
            _remember(self._percents, key, function)
        return function

    def money_function(self, currency: str) -> _NumberFunction:
        """``format_money(amount, currency, lang)`` as a function of the amount."""
        function = self._moneys.get(currency)
        if function is None:
            function = _currency_format(self.lang or FALLBACK_LANG, currency)
            _remember(self._moneys, currency, function)
        return function

    def date_function(self, style: str = "long") -> _DateFunction:
        """``format_date(value, lang, style=style)`` as a function of the date."""
        function = self._dates.get(style)
        if function is None:
            if style == "iso":
                function = _iso_date
            else:
                function = _date_function(self.lang, "medium" if style == "medium" else "long")
            _remember(self._dates, style, function)
        return function


_Key = TypeVar("_Key")
_Function = TypeVar("_Function")


def _remember(functions: dict[_Key, _Function], key: _Key, function: _Function) -> None:
    if len(functions) >= _MAX_FORMATS:
        functions.clear()
    functions[key] = function


#: LocaleFormats by language as callers spell it (``None``, ``"es-MX"``...).
_LOCALE_FORMATS: dict[str | None, LocaleFormats] = {}


def locale_formats(lang: str | None) -> LocaleFormats:
    """The formatters of ``lang`` (English for an unknown language), made once."""
    formats = _LOCALE_FORMATS.get(lang)
    if formats is None:
        if len(_LOCALE_FORMATS) >= 64:
            _LOCALE_FORMATS.clear()
        formats = _LOCALE_FORMATS[lang] = LocaleFormats(lang)
    return formats


# The format_* functions look up the language's LocaleFormats and its
# formatter themselves, as LocaleFormats' methods do: one Python call fewer
# for each of the hundred values of a report.


def format_number(value: _NumberLike, lang: str | None, *, max_decimals: int = 3) -> str:
    """``1234567.891`` as ``1,234,567.891`` (en, zh) or ``1.234.567,891`` (es)."""
    formats = _LOCALE_FORMATS.get(lang) or locale_formats(lang)
    return (formats._numbers.get(max_decimals) or formats.number_function(max_decimals))(value)


def format_integer(value: _NumberLike, lang: str | None) -> str:
    """A whole number with the locale's grouping."""
    return (_LOCALE_FORMATS.get(lang) or locale_formats(lang)).integer(value)


def format_ratio(value: _NumberLike, lang: str | None) -> str:
    """A ratio with exactly two decimals: ``1.25`` / ``1,25``."""
    return (_LOCALE_FORMATS.get(lang) or locale_formats(lang)).ratio(value)


def format_percent(
    value: _NumberLike, lang: str | None, *, max_decimals: int = 2, min_decimals: int = 0
) -> str:
    """A per-hundred value as a percentage: ``70`` is ``70%`` (en, zh) or ``70 %`` (es).

    At most ``max_decimals`` decimals, at least ``min_decimals`` (computed
    ratios use a fixed number so that a column of them lines up).
    """
    formats = _LOCALE_FORMATS.get(lang) or locale_formats(lang)
    function = formats._percents.get((min_decimals, max_decimals))
    if function is None:
        function = formats.percent_function(max_decimals=max_decimals, min_decimals=min_decimals)
    return function(value)


def format_money(amount: _NumberLike, currency: str, lang: str | None) -> str:
    """``amount`` in ``currency`` as the locale writes it (``CN¥1,234.00``, ``1.234,00 CNY``)."""
    formats = _LOCALE_FORMATS.get(lang) or locale_formats(lang)
    return (formats._moneys.get(currency) or formats.money_function(currency))(amount)


def format_date(value: dt.date, lang: str | None, *, style: str = "long") -> str:
    """A date that no reader can misread: ``long`` (``20 de noviembre de 2026``) or ``iso``.

    Short numeric forms (``11/12/26``) are never produced: they mean different
    days in different countries.
    """
    formats = _LOCALE_FORMATS.get(lang) or locale_formats(lang)
    return (formats._dates.get(style) or formats.date_function(style))(value)


def _iso_date(value: dt.date) -> str:
    if isinstance(value, dt.datetime):
        value = value.date()
    return value.isoformat()


def _date_function(lang: str | None, width: str) -> _DateFunction:
    """The locale's ``width`` date format: compiled (:func:`_date_format`), else Babel's.

    A datetime is written as its date.
    """
    compiled = _date_format(lang, width)
    if compiled is not None:
        return compiled  # reads only the year, month, day and weekday
    locale = babel_locale(lang)

    def babel(value: dt.date) -> str:
        from babel.dates import format_date as babel_date

        if isinstance(value, dt.datetime):
            value = value.date()
        return str(babel_date(value, width, locale=locale))

    return babel


#: One field of a date (``MMMM``: the month's name...), as a value for a ``%`` template.
_DateField = Callable[[dt.date], int | str]

#: The placeholders in Babel's date templates (``%(MMMM)s``) and its escaped ``%``.
_PLACEHOLDER = re.compile(r"%%|%\(([^)]*)\)s")


class _Names:
    """A field written as a name: of the month (``MMMM``) or of the weekday (``EEEE``)."""

    __slots__ = ("month", "names")

    def __init__(self, names: tuple[str, ...], *, month: bool) -> None:
        self.names = names
        self.month = month

    def __call__(self, day: dt.date) -> str:
        return self.names[day.month - 1] if self.month else self.names[day.weekday()]


def _date_format(lang: str | None, width: str) -> _DateFunction | None:
    """The locale's ``width`` date pattern, compiled to a function of the date; ``None``
    where a field is not one :func:`_date_field` knows (Babel then formats).

    Babel's own template for the pattern (``%(MMMM)s %(d)s, %(y)s``) becomes
    one ``%`` template per month with the month's name and the era written in
    (``March %d, %d``), filled with the date's numbers in one step; a pattern
    with other named fields (the weekday) fills its fields one by one.
    """
    locale = babel_locale(lang)
    try:
        named = locale.date_formats[width].format
    except (LookupError, AttributeError):
        return None
    # the template cut at its fields: text, field, text... (Babel's "%%" stays "%%")
    pieces: list[str] = []
    specs: list[str] = []
    fields: list[_DateField] = []
    text, start = "", 0
    try:
        for match in _PLACEHOLDER.finditer(named):
            text += named[start : match.start()]
            start = match.end()
            key = match.group(1)
            if key is None:
                text += "%%"
                continue
            spec, field = _date_field(key, locale)
            pieces.append(text)
            specs.append(spec)
            fields.append(field)
            text = ""
    except (LookupError, ValueError):  # not a field of dates, or no names in this locale
        return None
    pieces.append(text + named[start:])
    function = _date_template(pieces, specs, fields) or _date_fields(pieces, specs, fields)
    # Checked against Babel itself on dates with every month and weekday: a
    # field written in any other way than Babel's leaves this locale to Babel.
    from babel.dates import format_date as babel_date

    try:
        for day in _SAMPLE_DAYS:
            if function(day) != babel_date(day, width, locale=locale):
                return None
    except (LookupError, ValueError, TypeError):
        return None
    return function


def _date_template(
    pieces: list[str], specs: list[str], fields: list[_DateField]
) -> _DateFunction | None:
    """Month names and constants written into a template per month, numbers from
    one ``attrgetter``; ``None`` for fields that are neither (weekdays...)."""
    attributes: list[str] = []
    templates = [pieces[0]] * 12
    for spec, field, piece in zip(specs, fields, pieces[1:], strict=True):
        if isinstance(field, _Names) and field.month:
            # a name is text in the template: a "%" in it is "%%"
            names = [name.replace("%", "%%") for name in field.names]
            templates = [
                f"{text}{name}{piece}" for text, name in zip(templates, names, strict=True)
            ]
            continue
        name = _ATTRIBUTES.get(field)
        if name is None:
            return None
        attributes.append(name)
        templates = [f"{text}{spec}{piece}" for text in templates]
    # by month number: day.month, not day.month - 1, picks the template
    by_month = ("", *templates)
    if not attributes:
        texts = tuple(text % () for text in by_month)
        return lambda day: texts[day.month]
    numbers = operator.attrgetter(*attributes)  # one number: not a tuple, as "%" takes it
    return lambda day: by_month[day.month] % numbers(day)


def _date_fields(pieces: list[str], specs: list[str], fields: list[_DateField]) -> _DateFunction:
    """A positional ``%`` template (``%s %d, %d``) filled by a function per field."""
    template = pieces[0] + "".join(
        spec + piece for spec, piece in zip(specs, pieces[1:], strict=True)
    )
    functions = tuple(fields)
    return lambda day: template % tuple([field(day) for field in functions])


def _date_field(key: str, locale: Locale) -> tuple[str, _DateField]:
    """One field of Babel's ``DateTimeFormat`` for dates: its ``%`` spec and value.

    ``y``, ``M``/``L``, ``d``, ``E``/``c`` (names), ``G``; ``ValueError`` for any
    other field (times, weeks, ISO years...).
    """
    char, count = key[0], len(key)
    if key != char * count:
        raise ValueError(key)
    # numbers: Babel writes '%0*d' % (count, number), which is "%d" for one digit
    spec = f"%0{count}d" if count > 1 else "%d"
    if char == "y":
        if count == 2:  # the last two digits of the year
            return "%02d", lambda day: day.year % 100
        return spec, _YEAR
    if char == "d":
        return spec, _DAY
    if char in "ML":
        if count <= 2:
            return spec, _MONTH
        context = "format" if char == "M" else "stand-alone"
        months = locale.months[context][{3: "abbreviated", 4: "wide", 5: "narrow"}[count]]
        return "%s", _Names(tuple(str(months[month]) for month in range(1, 13)), month=True)
    if char == "E" or (char == "c" and count >= 3):
        context = "stand-alone" if char == "c" else "format"
        width = {3: "abbreviated", 4: "wide", 5: "narrow", 6: "short"}[max(count, 3)]
        days = locale.days[context][width]
        return "%s", _Names(tuple(str(days[weekday]) for weekday in range(7)), month=False)
    if char == "G":
        # the era of a year >= 1 (all a datetime.date holds): always the same name,
        # the same for every month
        era = str(locale.eras[{3: "abbreviated", 4: "wide", 5: "narrow"}[max(count, 3)]][1])
        return "%s", _Names((era,) * 12, month=True)
    raise ValueError(key)


#: Days with every month, every weekday, one- and two-digit days and months, short years.
_SAMPLE_DAYS = (
    *(dt.date(2026, month, month + 9) for month in range(1, 13)),
    *(dt.date(2027, 2, day) for day in range(1, 8)),
    dt.date(1, 1, 1),
    dt.date(999, 12, 31),
)

_YEAR = operator.attrgetter("year")
_MONTH = operator.attrgetter("month")
_DAY = operator.attrgetter("day")
#: The numeric fields :func:`_date_template` reads in one step, by attribute.
_ATTRIBUTES: dict[object, str] = {_YEAR: "year", _MONTH: "month", _DAY: "day"}


# --- the report's fixed labels --------------------------------------------------------

#: Fixed report labels by language. ``en`` is complete; others fall back to it.
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "inspection": "Inspection",
        "area": "Inspection area",
        "fact": "Fact",
        "threshold": "threshold",
        "title": "Post-loan inspection opinion",
        "opinion": "Inspection opinion",
        "loan_and_inspection": "Loan and inspection",
        "summary": "Summary",
        "findings": "Findings by inspection area",
        "warning_signals": "Warning signals",
        "actions": "Required actions and escalation",
        "overall_opinion": "Officer's overall opinion",
        "review": "Supervisor's review",
        "bank": "Bank",
        "branch": "Branch",
        "loan": "Loan",
        "loan_id": "Loan number",
        "contract": "Contract",
        "borrower": "Borrower",
        "borrower_id": "Borrower ID",
        "industry": "Industry",
        "loan_type": "Loan type",
        "amount": "Loan amount",
        "outstanding": "Outstanding balance",
        "currency": "Currency",
        "disbursed_on": "Disbursed on",
        "matures_on": "Matures on",
        "purpose": "Purpose",
        "days_past_due": "Days past due",
        "officer": "Inspecting officer",
        "certificate": "Certificate",
        "inspection_kind": "Inspection kind",
        "inspection_date": "Inspection date",
        "reason": "Reason for the inspection",
        "previous_inspection": "Previous inspection",
        "place": "Place",
        "checklist": "Checklist",
        "kind_regular": "Regular",
        "kind_irregular": "Irregular",
        "suggested_classification": "Suggested classification",
        "proposed_classification": "Proposed classification",
        "officer_reason": "Officer's reason for the difference",
        "signals_by_severity": "Warning signals by severity",
        "total": "Total",
        "no_signals": "No warning signals were raised.",
        "question": "Question",
        "answer": "Answer",
        "note": "Note",
        "evidence_refs": "Evidence",
        "not_answered": "not answered",
        "not_available": "not available",
        "no_items": "No items recorded.",
        "computed_values": "Computed values",
        "conclusion": "Conclusion",
        "no_conclusion": "No conclusion recorded.",
        "section_signals": "Warning signals in this area",
        "severity": "Severity",
        "signal": "Signal",
        "item": "Item",
        "evidence": "Evidence",
        "required_action": "Required action",
        "escalate_to": "Escalate to",
        "due_by": "Due by",
        "classification_floor": "Classification at least",
        "none": "none",
        "no_actions": "No actions or escalations are required.",
        "supervisor": "Supervisor",
        "review_date": "Review date",
        "decision": "Decision",
        "decision_approved": "Approved",
        "decision_returned": "Returned to the officer",
        "pending_review": "Pending review by the credit supervisor.",
        "review_opinion": "Supervisor's opinion",
        "no_overall_opinion": "No overall opinion recorded.",
        "generated_by": "Generated by",
        "checklist_version": "Checklist version",
        "draft": "DRAFT: this report is not final.",
        "trend": "Change",
        "trend_up": "up",
        "trend_down": "down",
        "trend_unchanged": "unchanged",
        "field": "Item",
        "value": "Value",
        "yes": "Yes",
        "no": "No",
        "days": "{n} days",
        "items_count": "{n} items",
        "severity_info": "Information",
        "severity_watch": "Watch",
        "list_separator": ", ",
        "severity_major": "Major",
        "severity_critical": "Critical",
        "classification_normal": "Normal",
        "classification_special_mention": "Special mention",
        "classification_substandard": "Substandard",
        "classification_doubtful": "Doubtful",
        "classification_loss": "Loss",
        "signature": "Signature",
        "page_of": "Page",
    },
    "es": {
        "inspection": "Inspección",
        "area": "Área de inspección",
        "fact": "Dato",
        "threshold": "umbral",
        "title": "Dictamen de inspección posterior al préstamo",
        "opinion": "Dictamen de inspección",
        "loan_and_inspection": "Préstamo e inspección",
        "summary": "Resumen",
        "findings": "Hallazgos por área de inspección",
        "warning_signals": "Señales de alerta",
        "actions": "Acciones requeridas y escalamiento",
        "overall_opinion": "Dictamen general del oficial",
        "review": "Revisión del supervisor",
        "bank": "Banco",
        "branch": "Sucursal",
        "loan": "Préstamo",
        "loan_id": "Número de préstamo",
        "contract": "Contrato",
        "borrower": "Prestatario",
        "borrower_id": "Identificación del prestatario",
        "industry": "Sector",
        "loan_type": "Tipo de préstamo",
        "amount": "Importe del préstamo",
        "outstanding": "Saldo pendiente",
        "currency": "Moneda",
        "disbursed_on": "Fecha de desembolso",
        "matures_on": "Fecha de vencimiento",
        "purpose": "Destino",
        "days_past_due": "Días de atraso",
        "officer": "Oficial inspector",
        "certificate": "Certificado",
        "inspection_kind": "Tipo de inspección",
        "inspection_date": "Fecha de inspección",
        "reason": "Motivo de la inspección",
        "previous_inspection": "Inspección anterior",
        "place": "Lugar",
        "checklist": "Lista de verificación",
        "kind_regular": "Periódica",
        "kind_irregular": "Extraordinaria",
        "suggested_classification": "Clasificación sugerida",
        "proposed_classification": "Clasificación propuesta",
        "officer_reason": "Motivo del oficial para la diferencia",
        "signals_by_severity": "Señales de alerta por gravedad",
        "total": "Total",
        "no_signals": "No se detectaron señales de alerta.",
        "question": "Pregunta",
        "answer": "Respuesta",
        "note": "Nota",
        "evidence_refs": "Evidencia",
        "not_answered": "sin respuesta",
        "not_available": "no disponible",
        "no_items": "No hay elementos registrados.",
        "computed_values": "Valores calculados",
        "conclusion": "Conclusión",
        "no_conclusion": "No se registró conclusión.",
        "section_signals": "Señales de alerta en esta área",
        "severity": "Gravedad",
        "signal": "Señal",
        "item": "Elemento",
        "evidence": "Evidencia",
        "required_action": "Acción requerida",
        "escalate_to": "Escalar a",
        "due_by": "Plazo",
        "classification_floor": "Clasificación mínima",
        "none": "ninguna",
        "no_actions": "No se requieren acciones ni escalamientos.",
        "supervisor": "Supervisor",
        "review_date": "Fecha de revisión",
        "decision": "Decisión",
        "decision_approved": "Aprobado",
        "decision_returned": "Devuelto al oficial",
        "pending_review": "Pendiente de revisión por el supervisor de crédito.",
        "review_opinion": "Dictamen del supervisor",
        "no_overall_opinion": "No se registró un dictamen general.",
        "generated_by": "Generado por",
        "checklist_version": "Versión de la lista",
        "draft": "BORRADOR: este informe no es definitivo.",
        "trend": "Variación",
        "trend_up": "sube",
        "trend_down": "baja",
        "trend_unchanged": "sin cambio",
        "field": "Concepto",
        "value": "Valor",
        "yes": "Sí",
        "no": "No",
        "days": "{n} días",
        "items_count": "{n} elementos",
        "severity_info": "Información",
        "severity_watch": "Vigilancia",
        "list_separator": ", ",
        "severity_major": "Grave",
        "severity_critical": "Crítica",
        "classification_normal": "Normal",
        "classification_special_mention": "Mención especial",
        "classification_substandard": "Subestándar",
        "classification_doubtful": "Dudoso",
        "classification_loss": "Pérdida",
        "signature": "Firma",
        "page_of": "Página",
    },
    "zh": {
        "inspection": "检查",
        "area": "检查项目",
        "fact": "依据事项",
        "threshold": "阈值",
        "title": "贷后检查意见书",
        "opinion": "检查意见",
        "loan_and_inspection": "贷款与检查概况",
        "summary": "摘要",
        "findings": "各检查项目的发现",
        "warning_signals": "预警信号",
        "actions": "需采取的措施及上报",
        "overall_opinion": "信贷员总体意见",
        "review": "信贷主管审查",
        "bank": "银行",
        "branch": "支行",
        "loan": "贷款",
        "loan_id": "贷款编号",
        "contract": "合同编号",
        "borrower": "借款人",
        "borrower_id": "借款人证件号",
        "industry": "行业",
        "loan_type": "贷款种类",
        "amount": "贷款金额",
        "outstanding": "贷款余额",
        "currency": "币种",
        "disbursed_on": "发放日期",
        "matures_on": "到期日期",
        "purpose": "贷款用途",
        "days_past_due": "逾期天数",
        "officer": "检查人员",
        "certificate": "上岗证书",
        "inspection_kind": "检查类型",
        "inspection_date": "检查日期",
        "reason": "检查原因",
        "previous_inspection": "上次检查日期",
        "place": "检查地点",
        "checklist": "检查清单",
        "kind_regular": "定期检查",
        "kind_irregular": "不定期检查",
        "suggested_classification": "建议分类",
        "proposed_classification": "拟定分类",
        "officer_reason": "与建议分类不同的理由",
        "signals_by_severity": "按严重程度统计的预警信号",
        "total": "合计",
        "no_signals": "未发现预警信号。",
        "question": "检查事项",
        "answer": "检查结果",
        "note": "说明",
        "evidence_refs": "佐证材料",
        "not_answered": "未填写",
        "not_available": "无法计算",
        "no_items": "无记录。",
        "computed_values": "计算指标",
        "conclusion": "结论",
        "no_conclusion": "未填写结论。",
        "section_signals": "本项目的预警信号",
        "severity": "严重程度",
        "signal": "信号",
        "item": "对象",
        "evidence": "依据",
        "required_action": "需采取的措施",
        "escalate_to": "上报对象",
        "due_by": "完成期限",
        "classification_floor": "分类不低于",
        "none": "无",
        "no_actions": "无需采取措施或上报。",
        "supervisor": "信贷主管",
        "review_date": "审查日期",
        "decision": "审查决定",
        "decision_approved": "同意",
        "decision_returned": "退回信贷员",
        "pending_review": "待信贷主管审查。",
        "review_opinion": "主管意见",
        "no_overall_opinion": "未填写总体意见。",
        "generated_by": "生成工具",
        "checklist_version": "清单版本",
        "draft": "草稿：本报告尚未定稿。",
        "trend": "变动",
        "trend_up": "上升",
        "trend_down": "下降",
        "trend_unchanged": "持平",
        "field": "项目",
        "value": "数值",
        "yes": "是",
        "no": "否",
        "days": "{n} 天",
        "items_count": "{n} 项",
        "severity_info": "提示",
        "severity_watch": "观察",
        "list_separator": "、",
        "severity_major": "重大",
        "severity_critical": "严重",
        "classification_normal": "正常",
        "classification_special_mention": "关注",
        "classification_substandard": "次级",
        "classification_doubtful": "可疑",
        "classification_loss": "损失",
        "signature": "签字",
        "page_of": "页",
    },
}


@functools.lru_cache(maxsize=64)
def _labels(lang: str) -> Mapping[str, str]:
    merged = dict(LABELS[FALLBACK_LANG])
    for candidate in (lang.split("-")[0].split("_")[0], lang):
        table = LABELS.get(candidate)
        if table:
            merged.update({k: v for k, v in table.items() if v})
    return MappingProxyType(merged)


def labels(lang: str | None) -> Mapping[str, str]:
    """Every fixed report label in ``lang``; a label missing there is the English one."""
    return _labels(lang or FALLBACK_LANG)


def label(key: str, lang: str | None, **values: object) -> str:
    """One fixed label in ``lang`` (English when missing), with ``{name}`` filled in."""
    text = labels(lang).get(key, key)
    return text.format(**values) if values else text
