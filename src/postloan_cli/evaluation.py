"""Evaluating one inspection: answers in, warning signals and classification out.

:func:`evaluate` is pure (no I/O): it checks the answer file against its
compiled checklist, computes derived values, fires warning rules, keeps for
each warning signal the answers that caused it, and derives the suggested
classification and the list of required actions and escalations.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar

from postloan_cli.answers import Checker, GivenAnswer, Invalid, split_answer
from postloan_cli.compiled import CompiledChecklist, Path, RulePlan, loan_namespace
from postloan_cli.errors import Problem
from postloan_cli.expressions import Bindings, ExpressionError, base_namespace, bind
from postloan_cli.models import (
    AnswerFile,
    AnyQuestion,
    Classification,
    GroupQuestion,
    Money,
    ScalarQuestionType,
    Severity,
    Text,
)


@dataclass(frozen=True)
class Evidence:
    """One fact behind a warning signal: an answer, a computed value or a loan field."""

    kind: str  # "answer", "computed", "loan", "threshold", "field"
    id: str
    label: Text
    value: Any
    #: How to show the value: a question type or a computed/threshold format.
    format: str
    note: str | None = None
    references: tuple[str, ...] = ()
    #: The repeating-group item the value belongs to (its label), if any.
    item: str | None = None
    #: The question (or group field) answered, so reports can show choice labels.
    question: AnyQuestion | ScalarQuestionType | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Signal:
    """A warning rule that fired."""

    rule_id: str
    section_id: str
    area: str
    severity: Severity
    text: Text
    action: Text | None
    escalate_to: Text | None
    due: dt.date | None
    classification: Classification
    evidence: tuple[Evidence, ...]
    #: For rules evaluated per item: the item's label (a guarantor's name...).
    item: str | None = None


@dataclass(frozen=True)
class Evaluation:
    """Everything a report needs about one inspection."""

    checklist: CompiledChecklist
    answer_file: AnswerFile
    #: Typed answers by question id (``None``: unanswered or not asked).
    values: dict[str, Any]
    #: The answers as given (note and evidence references) by question id.
    given: dict[str, GivenAnswer]
    #: Whether each question was asked (its condition held).
    asked: dict[str, bool]
    computed: dict[str, Any]
    signals: list[Signal]
    suggested: Classification
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "warning"]

    @property
    def proposed(self) -> Classification | None:
        return self.answer_file.opinion.proposed_classification

    @property
    def proposal_differs(self) -> bool:
        return self.proposed is not None and self.proposed != self.suggested

    def applies(self, computed_id: str) -> bool:
        """Whether a computed value means anything for this loan.

        A value is left out of the report when it is empty because none of
        the questions it reads were asked (a project-funding ratio on a
        working-capital loan), not when the officer left inputs blank.
        """
        if self.computed.get(computed_id) is not None:
            return True
        inputs = self.checklist.computed_inputs.get(computed_id, frozenset())
        return not inputs or any(self.asked.get(q, False) for q in inputs)

    def counts(self) -> dict[str, int]:
        """Number of signals per severity (every severity present, possibly 0)."""
        result = {s.value: 0 for s in Severity}
        for signal in self.signals:
            result[signal.severity.value] += 1
        return result

    @property
    def escalations(self) -> list[Signal]:
        """Signals that must be escalated, earliest due first."""
        return sorted(
            (s for s in self.signals if s.escalate_to is not None),
            key=lambda s: (s.due or dt.date.max, -s.severity.rank),
        )


def evaluate(checklist: CompiledChecklist, answer_file: AnswerFile) -> Evaluation:
    """Validate ``answer_file`` against ``checklist`` and evaluate its rules.

    Problems (errors and warnings) are returned in the evaluation with paths
    into the answer file; the caller places them at line and column.
    """
    plan = _plan_of(checklist)
    problems: list[Problem] = []
    final = answer_file.status == "final"
    loan = answer_file.loan
    currency = loan.amount.currency

    if loan.type not in plan.loan_types:
        problems.append(
            Problem(
                "PL308",
                f"loan type '{loan.type}' is not one the checklist defines: "
                + ", ".join(t.id for t in checklist.checklist.loan_types),
                path=("loan", "type"),
            )
        )
    if loan.outstanding.currency != currency:
        problems.append(
            Problem(
                "PL305",
                f"outstanding balance is in {loan.outstanding.currency} but the loan in {currency}",
                path=("loan", "outstanding", "currency"),
            )
        )
    if loan.matures_on < loan.disbursed_on:
        problems.append(
            Problem("PL305", "maturity date is before disbursement", path=("loan", "matures_on"))
        )
    inspection = answer_file.inspection
    if inspection.kind == "irregular" and not inspection.reason:
        problems.append(
            Problem(
                "PL303",
                "an irregular inspection needs a reason (inspection.reason)",
                path=("inspection",),
            )
        )

    given = _collect_given(checklist, plan, answer_file, problems)

    loan_values = loan_namespace(loan)
    namespace: dict[str, Any] = base_namespace()
    namespace["loan"] = loan_values
    namespace["inspection"] = {
        "date": inspection.date,
        "kind": inspection.kind,
        "reason": inspection.reason,
        "previous": inspection.previous,
        "officer": inspection.officer.name,
    }
    namespace["threshold"] = checklist.thresholds
    values: dict[str, Any] = {}
    asked: dict[str, bool] = {}
    # The items of each group as expressions see them, for the rules run per item.
    group_items: dict[str, list[Any]] = {}
    given_get = given.get
    for qid, condition, check, question, step in plan.steps:
        if condition is None:
            is_asked = True
        else:
            try:
                is_asked = bool(condition(namespace))
            except ExpressionError as exc:
                problems.append(Problem(exc.code, exc.message, path=step.path))
                is_asked = False
        asked[qid] = is_asked
        answer = given_get(qid)
        if answer is None or (raw := answer.raw) is None:
            # Unanswered: none to expressions, and missing if it had to be answered.
            if is_asked and final and step.required:
                where = answer.path if answer is not None else ("answers", step.section_id)
                problems.append(Problem("PL303", f"required answer '{qid}' is missing", path=where))
            values[qid] = namespace[qid] = None
            continue
        if not is_asked:
            problems.append(
                Problem(
                    "PL306",
                    f"'{qid}' is answered but its condition is false "
                    f"({question.when}); the answer is ignored",
                    level="warning",
                    path=answer.path,
                )
            )
            values[qid] = namespace[qid] = None
            continue
        try:
            value = check(question, raw, answer.value_path, currency)
        except Invalid as exc:
            problems.append(Problem(exc.code, f"{qid}: {exc.message}", path=exc.path))
            values[qid] = namespace[qid] = None
            continue
        values[qid] = value
        if value.__class__ in _AS_IS:
            namespace[qid] = value
        elif step.items_computed is not None:
            namespace[qid] = group_items[qid] = _compute_items(
                step.items_computed, value, namespace, problems
            )
        else:
            namespace[qid] = _expression_value(value)

    # The answers are in: the calls several computed values and rules make, once.
    plan.bindings.share(namespace)
    computed: dict[str, Any] = {}
    for computed_id, run, path in plan.computed:
        result = _computed_value(run, namespace, path, problems)
        computed[computed_id] = namespace[computed_id] = result

    # Signals with their sort keys: the most severe first, then by area and rule.
    fired: list[tuple[tuple[int, int, str], Signal]] = []
    suggested = Classification.normal
    worst = suggested.rank
    inspection_date = inspection.date
    # Each group's items for the rules run per item: (index, typed item, as expressions see it).
    group_entries: dict[str, list[tuple[int, Any, Any]]] = {}
    for test, group, rule in plan.rules:
        if group is not None:
            # A per-item rule: a signal for each item of its group it holds for.
            entries = group_entries.get(group.id)
            if entries is None:
                items = values.get(group.id)
                entries = group_entries[group.id] = (
                    [
                        (index, item, item_value)
                        for index, (item, item_value) in enumerate(
                            zip(items, group_items[group.id], strict=True)
                        )
                    ]
                    if items
                    else []
                )
            if not entries:
                continue
            for index, item, item_value in entries:
                namespace["item"] = item_value
                try:
                    fires = test(namespace)
                except ExpressionError as exc:
                    problems.append(Problem(exc.code, exc.message, path=rule.path))
                    fires = False
                if fires:
                    evidence = _evidence(rule, values, computed, given, item, loan_values)
                    label = item_label(group, item, index)
                    fired.append((rule.key, _signal(rule, inspection_date, evidence, label)))
                    if rule.rank > worst:
                        worst, suggested = rule.rank, rule.floor
            del namespace["item"]
            continue
        try:
            fires = test(namespace)
        except ExpressionError as exc:
            problems.append(Problem(exc.code, exc.message, path=rule.path))
            continue
        if fires:
            evidence = _evidence(rule, values, computed, given, None, loan_values)
            fired.append((rule.key, _signal(rule, inspection_date, evidence, None)))
            if rule.rank > worst:
                worst, suggested = rule.rank, rule.floor
    # Stable: the signals of one per-item rule stay in item order.
    fired.sort(key=_sort_key)
    signals = [signal for _, signal in fired]

    _check_opinion(plan, answer_file, suggested, final, problems)
    return _record(
        Evaluation,
        {
            "checklist": checklist,
            "answer_file": answer_file,
            "values": values,
            "given": given,
            "asked": asked,
            "computed": computed,
            "signals": signals,
            "suggested": suggested,
            "problems": problems,
        },
    )


AREA_INDEX = {
    area: index
    for index, area in enumerate(
        (
            "use_of_funds",
            "environment",
            "operations",
            "financials",
            "management",
            "major_events",
            "guarantor",
            "collateral",
            "other",
        )
    )
}


#: A fired signal's sort key (the first of ``(key, signal)``), read in C.
_sort_key = operator.itemgetter(0)


# --- what evaluating needs of a checklist, worked out once per compiled checklist -----
#
# A batch evaluates thousands of answer files against one compiled checklist:
# everything that depends only on the checklist (which expression runs where,
# a signal's texts and sort key, what its evidence shows) is read once, into
# tuples the loops above unpack cheaply. Nothing here depends on answers.

#: ``Expression.runner`` of one expression (its ``evaluate`` for the namespace built
#: here, which holds the functions: bound once, called per answer file).
_Run = Callable[[dict[str, Any]], Any]


class _Step(NamedTuple):
    """One question, in interview order (what every answer file reads of it first)."""

    id: str
    #: Its condition (``None``: always asked).
    condition: _Run | None
    check: Checker
    #: For a repeating group, the values computed per item (``None``: not a group).
    items_computed: tuple[tuple[str, _Run, Path], ...] | None
    required: bool
    question: AnyQuestion
    #: Where a condition that cannot run is reported (the question in the checklist).
    path: Path
    section_id: str


class _Rule(NamedTuple):
    """One rule: how to test it and everything its signals hold but the answers."""

    test: _Run
    #: Where a rule that cannot run is reported.
    path: Path
    #: The group a per-item rule runs over (``None``: once per inspection).
    group: GroupQuestion | None
    #: Every field of its signals, those of the file as placeholders (a template:
    #: copied, never handed out).
    head: dict[str, Any]
    within: dt.timedelta | None
    floor: Classification
    #: ``floor.rank``.
    rank: int
    #: Where its signals sort: the most severe first, then by area and rule id.
    key: tuple[int, int, str]
    #: Each fact of its evidence: ``(kind, id, the fields of its Evidence, its record)``,
    #: the answer-dependent fields (value, note, references) left to fill in; the
    #: record is made once for a fact that depends on no answer (else ``None``).
    evidence: tuple[tuple[str, str, dict[str, Any], Evidence | None], ...]


@dataclass(frozen=True, slots=True)
class _Plan:
    """What :func:`evaluate` reads of a compiled checklist, once per checklist."""

    #: ``(id, condition, check, question, step)``: what every answer file reads of a
    #: step first, then the step.
    steps: tuple[tuple[str, _Run | None, Checker, AnyQuestion, _Step], ...]
    #: Section-level computed values in dependency order: ``(id, run, path)``.
    computed: tuple[tuple[str, _Run, Path], ...]
    #: Each rule with its test and group (what every answer file reads of it) first.
    rules: tuple[tuple[_Run, GroupQuestion | None, _Rule], ...]
    #: What the namespaces of this checklist hold alike (see _bindings).
    bindings: Bindings
    loan_types: frozenset[str]
    section_ids: frozenset[str]
    #: The section each question belongs to.
    owner: dict[str, str]
    #: For each question, its section and where its answer is: ``("answers", section, id)``.
    where: dict[str, tuple[str, tuple[str, str, str]]]


def _make_plan(checklist: CompiledChecklist) -> _Plan:
    # Expressions are bound here, not looked up per answer file, to what every
    # file's namespace holds alike (see _bindings). Conditions and the values
    # computed per item run before the shared calls are computed.
    bindings = _bindings(checklist)
    early = functools.partial(bindings.runner, shared=False)
    group_computed: dict[str, tuple[tuple[str, _Run, Path], ...]] = {
        group_id: tuple((c.computed.id, early(c.expr), c.path) for c in comps)
        for group_id, comps in checklist.group_computed.items()
    }
    steps = tuple(
        _Step(
            id=step.id,
            question=step.question,
            condition=None if step.condition is None else early(step.condition),
            path=step.ref.path,
            check=step.check,
            items_computed=group_computed.get(step.id, ()) if step.group else None,
            required=step.question.required,
            section_id=step.ref.section.id,
        )
        for step in checklist.question_steps
    )
    return _Plan(
        steps=tuple((step.id, step.condition, step.check, step.question, step) for step in steps),
        computed=tuple(
            (c.computed.id, bindings.runner(c.expr), c.path) for c in checklist.computed
        ),
        rules=tuple(
            (rule.test, rule.group, rule)
            for rule in (_make_rule(plan, bindings) for plan in checklist.rule_plans)
        ),
        bindings=bindings,
        loan_types=checklist.loan_type_ids,
        section_ids=frozenset(s.id for s in checklist.checklist.sections),
        owner={qid: ref.section.id for qid, ref in checklist.questions.items()},
        where={
            qid: (ref.section.id, ("answers", ref.section.id, qid))
            for qid, ref in checklist.questions.items()
        },
    )


def _bindings(checklist: CompiledChecklist) -> Bindings:
    """What :func:`evaluate` puts in every namespace alike, for the expressions to bind.

    The thresholds, unless a question or computed value is named ``threshold``
    (its value would take the name's place); the calls the computed values
    and rules share, which :func:`evaluate` computes once the answers are in
    (computed values and ``item`` still change after that).
    """
    computed_ids = {c.computed.id for c in checklist.computed}
    constants: dict[str, Mapping[str, Any]] = {}
    if "threshold" not in checklist.questions and "threshold" not in computed_ids:
        constants["threshold"] = checklist.thresholds
    late = [c.expr for c in checklist.computed] + [r.when for r in checklist.rules]
    return bind(late, constants, computed_ids | {"item"})


def _make_rule(plan: RulePlan, bindings: Bindings) -> _Rule:
    compiled = plan.compiled
    rule = compiled.rule
    area = compiled.section.area
    # Fields in the order the dataclasses declare them (see _record).
    head = {
        "rule_id": rule.id,
        "section_id": compiled.section.id,
        "area": area,
        "severity": rule.severity,
        "text": rule.signal,
        "action": rule.action,
        "escalate_to": rule.escalate_to,
        # Filled in per signal (set in place: the order stays the declared one).
        "due": None,
        "classification": plan.floor,
        "evidence": (),
        "item": None,
    }
    templates = (
        (
            source.kind,
            source.id,
            {
                "kind": source.kind,
                "id": source.id,
                "label": source.label,
                # A threshold's value is the checklist's; the others are filled in.
                "value": source.value,
                "format": source.format,
                "note": None,
                "references": (),
                "item": None,
                # Only ``field`` evidence names its question (reports show choice labels).
                "question": source.question if source.kind == "field" else None,
            },
        )
        for source in plan.evidence
    )
    # A threshold's fact holds nothing of the answers: one record serves every signal.
    evidence = tuple(
        (
            kind,
            source_id,
            template,
            _record(Evidence, dict(template)) if kind == "threshold" else None,
        )
        for kind, source_id, template in templates
    )
    return _Rule(
        test=bindings.runner(compiled.when),
        path=compiled.path,
        group=plan.group,
        head=head,
        within=plan.within,
        floor=plan.floor,
        rank=plan.floor.rank,
        key=(-rule.severity.rank, AREA_INDEX.get(area, 99), rule.id),
        evidence=evidence,
    )


#: The plan of each compiled checklist in use, by ``id()`` (a compiled checklist
#: is not hashable); an entry goes when its checklist does.
_PLANS: dict[int, tuple[weakref.ref[CompiledChecklist], _Plan]] = {}


def _plan_of(checklist: CompiledChecklist) -> _Plan:
    """The plan of ``checklist``, made on its first evaluation.

    Keyed by the object itself (an id checked through a weak reference), never
    by the checklist's id and version: two compiled checklists may share those
    (a user's folder and the shipped one) and differ.
    """
    key = id(checklist)
    entry = _PLANS.get(key)
    if entry is not None and entry[0]() is checklist:
        return entry[1]
    plan = _make_plan(checklist)

    def forget(_: object) -> None:
        _PLANS.pop(key, None)

    _PLANS[key] = (weakref.ref(checklist, forget), plan)
    return plan


_new_object = object.__new__
_set_attribute = object.__setattr__
_R = TypeVar("_R")


def _record(cls: type[_R], fields: dict[str, Any]) -> _R:
    """``cls(**fields)`` for a frozen dataclass ``cls``, ``fields`` naming every field in order.

    The generated ``__init__`` of a frozen dataclass stores each field with a
    call to ``object.__setattr__``; a file has some thirty signals and
    evidence records. This stores the same dictionary in one call: the
    record is the same (same fields, same order, same equality and hash).
    """
    record = _new_object(cls)
    _set_attribute(record, "__dict__", fields)
    return record


def _collect_given(
    checklist: CompiledChecklist,
    plan: _Plan,
    answer_file: AnswerFile,
    problems: list[Problem],
) -> dict[str, GivenAnswer]:
    given: dict[str, GivenAnswer] = {}
    where = plan.where.get
    for section_id, entries in answer_file.answers.items():
        if section_id not in plan.section_ids:
            known = ", ".join(s.id for s in checklist.checklist.sections)
            problems.append(
                Problem(
                    "PL301",
                    f"unknown section '{section_id}'; sections are: {known}",
                    path=("answers", section_id),
                )
            )
            continue
        if entries is None:
            continue
        for question_id, entry in entries.items():
            found = where(question_id)
            if found is not None and found[0] == section_id:
                path = found[1]
                qid = path[2]
            else:
                # Not a question of this section, or a key that is not text.
                qid = question_id if question_id.__class__ is str else str(question_id)
                path = ("answers", section_id, qid)
                if plan.owner.get(qid) != section_id:
                    ref = checklist.questions.get(qid)
                    hint = ""
                    if ref is not None:
                        hint = f" (it belongs to section '{ref.section.id}')"
                    problems.append(
                        Problem(
                            "PL302",
                            f"unknown question '{question_id}' in section '{section_id}'{hint}",
                            path=path,
                        )
                    )
                    continue
            answer, problem = split_answer(entry, path)
            if problem is not None:
                problems.append(problem)
            if answer is not None:
                given[qid] = answer
    return given


#: Types expressions see as they are (checked by exact type: subclasses take the long way).


def _computed_value(
    run: _Run, namespace: dict[str, Any], path: Path, problems: list[Problem]
) -> Any:
    """A computed value: ``None`` if its expression fails (with a problem) or is not finite."""
    try:
        value = run(namespace)
    except ExpressionError as exc:
        problems.append(Problem(exc.code, exc.message, path=path))
        return None
    if isinstance(value, float) and (value != value or value in _INFINITIES):
        return None
    return value


_AS_IS = frozenset({bool, int, float, str, type(None), dt.date})
_INFINITIES = (float("inf"), float("-inf"))


def _expression_value(value: Any) -> Any:
    """Answers as expressions see them: numbers as floats, money as its amount."""
    cls = value.__class__
    if cls in _AS_IS:
        return value
    if cls is Decimal:
        return float(value)
    if cls is Money and value.amount.__class__ is Decimal:
        return float(value.amount)
    if cls is list:
        return [v if v.__class__ in _AS_IS else _expression_value(v) for v in value]
    if cls is dict:
        return _item_value(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [_expression_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _expression_value(v) for k, v in value.items()}
    amount = getattr(value, "amount", None)
    if isinstance(amount, Decimal):
        return float(amount)
    return value


def _item_value(item: dict[Any, Any]) -> dict[Any, Any]:
    """A group's item as expressions see it: :func:`_expression_value` of each field.

    Money fields (most of a financial statement's) are converted here, not in
    a call each.
    """
    return {
        key: value
        if (cls := value.__class__) in _AS_IS
        else float(value.amount)
        if cls is Money and value.amount.__class__ is Decimal
        else _expression_value(value)
        for key, value in item.items()
    }


def _compute_items(
    computed: tuple[tuple[str, _Run, Path], ...],
    items: list[dict[str, Any]],
    namespace: dict[str, Any],
    problems: list[Problem],
) -> list[Any]:
    """Compute each item's values (stored in the item); return the items as expressions see them."""
    if not computed:
        return [_item_value(item) for item in items]
    seen: list[Any] = []
    for item in items:
        namespace["item"] = item_value = _item_value(item)
        convert = False
        for computed_id, run, path in computed:
            value = _computed_value(run, namespace, path, problems)
            if value.__class__ not in _AS_IS:
                convert = True
            item[computed_id] = item_value[computed_id] = value
        if convert:
            # The finished item as expressions see it: as converting ``item`` now would
            # give it (the fields are converted already; computed values may be lists).
            for computed_id, _, _ in computed:
                value = item_value[computed_id]
                if value.__class__ not in _AS_IS:
                    item_value[computed_id] = _expression_value(value)
        seen.append(item_value)
    namespace.pop("item", None)
    return seen


def item_label(question: GroupQuestion, item: Mapping[str, Any], index: int) -> str:
    """A readable name for a group item (its label field, else its position)."""
    if question.item_label and item.get(question.item_label) not in (None, ""):
        return str(item[question.item_label])
    return f"#{index + 1}"


def _signal(
    rule: _Rule, inspection_date: dt.date, evidence: tuple[Evidence, ...], item: str | None
) -> Signal:
    fields = rule.head.copy()
    if rule.within is not None:
        fields["due"] = inspection_date + rule.within
    fields["evidence"] = evidence
    fields["item"] = item
    signal = _new_object(Signal)  # _record, inline
    _set_attribute(signal, "__dict__", fields)
    return signal


def _evidence(
    rule: _Rule,
    values: Mapping[str, Any],
    computed: Mapping[str, Any],
    given: Mapping[str, GivenAnswer],
    item: Mapping[str, Any] | None,
    loan: Mapping[str, Any],
) -> tuple[Evidence, ...]:
    """The facts behind a signal, from the rule's plan (see ``compiled.RulePlan``)."""
    found: list[Evidence] = []
    for kind, source_id, template, fixed in rule.evidence:
        if fixed is not None:
            found.append(fixed)
            continue
        fields = template.copy()
        if kind == "answer":
            fields["value"] = values.get(source_id)
            answer = given.get(source_id)
            if answer is not None:
                fields["note"] = answer.note
                fields["references"] = answer.evidence
        elif kind == "computed":
            fields["value"] = computed.get(source_id)
        elif kind == "loan":
            fields["value"] = loan.get(source_id)
        elif kind == "field":
            if item is None:
                continue
            fields["value"] = item.get(source_id)
        # _record, inline (twenty records per file).
        record = _new_object(Evidence)
        _set_attribute(record, "__dict__", fields)
        found.append(record)
    return tuple(found)


def _check_opinion(
    plan: _Plan,
    answer_file: AnswerFile,
    suggested: Classification,
    final: bool,
    problems: list[Problem],
) -> None:
    opinion = answer_file.opinion
    sections = plan.section_ids
    for key in opinion.areas:
        if key not in sections:
            problems.append(
                Problem(
                    "PL301",
                    f"opinion names unknown section '{key}'; sections are: "
                    + ", ".join(sorted(sections)),
                    path=("opinion", "areas", key),
                )
            )
    if not final:
        return
    if not (opinion.overall or "").strip():
        problems.append(
            Problem("PL303", "the officer's overall opinion is missing", path=("opinion",))
        )
    proposed = opinion.proposed_classification
    if proposed is None:
        problems.append(
            Problem(
                "PL303",
                "the proposed classification is missing (opinion.proposed_classification)",
                path=("opinion",),
            )
        )
    elif proposed.rank < suggested.rank and not (opinion.reason or "").strip():
        problems.append(
            Problem(
                "PL307",
                f"proposed classification '{proposed.value}' is better than the suggested "
                f"'{suggested.value}'; write the reason in opinion.reason",
                path=("opinion", "proposed_classification"),
            )
        )
