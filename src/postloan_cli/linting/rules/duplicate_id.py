"""Ids are unique: sections, questions, group fields, choices, computed values, rules.

Answers are keyed by ids, and expressions and reports refer to them: two
things with one id make one of them unreachable. Question and computed
value ids share one name space (expressions read both by name); rule,
section, threshold and loan type ids are unique among their kind; field
ids within their group; choice ids within their question.

Fails:

    questions:
      - {id: funds_as_contracted, type: yes_no, prompt: Funds used as contracted?}
      - {id: funds_as_contracted, type: yes_no, prompt: Receipts seen?}

Passes:

    questions:
      - {id: funds_as_contracted, type: yes_no, prompt: Funds used as contracted?}
      - {id: receipts_seen, type: yes_no, prompt: Receipts seen?}
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from postloan_cli.linting.model import ChecklistFile, DocPath, Finding
from postloan_cli.models import GroupQuestion

CODE = "CL101"
NAME = "duplicate-id"
LEVEL = "error"
SCOPE = "checklist"


def _dups(kind: str, items: Iterable[tuple[str, DocPath]]) -> Iterator[Finding]:
    seen: set[str] = set()
    for item_id, path in items:
        if item_id in seen:
            yield Finding(f"{kind} id '{item_id}' is used twice", (*path, "id"))
        seen.add(item_id)


def check(ctx: ChecklistFile) -> Iterator[Finding]:
    cl = ctx.checklist
    sections = cl.sections
    yield from _dups("loan type", ((t.id, ("loan_types", i)) for i, t in enumerate(cl.loan_types)))
    yield from _dups("threshold", ((t.id, ("thresholds", i)) for i, t in enumerate(cl.thresholds)))
    yield from _dups("section", ((s.id, ("sections", i)) for i, s in enumerate(sections)))
    names: list[tuple[str, DocPath]] = []
    for s_index, section in enumerate(sections):
        for q_index, question in enumerate(section.questions):
            names.append((question.id, ("sections", s_index, "questions", q_index)))
    for s_index, section in enumerate(sections):
        for c_index, comp in enumerate(section.computed):
            names.append((comp.id, ("sections", s_index, "computed", c_index)))
    yield from _dups("question or computed value", names)
    for site in ctx.all_questions:
        question = site.question
        choices = getattr(question, "choices", None) or []
        yield from _dups(
            f"choice of '{question.id}': choice",
            ((c.id, (*site.path, "choices", i)) for i, c in enumerate(choices)),
        )
        if isinstance(question, GroupQuestion):
            members = [(f.id, (*site.path, "fields", i)) for i, f in enumerate(question.fields)]
            members += [
                (c.id, (*site.path, "computed", i)) for i, c in enumerate(question.computed)
            ]
            yield from _dups(f"field of group '{question.id}': field", members)
    rules = [
        (rule.id, ("sections", s_index, "rules", r_index))
        for s_index, section in enumerate(sections)
        for r_index, rule in enumerate(section.rules)
    ]
    yield from _dups("rule", rules)
