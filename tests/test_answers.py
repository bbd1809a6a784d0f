"""Typing answers: what each kind of question makes of a value, and what it refuses."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from postloan_cli.answers import GivenAnswer, Invalid, checker, coerce, split_answer
from postloan_cli.models import (
    DateQuestion,
    DecimalQuestion,
    GroupQuestion,
    Money,
    MoneyQuestion,
    PercentQuestion,
    SingleChoiceQuestion,
    YesNoQuestion,
)

PATH = ("answers", "s", "q")


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (12.5, GivenAnswer(12.5, None, (), PATH, PATH)),
        (
            {"value": "x", "note": "seen", "evidence": ["a", "b"]},
            GivenAnswer("x", "seen", ("a", "b"), PATH, (*PATH, "value")),
        ),
    ],
)
def test_answers_as_written_are_plain_records(entry: Any, expected: GivenAnswer) -> None:
    given, problem = split_answer(entry, PATH)
    assert problem is None and given == expected
    assert repr(given) == repr(expected)
    assert dataclasses.asdict(given) == dataclasses.asdict(expected)  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        given.raw = 1  # type: ignore[misc, union-attr]


@pytest.mark.parametrize("raw", [1500, 1500.5, "1,500.50", " 1500 "])
def test_money_is_the_amount_in_the_loan_currency(raw: Any) -> None:
    question = MoneyQuestion(id="m", type="money", prompt="m")
    money = coerce(question, raw, PATH, "EUR")
    expected = Money(amount=Decimal(str(raw).replace(",", "").strip()), currency="EUR")
    assert money == expected and str(money.amount) == str(expected.amount)
    assert money.model_fields_set == expected.model_fields_set
    fixed = MoneyQuestion(id="m", type="money", prompt="m", currency="USD")
    assert coerce(fixed, raw, PATH, "EUR").currency == "USD"


def test_money_bounds_and_other_currencies_are_refused() -> None:
    question = MoneyQuestion(id="m", type="money", prompt="m", max=Decimal(100))
    with pytest.raises(Invalid) as info:
        coerce(question, 101, PATH, "EUR")
    assert info.value.message == "101 is above the maximum 100"
    with pytest.raises(Invalid) as info:
        coerce(question, {"amount": 5, "currency": "USD"}, PATH, "EUR")
    assert (info.value.message, info.value.path) == (
        "currency USD differs from EUR",
        (*PATH, "currency"),
    )


def test_percentages_and_numbers_say_what_they_expect() -> None:
    class Share(PercentQuestion):
        pass

    for question, what in [
        (PercentQuestion(id="p", type="percent", prompt="p"), "a percentage (e.g. 12.5)"),
        (Share(id="p", type="percent", prompt="p"), "a percentage (e.g. 12.5)"),
        (DecimalQuestion(id="d", type="decimal", prompt="d"), "a number"),
    ]:
        assert coerce(question, " 12.5 %", PATH, "EUR") == Decimal("12.5")
        with pytest.raises(Invalid) as info:
            coerce(question, "lots", PATH, "EUR")
        assert info.value.message == f"expected {what}, found 'lots'"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(True, True), (" Yes ", True), ("否", False), ("N", False), ("maybe", None), (1, None)],
)
def test_yes_no(raw: Any, expected: bool | None) -> None:
    question = YesNoQuestion(id="y", type="yes_no", prompt="y")
    if expected is None:
        with pytest.raises(Invalid):
            coerce(question, raw, PATH, "EUR")
    else:
        assert coerce(question, raw, PATH, "EUR") is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" 2026-02-28 ", dt.date(2026, 2, 28)),
        (dt.datetime(2026, 2, 28, 9, 30), dt.date(2026, 2, 28)),
        ("2026-02-30", "'2026-02-30' is not a real date: day is out of range for month"),
        ("28/02/2026", "expected a date as YYYY-MM-DD, found '28/02/2026'"),
        (20260228, "expected a date as YYYY-MM-DD, found '20260228'"),
    ],
)
def test_dates(raw: Any, expected: Any) -> None:
    question = DateQuestion(id="d", type="date", prompt="d")
    if isinstance(expected, dt.date):
        assert coerce(question, raw, PATH, "EUR") == expected
    else:
        with pytest.raises(Invalid) as info:
            coerce(question, raw, PATH, "EUR")
        assert info.value.message == expected


_GROUP = GroupQuestion.model_validate(
    {
        "id": "g",
        "type": "group",
        "prompt": "g",
        "fields": [
            {"id": "name", "type": "text", "prompt": "n"},
            {"id": "value", "type": "money", "prompt": "v", "required": False},
        ],
    }
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            [{"name": "A", "value": 10}, {"name": "B"}],
            [
                {"name": "A", "value": Money(amount=Decimal(10), currency="EUR")},
                {"name": "B", "value": None},
            ],
        ),
        (
            [{"name": "A"}, {"value": 1, "colour": "red", "size": 2}],
            ("PL302", "unknown field 'colour' in g; fields are: name, value", (*PATH, 1, "colour")),
        ),
        ([{"value": 1}], ("PL303", "g item 1: 'name' is required", (*PATH, 0))),
        (
            [{"name": "A", "value": "ten"}],
            (
                "PL305",
                "item 1, 'value': expected an amount of money, found 'ten'",
                (*PATH, 0, "value"),
            ),
        ),
    ],
)
def test_group_items(raw: Any, expected: Any) -> None:
    for check in (coerce, checker(_GROUP)):
        try:
            outcome: Any = check(_GROUP, raw, PATH, "EUR")
        except Invalid as exc:
            outcome = (exc.code, exc.message, exc.path)
        assert outcome == expected


_RAWS: list[Any] = [
    *(0, 1, -3, 7, 100, 101, 2.5, 99.99, 1e300, -0.0, 10**30, float("inf"), float("nan")),
    *(True, False, None, "", "abc", " 12 ", "1,234.50", "1.234,5", "a", "b", "c", " a"),
    *([], ["a"], {"amount": 5}, {"amount": 5, "currency": "EUR"}, {"amount": 5, "currency": "USD"}),
    *({"amount": "x", "currency": "EUR"}, {"amount": 500, "currency": "EUR"}, dt.date(2026, 1, 1)),
]


def _outcome(check: Any, question: Any, raw: Any) -> Any:
    try:
        value = check(question, raw, PATH, "EUR")
    except Invalid as exc:
        return ("refused", exc.code, exc.message, exc.path)
    if isinstance(value, Money):
        return ("money", str(value.amount), value.currency, sorted(value.model_fields_set))
    return ("value", type(value), value)


@pytest.mark.parametrize(
    "question",
    [
        MoneyQuestion(id="m", type="money", prompt="m"),
        MoneyQuestion(id="m", type="money", prompt="m", min=Decimal(0), max=Decimal("100.5")),
        MoneyQuestion(id="m", type="money", prompt="m", currency="USD", min=Decimal(-1)),
        SingleChoiceQuestion.model_validate(
            {
                "id": "c",
                "type": "single_choice",
                "prompt": "c",
                "choices": [{"id": "a", "label": "A"}, {"id": "b", "label": "B"}],
            }
        ),
    ],
    ids=["money", "money-bounds", "money-usd", "single-choice"],
)
def test_a_questions_own_checker_reads_every_value_as_coerce_does(question: Any) -> None:
    # checker() inlines the common cases for speed; what it makes of a value,
    # or the problem it names, must be what coerce() gives.
    check = checker(question)
    for raw in _RAWS:
        assert _outcome(check, question, raw) == _outcome(coerce, question, raw), raw


def test_a_refused_field_of_a_group_is_named_at_its_own_path() -> None:
    group = GroupQuestion.model_validate(
        {
            "id": "g",
            "type": "group",
            "prompt": "g",
            "fields": [{"id": "value", "type": "money", "prompt": "v", "max": 10}],
        }
    )
    for raw, expected in [
        ([{"value": 5}, {"value": 11}], ("item 2, 'value': 11 is above the maximum 10", 1, ())),
        (
            [{"value": {"amount": 5, "currency": "USD"}}],
            ("item 1, 'value': currency USD differs from EUR", 0, ("currency",)),
        ),
    ]:
        message, index, rest = expected
        for check in (coerce, checker(group)):
            with pytest.raises(Invalid) as info:
                check(group, raw, PATH, "EUR")
            assert (info.value.message, info.value.path) == (
                message,
                (*PATH, index, "value", *rest),
            )
