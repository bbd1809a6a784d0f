"""Rendering an evaluated inspection as the inspection opinion (Markdown or HTML).

:func:`render` turns an :class:`~postloan_cli.evaluation.Evaluation` into the
text of the opinion; :func:`report_context` builds the plain data the
templates read. Every value in that data is already localized and formatted
for the report language (money with its currency, percentages, long dates,
choice labels instead of ids, yes/no in words), so a template only arranges
text; it never formats numbers or looks anything up.

Templates are ``opinion.md.j2`` and ``opinion.html.j2``, searched in the
user's ``template_dirs`` first, then in the shipped ``templates`` folder.
They run in Jinja's immutable sandbox with :class:`jinja2.StrictUndefined`
(a misspelt name is an error, not silently empty text). Any problem with a
template (not found, syntax error, error while rendering) raises
:class:`~postloan_cli.errors.InputError` with one ``PL400`` problem carrying
the template file and line.

Escaping: everything user-written is escaped. HTML templates autoescape.
Markdown templates pass every ``{{ value }}`` through a ``finalize`` hook
(:func:`escape_markdown`) unless the value is :class:`markupsafe.Markup`:
Markdown punctuation is backslash-escaped, block markers at the start of the
value are neutralised, and newlines become ``<br>``, so a note can never add
a heading, a list, a table row or raw HTML to the document.

Environments and compiled templates are cached per process, per
(template folders, format): a batch compiles each template once.

Context keys (``report_context``; a lint rule checks template names against
this list; ``str?`` means a string or ``None``):

``lang``
    the report language actually used (``en``, ``es``, ``zh``...).
``labels``
    fixed report labels in ``lang`` (English where a translation is missing),
    by key; see :data:`postloan_cli.i18n.LABELS` for the keys.
``document``
    ``title``, ``checklist_id``, ``checklist_version``, ``checklist_title``,
    ``tool``, ``tool_version``, ``generator`` (``"postloan 0.1.0"``),
    ``status`` (``final``/``draft``), ``is_draft`` (bool).
``loan``
    ``id``, ``bank``?, ``branch``?, ``contract``?, ``borrower``,
    ``borrower_id``?, ``industry``?, ``type`` (label), ``type_id``,
    ``amount``, ``outstanding``, ``currency``, ``disbursed_on``,
    ``matures_on``, ``purpose``, ``days_past_due`` (formatted),
    ``days_past_due_value`` (int), ``fields`` (list of ``{key, label,
    value}`` for the header table, absent optional fields left out).
``inspection``
    ``date``, ``date_iso``, ``kind`` (label), ``kind_id``, ``reason``?,
    ``previous``?, ``place``?, ``officer``, ``officer_id``?,
    ``certificate``?, ``officer_role``?, ``fields`` (list of ``{key, label,
    value}``).
``summary``
    ``suggested``, ``suggested_id``, ``proposed``?, ``proposed_id``?,
    ``differs`` (bool), ``reason``?, ``counts`` (list of ``{severity_id,
    severity, count}``, most severe first, zeros included),
    ``total_signals``, ``total_actions``.
``sections``
    list, in checklist order, of ``{id, number, area, title, description?,
    anchor, questions, computed, conclusion?, signals}``;
    ``questions``: list of ``{id, type, prompt, help?, answered (bool),
    value, note?, evidence (list of str), table?}`` for the questions that
    were asked (unanswered ones have ``value`` = the "not answered" label);
    ``table`` (repeating groups only): ``{corner (heading of the item
    labels: the label field's prompt), layout ("by_field" or
    "by_item"), item_labels (list of str), columns (list of ``{id,
    label, computed}``), rows_by_item (list of ``{label, cells}``),
    rows_by_field (list of ``{id, label, computed, cells, trend?}``),
    has_trend (bool)}``; a group the checklist treats as periods (its
    expressions call ``latest(group, 'field')`` or ``previous(...)``) is in
    that field's order, oldest first, with ``trend`` (up/down/unchanged
    from the previous period) so the trend across periods reads left to right;
    ``computed``: list of ``{id, label, value}``;
    ``signals``: the section's entries of ``signals`` (below).
``signals``
    list, most severe first, of ``{number, ref ("S1"...), anchor, rule_id,
    section_id, section, severity_id, severity, text, item?, evidence,
    action?, escalate_to?, due?, due_iso?, classification,
    classification_id}``; ``evidence``: list of ``{kind, label, value,
    item?, note?, references (list of str)}``.
``actions``
    the signals with a required action or an escalation, earliest due date
    first (same dicts as in ``signals``).
``opinion``
    ``overall``?, ``proposed``?, ``proposed_id``?, ``reason``?.
``review``
    ``None`` (pending), or ``{supervisor, supervisor_id?, certificate?,
    role?, date, decision (label), decision_id, opinion}``.
"""

from __future__ import annotations

import functools
import re
import traceback
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from postloan_cli import __version__
from postloan_cli.compiled import CompiledChecklist
from postloan_cli.errors import InputError, Problem
from postloan_cli.evaluation import Evaluation, Evidence, Signal, item_label
from postloan_cli.i18n import (
    format_date,
    format_integer,
    format_money,
    format_number,
    format_percent,
    format_ratio,
    labels,
    localize,
)
from postloan_cli.models import (
    AnyQuestion,
    Classification,
    DecimalQuestion,
    GroupQuestion,
    IntegerQuestion,
    Money,
    MultipleChoiceQuestion,
    ScalarQuestionType,
    Severity,
    SingleChoiceQuestion,
    Text,
)

if TYPE_CHECKING:
    from jinja2 import Environment, Template
    from jinja2.sandbox import ImmutableSandboxedEnvironment

FORMATS = ("md", "html")
TEMPLATE_NAMES = {"md": "opinion.md.j2", "html": "opinion.html.j2"}

#: The top-level keys of :func:`report_context` (kept in step with the docstring).
CONTEXT_KEYS = frozenset(
    {
        "lang",
        "labels",
        "document",
        "loan",
        "inspection",
        "summary",
        "sections",
        "signals",
        "actions",
        "opinion",
        "review",
    }
)


# --- public API ---------------------------------------------------------------


def render(
    evaluation: Evaluation,
    fmt: str,
    *,
    lang: str | None = None,
    template_dirs: Sequence[Path] = (),
) -> str:
    """The inspection opinion of ``evaluation`` as ``fmt`` (``md`` or ``html``) text.

    Raises :class:`InputError` (``PL400``) when the template cannot be found,
    does not parse, or fails while rendering.
    """
    if fmt not in TEMPLATE_NAMES:
        raise InputError(
            [Problem("PL400", f"unknown report format '{fmt}'; formats are: {', '.join(FORMATS)}")]
        )
    template = _template(tuple(str(d) for d in template_dirs), fmt)
    context = _shared_context(evaluation, lang)
    try:
        text = template.render(context)
    except InputError:
        raise
    except Exception as exc:  # any template failure is the template author's, not ours
        raise InputError([_runtime_problem(exc, template)]) from None
    if fmt == "md":
        text = _BLANK_RUNS.sub("\n\n", text).strip("\n") + "\n"
    elif not text.endswith("\n"):
        text += "\n"
    return text


_last_context: list[tuple[Evaluation, str | None, dict[str, Any]]] = []


def _shared_context(evaluation: Evaluation, lang: str | None) -> dict[str, Any]:
    """The context of the last evaluation rendered, reused for its next format.

    The pipeline renders the same evaluation as Markdown, then as HTML; the
    templates cannot change the context (immutable sandbox), so it is built once.
    """
    if _last_context:
        last, last_lang, context = _last_context[0]
        if last is evaluation and last_lang == lang:
            return context
    context = report_context(evaluation, lang)
    _last_context[:] = [(evaluation, lang, context)]
    return context


def report_context(evaluation: Evaluation, lang: str | None) -> dict[str, Any]:
    """The plain data the opinion templates read (keys: see the module docstring)."""
    checklist = evaluation.checklist.checklist
    language = lang or checklist.default_language
    fmt = _Formatter(
        language, checklist.default_language, evaluation.answer_file.loan.amount.currency
    )
    af = evaluation.answer_file
    loan, inspection, opinion = af.loan, af.inspection, af.opinion
    lab = fmt.labels

    section_titles = {s.id: fmt.text(s.title) for s in checklist.sections}
    signals = [
        _signal(evaluation, fmt, signal, index, section_titles)
        for index, signal in enumerate(evaluation.signals, start=1)
    ]
    by_section: dict[str, list[dict[str, Any]]] = {}
    for entry in signals:
        by_section.setdefault(entry["section_id"], []).append(entry)

    sections = [
        _section(evaluation, fmt, section, number, by_section.get(section.id, []))
        for number, section in enumerate(checklist.sections, start=1)
    ]

    actions = [s for s in signals if s["action"] or s["escalate_to"]]
    actions.sort(key=lambda s: (s["due_iso"] is None, s["due_iso"] or "", s["number"]))

    counts = [
        {
            "severity_id": severity.value,
            "severity": lab["severity_" + severity.value],
            "count": sum(1 for s in evaluation.signals if s.severity is severity),
        }
        for severity in reversed(list(Severity))
    ]

    loan_types = {t.id: t.label for t in checklist.loan_types}
    loan_ctx: dict[str, Any] = {
        "id": loan.id,
        "bank": loan.bank,
        "branch": loan.branch,
        "contract": loan.contract,
        "borrower": loan.borrower.name,
        "borrower_id": loan.borrower.id,
        "industry": loan.borrower.industry,
        "type": fmt.text(loan_types.get(loan.type, loan.type)),
        "type_id": loan.type,
        "amount": fmt.money(loan.amount.amount, loan.amount.currency),
        "outstanding": fmt.money(loan.outstanding.amount, loan.outstanding.currency),
        "currency": loan.amount.currency,
        "disbursed_on": fmt.date(loan.disbursed_on),
        "matures_on": fmt.date(loan.matures_on),
        "purpose": loan.purpose,
        "days_past_due": format_integer(loan.days_past_due, language),
        "days_past_due_value": loan.days_past_due,
    }
    loan_ctx["fields"] = _fields(
        lab,
        loan_ctx,
        (
            "bank",
            "branch",
            "id:loan_id",
            "contract",
            "borrower",
            "borrower_id",
            "industry",
            "type:loan_type",
            "amount",
            "outstanding",
            "disbursed_on",
            "matures_on",
            "purpose",
            "days_past_due",
        ),
    )

    officer = inspection.officer
    inspection_ctx: dict[str, Any] = {
        "date": fmt.date(inspection.date),
        "date_iso": inspection.date.isoformat(),
        "kind": lab["kind_" + inspection.kind],
        "kind_id": inspection.kind,
        "reason": inspection.reason,
        "previous": fmt.date(inspection.previous) if inspection.previous else None,
        "place": inspection.place,
        "officer": officer.name,
        "officer_id": officer.id,
        "certificate": officer.certificate,
        "officer_role": officer.role,
    }
    inspection_ctx["fields"] = _fields(
        lab,
        inspection_ctx,
        (
            "kind:inspection_kind",
            "date:inspection_date",
            "reason",
            "previous:previous_inspection",
            "place",
            "officer",
            "certificate",
        ),
    )

    proposed = opinion.proposed_classification
    review = af.review
    return {
        "lang": language,
        "labels": lab,
        "document": {
            "title": lab["title"],
            "checklist_id": checklist.id,
            "checklist_version": checklist.version,
            "checklist_title": fmt.text(checklist.title),
            "tool": "postloan",
            "tool_version": __version__,
            "generator": f"postloan {__version__}",
            "status": af.status,
            "is_draft": af.status == "draft",
        },
        "loan": loan_ctx,
        "inspection": inspection_ctx,
        "summary": {
            "suggested": fmt.classification(evaluation.suggested),
            "suggested_id": evaluation.suggested.value,
            "proposed": fmt.classification(proposed) if proposed else None,
            "proposed_id": proposed.value if proposed else None,
            "differs": evaluation.proposal_differs,
            "reason": _blank_none(opinion.reason),
            "counts": counts,
            "total_signals": len(signals),
            "total_actions": len(actions),
        },
        "sections": sections,
        "signals": signals,
        "actions": actions,
        "opinion": {
            "overall": _blank_none(opinion.overall),
            "proposed": fmt.classification(proposed) if proposed else None,
            "proposed_id": proposed.value if proposed else None,
            "reason": _blank_none(opinion.reason),
        },
        "review": None
        if review is None
        else {
            "supervisor": review.supervisor.name,
            "supervisor_id": review.supervisor.id,
            "certificate": review.supervisor.certificate,
            "role": review.supervisor.role,
            "date": fmt.date(review.date),
            "decision": lab["decision_" + review.decision],
            "decision_id": review.decision,
            "opinion": review.opinion,
        },
    }


# --- formatting values ------------------------------------------------------------


class _Formatter:
    """Formats values for one report: language, fallback language, loan currency."""

    __slots__ = ("currency", "default", "labels", "lang")

    def __init__(self, lang: str, default: str, currency: str) -> None:
        self.lang = lang
        self.default = default
        self.currency = currency
        self.labels = labels(lang)

    def text(self, text: Text | None) -> str:
        return localize(text, self.lang, self.default)

    def text_or_none(self, text: Text | None) -> str | None:
        return localize(text, self.lang, self.default) or None

    def date(self, value: date) -> str:
        return format_date(value, self.lang)

    def money(self, amount: Any, currency: str | None = None) -> str:
        return format_money(amount, currency or self.currency, self.lang)

    def classification(self, value: Classification) -> str:
        return self.labels["classification_" + value.value]

    def days(self, value: Any) -> str:
        return self.labels["days"].format(n=format_number(value, self.lang, max_decimals=1))

    def value(
        self, value: Any, kind: str, question: AnyQuestion | None = None, *, fixed: bool = False
    ) -> str:
        """``value`` shown as ``kind`` (a question type or a computed/threshold format).

        ``fixed``: a computed value, shown with a fixed number of decimals.
        """
        if value is None or value == "":
            return (
                self.labels["not_answered"]
                if question is not None
                else self.labels["not_available"]
            )
        if isinstance(value, Money):
            return self.money(value.amount, value.currency)
        if isinstance(value, bool):
            return self.labels["yes" if value else "no"]
        if isinstance(question, SingleChoiceQuestion | MultipleChoiceQuestion):
            choices = {c.id: c.label for c in question.choices}
            items = value if isinstance(value, list) else [value]
            return self.labels["list_separator"].join(
                self.text(choices.get(str(v), str(v))) for v in items
            )
        if isinstance(question, GroupQuestion) and isinstance(value, list):
            names = [item_label(question, item, i) for i, item in enumerate(value)]
            return self.labels["items_count"].format(n=len(value)) + (
                ": " + ", ".join(names) if names else ""
            )
        if isinstance(value, date):
            return self.date(value)
        if isinstance(value, list):
            return self.labels["list_separator"].join(self.value(v, kind) for v in value)
        if isinstance(value, int | float | Decimal):
            text = self._number(value, kind, fixed)
            if isinstance(question, IntegerQuestion | DecimalQuestion) and question.unit:
                text = f"{text} {self.text(question.unit)}"
            return text
        return str(value)

    def _number(self, value: float | Decimal, kind: str, fixed: bool = False) -> str:
        if kind == "money":
            return self.money(value)
        if kind == "percent":
            return format_percent(value, self.lang, min_decimals=2 if fixed else 0)
        if kind == "ratio":
            return format_ratio(value, self.lang)
        if kind == "days":
            return self.days(value)
        if kind == "integer":
            return format_integer(value, self.lang)
        return format_number(value, self.lang)


def _blank_none(text: str | None) -> str | None:
    return text if text and text.strip() else None


def _fields(
    lab: Mapping[str, str], data: Mapping[str, Any], spec: Sequence[str]
) -> list[dict[str, Any]]:
    """Header rows ``{key, label, value}`` for the present values, in ``spec`` order."""
    rows = []
    for entry in spec:
        key, _, label_key = entry.partition(":")
        value = data.get(key)
        if value is not None and value != "":
            rows.append({"key": key, "label": lab[label_key or key], "value": value})
    return rows


def _question_kind(question: AnyQuestion) -> str:
    return "money" if question.type == "money" else question.type


def _section(
    evaluation: Evaluation,
    fmt: _Formatter,
    section: Any,
    number: int,
    signals: list[dict[str, Any]],
) -> dict[str, Any]:
    questions: list[dict[str, Any]] = []
    for question in section.questions:
        if not evaluation.asked.get(question.id, True):
            continue  # its condition was false: not part of this inspection
        value = evaluation.values.get(question.id)
        given = evaluation.given.get(question.id)
        answered = value is not None and value != ""
        entry: dict[str, Any] = {
            "id": question.id,
            "type": question.type,
            "prompt": fmt.text(question.prompt),
            "help": fmt.text_or_none(question.help),
            "answered": answered,
            "value": fmt.value(value, _question_kind(question), question),
            "note": _blank_none(given.note) if given else None,
            "evidence": list(given.evidence) if given else [],
            "table": None,
        }
        if isinstance(question, GroupQuestion) and isinstance(value, list):
            entry["table"] = _group_table(evaluation, fmt, question, value)
        questions.append(entry)
    computed = [
        {
            "id": comp.id,
            "label": fmt.text(comp.label),
            "value": fmt.value(evaluation.computed.get(comp.id), comp.format, fixed=True),
        }
        for comp in section.computed
        if evaluation.applies(comp.id)
    ]
    conclusion = evaluation.answer_file.opinion.areas.get(section.id)
    return {
        "id": section.id,
        "number": number,
        "area": section.area,
        "title": fmt.text(section.title),
        "description": fmt.text_or_none(section.description),
        "anchor": f"section-{section.id}",
        "questions": questions,
        "computed": computed,
        "conclusion": _blank_none(conclusion),
        "signals": signals,
    }


_NUMERIC_KINDS = frozenset({"integer", "decimal", "money", "percent", "number", "ratio", "days"})


def _group_table(
    evaluation: Evaluation, fmt: _Formatter, question: GroupQuestion, items: list[dict[str, Any]]
) -> dict[str, Any]:
    """A repeating group as a table, both ways round.

    A group the checklist treats as a series of periods (its rules or computed
    values take ``latest(group, 'field')`` or ``previous(...)``) is shown in
    that field's order, oldest first, with the change from the previous period.
    """
    named = [(item_label(question, item, i), item) for i, item in enumerate(items)]
    order_field = _series_fields(evaluation.checklist).get(question.id)
    if order_field is not None:
        named.sort(key=lambda pair: _order_key(pair[1].get(order_field)))

    columns: list[tuple[str, str, str, ScalarQuestionType | None, bool]] = []
    for field_q in question.fields:
        if field_q.id == question.item_label:
            continue  # it heads the row or column already
        columns.append(
            (field_q.id, fmt.text(field_q.prompt), _question_kind(field_q), field_q, False)
        )
    for comp in question.computed:
        columns.append((comp.id, fmt.text(comp.label), comp.format, None, True))

    def cell(item: Mapping[str, Any], cid: str, kind: str, fq: ScalarQuestionType | None) -> str:
        value = item.get(cid)
        if value is None:
            return fmt.labels["not_answered"] if fq is not None else fmt.labels["not_available"]
        return fmt.value(value, kind, fq, fixed=fq is None)

    grid = [[cell(item, cid, kind, fq) for cid, _, kind, fq, _ in columns] for _, item in named]
    rows_by_item = [
        {"label": name, "cells": cells} for (name, _), cells in zip(named, grid, strict=True)
    ]
    rows_by_field = []
    has_trend = False
    for index, (cid, label, kind, _, is_computed) in enumerate(columns):
        trend = None
        if order_field is not None and len(named) > 1:
            trend = _trend([item.get(cid) for _, item in named], kind, fmt)
        has_trend = has_trend or trend is not None
        rows_by_field.append(
            {
                "id": cid,
                "label": label,
                "computed": is_computed,
                "cells": [cells[index] for cells in grid],
                "trend": trend,
            }
        )
    corner = fmt.labels["item"]
    for field_q in question.fields:
        if field_q.id == question.item_label:
            corner = fmt.text(field_q.prompt)
    return {
        "corner": corner,
        "layout": "by_field" if len(named) <= 4 else "by_item",
        "item_labels": [name for name, _ in named],
        "columns": [{"id": c[0], "label": c[1], "computed": c[4]} for c in columns],
        "rows_by_item": rows_by_item,
        "rows_by_field": rows_by_field,
        "has_trend": has_trend,
    }


def _order_key(value: Any) -> tuple[int, str]:
    if value is None:
        return (1, "")
    if isinstance(value, date):
        return (0, value.isoformat())
    if isinstance(value, int | float | Decimal):
        return (0, f"{float(value):030.6f}")
    return (0, str(value))


_SERIES_CALL = re.compile(
    r"\b(?:latest|previous)\(\s*([a-z][a-z0-9_]*)\s*,\s*['\"]([a-z][a-z0-9_]*)['\"]"
)
_series_cache: dict[int, tuple[CompiledChecklist, dict[str, str]]] = {}


def _series_fields(checklist: CompiledChecklist) -> dict[str, str]:
    """Groups the checklist orders as periods, with the field it orders them by."""
    cached = _series_cache.get(id(checklist))
    if cached is not None and cached[0] is checklist:
        return cached[1]
    found: dict[str, str] = {}
    for section in checklist.checklist.sections:
        sources = [c.expr for c in section.computed] + [r.when for r in section.rules]
        for question in section.questions:
            if isinstance(question, GroupQuestion):
                sources.extend(c.expr for c in question.computed)
        for source in sources:
            for group, field_id in _SERIES_CALL.findall(source):
                ref = checklist.questions.get(group)
                if ref is not None and isinstance(ref.question, GroupQuestion):
                    found.setdefault(group, field_id)
    if len(_series_cache) >= 32:
        _series_cache.clear()
    _series_cache[id(checklist)] = (checklist, found)
    return found


def _trend(values: list[Any], kind: str, fmt: _Formatter) -> str | None:
    """The change from the previous item to the last one, in words."""
    if kind not in _NUMERIC_KINDS:
        return None
    last, previous = _amount(values[-1]), _amount(values[-2])
    if last is None or previous is None:
        return None
    if last > previous:
        return fmt.labels["trend_up"]
    if last < previous:
        return fmt.labels["trend_down"]
    return fmt.labels["trend_unchanged"]


def _amount(value: Any) -> Decimal | None:
    if isinstance(value, Money):
        return value.amount
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    return Decimal(str(value))


_LOAN_LABELS = {
    "days_past_due": "days_past_due",
    "amount": "amount",
    "outstanding": "outstanding",
    "matures_on": "matures_on",
    "disbursed_on": "disbursed_on",
    "type": "loan_type",
    "purpose": "purpose",
}


def _signal(
    evaluation: Evaluation,
    fmt: _Formatter,
    signal: Signal,
    number: int,
    section_titles: Mapping[str, str],
) -> dict[str, Any]:
    return {
        "number": number,
        "ref": f"S{number}",
        "anchor": f"signal-{number}",
        "rule_id": signal.rule_id,
        "section_id": signal.section_id,
        "section": section_titles.get(signal.section_id, signal.section_id),
        "severity_id": signal.severity.value,
        "severity": fmt.labels["severity_" + signal.severity.value],
        "text": fmt.text(signal.text),
        "item": signal.item,
        "evidence": [_evidence(evaluation, fmt, e) for e in signal.evidence],
        "action": fmt.text_or_none(signal.action),
        "escalate_to": fmt.text_or_none(signal.escalate_to),
        "due": fmt.date(signal.due) if signal.due else None,
        "due_iso": signal.due.isoformat() if signal.due else None,
        "classification": fmt.classification(signal.classification),
        "classification_id": signal.classification.value,
    }


def _evidence(evaluation: Evaluation, fmt: _Formatter, evidence: Evidence) -> dict[str, Any]:
    question: AnyQuestion | None = evidence.question
    if question is None and evidence.kind == "answer":
        ref = evaluation.checklist.questions.get(evidence.id)
        question = ref.question if ref else None
    if evidence.kind == "loan":
        label = fmt.labels.get(_LOAN_LABELS.get(evidence.id, evidence.id), evidence.id)
    else:
        label = fmt.text(evidence.label) or evidence.id
    value = evidence.value
    if evidence.kind == "loan" and evidence.format == "money" and value is not None:
        shown = fmt.money(value)
    elif question is not None:
        shown = fmt.value(value, evidence.format, question)
    else:
        shown = fmt.value(value, evidence.format, fixed=evidence.kind == "computed")
    return {
        "kind": evidence.kind,
        "label": label,
        "value": shown,
        "item": evidence.item,
        "note": _blank_none(evidence.note),
        "references": list(evidence.references),
    }


# --- Markdown escaping ----------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~&!(){}])")
_MD_LINE_START = re.compile(r"^(\s*)(=|-(?=[-\s]|$)|\+(?=\s|$)|\d{1,9}[.)](?=\s|$))")
_NEWLINES = re.compile(r"\r\n|\r|\n")
#: Anything :func:`escape_markdown` would change (most values need nothing).
_MD_NEEDS_WORK = re.compile(r"[\\`*_\[\]<>|#~&!(){}\r\n]|^\s|\s$|^[-+=]|^\d{1,9}[.)]")
_BLANK_RUNS = re.compile(r"\n{3,}")


def escape_markdown(value: Any) -> str:
    """``value`` as inert Markdown text (``Markup`` passes unchanged).

    Markdown punctuation gets a backslash, a leading list/heading/setext
    marker is escaped, and newlines become ``<br>`` so the value stays inside
    the paragraph or table cell it was put in.
    """
    if type(value) is str:  # the common case: context values are plain strings
        cached = _MD_ESCAPED.get(value)
        if cached is not None:
            return cached
        text = _escape_markdown_text(value)
        if len(_MD_ESCAPED) >= _MD_CACHE_SIZE:
            _MD_ESCAPED.clear()  # bounded: a batch must not grow with its files
        _MD_ESCAPED[value] = text
        return text
    if isinstance(value, Markup):
        return str(value)
    if value is None:
        return ""
    return _escape_markdown_text(str(value))


#: Escaped texts seen lately: labels, prompts and choice names recur in every report.
_MD_ESCAPED: dict[str, str] = {}
_MD_CACHE_SIZE = 4096


def _escape_markdown_text(text: str) -> str:
    if _MD_NEEDS_WORK.search(text) is None:
        return text
    text = _MD_SPECIAL.sub(r"\\\1", text)
    lines = _NEWLINES.split(text)
    return "<br>".join(_MD_LINE_START.sub(_escape_marker, line).strip() for line in lines)


def _escape_marker(match: re.Match[str]) -> str:
    marker = match.group(2)
    if marker[0].isdigit():
        return f"{marker[:-1]}\\{marker[-1]}"
    return f"\\{marker}"


def _html_finalize(value: Any) -> Any:
    return "" if value is None else value


# --- environments and templates --------------------------------------------------------


#: Names a dict answers as attributes (``items``, ``get``...): never read as keys.
_DICT_ATTRIBUTES = frozenset(dir(dict)) | frozenset(dir(MappingProxyType))
_MAPPINGS = (dict, MappingProxyType)


@functools.cache
def _environment_classes() -> tuple[type[Environment], type[ImmutableSandboxedEnvironment]]:
    """Jinja environments that read the report context's dicts without an exception.

    ``{{ loan.id }}`` compiles to ``environment.getattr(loan, "id")``, which
    tries ``getattr`` first: on a dict that raises ``AttributeError`` before
    the key is read, thousands of times per report. For a plain dict (or
    mapping proxy) and a name that is not a dict attribute, the result is the
    same key, read directly. Items are not attributes, so the sandbox has no
    check to make on them (its own ``getattr`` falls back to the item too).
    """
    from jinja2 import Environment
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    mappings, reserved = _MAPPINGS, _DICT_ATTRIBUTES

    class ShippedEnvironment(Environment):
        def getattr(self, obj: Any, attribute: str) -> Any:
            if type(obj) in mappings and attribute not in reserved:
                try:
                    return obj[attribute]
                except KeyError:
                    pass
            return Environment.getattr(self, obj, attribute)

    class UserEnvironment(ImmutableSandboxedEnvironment):
        def getattr(self, obj: Any, attribute: str) -> Any:
            if type(obj) in mappings and attribute not in reserved:
                try:
                    return obj[attribute]
                except KeyError:
                    pass
            return ImmutableSandboxedEnvironment.getattr(self, obj, attribute)

    return ShippedEnvironment, UserEnvironment


@functools.lru_cache(maxsize=16)
def _environment(dirs: tuple[str, ...], fmt: str) -> Environment:
    """One environment per (template folders, format), for the process.

    The shipped templates are our own code: they run in a plain environment.
    As soon as the user gives template folders, every template (theirs and
    the shipped ones they fall back to) runs in Jinja's immutable sandbox.
    Autoescape, ``finalize`` and undefined handling are the same in both.
    """
    from jinja2 import FileSystemLoader, StrictUndefined

    from postloan_cli.cache import template_bytecode_cache
    from postloan_cli.resources import shipped

    shipped_env, user_env = _environment_classes()
    finalize: Callable[[Any], Any] = escape_markdown if fmt == "md" else _html_finalize
    env_class: type[Environment] = user_env if dirs else shipped_env
    return env_class(
        loader=FileSystemLoader([*dirs, str(shipped("templates"))], encoding="utf-8"),
        autoescape=fmt == "html",
        finalize=finalize,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
        cache_size=-1,
        bytecode_cache=template_bytecode_cache(f"{env_class.__name__}|{fmt}"),
    )


@functools.lru_cache(maxsize=32)
def _template(dirs: tuple[str, ...], fmt: str) -> Template:
    """The compiled opinion template (compiled once per process)."""
    from jinja2 import TemplateNotFound, TemplateSyntaxError

    env = _environment(dirs, fmt)
    name = TEMPLATE_NAMES[fmt]
    try:
        return env.get_template(name)
    except TemplateSyntaxError as exc:
        message = (
            f"template syntax error: {exc.message}" if exc.message else "template syntax error"
        )
        raise InputError(
            [Problem("PL400", message, exc.filename or exc.name, exc.lineno)]
        ) from None
    except TemplateNotFound:
        searched = ", ".join([*dirs, str(_shipped_templates())])
        raise InputError(
            [Problem("PL400", f"template '{name}' not found (searched: {searched})")]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError([Problem("PL400", f"template '{name}' cannot be read: {exc}")]) from None


def _shipped_templates() -> Path:
    from postloan_cli.resources import shipped

    return shipped("templates")


def _runtime_problem(exc: Exception, template: Template) -> Problem:
    """A PL400 problem for an error raised while a template rendered, at its line."""
    file = template.filename
    line: int | None = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.endswith(".j2") or frame.filename == file:
            file, line = frame.filename, frame.lineno
    message = f"template failed while rendering: {exc}"
    return Problem("PL400", message, file, line)


def clear_caches() -> None:
    """Forget cached environments and templates (tests that edit templates use this)."""
    _template.cache_clear()
    _environment.cache_clear()
