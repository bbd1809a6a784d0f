"""Evaluating one inspection: answers in, warning signals and classification out.

:func:`evaluate` is pure (no I/O): it checks the answer file against its
compiled checklist, computes derived values, fires warning rules, keeps for
each warning signal the answers that caused it, and derives the suggested
classification and the list of required actions and escalations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from postloan_cli.answers import GivenAnswer, Invalid, split_answer
from postloan_cli.compiled import CompiledChecklist, RulePlan, loan_namespace
from postloan_cli.errors import Problem
from postloan_cli.expressions import ExpressionError, base_namespace
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
    problems: list[Problem] = []
    final = answer_file.status == "final"
    loan = answer_file.loan
    currency = loan.amount.currency

    if loan.type not in checklist.loan_type_ids:
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
    if answer_file.inspection.kind == "irregular" and not answer_file.inspection.reason:
        problems.append(
            Problem(
                "PL303",
                "an irregular inspection needs a reason (inspection.reason)",
                path=("inspection",),
            )
        )

    given = _collect_given(checklist, answer_file, problems)

    namespace: dict[str, Any] = base_namespace()
    namespace.update(
        {
            "loan": loan_namespace(loan),
            "inspection": {
                "date": answer_file.inspection.date,
                "kind": answer_file.inspection.kind,
                "reason": answer_file.inspection.reason,
                "previous": answer_file.inspection.previous,
                "officer": answer_file.inspection.officer.name,
            },
            "threshold": checklist.thresholds,
        }
    )
    values: dict[str, Any] = {}
    asked: dict[str, bool] = {}
    # The items of each group as expressions see them, for the rules run per item.
    group_items: dict[str, list[Any]] = {}
    for step in checklist.question_steps:
        qid = step.id
        question = step.question
        condition = step.condition
        is_asked = condition is None or _safe_test(condition, namespace, problems, step.ref.path)
        asked[qid] = is_asked
        answer = given.get(qid)
        value: Any = None
        seen: Any = _UNSET
        if not is_asked:
            if answer is not None and answer.raw is not None:
                problems.append(
                    Problem(
                        "PL306",
                        f"'{qid}' is answered but its condition is false "
                        f"({question.when}); the answer is ignored",
                        level="warning",
                        path=answer.path,
                    )
                )
        elif answer is not None and answer.raw is not None:
            try:
                value = step.check(question, answer.raw, answer.value_path, currency)
            except Invalid as exc:
                problems.append(Problem(exc.code, f"{qid}: {exc.message}", path=exc.path))
            else:
                if step.group:
                    seen = _compute_items(checklist, qid, value, namespace, problems)
                    group_items[qid] = seen
        elif final and question.required:
            where = answer.path if answer is not None else ("answers", step.ref.section.id)
            problems.append(Problem("PL303", f"required answer '{qid}' is missing", path=where))
        values[qid] = value
        if seen is not _UNSET:
            namespace[qid] = seen
        elif value.__class__ in _AS_IS:
            namespace[qid] = value
        else:
            namespace[qid] = _expression_value(value)

    computed: dict[str, Any] = {}
    for comp in checklist.computed:
        result = _clean_number(_safe_eval(comp.expr, namespace, problems, comp.path))
        computed[comp.computed.id] = result
        namespace[comp.computed.id] = result

    signals: list[Signal] = []
    inspection_date = answer_file.inspection.date
    loan_values = namespace["loan"]
    for plan in checklist.rule_plans:
        if plan.group is not None:
            _fire_per_item(
                plan,
                namespace,
                inspection_date,
                loan_values,
                values,
                computed,
                given,
                group_items,
                problems,
                signals,
            )
            continue
        try:
            fires = plan.compiled.when.evaluate(namespace)
        except ExpressionError as exc:
            problems.append(Problem(exc.code, exc.message, path=plan.compiled.path))
            continue
        if fires:
            evidence = _evidence(plan, values, computed, given, None, loan_values)
            signals.append(_signal(plan, inspection_date, evidence, None))
    signals.sort(key=lambda s: (-s.severity.rank, AREA_INDEX.get(s.area, 99), s.rule_id))

    suggested = Classification.normal
    for signal in signals:
        if signal.classification.rank > suggested.rank:
            suggested = signal.classification

    _check_opinion(checklist, answer_file, suggested, final, problems)
    return Evaluation(
        checklist=checklist,
        answer_file=answer_file,
        values=values,
        given=given,
        asked=asked,
        computed=computed,
        signals=signals,
        suggested=suggested,
        problems=problems,
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


def _collect_given(
    checklist: CompiledChecklist, answer_file: AnswerFile, problems: list[Problem]
) -> dict[str, GivenAnswer]:
    given: dict[str, GivenAnswer] = {}
    for section_id, entries in answer_file.answers.items():
        section = checklist.section(section_id)
        if section is None:
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
        questions = checklist.questions
        for question_id, entry in entries.items():
            qid = question_id if question_id.__class__ is str else str(question_id)
            path = ("answers", section_id, qid)
            ref = questions.get(qid)
            if ref is None or ref.section.id != section_id:
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
_AS_IS = frozenset({bool, int, float, str, type(None), dt.date})
_UNSET: Any = object()


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
        return {k: v if v.__class__ in _AS_IS else _expression_value(v) for k, v in value.items()}
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


def _clean_number(value: Any) -> Any:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    return value


def _safe_eval(expr: Any, namespace: dict[str, Any], problems: list[Problem], path: Any) -> Any:
    try:
        return expr.evaluate(namespace)
    except ExpressionError as exc:
        problems.append(Problem(exc.code, exc.message, path=path))
        return None


def _safe_test(expr: Any, namespace: dict[str, Any], problems: list[Problem], path: Any) -> bool:
    try:
        return bool(expr.evaluate(namespace))
    except ExpressionError as exc:
        problems.append(Problem(exc.code, exc.message, path=path))
        return False


def _compute_items(
    checklist: CompiledChecklist,
    group_id: str,
    items: list[dict[str, Any]],
    namespace: dict[str, Any],
    problems: list[Problem],
) -> list[Any]:
    """Compute each item's values (stored in the item); return the items as expressions see them."""
    computed = checklist.group_computed.get(group_id, [])
    if not computed:
        return [_expression_value(item) for item in items]
    seen: list[Any] = []
    for item in items:
        namespace["item"] = item_value = _expression_value(item)
        for comp in computed:
            value = _clean_number(_safe_eval(comp.expr, namespace, problems, comp.path))
            item[comp.computed.id] = value
            item_value[comp.computed.id] = value
        # The finished item as expressions see it: as converting ``item`` now would
        # give it (the fields are converted already; computed values may be lists).
        for comp in computed:
            value = item_value[comp.computed.id]
            if value.__class__ not in _AS_IS:
                item_value[comp.computed.id] = _expression_value(value)
        seen.append(item_value)
    namespace.pop("item", None)
    return seen


def item_label(question: GroupQuestion, item: Mapping[str, Any], index: int) -> str:
    """A readable name for a group item (its label field, else its position)."""
    if question.item_label and item.get(question.item_label) not in (None, ""):
        return str(item[question.item_label])
    return f"#{index + 1}"


def _fire_per_item(
    plan: RulePlan,
    namespace: dict[str, Any],
    inspection_date: dt.date,
    loan: Mapping[str, Any],
    values: Mapping[str, Any],
    computed: Mapping[str, Any],
    given: Mapping[str, GivenAnswer],
    group_items: Mapping[str, list[Any]],
    problems: list[Problem],
    signals: list[Signal],
) -> None:
    """Evaluate a per-item rule: a signal for each item of its group it holds for."""
    group = plan.group
    assert group is not None
    items = values.get(group.id) or []
    if not items:
        return
    compiled = plan.compiled
    when = compiled.when
    for index, (item, item_value) in enumerate(zip(items, group_items[group.id], strict=True)):
        namespace["item"] = item_value
        fires = _safe_test(when, namespace, problems, compiled.path)
        namespace.pop("item", None)
        if fires:
            evidence = _evidence(plan, values, computed, given, item, loan)
            signals.append(_signal(plan, inspection_date, evidence, item_label(group, item, index)))


def _signal(
    plan: RulePlan, inspection_date: dt.date, evidence: list[Evidence], item: str | None
) -> Signal:
    compiled = plan.compiled
    rule = compiled.rule
    return Signal(
        rule_id=rule.id,
        section_id=compiled.section.id,
        area=compiled.section.area,
        severity=rule.severity,
        text=rule.signal,
        action=rule.action,
        escalate_to=rule.escalate_to,
        due=None if plan.within is None else inspection_date + plan.within,
        classification=plan.floor,
        evidence=tuple(evidence),
        item=item,
    )


def _evidence(
    plan: RulePlan,
    values: Mapping[str, Any],
    computed: Mapping[str, Any],
    given: Mapping[str, GivenAnswer],
    item: Mapping[str, Any] | None,
    loan: Mapping[str, Any],
) -> list[Evidence]:
    """The facts behind a signal, from the rule's plan (see ``compiled.RulePlan``)."""
    found: list[Evidence] = []
    for source in plan.evidence:
        kind = source.kind
        if kind == "answer":
            answer = given.get(source.id)
            found.append(
                Evidence(
                    kind="answer",
                    id=source.id,
                    label=source.label,
                    value=values.get(source.id),
                    format=source.format,
                    note=answer.note if answer else None,
                    references=answer.evidence if answer else (),
                )
            )
        elif kind == "computed":
            found.append(
                Evidence(
                    "computed", source.id, source.label, computed.get(source.id), source.format
                )
            )
        elif kind == "loan":
            found.append(
                Evidence("loan", source.id, source.label, loan.get(source.id), source.format)
            )
        elif kind == "field":
            if item is not None:
                found.append(
                    Evidence(
                        "field",
                        source.id,
                        source.label,
                        item.get(source.id),
                        source.format,
                        question=source.question,
                    )
                )
        else:
            found.append(Evidence(kind, source.id, source.label, source.value, source.format))
    return found


def _check_opinion(
    checklist: CompiledChecklist,
    answer_file: AnswerFile,
    suggested: Classification,
    final: bool,
    problems: list[Problem],
) -> None:
    opinion = answer_file.opinion
    sections = {s.id for s in checklist.checklist.sections}
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
