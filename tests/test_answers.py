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
