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

from postloan_cli.answers import GivenAnswer, Invalid, coerce, split_answer
from postloan_cli.compiled import CompiledChecklist, CompiledRule, loan_namespace
from postloan_cli.errors import Problem
from postloan_cli.expressions import ExpressionError, base_namespace
from postloan_cli.models import (
    AnswerFile,
    AnyQuestion,
    Classification,
    Computed,
    GroupQuestion,
    MoneyQuestion,
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

    if loan.type not in {t.id for t in checklist.checklist.loan_types}:
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
    for ref in checklist.iter_questions():
        question = ref.question
        qid = question.id
        condition = checklist.conditions.get(qid)
        is_asked = condition is None or _safe_test(condition, namespace, problems, ref.path)
        asked[qid] = is_asked
        answer = given.get(qid)
        value: Any = None
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
                value = coerce(question, answer.raw, answer.value_path, currency)
            except Invalid as exc:
                problems.append(Problem(exc.code, f"{qid}: {exc.message}", path=exc.path))
            else:
                if isinstance(question, GroupQuestion):
                    _compute_items(checklist, qid, value, namespace, problems)
        elif final and question.required:
            where = answer.path if answer is not None else ("answers", ref.section.id)
            problems.append(Problem("PL303", f"required answer '{qid}' is missing", path=where))
        values[qid] = value
        namespace[qid] = _expression_value(value)

    computed: dict[str, Any] = {}
    for comp in checklist.computed:
        result = _safe_eval(comp.expr, namespace, problems, comp.path)
        computed[comp.computed.id] = _clean_number(result)
        namespace[comp.computed.id] = computed[comp.computed.id]

    signals: list[Signal] = []
    for rule in checklist.rules:
        signals.extend(_fire(checklist, rule, namespace, values, computed, given, problems))
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
        for question_id, entry in entries.items():
            path = ("answers", section_id, str(question_id))
            ref = checklist.questions.get(str(question_id))
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
                given[str(question_id)] = answer
    return given


def _expression_value(value: Any) -> Any:
    """Answers as expressions see them: numbers as floats, money as its amount."""
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
    return bool(_safe_eval(expr, namespace, problems, path))


def _compute_items(
    checklist: CompiledChecklist,
    group_id: str,
    items: list[dict[str, Any]],
    namespace: dict[str, Any],
    problems: list[Problem],
) -> None:
    computed = checklist.group_computed.get(group_id, [])
    if not computed:
        return
    for item in items:
        namespace["item"] = _expression_value(item)
        for comp in computed:
            value = _safe_eval(comp.expr, namespace, problems, comp.path)
            item[comp.computed.id] = _clean_number(value)
            namespace["item"][comp.computed.id] = item[comp.computed.id]
    namespace.pop("item", None)


def item_label(question: GroupQuestion, item: Mapping[str, Any], index: int) -> str:
    """A readable name for a group item (its label field, else its position)."""
    if question.item_label and item.get(question.item_label) not in (None, ""):
        return str(item[question.item_label])
    return f"#{index + 1}"


def _fire(
    checklist: CompiledChecklist,
    compiled: CompiledRule,
    namespace: dict[str, Any],
    values: Mapping[str, Any],
    computed: Mapping[str, Any],
    given: Mapping[str, GivenAnswer],
    problems: list[Problem],
) -> list[Signal]:
    rule = compiled.rule
    floor = rule.classification or checklist.checklist.classification.floor(rule.severity)
    due = (
        None
        if rule.within_days is None
        else namespace["inspection"]["date"] + dt.timedelta(days=rule.within_days)
    )

    def make(evidence: list[Evidence], item: str | None) -> Signal:
        return Signal(
            rule_id=rule.id,
            section_id=compiled.section.id,
            area=compiled.section.area,
            severity=rule.severity,
            text=rule.signal,
            action=rule.action,
            escalate_to=rule.escalate_to,
            due=due,
            classification=floor,
            evidence=tuple(evidence),
            item=item,
        )

    if rule.for_each is None:
        if not _safe_test(compiled.when, namespace, problems, compiled.path):
            return []
        return [
            make(
                _evidence(
                    checklist, compiled, values, computed, given, None, None, namespace["loan"]
                ),
                None,
            )
        ]

    group_ref = checklist.questions[rule.for_each]
    group = group_ref.question
    assert isinstance(group, GroupQuestion)
    items = values.get(rule.for_each) or []
    fired: list[Signal] = []
    for index, item in enumerate(items):
        namespace["item"] = _expression_value(item)
        fires = _safe_test(compiled.when, namespace, problems, compiled.path)
        namespace.pop("item", None)
        if fires:
            label = item_label(group, item, index)
            evidence = _evidence(
                checklist, compiled, values, computed, given, group, item, namespace["loan"]
            )
            fired.append(make(evidence, label))
    return fired


def _evidence(
    checklist: CompiledChecklist,
    compiled: CompiledRule,
    values: Mapping[str, Any],
    computed: Mapping[str, Any],
    given: Mapping[str, GivenAnswer],
    group: GroupQuestion | None,
    item: Mapping[str, Any] | None,
    loan: Mapping[str, Any],
) -> list[Evidence]:
    expr = compiled.when
    found: list[Evidence] = []
    seen: set[str] = set()
    computed_defs: dict[str, Computed] = {c.computed.id: c.computed for c in checklist.computed}
    computed_exprs = {c.computed.id: c.expr for c in checklist.computed}

    def add_question(qid: str) -> None:
        if qid in seen:
            return
        seen.add(qid)
        question = checklist.questions[qid].question
        answer = given.get(qid)
        found.append(
            Evidence(
                kind="answer",
                id=qid,
                label=question.prompt,
                value=values.get(qid),
                format=_format_of(question),
                note=answer.note if answer else None,
                references=answer.evidence if answer else (),
            )
        )

    def add_name(name: str) -> None:
        if name in checklist.questions:
            add_question(name)
        elif name in computed_defs and name not in seen:
            seen.add(name)
            comp = computed_defs[name]
            found.append(Evidence("computed", name, comp.label, computed.get(name), comp.format))
            # sorted: a set's order changes between processes, and reports must not
            for inner in sorted(computed_exprs[name].names):
                add_name(inner)

    for name in sorted(expr.names):
        add_name(name)
    for attr in sorted(expr.attributes.get("loan", ())):
        if attr in _LOAN_FORMATS:
            found.append(Evidence("loan", attr, attr, loan.get(attr), _LOAN_FORMATS[attr]))
    if group is not None and item is not None:
        fields = {f.id: f for f in group.fields}
        comps = {c.id: c for c in group.computed}
        for attr in sorted(expr.attributes.get("item", ())):
            if attr in fields:
                found.append(
                    Evidence(
                        "field",
                        attr,
                        fields[attr].prompt,
                        item.get(attr),
                        _format_of(fields[attr]),
                        question=fields[attr],
                    )
                )
            elif attr in comps:
                found.append(
                    Evidence("field", attr, comps[attr].label, item.get(attr), comps[attr].format)
                )
    for attr in sorted(expr.attributes.get("threshold", ())):
        for threshold in checklist.checklist.thresholds:
            if threshold.id == attr:
                found.append(
                    Evidence("threshold", attr, threshold.label, threshold.value, threshold.type)
                )
    return found


_LOAN_FORMATS = {
    "days_past_due": "integer",
    "amount": "money",
    "outstanding": "money",
    "matures_on": "date",
    "disbursed_on": "date",
    "type": "text",
    "purpose": "text",
}


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


def _format_of(question: AnyQuestion) -> str:
    if isinstance(question, MoneyQuestion):
        return "money"
    return question.type
