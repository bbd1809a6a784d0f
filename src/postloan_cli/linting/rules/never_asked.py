"""Every question can be asked: its condition is not always false.

A ``when`` that is false whatever the answers (``false``, ``1 > 2``), or
that requires an answer to a question that itself can never be asked,
hides the question from every inspection: it is dead policy.

Fails:

    questions:
      - {id: site_visit_done, type: yes_no, prompt: Site visited?, when: "false"}

Passes:

    questions:
      - id: site_visit_done
        type: yes_no
        prompt: Site visited?
        when: "loan.type == 'fixed_asset'"
"""

from __future__ import annotations

from collections.abc import Iterator

from jinja2 import nodes

from postloan_cli.linting.model import ChecklistFile, Finding

CODE = "CL108"
NAME = "never-asked"
LEVEL = "error"
SCOPE = "checklist"


def _conjuncts(node: nodes.Expr) -> Iterator[nodes.Expr]:
    if isinstance(node, nodes.And):
        yield from _conjuncts(node.left)
        yield from _conjuncts(node.right)
    else:
        yield node


def _requires(node: nodes.Expr) -> set[str]:
    """Question names that must have an answer for ``node`` to be true."""
    if isinstance(node, nodes.Name):
        return {node.name}
    if isinstance(node, nodes.Compare) and len(node.ops) == 1:
        left, right = node.expr, node.ops[0].expr
        sides = [(left, right), (right, left)]
        found: set[str] = set()
        for subject, other in sides:
            if (
                isinstance(subject, nodes.Name)
                and not (isinstance(other, nodes.Const) and other.value is None)
                and node.ops[0].op not in ("ne", "notin")
            ):
                found.add(subject.name)
        return found
    return set()


def _always_false(source: str) -> bool:
    from postloan_cli.expressions import ExpressionError, compile_expression

    try:
        expr = compile_expression(source)
    except ExpressionError:
        return False
    try:
        return not expr.test({})
    except ExpressionError:
        return False


def check(ctx: ChecklistFile) -> Iterator[Finding]:
    never: set[str] = set()
    for site in ctx.expressions:
        if site.kind != "question_when" or site.tree is None or site.question is None:
            continue
        qid = site.question.question.id
        if not site.names and _always_false(site.source):
            never.add(qid)
            yield Finding(
                f"'{qid}' can never be asked: its condition is always false: {site.source}",
                site.path,
            )
            continue
        for conjunct in _conjuncts(site.tree):
            blocked = sorted(_requires(conjunct) & never)
            if blocked:
                never.add(qid)
                yield Finding(
                    f"'{qid}' can never be asked: its condition needs an answer to "
                    f"'{blocked[0]}', which is never asked: {site.source}",
                    site.path,
                )
                break
