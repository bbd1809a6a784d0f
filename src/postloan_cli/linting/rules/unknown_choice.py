"""A choice question is compared only with its own choice ids (and loan.type with loan types).

``sector == 'retial'`` is never true when ``sector``'s choices are
``retail`` and ``wholesale``: the condition silently never holds. The same
goes for ``'x' in multiple_choice_question`` and for ``loan.type`` against
the checklist's ``loan_types``.

Fails:

    questions:
      - id: repayment_source
        type: single_choice
        prompt: Main repayment source
        choices: [{id: sales, label: Sales}, {id: refinancing, label: Refinancing}]
    rules:
      - {id: refi, when: "repayment_source == 'refinance'", severity: watch, signal: Refinancing}

Passes:

    rules:
      - {id: refi, when: "repayment_source == 'refinancing'", severity: watch, signal: Refinancing}
"""

from __future__ import annotations

from collections.abc import Iterator

from jinja2 import nodes

from postloan_cli.linting.model import ChecklistFile, Finding, compares
from postloan_cli.models import MultipleChoiceQuestion, SingleChoiceQuestion

CODE = "CL105"
NAME = "unknown-choice"
LEVEL = "error"
SCOPE = "checklist"


def _consts(node: nodes.Expr) -> list[str]:
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, nodes.List | nodes.Tuple):
        return [
            i.value for i in node.items if isinstance(i, nodes.Const) and isinstance(i.value, str)
        ]
    return []


def _is_loan_type(node: nodes.Expr) -> bool:
    return (
        isinstance(node, nodes.Getattr)
        and isinstance(node.node, nodes.Name)
        and node.node.name == "loan"
        and node.attr == "type"
    )


def check(ctx: ChecklistFile) -> Iterator[Finding]:
    loan_types = [t.id for t in ctx.checklist.loan_types]
    for site in ctx.expressions:
        if site.tree is None:
            continue
        reported: set[tuple[str, str]] = set()
        for left, op, right in compares(site.tree):
            pairs: list[tuple[nodes.Expr, list[str]]] = []
            if op in ("eq", "ne"):
                pairs = [(left, _consts(right)), (right, _consts(left))]
            elif op in ("in", "notin"):
                pairs = [(right, _consts(left)), (left, _consts(right))]
            for subject, values in pairs:
                if not values:
                    continue
                if _is_loan_type(subject):
                    owner, allowed, what = "loan.type", loan_types, "loan type"
                else:
                    question = ctx.question_of(subject, site)
                    if not isinstance(question, SingleChoiceQuestion | MultipleChoiceQuestion):
                        continue
                    owner, allowed, what = question.id, [c.id for c in question.choices], "choice"
                for value in values:
                    if value not in allowed and (owner, value) not in reported:
                        reported.add((owner, value))
                        yield Finding(
                            f"'{value}' is not a {what} of '{owner}' "
                            f"({', '.join(allowed)}) in expression: {site.source}",
                            site.path,
                        )
