"""Rendering an evaluated inspection as the inspection opinion (Markdown or HTML).

:func:`render` turns an :class:`~postloan_cli.evaluation.Evaluation` into the
text of the opinion; :func:`report_context` builds the plain data the
templates read. Every value in that data is already localized and formatted
for the report language (money with its currency, percentages, long dates,
choice labels instead of ids, yes/no in words), so a template only arranges
text; it never formats numbers or looks anything up.

Templates are ``opinion.md.j2`` and ``opinion.html.j2``, searched in the
user's ``template_dirs`` first, then in the shipped ``templates`` folder.
With ``template_dirs`` they run in Jinja's immutable sandbox; the shipped
templates alone, our own code, run in a plain environment. Both use
:class:`jinja2.StrictUndefined` (a misspelt name is an error, not silently
empty text). Any problem with a template (not found, syntax error, error
while rendering) raises :class:`~postloan_cli.errors.InputError` with one
``PL400`` problem carrying the template file and line.

Escaping: everything user-written (checklist text included) is escaped.
HTML templates autoescape. Markdown templates pass every ``{{ value }}``
through a ``finalize`` hook (:func:`escape_markdown`) unless the value is
:class:`markupsafe.Markup`: Markdown punctuation is backslash-escaped, block
markers at the start of the value are neutralised, and newlines become
``<br>``, so a note can never add a heading, a list, a table row or raw HTML
to the document. The plain environment of the shipped templates writes the
same text, escaping in ``finalize`` for both formats and remembering each
escaped text (:class:`EscapedTexts`): labels, prompts and choice names are
escaped once per process, not once per report.

Environments and compiled templates are cached per process, per
(template folders, format): a batch compiles each template once. What the
context takes from the checklist and the language alone (localized titles,
prompts, choice labels, table headings) is prepared once per checklist
version and language (:class:`_Prepared`), not once per answer file, and so
are its formatting functions, per loan currency (:class:`_Formatter`). The
shipped templates render through their compiled root function directly
(:func:`_shipped_renderer`), without ``Template.render``'s per-call set-up.

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
    anchor, questions, scalar_questions, table_questions, group_questions,
    computed, conclusion?, signals}``;
    ``questions``: list of ``{id, type, prompt, help?, answered (bool),
    value, note?, evidence (list of str), evidence_text (the references
    joined by ", "), table?}`` for the questions that were asked (unanswered
    ones have ``value`` = the "not answered" label); ``scalar_questions``
    (no ``table``), ``table_questions`` (with one) and ``group_questions``
    (groups without one) are the same entries, split for the templates;
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
    item?, note?, references (list of str), references_text (joined by
    ", ")}``.
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
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

from postloan_cli import __version__
from postloan_cli.compiled import CompiledChecklist
from postloan_cli.errors import InputError, Problem
from postloan_cli.evaluation import Evaluation, Evidence, Signal, item_label
from postloan_cli.i18n import (
    labels,
    locale_formats,
    localize,
)
from postloan_cli.models import (
    AnyQuestion,
    Checklist,
    Classification,
    DecimalQuestion,
    GroupQuestion,
    IntegerQuestion,
    Money,
    MultipleChoiceQuestion,
    Section,
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
    dirs = tuple(str(d) for d in template_dirs)
    template = _template(dirs, fmt)
    context = _shared_context(evaluation, lang)
    try:
        text = _shipped_renderer(fmt)(context) if not dirs else template.render(context)
    except InputError:
        raise
    except Exception as exc:  # any template failure is the template author's, not ours
        raise InputError([_runtime_problem(exc, template)]) from None
    if fmt == "md":
        # a regex scan of the whole report costs more than the template; runs are rare
        if "\n\n\n" in text:
            text = _BLANK_RUNS.sub("\n\n", text)
        # one newline at the end, none at the start: as the shipped template writes
        # it already, so mostly no copy of the whole report (two, with the "\n")
        if text.startswith("\n") or not text.endswith("\n") or text.endswith("\n\n"):
            text = text.strip("\n") + "\n"
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
    """The plain data the opinion templates read (keys: see the module docstring).

    What depends only on the checklist and the language (titles, prompts,
    choice names, table headings, labels) is prepared once per checklist and
    language (:func:`_prepared`); this adds what the answer file says. Every
    call returns dicts and lists of its own: changing one context changes no other.
    """
    compiled = evaluation.checklist
    checklist = compiled.checklist
    language = lang or checklist.default_language
    prep = _prepared(compiled, language)
    af = evaluation.answer_file
    loan, inspection, opinion = af.loan, af.inspection, af.opinion
    fmt = prep.formatter(loan.amount.currency)
    lab = prep.labels

    signals = [
        _signal(evaluation, prep, fmt, signal, number)
        for number, signal in enumerate(evaluation.signals, start=1)
    ]
    by_section: dict[str, list[dict[str, Any]]] = {}
    for entry in signals:
        by_section.setdefault(entry["section_id"], []).append(entry)

    sections = [
        _section(evaluation, fmt, plan, by_section.get(plan.id, [])) for plan in prep.sections
    ]

    actions = [s for s in signals if s["action"] or s["escalate_to"]]
    actions.sort(key=lambda s: (s["due_iso"] is None, s["due_iso"] or "", s["number"]))

    per_severity = dict.fromkeys(prep.severities, 0)
    for signal in evaluation.signals:
        per_severity[signal.severity] += 1
    counts = [
        {"severity_id": _IDS[severity], "severity": label, "count": per_severity[severity]}
        for severity, label in prep.severities.items()
    ]

    loan_ctx: dict[str, Any] = {
        "id": loan.id,
        "bank": loan.bank,
        "branch": loan.branch,
        "contract": loan.contract,
        "borrower": loan.borrower.name,
        "borrower_id": loan.borrower.id,
        "industry": loan.borrower.industry,
        "type": prep.loan_types.get(loan.type, loan.type),
        "type_id": loan.type,
        "amount": fmt.money(loan.amount.amount, loan.amount.currency),
        "outstanding": fmt.money(loan.outstanding.amount, loan.outstanding.currency),
        "currency": loan.amount.currency,
        "disbursed_on": fmt.date(loan.disbursed_on),
        "matures_on": fmt.date(loan.matures_on),
        "purpose": loan.purpose,
        "days_past_due": fmt.formats.integer(loan.days_past_due),
        "days_past_due_value": loan.days_past_due,
    }
    loan_ctx["fields"] = _fields(prep.loan_fields, loan_ctx)

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
    inspection_ctx["fields"] = _fields(prep.inspection_fields, inspection_ctx)

    proposed = opinion.proposed_classification
    review = af.review
    return {
        "lang": language,
        "labels": lab,
        "document": {
            "title": lab["title"],
            "checklist_id": checklist.id,
            "checklist_version": checklist.version,
            "checklist_title": prep.title,
            "tool": "postloan",
            "tool_version": __version__,
            "generator": f"postloan {__version__}",
            "status": af.status,
            "is_draft": af.status == "draft",
        },
        "loan": loan_ctx,
        "inspection": inspection_ctx,
        "summary": {
            "suggested": prep.classifications[evaluation.suggested],
            "suggested_id": _IDS[evaluation.suggested],
            "proposed": prep.classifications[proposed] if proposed else None,
            "proposed_id": _IDS[proposed] if proposed else None,
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
            "proposed": prep.classifications[proposed] if proposed else None,
            "proposed_id": _IDS[proposed] if proposed else None,
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


# --- what a checklist and a language fix, prepared once ------------------------------


class _Shown:
    """How answers to one question (or group field) are shown, in one language."""

    __slots__ = ("choices", "group", "unit")

    def __init__(self, question: AnyQuestion, text: Callable[[Text | None], str]) -> None:
        #: choice id -> localized choice label (choice questions only)
        self.choices: dict[str, str] | None = None
        #: the localized unit after a number (integer and decimal questions with a unit)
        self.unit: str | None = None
        #: the question itself when it is a repeating group
        self.group: GroupQuestion | None = None
        if isinstance(question, SingleChoiceQuestion | MultipleChoiceQuestion):
            self.choices = {c.id: text(c.label) for c in question.choices}
        elif isinstance(question, IntegerQuestion | DecimalQuestion) and question.unit:
            self.unit = text(question.unit)
        elif isinstance(question, GroupQuestion):
            self.group = question


class _GroupPlan:
    """A repeating group's table without its items: headings, cell formats, order."""

    __slots__ = ("columns", "corner", "order_field", "question")

    def __init__(self, question: GroupQuestion, prep: _Prepared, order_field: str | None) -> None:
        self.question = question
        self.order_field = order_field
        #: (id, heading, format, how answers are shown or None for computed values, computed)
        self.columns: tuple[tuple[str, str, str, _Shown | None, bool], ...] = tuple(
            [
                (f.id, prep.text(f.prompt), f.type, prep.shown(f), False)
                for f in question.fields
                if f.id != question.item_label  # it heads the row or column already
            ]
            + [(c.id, prep.text(c.label), c.format, None, True) for c in question.computed]
        )
        corner = prep.labels["item"]
        for field_q in question.fields:
            if field_q.id == question.item_label:
                corner = prep.text(field_q.prompt)
        self.corner = corner


class _QuestionPlan:
    """One question of a section as the report shows it, before any answer."""

    __slots__ = ("group", "help", "id", "prompt", "shown", "type")

    def __init__(self, question: AnyQuestion, prep: _Prepared, series: Mapping[str, str]) -> None:
        self.id = question.id
        self.type = question.type
        self.prompt = prep.text(question.prompt)
        self.help = prep.text(question.help) or None
        self.shown = prep.shown(question)
        self.group = (
            _GroupPlan(question, prep, series.get(question.id))
            if isinstance(question, GroupQuestion)
            else None
        )


class _SectionPlan:
    """One section of the checklist as the report shows it, before any answer."""

    __slots__ = (
        "anchor",
        "area",
        "computed",
        "description",
        "id",
        "number",
        "questions",
        "title",
    )

    def __init__(
        self, section: Section, number: int, prep: _Prepared, series: Mapping[str, str]
    ) -> None:
        self.id = section.id
        self.number = number
        self.area = section.area
        self.title = prep.text(section.title)
        self.description = prep.text(section.description) or None
        self.anchor = f"section-{section.id}"
        self.questions = tuple(_QuestionPlan(q, prep, series) for q in section.questions)
        #: (id, label, format) of the section's computed values
        self.computed = tuple((c.id, prep.text(c.label), c.format) for c in section.computed)


class _Prepared:
    """What a report context takes from the checklist and the language alone.

    Batch workers render thousands of answer files of one checklist version:
    titles, prompts, choice labels and table headings are localized here once
    instead of in every report. Only strings (and the shared ``labels``
    mapping) go from here into a context; its dicts and lists are made anew
    for each report.
    """

    def __init__(self, compiled: CompiledChecklist, lang: str) -> None:
        checklist = compiled.checklist
        self.compiled = compiled
        self.lang = lang
        self.default = checklist.default_language
        self.labels = labels(lang)
        lab = self.labels
        # Every translatable text of the checklist, localized, by identity: the
        # evaluation hands back these same objects (signal texts, evidence labels).
        self._texts: dict[int, tuple[Text, str]] = {}
        for text in _checklist_texts(checklist):
            if isinstance(text, dict):
                self._texts[id(text)] = (text, localize(text, lang, self.default))
        # How each question and group field shows its answers, by identity too.
        self._shown: dict[int, tuple[AnyQuestion, _Shown]] = {}
        for ref in compiled.questions.values():
            self.shown(ref.question)
        self.title = self.text(checklist.title)
        self.loan_types = {t.id: self.text(t.label) for t in checklist.loan_types}
        series = _series_fields(compiled)
        self.sections = tuple(
            _SectionPlan(section, number, self, series)
            for number, section in enumerate(checklist.sections, start=1)
        )
        self.section_titles = {plan.id: plan.title for plan in self.sections}
        #: severity -> label, most severe first (the order of the summary counts)
        self.severities = {s: lab["severity_" + s.value] for s in reversed(list(Severity))}
        self.classifications = {c: lab["classification_" + c.value] for c in Classification}
        self.loan_fields = _field_labels(lab, _LOAN_FIELDS)
        self.inspection_fields = _field_labels(lab, _INSPECTION_FIELDS)
        self.evidence_labels = {key: lab.get(name, key) for key, name in _LOAN_LABELS.items()}
        #: formatters by loan currency (:meth:`formatter`)
        self._formatters: dict[str, _Formatter] = {}

    def formatter(self, currency: str) -> _Formatter:
        """The formatter of reports whose loan is in ``currency`` (made once per currency)."""
        fmt = self._formatters.get(currency)
        if fmt is None:
            if len(self._formatters) >= _MAX_FORMATTERS:
                self._formatters.clear()  # bounded, however many currencies a batch has
            fmt = self._formatters[currency] = _Formatter(self, currency)
        return fmt

    def text(self, text: Text | None) -> str:
        """``text`` in the report language (with the checklist's fallbacks)."""
        if type(text) is str:
            return text
        known = self._texts.get(id(text))
        if known is not None and known[0] is text:
            return known[1]
        return localize(text, self.lang, self.default)

    def shown(self, question: AnyQuestion) -> _Shown:
        """How answers to ``question`` are shown (made once per question of the checklist)."""
        known = self._shown.get(id(question))
        if known is not None and known[0] is question:
            return known[1]
        shown = _Shown(question, self.text)
        if len(self._shown) < _MAX_SHOWN:  # bounded, should evidence bring foreign questions
            self._shown[id(question)] = (question, shown)
        if isinstance(question, GroupQuestion):
            for field_q in question.fields:
                self.shown(field_q)
        return shown


_MAX_SHOWN = 10_000
_MAX_FORMATTERS = 64

_prepared_cache: dict[tuple[int, str], _Prepared] = {}


def _prepared(compiled: CompiledChecklist, lang: str) -> _Prepared:
    """The prepared data of ``compiled`` in ``lang``, made once per process."""
    prep = _prepared_cache.get((id(compiled), lang))
    # the identity checks: an id can be reused once a checklist is gone, and
    # labels can be reloaded (tests change them)
    if prep is None or prep.compiled is not compiled or prep.labels is not labels(lang):
        prep = _Prepared(compiled, lang)
        if len(_prepared_cache) >= 32:
            _prepared_cache.clear()
        _prepared_cache[(id(compiled), lang)] = prep
    return prep


def _checklist_texts(checklist: Checklist) -> Iterator[Text | None]:
    """Every translatable text of ``checklist`` (``None`` where one is absent)."""
    yield checklist.title
    yield checklist.description
    for loan_type in checklist.loan_types:
        yield loan_type.label
    for threshold in checklist.thresholds:
        yield threshold.label
    for section in checklist.sections:
        yield section.title
        yield section.description
        for comp in section.computed:
            yield comp.label
        for rule in section.rules:
            yield rule.signal
            yield rule.action
            yield rule.escalate_to
        for question in section.questions:
            yield from _question_texts(question)
            if isinstance(question, GroupQuestion):
                for field_q in question.fields:
                    yield from _question_texts(field_q)
                for comp in question.computed:
                    yield comp.label


def _question_texts(question: AnyQuestion) -> Iterator[Text | None]:
    yield question.prompt
    yield question.help
    if isinstance(question, SingleChoiceQuestion | MultipleChoiceQuestion):
        for choice in question.choices:
            yield choice.label
    elif isinstance(question, IntegerQuestion | DecimalQuestion):
        yield question.unit


#: Header rows of the loan and the inspection: context key, or ``key:label key``.
_LOAN_FIELDS = (
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
)
_INSPECTION_FIELDS = (
    "kind:inspection_kind",
    "date:inspection_date",
    "reason",
    "previous:previous_inspection",
    "place",
    "officer",
    "certificate",
)


def _field_labels(lab: Mapping[str, str], spec: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """(context key, label) of each header row in ``spec``."""
    rows = []
    for entry in spec:
        key, _, label_key = entry.partition(":")
        rows.append((key, lab[label_key or key]))
    return tuple(rows)


def _fields(spec: Sequence[tuple[str, str]], data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Header rows ``{key, label, value}`` for the present values, in ``spec`` order."""
    rows = []
    for key, label in spec:
        value = data.get(key)
        if value is not None and value != "":
            rows.append({"key": key, "label": label, "value": value})
    return rows


# --- formatting values ------------------------------------------------------------


_NUMBERS = (int, float, Decimal)
#: Answer types never equal to ``""`` (the test skips a Python-level ``__eq__`` for money).
_NEVER_BLANK = frozenset({bool, int, float, Decimal, Money, date, list})


class _Formatter:
    """Formats the values of reports: their prepared language data and the loan currency.

    One per prepared checklist and loan currency (:meth:`_Prepared.formatter`),
    shared by the reports that have both: it holds nothing of any one report.
    """

    __slots__ = (
        "_days_number",
        "_integer",
        "_loan_money",
        "_percent",
        "_percent_fixed",
        "_plain_number",
        "_ratio",
        "currency",
        "date",
        "formats",
        "labels",
        "lang",
        "no",
        "not_answered",
        "not_available",
        "prep",
        "separator",
        "yes",
    )

    def __init__(self, prep: _Prepared, currency: str) -> None:
        self.prep = prep
        self.lang = prep.lang
        self.currency = currency
        formats = self.formats = locale_formats(prep.lang)
        # the formatting functions of the report's language, found once
        self.date = formats.date_function()
        self._loan_money = formats.money_function(currency)
        self._percent = formats.percent_function()
        self._percent_fixed = formats.percent_function(min_decimals=2)
        self._ratio = formats.ratio
        self._integer = formats.integer
        self._plain_number = formats.number_function()
        self._days_number = formats.number_function(1)
        lab = self.labels = prep.labels
        self.not_answered = lab["not_answered"]
        self.not_available = lab["not_available"]
        self.yes = lab["yes"]
        self.no = lab["no"]
        self.separator = lab["list_separator"]

    def money(self, amount: Any, currency: str | None = None) -> str:
        if not currency or currency == self.currency:
            return self._loan_money(amount)
        return self.formats.money(amount, currency)

    def days(self, value: Any) -> str:
        return self.labels["days"].format(n=self._days_number(value))

    def value(
        self, value: Any, kind: str, question: AnyQuestion | None = None, *, fixed: bool = False
    ) -> str:
        """``value`` shown as ``kind`` (a question type or a computed/threshold format).

        ``fixed``: a computed value, shown with a fixed number of decimals.
        """
        shown = self.prep.shown(question) if question is not None else None
        return self.show(value, kind, shown, fixed)

    def show(self, value: Any, kind: str, shown: _Shown | None, fixed: bool = False) -> str:
        """:meth:`value`, with how the question shows answers (``None``: not a question).

        The common types (about 160 values a report) are told apart by their
        exact class first; anything else takes :meth:`_show`, the full order
        of checks, which gives the same text for these too.
        """
        cls = value.__class__
        if cls is bool:
            return self.yes if value else self.no
        if cls is str:
            text: str = value
            if not text:
                return self.not_answered if shown is not None else self.not_available
            if shown is not None and shown.choices is not None:
                return shown.choices.get(text, text)
            return text
        if cls is Money:
            currency = value.currency
            if not currency or currency == self.currency:
                return self._loan_money(value.amount)
            return self.formats.money(value.amount, currency)
        if (cls is float or cls is Decimal or cls is int) and (
            shown is None or shown.choices is None
        ):
            text = self._number(value, kind, fixed)
            if shown is not None and shown.unit is not None:
                text = f"{text} {shown.unit}"
            return text
        return self._show(value, kind, shown, fixed)

    def _show(self, value: Any, kind: str, shown: _Shown | None, fixed: bool) -> str:
        if value is None or value == "":
            return self.not_answered if shown is not None else self.not_available
        if isinstance(value, Money):
            return self.money(value.amount, value.currency)
        if isinstance(value, bool):
            return self.yes if value else self.no
        if shown is not None:
            choices = shown.choices
            if choices is not None:
                if isinstance(value, list):
                    return self.separator.join([choices.get(str(v), str(v)) for v in value])
                return choices.get(str(value), str(value))
            group = shown.group
            if group is not None and isinstance(value, list):
                names = [item_label(group, item, i) for i, item in enumerate(value)]
                return self.labels["items_count"].format(n=len(value)) + (
                    ": " + ", ".join(names) if names else ""
                )
        if isinstance(value, date):
            return self.date(value)
        if isinstance(value, list):
            return self.separator.join([self.show(v, kind, None) for v in value])
        if isinstance(value, _NUMBERS):
            text = self._number(value, kind, fixed)
            if shown is not None and shown.unit is not None:
                text = f"{text} {shown.unit}"
            return text
        return str(value)

    def _number(self, value: float | Decimal, kind: str, fixed: bool = False) -> str:
        if kind == "money":
            return self.money(value)
        if kind == "percent":
            return (self._percent_fixed if fixed else self._percent)(value)
        if kind == "ratio":
            return self._ratio(value)
        if kind == "days":
            return self.days(value)
        if kind == "integer":
            return self._integer(value)
        return self._plain_number(value)


def _blank_none(text: str | None) -> str | None:
    return text if text and text.strip() else None


# --- the per-answer part ------------------------------------------------------------


def _section(
    evaluation: Evaluation,
    fmt: _Formatter,
    plan: _SectionPlan,
    signals: list[dict[str, Any]],
) -> dict[str, Any]:
    asked, value_of, given_of = evaluation.asked.get, evaluation.values.get, evaluation.given.get
    show = fmt.show
    questions: list[dict[str, Any]] = []
    # the templates' three kinds of question, split once here rather than
    # filtered by each template (Jinja filters cost a Python call per item)
    scalars: list[dict[str, Any]] = []
    tables: list[dict[str, Any]] = []
    groups: list[dict[str, Any]] = []
    for question in plan.questions:
        qid = question.id
        if not asked(qid, True):
            continue  # its condition was false: not part of this inspection
        value = value_of(qid)
        given = given_of(qid)
        if given:
            note = given.note
            if not (note and note.strip()):
                note = None
            evidence = list(given.evidence)
        else:
            note, evidence = None, []
        entry: dict[str, Any] = {
            "id": qid,
            "type": question.type,
            "prompt": question.prompt,
            "help": question.help,
            "answered": value is not None and (value.__class__ in _NEVER_BLANK or value != ""),
            "value": show(value, question.type, question.shown),
            "note": note,
            "evidence": evidence,
            "evidence_text": ", ".join(evidence),
            "table": None,
        }
        if question.group is not None and isinstance(value, list):
            entry["table"] = _group_table(fmt, question.group, value)
            tables.append(entry)
        else:
            scalars.append(entry)
            if question.type == "group":
                groups.append(entry)
        questions.append(entry)
    computed_values = evaluation.computed
    computed = []
    for cid, label, kind in plan.computed:
        value = computed_values.get(cid)
        if value is not None or evaluation.applies(cid):
            computed.append({"id": cid, "label": label, "value": show(value, kind, None, True)})
    return {
        "id": plan.id,
        "number": plan.number,
        "area": plan.area,
        "title": plan.title,
        "description": plan.description,
        "anchor": plan.anchor,
        "questions": questions,
        "scalar_questions": scalars,
        "table_questions": tables,
        "group_questions": groups,
        "computed": computed,
        "conclusion": _blank_none(evaluation.answer_file.opinion.areas.get(plan.id)),
        "signals": signals,
    }


_NUMERIC_KINDS = frozenset({"integer", "decimal", "money", "percent", "number", "ratio", "days"})


def _group_table(fmt: _Formatter, plan: _GroupPlan, items: list[dict[str, Any]]) -> dict[str, Any]:
    """A repeating group as a table, both ways round.

    A group the checklist treats as a series of periods (its rules or computed
    values take ``latest(group, 'field')`` or ``previous(...)``) is shown in
    that field's order, oldest first, with the change from the previous period.
    """
    question = plan.question
    named = [(item_label(question, item, i), item) for i, item in enumerate(items)]
    order_field = plan.order_field
    if order_field is not None:
        named.sort(key=lambda pair: _order_key(pair[1].get(order_field)))

    columns = plan.columns
    show = fmt.show
    # a computed value (no question) is shown with its fixed number of decimals
    grid = [
        [show(item.get(cid), kind, shown, computed) for cid, _, kind, shown, computed in columns]
        for _, item in named
    ]
    by_field = [list(cells) for cells in zip(*grid, strict=True)] if grid else [[] for _ in columns]
    if order_field is not None and len(named) > 1:
        # periods: the change from the one before the last to the last
        last, before = named[-1][1], named[-2][1]
        trends = [_trend(last.get(c[0]), before.get(c[0]), c[2], fmt) for c in columns]
    else:
        trends = [None] * len(columns)
    return {
        "corner": plan.corner,
        "layout": "by_field" if len(named) <= 4 else "by_item",
        "item_labels": [name for name, _ in named],
        "columns": [{"id": c[0], "label": c[1], "computed": c[4]} for c in columns],
        "rows_by_item": [
            {"label": name, "cells": cells} for (name, _), cells in zip(named, grid, strict=True)
        ],
        "rows_by_field": [
            {"id": c[0], "label": c[1], "computed": c[4], "cells": cells, "trend": trend}
            for c, cells, trend in zip(columns, by_field, trends, strict=True)
        ],
        "has_trend": any(trend is not None for trend in trends),
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


def _series_fields(checklist: CompiledChecklist) -> dict[str, str]:
    """Groups the checklist orders as periods, with the field it orders them by."""
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
    return found


def _trend(last_value: Any, previous_value: Any, kind: str, fmt: _Formatter) -> str | None:
    """The change from the previous item to the last one, in words."""
    if kind not in _NUMERIC_KINDS:
        return None
    cls = last_value.__class__
    if cls is previous_value.__class__ and (
        cls is int
        or (cls is float and last_value == last_value and previous_value == previous_value)
    ):
        # two ints, or two floats (not NaN): they order as their decimal forms
        # below would (a float's shortest repr is monotonic), without converting
        last, previous = last_value, previous_value
    else:
        last, previous = _amount(last_value), _amount(previous_value)
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


#: Each severity's and classification's id: an enum member's ``.value`` is a Python-level
#: property (two calls each, ~25 a report); a dict lookup is not.
_IDS: dict[Severity | Classification, str] = {
    **{s: s.value for s in Severity},
    **{c: c.value for c in Classification},
}

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
    evaluation: Evaluation, prep: _Prepared, fmt: _Formatter, signal: Signal, number: int
) -> dict[str, Any]:
    text = prep.text
    due = signal.due
    return {
        "number": number,
        "ref": f"S{number}",
        "anchor": f"signal-{number}",
        "rule_id": signal.rule_id,
        "section_id": signal.section_id,
        "section": prep.section_titles.get(signal.section_id, signal.section_id),
        "severity_id": _IDS[signal.severity],
        "severity": prep.severities[signal.severity],
        "text": text(signal.text),
        "item": signal.item,
        "evidence": [_evidence(evaluation, prep, fmt, e) for e in signal.evidence],
        "action": text(signal.action) or None,
        "escalate_to": text(signal.escalate_to) or None,
        "due": fmt.date(due) if due else None,
        "due_iso": due.isoformat() if due else None,
        "classification": prep.classifications[signal.classification],
        "classification_id": _IDS[signal.classification],
    }


def _evidence(
    evaluation: Evaluation, prep: _Prepared, fmt: _Formatter, evidence: Evidence
) -> dict[str, Any]:
    kind = evidence.kind
    question: AnyQuestion | None = evidence.question
    if question is None and kind == "answer":
        ref = evaluation.checklist.questions.get(evidence.id)
        question = ref.question if ref else None
    if kind == "loan":
        known = prep.evidence_labels.get(evidence.id)
        label = known if known is not None else prep.labels.get(evidence.id, evidence.id)
    else:
        label = prep.text(evidence.label) or evidence.id
    value = evidence.value
    if kind == "loan" and evidence.format == "money" and value is not None:
        shown = fmt.money(value)
    elif question is not None:
        shown = fmt.show(value, evidence.format, prep.shown(question))
    else:
        shown = fmt.show(value, evidence.format, None, kind == "computed")
    return {
        "kind": kind,
        "label": label,
        "value": shown,
        "item": evidence.item,
        "note": _blank_none(evidence.note),
        "references": list(evidence.references),
        "references_text": ", ".join(evidence.references),
    }


# --- Markdown escaping ----------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~&!(){}])")
_MD_LINE_START = re.compile(r"^(\s*)(=|-(?=[-\s]|$)|\+(?=\s|$)|\d{1,9}[.)](?=\s|$))")
_NEWLINES = re.compile(r"\r\n|\r|\n")
#: Matches (``fullmatch``) a text :func:`escape_markdown` leaves as it is, as most values
#: are: no Markdown punctuation or line break, no space at either end, and none of the
#: line-start markers of ``_MD_LINE_START`` first (``-87.90%`` is not one). One anchored
#: match: a search with ``^``/``$`` alternatives tries each of them at every position.
_MD_PLAIN = re.compile(
    r"(?!\s|=|-(?:[-\s]|$)|\+(?:\s|$)|\d{1,9}[.)](?:\s|$))"
    r"[^\\`*_\[\]<>|#~&!(){}\r\n]*(?<!\s)"
).fullmatch
#: Matches (``fullmatch``) a text HTML escaping leaves as it is (``markupsafe.escape``
#: replaces exactly these five characters).
_HTML_PLAIN = re.compile(r"[^&<>\"']*").fullmatch
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
    if _MD_PLAIN(text) is not None:
        return text
    return _escape_markdown_full(text)


def _escape_markdown_full(text: str) -> str:
    """:func:`_escape_markdown_text` without the quick check that most texts need nothing."""
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


def _escape_html(value: Any) -> str:
    """``value`` as autoescape writes it: HTML-escaped, ``Markup`` unchanged, ``None`` empty."""
    return "" if value is None else str(escape(value))


def _escape_markdown_uncached(value: Any) -> str:
    """:func:`escape_markdown` without its own cache (for :class:`EscapedTexts`, which has one)."""
    if type(value) is str:
        return _escape_markdown_text(value)
    return escape_markdown(value)


class EscapedTexts(dict[Any, str]):
    """The shipped templates' ``finalize``: escaped text by raw text, escaped once.

    A report shows the same labels, prompts, choice names and amounts as the
    reports before it; the environment calls ``finalize`` for every value it
    outputs. Used as ``finalize=texts.__getitem__`` (which the shipped code
    generator writes as the subscript ``texts[value]``), a text seen before
    costs one dict lookup in C and no Python call; a new one goes through
    :meth:`__missing__`, which escapes it (and remembers it if it is a plain
    ``str``). Only plain strings are remembered, so a number never meets a
    text, and any other value (``None``, a number, ``Markup``) is escaped by
    ``escape`` each time. The one difference from calling ``escape`` directly:
    a ``Markup`` equal to a remembered text comes out escaped (too much, never
    too little), and an unhashable value is an error instead of its ``repr``;
    the shipped templates output neither.
    """

    __slots__ = ("_escape", "_plain")

    def __init__(
        self, escape: Callable[[Any], str], plain: Callable[[str], object] | None = None
    ) -> None:
        """``escape``: any value as escaped text; ``plain`` (optional): not ``None``
        for a ``str`` that ``escape`` leaves as it is (a regex's ``fullmatch``).

        Most new texts (amounts, dates, names) need no escaping: with ``plain``
        they are remembered as they are after one regex match, without a call
        to ``escape``.
        """
        super().__init__()
        self._escape = escape
        self._plain = plain

    def __call__(self, value: Any) -> str:
        """Any value escaped: a plain ``str`` through the cache, anything else as it comes.

        For a filter or ``finalize`` that may meet any value (``Markup``
        passes as ``escape`` leaves it, an unhashable value is no error).
        """
        if type(value) is str:
            return self[value]
        return self._escape(value)

    def __missing__(self, value: Any) -> str:
        cls = type(value)
        if cls is str:
            plain = self._plain
            text = value if plain is not None and plain(value) is not None else self._escape(value)
            if len(self) >= _ESCAPED_CACHE_SIZE:
                self.clear()  # bounded: a batch must not grow with its files
            self[value] = text
            return text
        if cls is int:  # section numbers, counts: digits and "-" need no escaping
            return str(value)
        return self._escape(value)


_ESCAPED_CACHE_SIZE = 8192


# --- environments and templates --------------------------------------------------------


#: Names a dict answers as attributes (``items``, ``get``...): never read as keys.
_DICT_ATTRIBUTES = frozenset(dir(dict)) | frozenset(dir(MappingProxyType))
_MAPPINGS = (dict, MappingProxyType)

#: Jinja's own objects a template may name (``loop.index``): never read as dict keys.
_JINJA_OBJECTS = frozenset({"loop", "self", "caller", "varargs", "kwargs", "super"})

#: A loop's ``_loop_vars = {}`` line in Jinja's generated code (indentation kept).
_LOOP_VARS_INIT = re.compile(r"^([ \t]*)_loop_vars = \{\}$", re.MULTILINE)

#: What the shipped environment's generated code depends on besides the template source
#: (part of its bytecode cache key): change it whenever that code changes.
_SHIPPED_CODE = "subscript-escaped-fstring-noloopvars-5"


@functools.cache
def _environment_classes() -> tuple[type[Environment], type[ImmutableSandboxedEnvironment]]:
    """Jinja environments that read the report context's dicts without an exception.

    ``{{ loan.id }}`` compiles to ``environment.getattr(loan, "id")``, which
    tries ``getattr`` first: on a dict that raises ``AttributeError`` before
    the key is read, thousands of times per report. For a plain dict (or
    mapping proxy) and a name that is not a dict attribute, the result is the
    same key, read directly. Items are not attributes, so the sandbox has no
    check to make on them (its own ``getattr`` falls back to the item too).

    The shipped templates, our own code reading only the report context (dicts,
    lists and strings), go further: ``loan.id`` compiles to ``loan["id"]``, with
    no call at all (``ShippedCodeGenerator``). Names that are dict attributes
    or start with ``_``, and Jinja's own objects (``loop.index``), keep Jinja's
    ``getattr``.
    """
    from jinja2 import Environment
    from jinja2.compiler import CodeGenerator, Frame
    from jinja2.nodes import Getattr, Impossible, Name, Output, TemplateData
    from jinja2.nodes import Template as TemplateNode
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    mappings, reserved = _MAPPINGS, _DICT_ATTRIBUTES

    class ShippedCodeGenerator(CodeGenerator):
        def visit_Getattr(self, node: Getattr, frame: Frame) -> None:
            if (
                node.attr in reserved
                or node.attr.startswith("_")
                or (isinstance(node.node, Name) and node.node.name in _JINJA_OBJECTS)
                or self.environment.is_async
            ):
                super().visit_Getattr(node, frame)
                return
            self.write("(")
            self.visit(node.node, frame)
            self.write(f")[{node.attr!r}]")

        def visit_Output(self, node: Output, frame: Frame) -> None:
            # Jinja yields every piece of an output run on its own: a table row
            # ``<tr><th>{{ a }}</th><td>{{ b }}</td></tr>`` is five yields and
            # two ``str()`` calls, ~4,900 yields per report pair. Here a run is
            # one f-string: its values are computed first, in order, into
            # locals, then joined by BUILD_STRING. ``finalize`` (the escaped
            # texts) always returns ``str``, so ``str()`` is dropped.
            if (
                frame.require_output_check
                or frame.buffer is not None
                or frame.eval_ctx.volatile
                or frame.eval_ctx.autoescape
                or self.environment.is_async
            ):
                super().visit_Output(node, frame)
                return
            finalize = self._make_finalize()
            assert finalize.src is not None  # the shipped environment always finalizes
            # a module global (see visit_Template) costs one lookup, not two
            call = "_pl_finalize(" if finalize.src == "environment.finalize(" else finalize.src
            close = ")"
            if self._pl_escaped_texts():
                # the escaped texts read by subscript: the same lookup (and
                # ``__missing__``) without the call of a bound method
                call, close = "_pl_escaped[", "]"
            pieces: list[str] = []
            for child in node.nodes:
                const: Any = None
                try:
                    if not (finalize.const or isinstance(child, TemplateData)):
                        raise Impossible()
                    const = self._output_child_to_const(child, frame, finalize)
                except (Impossible, Exception):
                    name = f"_pl_out{self._pl_outputs}"
                    self._pl_outputs += 1
                    # with the child's line: an error here names its template line
                    self.writeline(f"{name} = {call}", child)
                    self.visit(child, frame)
                    self.write(close)
                    pieces.append("{" + name + "}")
                    continue
                pieces.append(str(const).replace("{", "{{").replace("}", "}}"))
            text = "".join(pieces)
            if text:
                self.writeline(f"yield f{text!r}")

        _pl_outputs = 0

        def _pl_escaped_texts(self) -> bool:
            """Whether ``finalize`` is the ``__getitem__`` of :class:`EscapedTexts`
            (the shipped environments'), readable as ``_pl_escaped[value]``."""
            finalize = self.environment.finalize
            return (
                not self.defer_init
                and isinstance(getattr(finalize, "__self__", None), EscapedTexts)
                and getattr(finalize, "__name__", None) == "__getitem__"
            )

        def visit_Template(self, node: TemplateNode, frame: Frame | None = None) -> None:
            if not self.defer_init:  # the module runs with ``environment`` in its globals
                if self._pl_escaped_texts():
                    self.writeline("_pl_escaped = environment.finalize.__self__")
                else:
                    self.writeline("_pl_finalize = environment.finalize")
            super().visit_Template(node, frame)

    class ShippedEnvironment(Environment):
        code_generator_class = ShippedCodeGenerator

        def _generate(
            self,
            source: TemplateNode,
            name: str | None,
            filename: str | None,
            defer_init: bool = False,
        ) -> str:
            code: str = super()._generate(source, name, filename, defer_init)
            # Every loop iteration starts with ``_loop_vars = {}`` (a new dict, ~300
            # per report) for the ``{% set %}`` and calls the loop might make; when
            # the code names ``_loop_vars`` nowhere else, the dict is never read.
            # ``pass`` keeps the line numbers Jinja maps errors back to the template by.
            if code.count("_loop_vars") == code.count("_loop_vars = {}"):
                code = _LOOP_VARS_INIT.sub(r"\1pass", code)
            return code

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
    Undefined handling is the same in both, and so is the text out: the
    sandbox autoescapes HTML and escapes Markdown in ``finalize``; the plain
    environment escapes both in ``finalize`` (:class:`EscapedTexts`: each
    distinct text once, not once per report). Its HTML therefore runs without
    autoescape, which is the same text for the shipped template: it outputs
    only context values and ``join`` of them, no macros, ``{% set %}`` blocks
    or ``|safe`` (their markup would be escaped again, which the golden files
    would show).
    """
    from jinja2 import FileSystemLoader, StrictUndefined

    from postloan_cli.cache import template_bytecode_cache
    from postloan_cli.resources import shipped

    shipped_env, user_env = _environment_classes()
    finalize: Callable[[Any], Any]
    if dirs:
        env_class: type[Environment] = user_env
        finalize = escape_markdown if fmt == "md" else _html_finalize
        autoescape = fmt == "html"
        flavour = f"{env_class.__name__}|{fmt}"
    else:
        env_class = shipped_env
        if fmt == "md":
            texts = EscapedTexts(_escape_markdown_uncached, _MD_PLAIN)
        else:
            texts = EscapedTexts(_escape_html, _HTML_PLAIN)
        finalize = texts.__getitem__
        autoescape = False
        flavour = f"{env_class.__name__}|{fmt}|{_SHIPPED_CODE}"
    return env_class(
        loader=FileSystemLoader([*dirs, str(shipped("templates"))], encoding="utf-8"),
        autoescape=autoescape,
        finalize=finalize,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
        cache_size=-1,
        bytecode_cache=template_bytecode_cache(flavour),
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


@functools.lru_cache(maxsize=4)
def _shipped_renderer(fmt: str) -> Callable[[Mapping[str, Any]], str]:
    """``Template.render`` of the shipped ``fmt`` template, without its per-call setup.

    ``Template.render`` copies the context, then merges the template's
    globals into it through a ``ChainMap`` (Python-level iteration and
    lookups, twice), ~10 µs a call. Here the globals are
    flattened once; each call builds the same :class:`jinja2.runtime.Context`
    (globals, then the report context over them) and joins the root render
    function's output. An error is rewritten by the environment as
    ``Template.render`` does, so its traceback shows template lines.
    """
    from jinja2.runtime import Context

    template = _template((), fmt)
    env = template.environment
    root = template.root_render_func
    name, blocks = template.name, template.blocks
    template_globals = dict(template.globals)
    concat = env.concat

    def render(context: Mapping[str, Any]) -> str:
        ctx = Context(env, {**template_globals, **context}, name, blocks, template_globals)
        try:
            return concat(root(ctx))
        except Exception:
            env.handle_exception()

    return render


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
    """Forget cached environments, templates and prepared checklists (tests use this)."""
    _shipped_renderer.cache_clear()
    _template.cache_clear()
    _environment.cache_clear()
    _prepared_cache.clear()
    _last_context.clear()
