"""Checking answers against the pinned checklist and giving them their types.

An answer file keeps values as plain YAML. Here each value is checked
against its question (type, options, bounds, pattern) and converted: a
yes/no to ``bool``, money to :class:`~postloan_cli.models.Money`, a date
string to :class:`datetime.date`, a repeating group to a list of records.
Every problem carries the path of the offending value in the answer file so
the edge can report its line and column.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from postloan_cli.errors import Problem
from postloan_cli.models import (
    Answer,
    AnyQuestion,
    DateQuestion,
    DecimalQuestion,
    GroupQuestion,
    IntegerQuestion,
    Money,
    MoneyQuestion,
    MultipleChoiceQuestion,
    PercentQuestion,
    ScalarQuestionType,
    SingleChoiceQuestion,
    TextQuestion,
    YesNoQuestion,
)

Path = tuple[str | int, ...]

_GROUPED = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ANSWER_KEYS = frozenset({"value", "note", "evidence"})
_YES = {"yes", "y", "sí", "si", "是"}
_NO = {"no", "n", "否"}
_YES_OR_NO = _YES | _NO


@dataclass(frozen=True)
class GivenAnswer:
    """An answer as written: the raw value, note and evidence, and where it is."""

    raw: Any
    note: str | None
    evidence: tuple[str, ...]
    path: Path
    #: Path of the value itself (``path`` + ``("value",)`` in the long form).
    value_path: Path


_new_object = object.__new__
_set_attribute = object.__setattr__


def _given(
    raw: Any, note: str | None, evidence: tuple[str, ...], path: Path, value_path: Path
) -> GivenAnswer:
    """``GivenAnswer(raw, note, evidence, path, value_path)``, made faster.

    The generated ``__init__`` of a frozen dataclass stores each field with a
    call to ``object.__setattr__``; a file has a hundred answers. This stores
    the same dictionary in one call: the record is the same (same fields in
    the same order, so the same equality and repr).
    """
    answer: GivenAnswer = _new_object(GivenAnswer)
    _set_attribute(
        answer,
        "__dict__",
        {"raw": raw, "note": note, "evidence": evidence, "path": path, "value_path": value_path},
    )
    return answer


class Invalid(Exception):
    """A value that does not fit its question."""

    def __init__(self, code: str, message: str, path: Path) -> None:
        self.code = code
        self.message = message
        self.path = path
        super().__init__(message)


@dataclass
class Coerced:
    value: Any
    problems: list[Problem] = field(default_factory=list)


def split_answer(entry: Any, path: Path) -> tuple[GivenAnswer | None, Problem | None]:
    """Read one entry of ``answers:``: a bare value, or ``{value, note, evidence}``."""
    cls = entry.__class__
    if cls in _BARE:
        return _given(entry, None, (), path, path), None
    if cls is dict and entry and entry.keys() <= _ANSWER_KEYS:
        given = _plain_answer(entry, path)
        if given is not None:
            return given, None
    if isinstance(entry, Mapping) and entry and set(entry) <= _ANSWER_KEYS:
        try:
            answer = Answer.model_validate(entry)
        except ValidationError as exc:
            first: dict[str, Any] = dict(exc.errors()[0])
            loc = tuple(first.get("loc", ()))
            return None, Problem(
                "PL300", str(first.get("msg", "invalid answer")), path=(*path, *loc)
            )
        return (
            GivenAnswer(answer.value, answer.note, tuple(answer.evidence), path, (*path, "value")),
            None,
        )
    return GivenAnswer(entry, None, (), path, path), None


#: Entries that are bare values for sure (a mapping may be the long form).
_BARE = frozenset({str, int, float, bool, type(None), list, dt.date, dt.datetime})


def _plain_answer(entry: Mapping[Any, Any], path: Path) -> GivenAnswer | None:
    """The long-form answer ``entry`` at ``path``, if :class:`Answer` takes it as it is.

    What Answer would hold, read without building it (a hundred times per
    file). ``None`` for anything else (a note that is not text, evidence that
    is not a list of texts): :class:`Answer` then converts it or says what is
    wrong.
    """
    note = entry.get("note")
    if note is not None and note.__class__ is not str:
        return None
    evidence = entry.get("evidence", _NO_EVIDENCE)
    if evidence is _NO_EVIDENCE:
        evidence = ()
    elif evidence.__class__ is list:
        for reference in evidence:
            if reference.__class__ is not str:
                return None
        evidence = tuple(evidence)
    else:
        return None
    return _given(entry.get("value"), note, evidence, path, (*path, "value"))


_NO_EVIDENCE: Any = object()


def coerce(question: AnyQuestion, raw: Any, path: Path, currency: str) -> Any:
    """Check ``raw`` against ``question`` and return the typed value.

    Raises :class:`Invalid` with a message a credit officer can act on.
    """
    return _handler(question.__class__)(question, raw, path, currency)


#: ``check(question, raw, path, currency)``: :func:`coerce` for one kind of question.
Checker = Callable[[Any, Any, Path, str], Any]


def checker(question: AnyQuestion) -> Checker:
    """:func:`coerce` for ``question`` alone, what it needs about the question worked out once.

    For a checklist's questions, kept with the compiled checklist: answers to
    them are checked a hundred times per file. Call it with ``question``.
    """
    if isinstance(question, GroupQuestion):
        return functools.partial(
            _group, checks=_field_checks(question), known=frozenset(f.id for f in question.fields)
        )
    if isinstance(question, SingleChoiceQuestion):
        return _single_choice_checker(question)
    if isinstance(question, MoneyQuestion):
        return _money_checker(question)
    return _handler(question.__class__)


def _single_choice_checker(question: SingleChoiceQuestion) -> Checker:
    """:func:`_single_choice` for ``question``: one look in a set of its option ids."""
    ids = frozenset(c.id for c in question.choices)

    def check(question: SingleChoiceQuestion, raw: Any, path: Path, currency: str) -> str:
        if raw.__class__ is str and raw in ids:
            text: str = raw
            return text
        return _single_choice(question, raw, path, currency)  # refused, or a str subclass

    return check


def _money_checker(question: MoneyQuestion) -> Checker:
    """:func:`_money` for ``question``, with the common case (a plain YAML number) inlined.

    Money is a third of the answers, most of them inside groups: the call to
    :func:`_number` and :func:`_bounds` and the question's attributes read for
    each cost as much as making the :class:`Money` itself. Anything but an
    int or float in bounds goes to :func:`_money`, which says what is wrong.
    """
    fixed, low, high = question.currency, question.min, question.max

    def check(question: MoneyQuestion, raw: Any, path: Path, currency: str) -> Money:
        cls = raw.__class__
        if cls is float or cls is int:  # what _number reads as repr(raw); bool is neither
            amount = Decimal(repr(raw))
            if (
                amount.is_finite()
                and (low is None or not amount < low)
                and (high is None or not amount > high)
            ):
                money: Money = Money.__pydantic_validator__.validate_python(
                    {"amount": amount, "currency": fixed or currency}
                )
                return money
        return _money(question, raw, path, currency)

    return check


def _field_checks(question: GroupQuestion) -> list[tuple[str, ScalarQuestionType, Checker, bool]]:
    """Each field of a group (the last of a repeated id) with its checker and ``required``."""
    fields = {f.id: f for f in question.fields}
    return [(fid, field_q, checker(field_q), field_q.required) for fid, field_q in fields.items()]


def _describe(raw: Any) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, Mapping):
        return "a mapping"
    if isinstance(raw, list):
        return "a list"
    text = str(raw)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _number(raw: Any, path: Path, what: str) -> Decimal:
    if raw.__class__ is int or raw.__class__ is float:
        text = repr(raw)  # the common case first: a plain YAML number
    elif isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise Invalid("PL305", f"expected {what}, found {_describe(raw)}", path)
    elif isinstance(raw, str):
        text = raw.strip()
        if "," in text:
            # Only thousands separators are accepted: "1.234,56" (Spanish
            # style) silently read as 1.23456 would be a wrong number.
            if not _GROUPED.fullmatch(text):
                raise Invalid(
                    "PL305",
                    f"expected {what} with '.' for decimals (e.g. 1234567.89), "
                    f"found {_describe(raw)}",
                    path,
                )
            text = text.replace(",", "")
    else:
        text = repr(raw)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise Invalid("PL305", f"expected {what}, found {_describe(raw)}", path) from None
    if not number.is_finite():
        raise Invalid("PL305", f"expected a finite {what}, found {_describe(raw)}", path)
    return number


def _bounds(value: Any, low: Any, high: Any, path: Path) -> None:
    if low is not None and value < low:
        raise Invalid("PL305", f"{value} is below the minimum {low}", path)
    if high is not None and value > high:
        raise Invalid("PL305", f"{value} is above the maximum {high}", path)


def _scalar(question: ScalarQuestionType, raw: Any, path: Path, currency: str) -> Any:
    return _handler(question.__class__)(question, raw, path, currency)


@functools.cache
def _handler(cls: type) -> Checker:
    """The function checking answers to questions of class ``cls``.

    Picked once per class (``isinstance`` on a pydantic model class is slow,
    and a hundred answers per file are checked).
    """
    if issubclass(cls, GroupQuestion):
        return _group
    handlers: list[tuple[Any, Checker]] = [
        (YesNoQuestion, _yes_no),
        (SingleChoiceQuestion, _single_choice),
        (MultipleChoiceQuestion, _multiple_choice),
        (IntegerQuestion, _integer),
        (DecimalQuestion | PercentQuestion, _decimal),
        (MoneyQuestion, _money),
        (DateQuestion, _date),
        (TextQuestion, _text),
    ]
    for kind, handler in handlers:
        if issubclass(cls, kind):
            return handler
    return _unhandled


def _unhandled(question: Any, raw: Any, path: Path, currency: str) -> Any:
    raise AssertionError(f"unhandled question type {question!r}")  # pragma: no cover


def _yes_no(question: YesNoQuestion, raw: Any, path: Path, currency: str) -> bool:
    if raw.__class__ is bool:  # bool has no subclasses
        return raw is True
    if isinstance(raw, str) and raw.strip().lower() in _YES_OR_NO:
        return raw.strip().lower() in _YES
    raise Invalid("PL305", f"expected yes or no (true/false), found {_describe(raw)}", path)


def _single_choice(question: SingleChoiceQuestion, raw: Any, path: Path, currency: str) -> str:
    if isinstance(raw, str):
        for choice in question.choices:
            if choice.id == raw:
                return raw
    options = [c.id for c in question.choices]
    raise Invalid(
        "PL304",
        f"{_describe(raw)} is not an option; choose one of: {', '.join(options)}",
        path,
    )


def _multiple_choice(
    question: MultipleChoiceQuestion, raw: Any, path: Path, currency: str
) -> list[str]:
    options = [c.id for c in question.choices]
    items = raw if isinstance(raw, list) else [raw]
    chosen: list[str] = []
    for index, item in enumerate(items):
        item_path = (*path, index) if isinstance(raw, list) else path
        if not isinstance(item, str) or item not in options:
            raise Invalid(
                "PL304",
                f"{_describe(item)} is not an option; choose from: {', '.join(options)}",
                item_path,
            )
        if item in chosen:
            raise Invalid("PL305", f"'{item}' is chosen twice", item_path)
        chosen.append(item)
    if question.min_selected is not None and len(chosen) < question.min_selected:
        raise Invalid("PL305", f"choose at least {question.min_selected} option(s)", path)
    if question.max_selected is not None and len(chosen) > question.max_selected:
        raise Invalid("PL305", f"choose at most {question.max_selected} option(s)", path)
    return chosen


def _integer(question: IntegerQuestion, raw: Any, path: Path, currency: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise Invalid("PL305", f"expected a whole number, found {_describe(raw)}", path)
    _bounds(raw, question.min, question.max, path)
    return raw


def _decimal(
    question: DecimalQuestion | PercentQuestion, raw: Any, path: Path, currency: str
) -> Decimal:
    what = "a percentage (e.g. 12.5)" if _is_percent(question.__class__) else "a number"
    if isinstance(raw, str) and raw.strip().endswith("%"):
        raw = raw.strip()[:-1]
    number = _number(raw, path, what)
    _bounds(number, question.min, question.max, path)
    return number


@functools.cache
def _is_percent(cls: type) -> bool:
    """``issubclass(cls, PercentQuestion)``, once per class (see :func:`_handler`)."""
    return issubclass(cls, PercentQuestion)


def _money(question: MoneyQuestion, raw: Any, path: Path, currency: str) -> Money:
    want = question.currency or currency
    if raw.__class__ not in _BARE and isinstance(raw, Mapping):
        try:
            money = Money.model_validate(
                {"amount": raw.get("amount"), "currency": raw.get("currency")}
                if set(raw) <= {"amount", "currency"}
                else raw
            )
        except ValidationError:
            raise Invalid(
                "PL305",
                "expected an amount, or {amount: 1000.00, currency: "
                f"{want}}}, found {_describe(raw)}",
                path,
            ) from None
        if money.currency != want:
            raise Invalid(
                "PL305", f"currency {money.currency} differs from {want}", (*path, "currency")
            )
    else:
        # What Money(amount=..., currency=...) does, without its Python __init__
        # (money is a third of the answers).
        money = Money.__pydantic_validator__.validate_python(
            {"amount": _number(raw, path, "an amount of money"), "currency": want}
        )
    _bounds(money.amount, question.min, question.max, path)
    return money


def _date(question: DateQuestion, raw: Any, path: Path, currency: str) -> dt.date:
    day = parse_date(raw, path)
    _bounds(day, question.min, question.max, path)
    return day


def _text(question: TextQuestion, raw: Any, path: Path, currency: str) -> str:
    if raw.__class__ is str:
        text = raw
    elif isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise Invalid("PL305", f"expected text, found {_describe(raw)}", path)
    else:
        text = str(raw)
    if question.max_length is not None and len(text) > question.max_length:
        raise Invalid(
            "PL305", f"text is {len(text)} characters; at most {question.max_length}", path
        )
    if question.pattern is not None and not re.fullmatch(question.pattern, text):
        raise Invalid("PL305", f"{_describe(text)} does not match {question.pattern}", path)
    return text


def parse_date(raw: Any, path: Path) -> dt.date:
    """An ISO date (``2026-11-20``), with a clear message for impossible days."""
    if raw.__class__ is not str:
        if isinstance(raw, dt.datetime):
            return raw.date()
        if isinstance(raw, dt.date):
            return raw
    text = raw.strip() if isinstance(raw, str) else None
    if text is None or not _DATE.fullmatch(text):
        raise Invalid("PL305", f"expected a date as YYYY-MM-DD, found {_describe(raw)}", path)
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise Invalid("PL305", f"'{raw}' is not a real date: {exc}", path) from None


def _group(
    question: GroupQuestion,
    raw: Any,
    path: Path,
    currency: str,
    checks: list[tuple[str, ScalarQuestionType, Checker, bool]] | None = None,
    known: frozenset[str] | None = None,
) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise Invalid("PL305", f"expected a list of items, found {_describe(raw)}", path)
    if len(raw) < question.min_items:
        raise Invalid("PL303", f"at least {question.min_items} item(s) required", path)
    if question.max_items is not None and len(raw) > question.max_items:
        raise Invalid("PL305", f"at most {question.max_items} item(s) allowed", path)
    if checks is None:
        checks = _field_checks(question)
    if known is None:
        known = frozenset(f.id for f in question.fields)
    items: list[dict[str, Any]] = []
    for index, entry in enumerate(raw):
        item_path = (*path, index)
        if entry.__class__ is not dict and not isinstance(entry, Mapping):
            raise Invalid(
                "PL305", f"expected a mapping of fields, found {_describe(entry)}", item_path
            )
        if not entry.keys() <= known:
            _unknown_field(question, entry, known, item_path)
        item: dict[str, Any] = {}
        for fid, field_q, check, required in checks:
            value = entry.get(fid)
            if value is None:
                if required:
                    raise Invalid(
                        "PL303", f"{question.id} item {index + 1}: '{fid}' is required", item_path
                    )
                item[fid] = None
                continue
            try:
                # The field's own path is only read when the value is refused:
                # it is built then (a check gives the same result for any path).
                item[fid] = check(field_q, value, item_path, currency)
            except Invalid:
                _refuse_field(check, field_q, value, (*item_path, fid), currency, index, fid)
        items.append(item)
    return items


def _refuse_field(
    check: Checker,
    field_q: ScalarQuestionType,
    value: Any,
    field_path: Path,
    currency: str,
    index: int,
    fid: str,
) -> None:
    """Raise what ``check`` refuses ``value`` with, at ``field_path`` and naming the item."""
    try:
        check(field_q, value, field_path, currency)
    except Invalid as exc:
        raise Invalid(exc.code, f"item {index + 1}, '{fid}': {exc.message}", exc.path) from None
    raise AssertionError(f"{fid}: a check refused a value once only")  # pragma: no cover


def _unknown_field(
    question: GroupQuestion, entry: Mapping[Any, Any], known: frozenset[str], item_path: Path
) -> None:
    """Raise the problem of the first key of ``entry`` that is not a field of ``question``."""
    for key in entry:
        if key not in known:
            fields = ", ".join({f.id: f for f in question.fields})
            raise Invalid(
                "PL302",
                f"unknown field '{key}' in {question.id}; fields are: {fields}",
                (*item_path, str(key)),
            )
