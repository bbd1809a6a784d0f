"""Nothing depends on itself or on a value that is not known yet.

Questions are asked in checklist order, so a question's ``when`` may only
read questions asked *before* it: a condition on a later question (or on
the question itself) reads an unanswered value and is never true.
Computed values are worked out after all questions, so a ``when`` cannot
read them. Computed values may read each other, but not in a cycle; a
group's computed values are worked out in list order per item.

Fails:

    questions:
      - id: receipts_seen
        type: yes_no
        prompt: Receipts seen?
        when: "funds_as_contracted == true"
      - {id: funds_as_contracted, type: yes_no, prompt: Funds used as contracted?}

Passes:

    questions:
      - {id: funds_as_contracted, type: yes_no, prompt: Funds used as contracted?}
      - id: receipts_seen
        type: yes_no
        prompt: Receipts seen?
        when: "funds_as_contracted == true"
"""

from __future__ import annotations

from collections.abc import Iterator

from postloan_cli.expressions import names_used
from postloan_cli.linting.model import ChecklistFile, ExprSite, Finding

CODE = "CL107"
NAME = "evaluation-order"
LEVEL = "error"
SCOPE = "checklist"


def check(ctx: ChecklistFile) -> Iterator[Finding]:
    computed: dict[str, ExprSite] = {}
    for site in ctx.expressions:
        if site.kind == "computed" and site.tree is not None:
            computed.setdefault(str(_computed_id(ctx, site)), site)
    for site in ctx.expressions:
        if site.tree is None:
            continue
        if site.kind == "question_when" and site.question is not None:
            own = site.question
            for name in sorted(site.names):
                ref = ctx.questions.get(name)
                if ref is not None and ref.question.id == own.question.id:
                    yield Finding(
                        f"the condition of '{name}' depends on '{name}' itself: {site.source}",
                        site.path,
                    )
                elif ref is not None and ref.order > own.order:
                    yield Finding(
                        f"the condition of '{own.question.id}' reads '{name}', which is asked "
                        f"later: move '{name}' before it: {site.source}",
                        site.path,
                    )
                elif name in ctx.computed_ids and ref is None:
                    yield Finding(
                        f"the condition of '{own.question.id}' reads computed value '{name}', "
                        f"which is computed after all questions are asked: {site.source}",
                        site.path,
                    )
        elif site.kind == "group_computed" and site.group is not None:
            later = {c.id: i for i, c in enumerate(site.group.computed)}
            used = names_used(site.tree)[1].get("item", frozenset())
            for attr in sorted(used):
                index = later.get(attr)
                if index is not None and index >= site.index:
                    what = "itself" if index == site.index else f"'{attr}', computed later"
                    yield Finding(
                        f"computed value '{site.group.computed[site.index].id}' of group "
                        f"'{site.group.id}' reads {what}: {site.source}",
                        site.path,
                    )
    yield from _cycles(computed)


def _computed_id(ctx: ChecklistFile, site: ExprSite) -> str:
    _, s_index, _, c_index, _ = site.path
    assert isinstance(s_index, int) and isinstance(c_index, int)
    return ctx.checklist.sections[s_index].computed[c_index].id


def _cycles(computed: dict[str, ExprSite]) -> Iterator[Finding]:
    state: dict[str, int] = {}
    found: list[Finding] = []

    def visit(cid: str, chain: tuple[str, ...]) -> None:
        if state.get(cid) == 2:
            return
        if state.get(cid) == 1:
            cycle = (*chain[chain.index(cid) :], cid)
            site = computed[cid]
            found.append(
                Finding(
                    "computed values depend on each other in a cycle: " + " -> ".join(cycle),
                    site.path,
                )
            )
            return
        state[cid] = 1
        for name in sorted(computed[cid].names):
            if name in computed:
                visit(name, (*chain, cid))
        state[cid] = 2

    for cid in computed:
        visit(cid, ())
    yield from found
