"""A checklist made ready to use: ids indexed, expressions compiled and checked.

Loading a checklist validates its structure (:mod:`postloan_cli.models`);
compiling it resolves every name its expressions use, so that a typo in a
rule is reported when the checklist loads, not when a loan happens to hit
it. The result is immutable and cached per process (batch workers compile
each checklist version once).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from postloan_cli.answers import Checker, checker
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
    Classification,
    Computed,
    GroupQuestion,
    Loan,
    MoneyQuestion,
    Rule,
    ScalarQuestionType,
    Section,
    Text,
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

#: How reports show the ``loan`` fields a rule reads (fields not listed are not evidence).
LOAN_FORMATS = {
    "days_past_due": "integer",
    "amount": "money",
    "outstanding": "money",
    "matures_on": "date",
    "disbursed_on": "date",
    "type": "text",
    "purpose": "text",
}

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
class EvidenceSource:
    """One fact a rule's signal shows as evidence, all but the answer-dependent value.

    ``kind`` is ``answer`` (a question), ``computed`` (a section-level value),
    ``loan`` (a loan field), ``field`` (a field or computed value of the item a
    per-item rule fired for) or ``threshold``.
    """

    kind: str
    id: str
    label: Text
    #: How to show the value: a question type or a computed/threshold format.
    format: str
    #: For ``field``: the group field answered (``None`` for an item's computed value).
    question: AnyQuestion | ScalarQuestionType | None = None
    #: For ``threshold``: its value (thresholds are data of the checklist).
    value: Any = None


@dataclass(frozen=True)
class QuestionStep:
    """What evaluating one question needs that does not depend on the answers."""

    ref: QuestionRef
    id: str
    question: AnyQuestion
    #: The question's condition (``None``: always asked).
    condition: Expression | None
    #: Checks and types an answer: :func:`postloan_cli.answers.coerce` for this question.
    check: Checker
    #: Whether it is a repeating group.
    group: bool


@dataclass(frozen=True)
class RulePlan:
    """What evaluating one rule needs that does not depend on the answers."""

    compiled: CompiledRule
    #: The classification a signal of this rule implies.
    floor: Classification
    #: The group a per-item rule runs over (``None``: once per inspection).
    group: GroupQuestion | None
    #: Days to add to the inspection date for the signal's due date.
    within: dt.timedelta | None
    #: The signal's evidence, in report order.
    evidence: tuple[EvidenceSource, ...]


def format_of(question: AnyQuestion | ScalarQuestionType) -> str:
    """How reports show an answer to ``question`` (its type; ``money`` for money)."""
    if isinstance(question, MoneyQuestion):
        return "money"
    return question.type


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
        return self._sections.get(section_id)

    @functools.cached_property
    def _sections(self) -> dict[str, Section]:
        # The first section of an id wins, as a search in file order would find it.
        found: dict[str, Section] = {}
        for section in self.checklist.sections:
            found.setdefault(section.id, section)
        return found

    def iter_questions(self) -> Iterator[QuestionRef]:
        """Questions in interview order."""
        return iter(self.ordered_questions)

    # What evaluating an answer file needs, worked out once per checklist (on first
    # use, so commands that never evaluate do not pay for it).

    @functools.cached_property
    def ordered_questions(self) -> tuple[QuestionRef, ...]:
        """Questions in interview order."""
        return tuple(sorted(self.questions.values(), key=lambda q: q.order))

    @functools.cached_property
    def question_steps(self) -> tuple[QuestionStep, ...]:
        """One step per question, in interview order."""
        return tuple(
            QuestionStep(
                ref=ref,
                id=ref.question.id,
                question=ref.question,
                condition=self.conditions.get(ref.question.id),
                check=checker(ref.question),
                group=isinstance(ref.question, GroupQuestion),
            )
            for ref in self.ordered_questions
        )

    @functools.cached_property
    def loan_type_ids(self) -> frozenset[str]:
        """The loan types the checklist defines."""
        return frozenset(t.id for t in self.checklist.loan_types)

    @functools.cached_property
    def rule_plans(self) -> tuple[RulePlan, ...]:
        """One plan per compiled rule, in :attr:`rules` order."""
        return tuple(_rule_plan(self, rule) for rule in self.rules)


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


def _rule_plan(checklist: CompiledChecklist, compiled: CompiledRule) -> RulePlan:
    """The evidence of a rule's signals: what it reads, in the order reports list it.

    The answers and section-level computed values it names (sorted; a computed
    value is followed by what it reads, recursively, each fact once), then the
    ``loan`` fields, the fields of the item (per-item rules), the thresholds.
    """
    rule = compiled.rule
    expr = compiled.when
    found: list[EvidenceSource] = []
    seen: set[str] = set()
    computed_defs = {c.computed.id: c for c in checklist.computed}

    def add_name(name: str) -> None:
        if name in checklist.questions:
            if name not in seen:
                seen.add(name)
                question = checklist.questions[name].question
                found.append(EvidenceSource("answer", name, question.prompt, format_of(question)))
        elif name in computed_defs and name not in seen:
            seen.add(name)
            comp = computed_defs[name]
            found.append(
                EvidenceSource("computed", name, comp.computed.label, comp.computed.format)
            )
            # sorted: a set's order changes between processes, and reports must not
            for inner in sorted(comp.expr.names):
                add_name(inner)

    for name in sorted(expr.names):
        add_name(name)
    for attr in sorted(expr.attributes.get("loan", ())):
        if attr in LOAN_FORMATS:
            found.append(EvidenceSource("loan", attr, attr, LOAN_FORMATS[attr]))
    group: GroupQuestion | None = None
    if rule.for_each is not None:
        question = checklist.questions[rule.for_each].question
        assert isinstance(question, GroupQuestion)
        group = question
        fields = {f.id: f for f in group.fields}
        comps = {c.id: c for c in group.computed}
        for attr in sorted(expr.attributes.get("item", ())):
            if attr in fields:
                found.append(
                    EvidenceSource(
                        "field",
                        attr,
                        fields[attr].prompt,
                        format_of(fields[attr]),
                        question=fields[attr],
                    )
                )
            elif attr in comps:
                found.append(EvidenceSource("field", attr, comps[attr].label, comps[attr].format))
    for attr in sorted(expr.attributes.get("threshold", ())):
        for threshold in checklist.checklist.thresholds:
            if threshold.id == attr:
                found.append(
                    EvidenceSource(
                        "threshold", attr, threshold.label, threshold.type, value=threshold.value
                    )
                )
    return RulePlan(
        compiled=compiled,
        floor=rule.classification or checklist.checklist.classification.floor(rule.severity),
        group=group,
        within=None if rule.within_days is None else dt.timedelta(days=rule.within_days),
        evidence=tuple(found),
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
