"""A question is compared with a value of its own type.

``funds_as_contracted == 'no'`` is never true when the question is yes/no
(its answer is ``true`` or ``false``); ``days_overdue > '90'`` compares a
number with text, which yields ``none``, so the rule never fires. Yes/no
answers are booleans; integer, decimal, money and percent answers are
numbers; choice and text answers are strings; a multiple-choice answer is a
list (test membership with ``'x' in question``); a date compares only with
another date (``inspection.date``, a date question). ``none`` is always
allowed.

Fails:

    when: "funds_as_contracted == 'no'"

Passes:

    when: "funds_as_contracted == false"
"""

from __future__ import annotations

from collections.abc import Iterator

from jinja2 import nodes

from postloan_cli.linting.model import ChecklistFile, ExprSite, Finding, compares
from postloan_cli.models import (
    DateQuestion,
    DecimalQuestion,
    GroupQuestion,
    IntegerQuestion,
    MoneyQuestion,
    MultipleChoiceQuestion,
    PercentQuestion,
    SingleChoiceQuestion,
    TextQuestion,
    YesNoQuestion,
)

CODE = "CL106"
NAME = "type-mismatch"
LEVEL = "error"
SCOPE = "checklist"

_ORDERING = {"eq", "ne", "lt", "gt", "lteq", "gteq"}
_NUMERIC_FORMATS = {"number", "integer", "ratio", "percent", "money", "days"}


def _kind_of_const(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    return "a value"


def _expected(ctx: ChecklistFile, node: nodes.Expr, site: ExprSite) -> tuple[str, str] | None:
    """``(subject, expected kind)`` for a question or computed value, else ``None``."""
    question = ctx.question_of(node, site)
    if question is None:
        if isinstance(node, nodes.Name) and node.name in ctx.computed_ids:
            return node.name, "a number"
        return None
    if isinstance(question, YesNoQuestion):
        return question.id, "a boolean"
    if isinstance(question, IntegerQuestion | DecimalQuestion | MoneyQuestion | PercentQuestion):
        return question.id, "a number"
    if isinstance(question, SingleChoiceQuestion | TextQuestion):
        return question.id, "text"
    if isinstance(question, MultipleChoiceQuestion):
        return question.id, "a list of choices"
    if isinstance(question, DateQuestion):
        return question.id, "a date"
    assert isinstance(question, GroupQuestion)
    return question.id, "a list of items"


def check(ctx: ChecklistFile) -> Iterator[Finding]:
    for site in ctx.expressions:
        if site.tree is None:
            continue
        for left, op, right in compares(site.tree):
            if op in _ORDERING:
                candidates = [(left, right), (right, left)]
            elif op in ("in", "notin"):
                candidates = [(right, left)]
            else:
                continue
            for subject, other in candidates:
                if not isinstance(other, nodes.Const) or other.value is None:
                    continue
                expected = _expected(ctx, subject, site)
                if expected is None:
                    continue
                name, kind = expected
                found = _kind_of_const(other.value)
                if op in ("in", "notin"):
                    if kind in ("a list of choices", "text") and found == "text":
                        continue
                    yield Finding(
                        f"'{name}' holds {kind}; {other.value!r} in it is never true "
                        f"in expression: {site.source}",
                        site.path,
                    )
                elif kind != found:
                    hint = (
                        f"; use {other.value!r} in {name}"
                        if kind == "a list of choices" and found == "text"
                        else ""
                    )
                    yield Finding(
                        f"'{name}' holds {kind} but is compared with {found} "
                        f"({other.value!r}){hint} in expression: {site.source}",
                        site.path,
                    )
