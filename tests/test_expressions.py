"""The expression language: sandboxed, names checked, missing data never fires."""

from __future__ import annotations

import datetime as dt

import pytest

from postloan_cli.expressions import ExpressionError, check_names, compile_expression


@pytest.mark.parametrize(
    "source",
    [
        "().__class__.__mro__",
        "loan.__class__",
        "loan['__class__']",
        "''.__class__.__base__.__subclasses__()",
        "__builtins__",
    ],
)
def test_python_internals_are_refused(source: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(source)
    assert info.value.code == "PL203"


def test_sandbox_refuses_at_run_time_too() -> None:
    expr = compile_expression("x.mro()")
    with pytest.raises(ExpressionError) as info:
        expr.evaluate({"x": int})
    assert info.value.code == "PL203"


@pytest.mark.parametrize("source", ["a >", "a b", "{{ a }}", "a }} {{ b", "(", "{% if a %}"])
def test_malformed(source: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(source)
    assert info.value.code == "PL201"


def test_names_and_attributes() -> None:
    expr = compile_expression("loan.days_past_due > threshold.limit and item.ratio < x")
    assert expr.names == {"loan", "threshold", "item", "x"}
    assert expr.attributes["loan"] == {"days_past_due"}
    assert check_names(
        expr, {"loan", "threshold", "item"}, {"loan": {"days_past_due"}, "threshold": set()}
    ) == [
        "unknown name 'x'",
        "'threshold' has no field 'limit'",
    ]


def test_missing_inputs_never_fire() -> None:
    expr = compile_expression("ratio < 1")
    assert expr.evaluate({"ratio": None}) is None
    assert expr.test({"ratio": None}) is False
    assert expr.test({"ratio": 0.5}) is True
    assert compile_expression("a / b").evaluate({"a": 1, "b": 0}) is None


def test_functions() -> None:
    ns = {
        "d": dt.date(2026, 12, 10),
        "today": dt.date(2026, 11, 20),
        "items": [{"p": dt.date(2026, 3, 31), "v": 1}, {"p": dt.date(2026, 6, 30), "v": 2}],
    }
    assert compile_expression("days_between(today, d)").evaluate(ns) == 20
    assert compile_expression("latest(items, 'p').v").evaluate(ns) == 2
    assert compile_expression("previous(items, 'p').v").evaluate(ns) == 1
    assert compile_expression("pct_change(150, 200)").evaluate(ns) == -25.0
