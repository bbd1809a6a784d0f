"""A checklist made ready to use: ids indexed, expressions compiled and checked.

Loading a checklist validates its structure (:mod:`postloan_cli.models`);
compiling it resolves every name its expressions use, so that a typo in a
rule is reported when the checklist loads, not when a loan happens to hit
it. The result is immutable and cached per process (batch workers compile
each checklist version once).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from postloan_cli.errors import InputError, Problem
from postloan_cli.expressions import (
    CONTEXT_NAMES,
    Expression,
    ExpressionError,
    check_names,
    compile_expression,
    save_compiled,
)
from postloan_cli.models import (
    AnyQuestion,
    Checklist,
    Computed,
    GroupQuestion,
    Loan,
    Rule,
    Section,
)

#: Fields of ``loan`` and ``inspection`` as expressions see them.
LOAN_FIELDS = frozenset(
    {
        "id",
        "type",
        "borrower",
        "amount",
        "outstanding",
        "currency",
        "disbursed_on",
        "matures_on",
        "purpose",
        "days_past_due",
        "bank",
        "branch",
    }
)
INSPECTION_FIELDS = frozenset({"date", "kind", "reason", "previous", "officer"})

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class QuestionRef:
    """Where a question lives and its position in the interview order."""

    question: AnyQuestion
    section: Section
    order: int
    #: Path of the question in the checklist file (for lint positions).
    path: Path


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    section: Section
    when: Expression
    path: Path


@dataclass(frozen=True)
class CompiledComputed:
    computed: Computed
    section: Section
    expr: Expression
    path: Path
    #: The group this value is computed per item of (``None``: once per inspection).
    group: GroupQuestion | None = None


@dataclass(frozen=True)
class CompiledChecklist:
    """A checklist with its ids indexed and its expressions compiled."""

    checklist: Checklist
    questions: dict[str, QuestionRef]
    conditions: dict[str, Expression]
    computed: list[CompiledComputed]
    group_computed: dict[str, list[CompiledComputed]]
    rules: list[CompiledRule]
    thresholds: dict[str, float]
    problems: list[Problem] = field(default_factory=list)
    #: Question ids each section-level computed value reads, through other computed values.
    computed_inputs: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.checklist.id

    @property
    def version(self) -> str:
        return self.checklist.version

    def section(self, section_id: str) -> Section | None:
        for section in self.checklist.sections:
            if section.id == section_id:
                return section
        return None

    def iter_questions(self) -> Iterator[QuestionRef]:
        """Questions in interview order."""
        return iter(sorted(self.questions.values(), key=lambda q: q.order))


def compile_checklist(checklist: Checklist, file: str | None = None) -> CompiledChecklist:
    """Index ``checklist`` and compile its expressions.

    Raises :class:`InputError` listing every duplicate id and every
    expression that does not parse, names something undefined, or reaches
    for Python internals.
    """
    problems: list[Problem] = []
    questions: dict[str, QuestionRef] = {}
    seen_sections: set[str] = set()
    order = 0
    for s_index, section in enumerate(checklist.sections):
        if section.id in seen_sections:
            problems.append(
                Problem(
                    "PL204",
                    f"section id '{section.id}' is used twice",
                    file,
                    path=("sections", s_index, "id"),
                )
            )
        seen_sections.add(section.id)
        for q_index, question in enumerate(section.questions):
            path: Path = ("sections", s_index, "questions", q_index)
            if question.id in questions:
                problems.append(
                    Problem(
                        "PL204",
                        f"question id '{question.id}' is used twice",
                        file,
                        path=(*path, "id"),
                    )
                )
                continue
            questions[question.id] = QuestionRef(question, section, order, path)
            order += 1

    computed_ids: dict[str, Path] = {}
    for s_index, section in enumerate(checklist.sections):
        for c_index, comp in enumerate(section.computed):
            if comp.id in questions or comp.id in computed_ids:
                problems.append(
                    Problem(
                        "PL204",
                        f"computed value id '{comp.id}' is already used",
                        file,
                        path=("sections", s_index, "computed", c_index, "id"),
                    )
                )
            computed_ids[comp.id] = ("sections", s_index, "computed", c_index)

    thresholds = {t.id: float(t.value) for t in checklist.thresholds}
    top_names = set(questions) | set(computed_ids) | CONTEXT_NAMES
    base_attrs: dict[str, frozenset[str]] = {
        "loan": LOAN_FIELDS,
        "inspection": INSPECTION_FIELDS,
        "threshold": frozenset(thresholds),
    }

    def build(source: str, path: Path, item_fields: frozenset[str] | None) -> Expression | None:
        try:
            expr = compile_expression(source)
        except ExpressionError as exc:
            problems.append(Problem(exc.code, f"{exc.message}: {source}", file, path=path))
            return None
        names = top_names | ({"item"} if item_fields is not None else set())
        attrs = dict(base_attrs)
        if item_fields is not None:
            attrs["item"] = item_fields
        for message in check_names(expr, names, attrs):
            problems.append(Problem("PL202", f"{message} in expression: {source}", file, path=path))
        return expr

    conditions: dict[str, Expression] = {}
    for qid, ref in questions.items():
        if ref.question.when:
            expr = build(ref.question.when, (*ref.path, "when"), None)
            if expr is not None:
                conditions[qid] = expr

    group_computed: dict[str, list[CompiledComputed]] = {}
    for qid, ref in questions.items():
        question = ref.question
        if isinstance(question, GroupQuestion):
            for f_index, group_field in enumerate(question.fields):
                if group_field.when:
                    # Per-field conditions inside a record are not evaluated;
                    # refusing them beats silently asking every field.
                    problems.append(
                        Problem(
                            "PL202",
                            f"field '{group_field.id}' of group '{qid}' has a condition; "
                            "fields of a repeating group cannot be conditional "
                            "(make it optional with required: false)",
                            file,
                            path=(*ref.path, "fields", f_index, "when"),
                        )
                    )
            fields = _item_fields(question)
            compiled: list[CompiledComputed] = []
            for c_index, comp in enumerate(question.computed):
                cpath: Path = (*ref.path, "computed", c_index, "expr")
                expr = build(comp.expr, cpath, fields)
                if expr is not None:
                    compiled.append(CompiledComputed(comp, ref.section, expr, cpath, question))
            group_computed[qid] = compiled

    computed: list[CompiledComputed] = []
    for s_index, section in enumerate(checklist.sections):
        for c_index, comp in enumerate(section.computed):
            cpath = ("sections", s_index, "computed", c_index, "expr")
            expr = build(comp.expr, cpath, None)
            if expr is not None:
                computed.append(CompiledComputed(comp, section, expr, cpath))
    computed = _order_computed(computed, problems, file)

    rules: list[CompiledRule] = []
    rule_ids: set[str] = set()
    for s_index, section in enumerate(checklist.sections):
        for r_index, rule in enumerate(section.rules):
            rpath: Path = ("sections", s_index, "rules", r_index)
            if rule.id in rule_ids:
                problems.append(
                    Problem(
                        "PL204", f"rule id '{rule.id}' is used twice", file, path=(*rpath, "id")
                    )
                )
            rule_ids.add(rule.id)
            item_fields: frozenset[str] | None = None
            if rule.for_each is not None:
                target = questions.get(rule.for_each)
                if target is None or not isinstance(target.question, GroupQuestion):
                    problems.append(
                        Problem(
                            "PL202",
                            f"for_each names '{rule.for_each}', which is not a repeating group",
                            file,
                            path=(*rpath, "for_each"),
                        )
                    )
                    continue
                item_fields = _item_fields(target.question)
            expr = build(rule.when, (*rpath, "when"), item_fields)
            if expr is not None:
                rules.append(CompiledRule(rule, section, expr, (*rpath, "when")))

    save_compiled()
    if any(p.level == "error" for p in problems):
        raise InputError(problems)
    return CompiledChecklist(
        computed_inputs=_computed_inputs(computed, questions),
        checklist=checklist,
        questions=questions,
        conditions=conditions,
        computed=computed,
        group_computed=group_computed,
        rules=rules,
        thresholds=thresholds,
        problems=problems,
    )


def _computed_inputs(
    computed: list[CompiledComputed], questions: dict[str, QuestionRef]
) -> dict[str, frozenset[str]]:
    # ``computed`` is in dependency order, so inner values are resolved first.
    inputs: dict[str, frozenset[str]] = {}
    for comp in computed:
        found: set[str] = set()
        for name in comp.expr.names:
            if name in questions:
                found.add(name)
            found.update(inputs.get(name, ()))
        inputs[comp.computed.id] = frozenset(found)
    return inputs


def _item_fields(group: GroupQuestion) -> frozenset[str]:
    return frozenset([f.id for f in group.fields] + [c.id for c in group.computed])


def _order_computed(
    computed: list[CompiledComputed], problems: list[Problem], file: str | None
) -> list[CompiledComputed]:
    """Order computed values so each comes after the values it reads; refuse cycles."""
    by_id = {c.computed.id: c for c in computed}
    done: list[CompiledComputed] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(cid: str, chain: tuple[str, ...]) -> None:
        if state.get(cid) == 2:
            return
        item = by_id[cid]
        if state.get(cid) == 1:
            problems.append(
                Problem(
                    "PL202",
                    "computed values depend on each other in a cycle: "
                    + " -> ".join((*chain, cid)),
                    file,
                    path=item.path,
                )
            )
            return
        state[cid] = 1
        for name in sorted(item.expr.names):
            if name in by_id:
                visit(name, (*chain, cid))
        state[cid] = 2
        done.append(item)

    for cid in by_id:
        visit(cid, ())
    return done


def loan_namespace(loan: Loan) -> dict[str, Any]:
    """``loan`` as expressions see it: money as numbers, one currency field."""
    return {
        "id": loan.id,
        "type": loan.type,
        "borrower": loan.borrower.name,
        "amount": float(loan.amount.amount),
        "outstanding": float(loan.outstanding.amount),
        "currency": loan.amount.currency,
        "disbursed_on": loan.disbursed_on,
        "matures_on": loan.matures_on,
        "purpose": loan.purpose,
        "days_past_due": loan.days_past_due,
        "bank": loan.bank,
        "branch": loan.branch,
    }
