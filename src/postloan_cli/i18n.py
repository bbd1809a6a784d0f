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
from typing import TYPE_CHECKING

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


def _decimal(value: _NumberLike | str) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def _rounded(value: _NumberLike, decimals: int) -> Decimal:
    """``value`` rounded half up (as people round money) to ``decimals``, keeping its sign.

    Zero is never negative. The result has exactly ``decimals`` decimals
    (its exponent is ``-decimals``), which the compiled formatters rely on.
    """
    step = _STEPS[decimals] if 0 <= decimals < len(_STEPS) else Decimal(1).scaleb(-decimals)
    result = _decimal(value).quantize(step, ROUND_HALF_UP)
    return result.copy_abs() if result.is_signed() and not result else result


#: Babel's last step: text in single quotes loses them; ``''`` is one quote.
_QUOTED = re.compile(r"'([^']*)'")


def _unquote(match: re.Match[str]) -> str:
    return match.group(1) or "'"


class _NumberFormat:
    """A Babel number pattern in one locale, compiled: ``NumberPattern.apply`` as string steps.

    Made by :func:`_compile` only where it reproduces Babel exactly: a plain
    pattern (no scientific or significant-digit notation), Latin digits (as
    Babel by default), a finite value. The caller applies the pattern's
    scale (``%``) beforehand.
    """

    __slots__ = (
        "decimal",
        "first_group",
        "frac_min",
        "group",
        "grouping",
        "prefix",
        "quantum",
        "requantize",
        "str_digits",
        "suffix",
        "thousands",
        "unquote",
    )

    def __init__(
        self,
        *,
        decimal: str,
        group: str,
        grouping: tuple[int, int],
        prefix: tuple[str, str],
        suffix: tuple[str, str],
        frac_prec: tuple[int, int],
        decimals: int,
    ) -> None:
        self.decimal = decimal
        self.group = group
        self.grouping = grouping
        self.first_group = grouping[0]
        self.thousands = grouping == (3, 3)  # Python's own "," grouping does it
        self.prefix = prefix
        self.suffix = suffix
        self.frac_min = frac_prec[0]
        # the same quantum as Babel's get_decimal_quantum(frac_prec[1]); values
        # come with ``decimals`` decimals, so mostly there is nothing to round
        self.quantum = Decimal(10) ** -frac_prec[1]
        self.requantize = frac_prec[1] != decimals
        # str() of a Decimal is plain digits (no exponent) down to 6 decimals
        self.str_digits = frac_prec[1] <= 6
        # Babel removes quotes from the whole result, digits and symbols included
        # (a group symbol "'", as in de_CH, vanishes between two of them)
        self.unquote = "'" in "".join((decimal, group, *prefix, *suffix))

    def apply(self, number: Decimal) -> str:
        """``number`` (finite, from ``_rounded(value, decimals)``) as Babel writes it."""
        # As Babel: the sign first (-0.40 in a currency without decimals is
        # "-0"), then the absolute value quantized to the pattern's maximum of
        # decimals with the context's rounding.
        negative = number.is_signed()
        number = abs(number)
        if self.requantize:
            number = number.quantize(self.quantum)
        digits = str(number) if self.str_digits else format(number, "f")
        integer, _, fraction = digits.partition(".")
        if len(integer) > self.first_group:
            if self.thousands:
                integer = format(int(integer), ",")
                if self.group != ",":
                    integer = integer.replace(",", self.group)
            else:
                integer = self._group(integer)
        # optional decimals: trailing zeros go, down to the minimum (Babel's _format_frac)
        kept = fraction.rstrip("0")
        if len(kept) < self.frac_min:
            kept = fraction[: self.frac_min]
        if kept:
            text = f"{self.prefix[negative]}{integer}{self.decimal}{kept}{self.suffix[negative]}"
        else:
            text = f"{self.prefix[negative]}{integer}{self.suffix[negative]}"
        return _QUOTED.sub(_unquote, text) if self.unquote else text

    def _group(self, digits: str) -> str:
        """Group symbols between groups of digits: the primary size, then the secondary."""
        size, secondary = self.grouping
        groups = ""
        while len(digits) > size:
            groups = self.group + digits[-size:] + groups
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
) -> _NumberFormat | None:
    """``pattern`` applied in ``locale``, compiled; ``None`` where that would not be Babel.

    ``frac_prec``: the (minimum, maximum) decimals shown; ``decimals``: those
    the values come rounded to; ``scale``: the pattern's scale (2 for ``%``),
    applied by the caller; ``currency``: the code that replaces ``¤`` (``¤¤``
    is the code itself).
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
    return _NumberFormat(
        decimal=symbols.get("decimal", "."),
        group=symbols.get("group", ","),
        grouping=pattern.grouping,
        prefix=(prefix[0], prefix[1]),
        suffix=(suffix[0], suffix[1]),
        frac_prec=frac_prec,
        decimals=decimals,
    )


def _plain_pattern(min_decimals: int, max_decimals: int) -> str:
    """``#,##0.00##``: grouped, ``min_decimals`` to ``max_decimals`` decimals."""
    if max_decimals <= 0:
        return "#,##0"
    return "#,##0." + "0" * min_decimals + "#" * (max_decimals - min_decimals)


@functools.lru_cache(maxsize=128)
def _plain_format(lang: str | None, min_decimals: int, max_decimals: int) -> _NumberFormat | None:
    """The compiled :func:`_plain_pattern` in ``lang``, for values with ``max_decimals``."""
    pattern = _pattern(_plain_pattern(min_decimals, max_decimals))
    return _compile(pattern, babel_locale(lang), pattern.frac_prec, max_decimals)


def _format_plain(number: Decimal, lang: str | None, min_decimals: int, max_decimals: int) -> str:
    formatter = _plain_format(lang, min_decimals, max_decimals)
    if formatter is not None and number.is_finite():
        return formatter.apply(number)
    pattern = _pattern(_plain_pattern(min_decimals, max_decimals))
    return str(pattern.apply(number, babel_locale(lang)))


def format_number(value: _NumberLike, lang: str | None, *, max_decimals: int = 3) -> str:
    """``1234567.891`` as ``1,234,567.891`` (en, zh) or ``1.234.567,891`` (es)."""
    decimals = max(max_decimals, 0)
    return _format_plain(_rounded(value, decimals), lang, 0, decimals)


def format_integer(value: _NumberLike, lang: str | None) -> str:
    """A whole number with the locale's grouping."""
    return _format_plain(_rounded(value, 0), lang, 0, 0)


def format_ratio(value: _NumberLike, lang: str | None) -> str:
    """A ratio with exactly two decimals: ``1.25`` / ``1,25``."""
    return _format_plain(_rounded(value, 2), lang, 2, 2)


def format_percent(
    value: _NumberLike, lang: str | None, *, max_decimals: int = 2, min_decimals: int = 0
) -> str:
    """A per-hundred value as a percentage: ``70`` is ``70%`` (en, zh) or ``70 %`` (es).

    At most ``max_decimals`` decimals, at least ``min_decimals`` (computed
    ratios use a fixed number so that a column of them lines up).
    """
    lang = lang or FALLBACK_LANG
    number = _rounded(value, max_decimals)
    formatter = _percent_format(lang, min_decimals, max_decimals)
    if formatter is not None and number.is_finite():
        # already per hundred: no division by 100 and Babel's multiplication back
        return formatter.apply(number)
    pattern = _percent_pattern(lang, min_decimals, max(max_decimals, min_decimals))
    return str(pattern.apply(number.scaleb(-2), babel_locale(lang)))


@functools.lru_cache(maxsize=64)
def _percent_pattern(lang: str, min_decimals: int, max_decimals: int) -> NumberPattern:
    """The locale's own percent pattern (``#,##0 %`` in es) with the wanted decimals."""
    pattern: NumberPattern = copy.copy(babel_locale(lang).percent_formats[None])
    pattern.frac_prec = (min_decimals, max_decimals)
    return pattern


@functools.lru_cache(maxsize=64)
def _percent_format(lang: str, min_decimals: int, max_decimals: int) -> _NumberFormat | None:
    """The compiled :func:`_percent_pattern`, for values rounded to ``max_decimals``."""
    pattern = _percent_pattern(lang, min_decimals, max(max_decimals, min_decimals))
    return _compile(pattern, babel_locale(lang), pattern.frac_prec, max_decimals, scale=2)


def format_money(amount: _NumberLike, currency: str, lang: str | None) -> str:
    """``amount`` in ``currency`` as the locale writes it (``CN¥1,234.00``, ``1.234,00 CNY``)."""
    return _money(_rounded(amount, 2), currency, lang or FALLBACK_LANG)


def _money(amount: Decimal, currency: str, lang: str) -> str:
    formatter = _currency_format(lang, currency)
    try:
        if formatter is not None and amount.is_finite():
            return formatter.apply(amount)
        from babel.numbers import format_currency

        return str(format_currency(amount, currency, locale=babel_locale(lang)))
    except (ValueError, LookupError):  # an unknown currency code
        return f"{format_ratio(amount, lang)} {currency}"


@functools.lru_cache(maxsize=256)
def _currency_format(lang: str, currency: str) -> _NumberFormat | None:
    """Babel's ``format_currency`` (standard pattern, the currency's decimals), compiled
    for amounts rounded to 2 decimals."""
    from babel.numbers import get_currency_precision

    locale = babel_locale(lang)
    try:
        pattern = locale.currency_formats["standard"]
        # as format_currency: the currency's own number of decimals (JPY none)
        frac_prec = (get_currency_precision(currency),) * 2 if currency else pattern.frac_prec
        return _compile(pattern, locale, frac_prec, 2, currency=currency)
    except (ValueError, LookupError, AttributeError):
        return None


def format_date(value: dt.date, lang: str | None, *, style: str = "long") -> str:
    """A date that no reader can misread: ``long`` (``20 de noviembre de 2026``) or ``iso``.

    Short numeric forms (``11/12/26``) are never produced: they mean different
    days in different countries.
    """
    if isinstance(value, dt.datetime):
        value = value.date()
    if style == "iso":
        return value.isoformat()
    width = "medium" if style == "medium" else "long"
    compiled = _date_format(lang, width)
    if compiled is not None:
        template, fields = compiled
        return template % tuple([field(value) for field in fields])
    from babel.dates import format_date as babel_date

    return babel_date(value, width, locale=babel_locale(lang))


#: One field of a date (``MMMM``: the month's name...), as a value for a ``%`` template.
_DateField = Callable[[dt.date], int | str]

#: The placeholders in Babel's date templates (``%(MMMM)s``) and its escaped ``%``.
_PLACEHOLDER = re.compile(r"%%|%\(([^)]*)\)s")


@functools.lru_cache(maxsize=64)
def _date_format(lang: str | None, width: str) -> tuple[str, tuple[_DateField, ...]] | None:
    """The locale's ``width`` date pattern, compiled: a positional ``%`` template
    (``%s %d, %d``) and a function per field; ``None`` where a field is not one
    :func:`_date_field` knows (Babel then formats)."""
    locale = babel_locale(lang)
    try:
        # Babel's own template for the pattern: "%(MMMM)s %(d)s, %(y)s", "%%" for "%"
        named = locale.date_formats[width].format
    except (LookupError, AttributeError):
        return None
    fields: list[_DateField] = []

    def positional(match: re.Match[str]) -> str:
        key = match.group(1)
        if key is None:
            return "%%"
        spec, field = _date_field(key, locale)
        fields.append(field)
        return spec

    try:
        template = _PLACEHOLDER.sub(positional, named)
    except (LookupError, ValueError):  # not a field of dates, or no names in this locale
        return None
    compiled = (template, tuple(fields))
    # Checked against Babel itself on dates with every month and weekday: a
    # field written in any other way than Babel's leaves this locale to Babel.
    from babel.dates import format_date as babel_date

    try:
        for day in _SAMPLE_DAYS:
            mine = template % tuple([field(day) for field in compiled[1]])
            if mine != babel_date(day, width, locale=locale):
                return None
    except (LookupError, ValueError, TypeError):
        return None
    return compiled


def _date_field(key: str, locale: Locale) -> tuple[str, _DateField]:
    """One field of Babel's ``DateTimeFormat`` for dates: its ``%`` spec and value.

    ``y``, ``M``/``L``, ``d``, ``E``/``c`` (names), ``G``; ``ValueError`` for any
    other field (times, weeks, ISO years...).
    """
    char, count = key[0], len(key)
    if key != char * count:
        raise ValueError(key)
    # numbers: Babel writes '%0*d' % (count, number)
    if char == "y":
        if count == 2:  # the last two digits of the year
            return "%02d", lambda day: day.year % 100
        return f"%0{count}d", _YEAR
    if char == "d":
        return f"%0{count}d", _DAY
    if char in "ML":
        if count <= 2:
            return f"%0{count}d", _MONTH
        context = "format" if char == "M" else "stand-alone"
        months = locale.months[context][{3: "abbreviated", 4: "wide", 5: "narrow"}[count]]
        month_names = tuple(str(months[month]) for month in range(1, 13))
        return "%s", lambda day: month_names[day.month - 1]
    if char == "E" or (char == "c" and count >= 3):
        context = "stand-alone" if char == "c" else "format"
        width = {3: "abbreviated", 4: "wide", 5: "narrow", 6: "short"}[max(count, 3)]
        days = locale.days[context][width]
        day_names = tuple(str(days[weekday]) for weekday in range(7))
        return "%s", lambda day: day_names[day.weekday()]
    if char == "G":
        # the era of a year >= 1 (all a datetime.date holds): always the same name
        era = str(locale.eras[{3: "abbreviated", 4: "wide", 5: "narrow"}[max(count, 3)]][1])
        return "%s", lambda day: era
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
