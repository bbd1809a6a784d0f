"""Expressions name only questions, computed values and known fields.

An expression may read question and computed value ids, ``loan.*``,
``inspection.*``, ``threshold.<id>``, the functions ``days_between``,
``latest``, ``previous`` and ``pct_change``, and ``item.<field>`` in a
group's computed values and in rules with ``for_each`` (which must name a
repeating group). A misspelt name would otherwise read as "unanswered"
and the rule would silently never fire.

Fails:

    when: "funds_as_contractd == false"

Passes:

    when: "funds_as_contracted == false"
"""

from __future__ import annotations

from collections.abc import Iterator

from postloan_cli.compiled import INSPECTION_FIELDS, LOAN_FIELDS
from postloan_cli.expressions import CONTEXT_NAMES, Expression, check_names, names_used
from postloan_cli.linting.model import ChecklistFile, Finding
from postloan_cli.models import GroupQuestion

CODE = "CL104"
NAME = "unknown-name"
LEVEL = "error"
SCOPE = "checklist"


def check(ctx: ChecklistFile) -> Iterator[Finding]:
    top = set(ctx.questions) | set(ctx.computed_ids) | CONTEXT_NAMES
    base: dict[str, frozenset[str]] = {
        "loan": LOAN_FIELDS,
        "inspection": INSPECTION_FIELDS,
        "threshold": frozenset(ctx.thresholds),
    }
    for s_index, section in enumerate(ctx.checklist.sections):
        for r_index, rule in enumerate(section.rules):
            if rule.for_each is None:
                continue
            target = ctx.questions.get(rule.for_each)
            if target is None or not isinstance(target.question, GroupQuestion):
                yield Finding(
                    f"for_each names '{rule.for_each}', which is not a repeating group question",
                    ("sections", s_index, "rules", r_index, "for_each"),
                )
    for site in ctx.expressions:
        if site.tree is None:
            continue
        if site.kind == "rule" and site.item_fields is None and _has_for_each(ctx, site.path):
            continue  # reported above
        names, attrs = names_used(site.tree)
        expr = Expression(site.source, names, attrs)
        known = set(top)
        attributes = dict(base)
        if site.item_fields is not None:
            known.add("item")
            attributes["item"] = site.item_fields
        for message in check_names(expr, known, attributes):
            yield Finding(f"{message} in expression: {site.source}", site.path)


def _has_for_each(ctx: ChecklistFile, path: tuple[str | int, ...]) -> bool:
    _, s_index, _, r_index, _ = path
    assert isinstance(s_index, int) and isinstance(r_index, int)
    return ctx.checklist.sections[s_index].rules[r_index].for_each is not None
