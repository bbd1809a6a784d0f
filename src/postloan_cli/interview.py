"""The interview: answering a checklist question by question, without a terminal.

:class:`Interview` is a state machine the terminal UI (:mod:`postloan_cli.interactive`)
drives and tests drive directly. It holds the answers so far and the current
position, and knows:

* the *steps* in interview order: the loan and inspection facts, then every
  checklist question section by section (each section ending with an optional
  one-line conclusion for the area), then the officer's overall opinion and
  proposed classification;
* which steps are asked: a checklist question whose ``when`` condition is
  false is not, and an answer already given to it is dropped (and reported)
  when a later change makes the condition false;
* defaults: the answer already given, else the previous inspection's answer,
  else the checklist's default;
* navigation: next, back (to where the officer was), jump to a section, skip
  an optional step, and progress (section k of n, question i of m);
* live feedback: after each answer the partial answers are evaluated
  (``status: draft``) and newly computed values and newly fired warning
  signals are reported;
* the answer file as plain data (:meth:`Interview.answer_file_dict`), written
  by :mod:`postloan_cli.answer_writer`.

Nothing here reads the terminal or writes files; ``on_change`` is called after
every change so the caller can save the draft at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from postloan_cli.answers import Invalid, coerce, split_answer
from postloan_cli.compiled import CompiledChecklist
from postloan_cli.evaluation import Evaluation, Signal, evaluate, item_label
from postloan_cli.i18n import localize
from postloan_cli.models import (
    AnswerFile,
    AnyQuestion,
    Choice,
    Classification,
    DateQuestion,
    GroupQuestion,
    IntegerQuestion,
    Money,
    MoneyQuestion,
    MultipleChoiceQuestion,
    PercentQuestion,
    SingleChoiceQuestion,
    Text,
    TextQuestion,
    YesNoQuestion,
)

StepKind = Literal["fact", "question", "conclusion", "opinion"]

FACTS_SECTION = "_facts"
OPINION_SECTION = "_opinion"

FACTS_TITLE: Text = {
    "en": "Loan and inspection",
    "es": "Préstamo e inspección",
    "zh": "贷款与检查",
}
OPINION_TITLE: Text = {
    "en": "Review and opinion",
    "es": "Revisión y opinión",
    "zh": "审查与意见",
}
YES: Text = {"en": "yes", "es": "sí", "zh": "是"}
NO: Text = {"en": "no", "es": "no", "zh": "否"}

CLASSIFICATION_LABELS: dict[str, Text] = {
    "normal": {"en": "normal (pass)", "es": "normal", "zh": "正常"},
    "special_mention": {"en": "special mention (watch)", "es": "mención especial", "zh": "关注"},
    "substandard": {"en": "substandard", "es": "subestándar", "zh": "次级"},
    "doubtful": {"en": "doubtful", "es": "dudoso", "zh": "可疑"},
    "loss": {"en": "loss", "es": "pérdida", "zh": "损失"},
}


def _t(en: str, es: str, zh: str | None = None) -> Text:
    text: dict[str, str] = {"en": en, "es": es}
    if zh:
        text["zh"] = zh
    return text


def _fact_questions(checklist: CompiledChecklist) -> list[tuple[str, AnyQuestion]]:
    """The loan and inspection facts, as questions (loan id and date first: they name the draft)."""
    loan_types = [Choice(id=t.id, label=t.label) for t in checklist.checklist.loan_types]
    return [
        (
            "loan.id",
            TextQuestion(
                id="loan_id",
                type="text",
                max_length=64,
                prompt=_t("Loan id", "Id del préstamo", "贷款编号"),
            ),
        ),
        (
            "inspection.date",
            DateQuestion(
                id="inspection_date",
                type="date",
                prompt=_t(
                    "Inspection date (YYYY-MM-DD)",
                    "Fecha de la inspección (AAAA-MM-DD)",
                    "检查日期 (YYYY-MM-DD)",
                ),
            ),
        ),
        (
            "loan.borrower.name",
            TextQuestion(
                id="borrower_name", type="text", prompt=_t("Borrower", "Prestatario", "借款人")
            ),
        ),
        (
            "loan.type",
            SingleChoiceQuestion(
                id="loan_type",
                type="single_choice",
                choices=loan_types,
                prompt=_t("Loan type", "Tipo de préstamo", "贷款类型"),
            ),
        ),
        (
            "loan.currency",
            TextQuestion(
                id="currency",
                type="text",
                pattern=r"[A-Z]{3}",
                prompt=_t(
                    "Currency (ISO code: CNY, USD, EUR...)",
                    "Moneda (código ISO: CNY, USD, EUR...)",
                    "币种 (ISO 代码)",
                ),
            ),
        ),
        (
            "loan.amount",
            MoneyQuestion(
                id="amount",
                type="money",
                min=Decimal(0),
                prompt=_t("Loan amount", "Importe del préstamo", "贷款金额"),
            ),
        ),
        (
            "loan.outstanding",
            MoneyQuestion(
                id="outstanding",
                type="money",
                min=Decimal(0),
                prompt=_t("Outstanding balance", "Saldo pendiente", "贷款余额"),
            ),
        ),
        (
            "loan.disbursed_on",
            DateQuestion(
                id="disbursed_on",
                type="date",
                prompt=_t("Disbursed on (YYYY-MM-DD)", "Desembolsado el (AAAA-MM-DD)", "发放日期"),
            ),
        ),
        (
            "loan.matures_on",
            DateQuestion(
                id="matures_on",
                type="date",
                prompt=_t("Matures on (YYYY-MM-DD)", "Vence el (AAAA-MM-DD)", "到期日期"),
            ),
        ),
        (
            "loan.purpose",
            TextQuestion(
                id="purpose",
                type="text",
                prompt=_t(
                    "Purpose written in the contract", "Finalidad según el contrato", "合同约定用途"
                ),
            ),
        ),
        (
            "loan.days_past_due",
            IntegerQuestion(
                id="days_past_due",
                type="integer",
                min=0,
                default=0,
                prompt=_t("Days past due", "Días de atraso", "逾期天数"),
            ),
        ),
        (
            "loan.bank",
            TextQuestion(
                id="bank", type="text", required=False, prompt=_t("Bank", "Banco", "银行")
            ),
        ),
        (
            "loan.branch",
            TextQuestion(
                id="branch", type="text", required=False, prompt=_t("Branch", "Sucursal", "支行")
            ),
        ),
        (
            "loan.contract",
            TextQuestion(
                id="contract",
                type="text",
                required=False,
                prompt=_t("Contract number", "Número de contrato", "合同编号"),
            ),
        ),
        (
            "inspection.kind",
            SingleChoiceQuestion(
                id="inspection_kind",
                type="single_choice",
                default="regular",
                choices=[
                    Choice(id="regular", label=_t("regular", "ordinaria", "定期")),
                    Choice(
                        id="irregular",
                        label=_t(
                            "irregular (event or signal)",
                            "extraordinaria (evento o señal)",
                            "不定期",
                        ),
                    ),
                ],
                prompt=_t("Kind of inspection", "Tipo de inspección", "检查类型"),
            ),
        ),
        (
            "inspection.reason",
            TextQuestion(
                id="inspection_reason",
                type="text",
                prompt=_t(
                    "Reason for the irregular inspection",
                    "Motivo de la inspección extraordinaria",
                    "不定期检查原因",
                ),
            ),
        ),
        (
            "inspection.officer.name",
            TextQuestion(
                id="officer",
                type="text",
                prompt=_t("Inspecting officer", "Oficial que inspecciona", "检查人员"),
            ),
        ),
        (
            "inspection.officer.certificate",
            TextQuestion(
                id="certificate",
                type="text",
                required=False,
                prompt=_t(
                    "Officer's certificate number",
                    "Número de certificado del oficial",
                    "检查人员资格证号",
                ),
            ),
        ),
    ]


#: Facts kept from the previous inspection as they are (not asked again).
_STATIC_FACTS = (
    "loan.id",
    "loan.borrower.name",
    "loan.type",
    "loan.currency",
    "loan.amount",
    "loan.disbursed_on",
    "loan.matures_on",
    "loan.purpose",
    "loan.bank",
    "loan.branch",
    "loan.contract",
)
#: Facts asked again, with the previous inspection's value as the default.
_CARRIED_DEFAULTS = (
    "loan.outstanding",
    "loan.days_past_due",
    "inspection.officer.name",
    "inspection.officer.certificate",
)


@dataclass(frozen=True)
class Step:
    """One position of the interview."""

    key: str
    kind: StepKind
    question: AnyQuestion
    section_id: str
    section_title: Text

    @property
    def required(self) -> bool:
        return self.question.required


@dataclass(frozen=True)
class ComputedView:
    """A computed value to show the officer (``item``: the group item it belongs to)."""

    id: str
    label: Text
    value: Any
    format: str
    item: str | None = None


@dataclass
class Feedback:
    """What changed after an answer."""

    #: Steps whose answers were dropped because their condition became false.
    dropped: list[Step] = field(default_factory=list)
    #: Computed values that are new or changed.
    computed: list[ComputedView] = field(default_factory=list)
    #: Warning signals that fired with this answer.
    fired: list[Signal] = field(default_factory=list)
    #: Warning signals that no longer fire.
    cleared: list[Signal] = field(default_factory=list)
    #: The previous inspection's value, when the new answer differs from it.
    changed_from: Any = None
    changed: bool = False


@dataclass(frozen=True)
class Progress:
    section_id: str
    section_title: Text
    #: 1-based number of a checklist section; 0 for the facts, count + 1 for the opinion.
    section_number: int
    section_count: int
    #: 1-based position among the asked steps of this section, and how many there are.
    question_number: int
    question_count: int
    answered: int
    total: int


class NavigationError(Exception):
    """A move the interview refuses (skip a required question...); ``message`` says why."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


Listener = Callable[["Interview"], object]


class Interview:
    """The answers so far, the position, and the rules of moving through a checklist."""

    def __init__(
        self,
        checklist: CompiledChecklist,
        *,
        lang: str | None = None,
        today: dt.date | None = None,
        loan_id: str | None = None,
        previous: AnswerFile | None = None,
        on_change: Listener | None = None,
    ) -> None:
        self.checklist = checklist
        self.default_language = checklist.checklist.default_language
        self.lang = lang or self.default_language
        self.today = today or dt.date.today()
        self.on_change = on_change
        self.values: dict[str, Any] = {}
        self.skipped: set[str] = set()
        self.notes: dict[str, str] = {}
        self.evidence: dict[str, list[str]] = {}
        #: Typed answers of the previous inspection, by step key.
        self.previous_values: dict[str, Any] = {}
        self.previous_date: dt.date | None = None
        #: Loan and inspection fields kept but not asked (borrower id, officer id...).
        self.extra: dict[str, Any] = {}
        self.history: list[int] = []
        #: Facts filled in from ``--loan`` or the previous inspection: passed over when moving on.
        self.prefilled: set[str] = set()
        self.steps: list[Step] = self._build_steps()
        self._index = {s.key: i for i, s in enumerate(self.steps)}
        self._evaluation: Evaluation | None = None
        self._evaluated = False
        if previous is not None:
            self._use_previous(previous)
        if loan_id is not None and "loan.id" not in self.values:
            self.values["loan.id"] = loan_id
            self.prefilled.add("loan.id")
        self.position = 0
        self._refresh()
        self.position = self.start_position()

    # --- construction -------------------------------------------------------

    def _build_steps(self) -> list[Step]:
        steps = [
            Step(key, "fact", q, FACTS_SECTION, FACTS_TITLE)
            for key, q in _fact_questions(self.checklist)
        ]
        by_section: dict[str, list[AnyQuestion]] = {}
        for ref in self.checklist.iter_questions():
            by_section.setdefault(ref.section.id, []).append(ref.question)
        for section in self.checklist.checklist.sections:
            questions = by_section.get(section.id, [])
            for question in questions:
                steps.append(Step(question.id, "question", question, section.id, section.title))
            if questions:
                steps.append(
                    Step(
                        f"conclusion:{section.id}",
                        "conclusion",
                        TextQuestion(
                            id="conclusion",
                            type="text",
                            required=False,
                            prompt=_t(
                                "Conclusion for this area (one line; Enter to leave it out)",
                                "Conclusión de esta área (una línea; Intro para omitirla)",
                                "本领域结论 (一行; 回车跳过)",
                            ),
                        ),
                        section.id,
                        section.title,
                    )
                )
        classes = [Choice(id=c.value, label=CLASSIFICATION_LABELS[c.value]) for c in Classification]
        steps += [
            Step(
                "opinion.overall",
                "opinion",
                TextQuestion(
                    id="overall",
                    type="text",
                    prompt=_t(
                        "Your overall opinion on this loan",
                        "Su opinión general sobre este préstamo",
                        "总体意见",
                    ),
                ),
                OPINION_SECTION,
                OPINION_TITLE,
            ),
            Step(
                "opinion.proposed_classification",
                "opinion",
                SingleChoiceQuestion(
                    id="proposed_classification",
                    type="single_choice",
                    choices=classes,
                    prompt=_t(
                        "Proposed classification",
                        "Clasificación propuesta",
                        "建议分类",
                    ),
                ),
                OPINION_SECTION,
                OPINION_TITLE,
            ),
            Step(
                "opinion.reason",
                "opinion",
                TextQuestion(
                    id="reason",
                    type="text",
                    prompt=_t(
                        "Why is your proposal better than the suggested classification?",
                        "¿Por qué su propuesta es mejor que la clasificación sugerida?",
                        "为什么建议分类优于系统建议分类?",
                    ),
                ),
                OPINION_SECTION,
                OPINION_TITLE,
            ),
        ]
        return steps

    def _use_previous(self, previous: AnswerFile) -> None:
        """Take the loan's facts from ``previous`` and its answers as defaults."""
        loan = previous.loan
        facts: dict[str, Any] = {
            "loan.id": loan.id,
            "loan.borrower.name": loan.borrower.name,
            "loan.type": loan.type,
            "loan.currency": loan.amount.currency,
            "loan.amount": loan.amount,
            "loan.disbursed_on": loan.disbursed_on,
            "loan.matures_on": loan.matures_on,
            "loan.purpose": loan.purpose,
            "loan.bank": loan.bank,
            "loan.branch": loan.branch,
            "loan.contract": loan.contract,
            "loan.outstanding": loan.outstanding,
            "loan.days_past_due": loan.days_past_due,
            "inspection.officer.name": previous.inspection.officer.name,
            "inspection.officer.certificate": previous.inspection.officer.certificate,
        }
        for key in _STATIC_FACTS:
            if facts[key] is not None:
                self.values[key] = facts[key]
                self.prefilled.add(key)
        for key in (*_STATIC_FACTS, *_CARRIED_DEFAULTS):
            if facts[key] is not None:
                self.previous_values[key] = facts[key]
        for name in ("id", "industry"):
            value = getattr(loan.borrower, name)
            if value is not None:
                self.extra[f"loan.borrower.{name}"] = value
        self.previous_date = previous.inspection.date
        currency = loan.amount.currency
        for entries in previous.answers.values():
            if not isinstance(entries, Mapping):
                continue
            for qid, entry in entries.items():
                ref = self.checklist.questions.get(str(qid))
                if ref is None:
                    continue
                given, _ = split_answer(entry, ())
                if given is None or given.raw is None:
                    continue
                try:
                    value = coerce(_relaxed(ref.question), given.raw, (), currency)
                except Invalid:
                    continue  # the question changed since: no default
                self.previous_values[str(qid)] = value

    @classmethod
    def from_draft(
        cls,
        checklist: CompiledChecklist,
        data: Mapping[str, Any],
        *,
        lang: str | None = None,
        today: dt.date | None = None,
        previous: AnswerFile | None = None,
        on_change: Listener | None = None,
    ) -> tuple[Interview, list[str]]:
        """An interview continued from a draft's data; also the problems found in it."""
        interview = cls(checklist, lang=lang, today=today, previous=previous)
        interview.values.clear()
        interview.skipped.clear()
        interview.prefilled.clear()
        problems = interview._restore(data)
        interview._evaluated = False
        interview._refresh()
        interview.position = interview.start_position()
        interview.on_change = on_change
        return interview, problems

    def _restore(self, data: Mapping[str, Any]) -> list[str]:
        problems: list[str] = []
        loan = _mapping(data.get("loan"))
        inspection = _mapping(data.get("inspection"))
        raw_facts: dict[str, Any] = {
            "loan.id": loan.get("id"),
            "inspection.date": inspection.get("date"),
            "loan.borrower.name": _mapping(loan.get("borrower")).get("name"),
            "loan.type": loan.get("type"),
            "loan.currency": _mapping(loan.get("amount")).get("currency"),
            "loan.amount": _mapping(loan.get("amount")).get("amount"),
            "loan.outstanding": _mapping(loan.get("outstanding")).get("amount"),
            "loan.disbursed_on": loan.get("disbursed_on"),
            "loan.matures_on": loan.get("matures_on"),
            "loan.purpose": loan.get("purpose"),
            "loan.days_past_due": loan.get("days_past_due"),
            "loan.bank": loan.get("bank"),
            "loan.branch": loan.get("branch"),
            "loan.contract": loan.get("contract"),
            "inspection.kind": inspection.get("kind"),
            "inspection.reason": inspection.get("reason"),
            "inspection.officer.name": _mapping(inspection.get("officer")).get("name"),
            "inspection.officer.certificate": _mapping(inspection.get("officer")).get(
                "certificate"
            ),
        }
        for name in ("id", "industry"):
            value = _mapping(loan.get("borrower")).get(name)
            if value is not None:
                self.extra[f"loan.borrower.{name}"] = value
        for name in ("id", "role"):
            value = _mapping(inspection.get("officer")).get(name)
            if value is not None:
                self.extra[f"inspection.officer.{name}"] = value
        if inspection.get("place") is not None:
            self.extra["inspection.place"] = inspection.get("place")
        if inspection.get("previous") is not None:
            try:
                self.previous_date = dt.date.fromisoformat(str(inspection["previous"]))
            except ValueError:
                problems.append(f"inspection.previous: not a date: {inspection['previous']!r}")
        for key, raw in raw_facts.items():
            if raw is None:
                continue
            try:
                self.values[key] = self._coerce(self.step(key), raw)
            except Invalid as exc:
                problems.append(f"{key}: {exc.message}")
        for section_id, entries in _mapping(data.get("answers")).items():
            for qid, entry in _mapping(entries).items():
                ref = self.checklist.questions.get(str(qid))
                if ref is None or ref.section.id != section_id:
                    problems.append(f"answers.{section_id}.{qid}: not a question of this section")
                    continue
                given, problem = split_answer(entry, ())
                if given is None:
                    problems.append(
                        f"answers.{section_id}.{qid}: {problem.message if problem else ''}"
                    )
                    continue
                if given.note:
                    self.notes[str(qid)] = given.note
                if given.evidence:
                    self.evidence[str(qid)] = list(given.evidence)
                if given.raw is None:
                    self.skipped.add(str(qid))
                    continue
                try:
                    self.values[str(qid)] = self._coerce(self.step(str(qid)), given.raw)
                except Invalid as exc:
                    problems.append(f"answers.{section_id}.{qid}: {exc.message}")
        opinion = _mapping(data.get("opinion"))
        for section_id, text in _mapping(opinion.get("areas")).items():
            if f"conclusion:{section_id}" in self._index and isinstance(text, str) and text:
                self.values[f"conclusion:{section_id}"] = text
        for name in ("overall", "proposed_classification", "reason"):
            raw = opinion.get(name)
            if raw is None:
                continue
            try:
                self.values[f"opinion.{name}"] = self._coerce(self.step(f"opinion.{name}"), raw)
            except Invalid as exc:
                problems.append(f"opinion.{name}: {exc.message}")
        return problems

    # --- lookups ------------------------------------------------------------

    def step(self, key: str) -> Step:
        return self.steps[self._index[key]]

    @property
    def current(self) -> Step | None:
        """The step to ask now; ``None`` when everything is answered (ready to finish)."""
        return self.steps[self.position] if self.position < len(self.steps) else None

    @property
    def finished(self) -> bool:
        return self.position >= len(self.steps)

    @property
    def currency(self) -> str:
        value = self.values.get("loan.currency")
        # ISO 4217 "XXX": no currency (not yet asked).
        return value if isinstance(value, str) else "XXX"

    def text(self, text: Text | None) -> str:
        """``text`` in the interview's language."""
        return localize(text, self.lang, self.default_language)

    def facts_complete(self) -> bool:
        return all(
            s.key in self.values or not s.required or not self.is_active(s)
            for s in self.steps
            if s.kind == "fact"
        )

    def sections(self) -> list[tuple[str, Text]]:
        """Every section one can jump to: facts, the checklist's, the opinion."""
        result: list[tuple[str, Text]] = [(FACTS_SECTION, FACTS_TITLE)]
        for section in self.checklist.checklist.sections:
            if any(s.section_id == section.id for s in self.steps):
                result.append((section.id, section.title))
        result.append((OPINION_SECTION, OPINION_TITLE))
        return result

    # --- conditions ---------------------------------------------------------

    @property
    def evaluation(self) -> Evaluation | None:
        """The partial answers evaluated as a draft (``None`` while the facts are incomplete)."""
        if not self._evaluated:
            self._evaluation = self._evaluate()
            self._evaluated = True
        return self._evaluation

    def _evaluate(self) -> Evaluation | None:
        if not self.facts_complete():
            return None
        data = _for_evaluation(self.answer_file_dict("draft", include_opinion=True))
        try:
            answer_file = AnswerFile.model_validate(data)
        except Exception:  # pydantic.ValidationError: facts not usable yet
            return None
        return evaluate(self.checklist, answer_file)

    def is_active(self, step: Step) -> bool:
        """Whether ``step`` is asked given the answers so far."""
        if step.key == "inspection.reason":
            return self.values.get("inspection.kind") == "irregular"
        if step.kind == "question":
            ev = self.evaluation
            return True if ev is None else ev.asked.get(step.key, True)
        if step.kind == "conclusion":
            return any(
                self.is_active(s)
                for s in self.steps
                if s.kind == "question" and s.section_id == step.section_id
            )
        if step.key == "opinion.reason":
            proposed = self.values.get("opinion.proposed_classification")
            ev = self.evaluation
            if proposed is None or ev is None:
                return False
            return Classification(proposed).rank < ev.suggested.rank
        return True

    def is_answered(self, step: Step) -> bool:
        return step.key in self.values or step.key in self.skipped

    def missing(self) -> list[Step]:
        """Required, asked steps without an answer (before the opinion's last steps)."""
        return [
            s for s in self.steps if s.required and s.key not in self.values and self.is_active(s)
        ]

    # --- defaults -----------------------------------------------------------

    def default(self, step: Step) -> Any:
        """The answer to offer: the one given, else the last inspection's, else the checklist's."""
        if step.key in self.values:
            return self.values[step.key]
        if step.key in self.previous_values:
            return self.previous_values[step.key]
        if step.key == "inspection.date":
            return self.today
        if step.key == "opinion.proposed_classification":
            ev = self.evaluation
            return ev.suggested.value if ev is not None else None
        if isinstance(step.question, MoneyQuestion) and step.question.default is not None:
            return Money(amount=step.question.default, currency=self.currency)
        return step.question.default

    def previous_value(self, step: Step) -> Any:
        """The previous inspection's answer to ``step`` (``None`` if none)."""
        return self.previous_values.get(step.key)

    def changed_from_previous(self, step: Step) -> bool:
        """Whether the answer given differs from the previous inspection's."""
        if step.key not in self.previous_values or step.key not in self.values:
            return False
        return bool(
            _comparable(self.values[step.key]) != _comparable(self.previous_values[step.key])
        )

    # --- answering ----------------------------------------------------------

    def _coerce(self, step: Step, raw: Any) -> Any:
        value = self.check(step.question, raw, key=step.key)
        if step.key == "loan.matures_on":
            disbursed = self.values.get("loan.disbursed_on")
            if isinstance(disbursed, dt.date) and value < disbursed:
                raise Invalid(
                    "PL305", f"maturity is before disbursement ({disbursed.isoformat()})", ()
                )
        return value

    def check(self, question: AnyQuestion, raw: Any, *, key: str | None = None) -> Any:
        """``raw`` (typed in by the officer, or a typed value) checked against ``question``.

        Text is trimmed, ``1,234`` is a whole number for integer questions,
        and an empty text answer is refused. Raises :class:`Invalid`.
        """
        if not isinstance(raw, str):
            raw = _for_evaluation(_plain(raw))
        if key == "loan.currency" and isinstance(raw, str):
            raw = raw.strip().upper()
        if isinstance(raw, str):
            raw = raw.strip()
            if not raw:
                raise Invalid("PL303", "an answer is required", ())
        if isinstance(question, IntegerQuestion) and isinstance(raw, str):
            cleaned = raw.replace(",", "")
            if cleaned.lstrip("+-").isdigit():
                raw = int(cleaned)
        return coerce(question, raw, (), self.currency)

    def validate(self, step: Step, raw: Any) -> Any:
        """The typed value of ``raw`` for ``step``; raises :class:`Invalid` with a message."""
        return self._coerce(step, raw)

    def answer(self, raw: Any, *, step: Step | None = None, advance: bool = True) -> Feedback:
        """Record ``raw`` as the answer to ``step`` (default: the current one).

        Raises :class:`Invalid` (nothing changes) when the value does not fit.
        With ``advance`` the position moves to the next asked step.
        """
        target = step or self.current
        if target is None:
            raise NavigationError("the interview is complete")
        value = self._coerce(target, raw)
        self.values[target.key] = value
        self.skipped.discard(target.key)
        feedback = self._refresh()
        if target.key in self.previous_values and self.changed_from_previous(target):
            feedback.changed = True
            feedback.changed_from = self.previous_values[target.key]
        if advance:
            self.advance_from(self._index[target.key])
        self._changed()
        return feedback

    def set_group_items(self, items: list[dict[str, Any]], *, step: Step | None = None) -> Feedback:
        """Record a repeating group's items while it is being edited (``min_items`` not checked)."""
        target = step or self.current
        if target is None or not isinstance(target.question, GroupQuestion):
            raise NavigationError("not a repeating group")
        value = self.check(_relaxed(target.question), items)
        self.values[target.key] = value
        self.skipped.discard(target.key)
        feedback = self._refresh()
        self._changed()
        return feedback

    def validate_item(self, group: GroupQuestion, item: Mapping[str, Any]) -> dict[str, Any]:
        """One group item checked and typed; raises :class:`Invalid`."""
        result: dict[str, Any] = self.check(_relaxed(group), [dict(item)])[0]
        return result

    def set_note(
        self, note: str | None, evidence: list[str] | None = None, *, step: Step | None = None
    ) -> None:
        """Attach the officer's note and evidence references to a checklist answer."""
        target = step or self.current
        if target is None or target.kind != "question":
            raise NavigationError("notes can be added to checklist questions only")
        if note and note.strip():
            self.notes[target.key] = note.strip()
        else:
            self.notes.pop(target.key, None)
        if evidence is not None:
            refs = [e.strip() for e in evidence if e.strip()]
            if refs:
                self.evidence[target.key] = refs
            else:
                self.evidence.pop(target.key, None)
        self._changed()

    def skip(self) -> Feedback:
        """Leave the current optional step unanswered and move on."""
        target = self.current
        if target is None:
            raise NavigationError("the interview is complete")
        if target.required:
            raise NavigationError("this question is required; it cannot be skipped")
        self.values.pop(target.key, None)
        self.skipped.add(target.key)
        feedback = self._refresh()
        self.advance_from(self.position)
        self._changed()
        return feedback

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self)

    def _refresh(self) -> Feedback:
        """Re-evaluate, drop answers whose condition became false, and diff the results."""
        before = self._evaluation if self._evaluated else None
        self._evaluated = False
        feedback = Feedback()
        for _ in range(3):  # a drop can make another condition false
            dropped = [s for s in self.steps if self.is_answered(s) and not self.is_active(s)]
            if not dropped:
                break
            for s in dropped:
                self.values.pop(s.key, None)
                self.skipped.discard(s.key)
                self.notes.pop(s.key, None)
                self.evidence.pop(s.key, None)
                if s.kind == "question" or s.key == "inspection.reason":
                    feedback.dropped.append(s)
            self._evaluated = False
        after = self.evaluation
        if after is None:
            return feedback
        old_computed = _computed_views(before) if before is not None else {}
        for key, view in _computed_views(after).items():
            if view.value is None:
                continue
            old = old_computed.get(key)
            if old is None or old.value != view.value:
                feedback.computed.append(view)
        old_signals = {_signal_key(s): s for s in before.signals} if before is not None else {}
        new_signals = {_signal_key(s): s for s in after.signals}
        feedback.fired = [s for k, s in new_signals.items() if k not in old_signals]
        feedback.cleared = [s for k, s in old_signals.items() if k not in new_signals]
        return feedback

    # --- navigation ---------------------------------------------------------

    def _next_active(self, start: int) -> int | None:
        for index in range(start, len(self.steps)):
            step = self.steps[index]
            if self.is_active(step) and not (
                step.key in self.prefilled and step.key in self.values
            ):
                return index
        return None

    def advance_from(self, index: int) -> None:
        """Move to the next asked step after ``index``.

        Past the last step, the first required step still unanswered is
        next; with none, the interview is ready to finish.
        """
        self.history.append(index)
        nxt = self._next_active(index + 1)
        if nxt is not None and self.steps[nxt].kind == "opinion":
            gaps = [s for s in self.missing() if s.kind != "opinion"]
            if gaps:
                nxt = self._index[gaps[0].key]
        if nxt is None:
            gaps = self.missing()
            nxt = self._index[gaps[0].key] if gaps else len(self.steps)
        self.position = nxt

    def next(self) -> None:
        """Move on without changing the current answer (it must have one, or be optional)."""
        step = self.current
        if step is None:
            return
        if step.key not in self.values and step.required:
            raise NavigationError("this question is required; answer it first")
        self.advance_from(self.position)

    def back(self) -> bool:
        """Return to the step the officer was at before; ``False`` at the very start."""
        while self.history:
            index = self.history.pop()
            if (
                index != self.position
                and index < len(self.steps)
                and self.is_active(self.steps[index])
            ):
                self.position = index
                return True
        for index in range(min(self.position, len(self.steps)) - 1, -1, -1):
            if self.is_active(self.steps[index]):
                self.position = index
                return True
        return False

    def jump(self, section_id: str) -> None:
        """Go to the first asked step of a section (facts must be complete to leave them)."""
        if section_id != FACTS_SECTION and not self.facts_complete():
            raise NavigationError("answer the loan and inspection facts first")
        for index, step in enumerate(self.steps):
            if step.section_id == section_id and self.is_active(step):
                self.history.append(self.position)
                self.position = index
                return
        raise NavigationError(f"no questions to ask in section '{section_id}'")

    def goto(self, key: str) -> None:
        """Go to one step by key."""
        self.history.append(self.position)
        self.position = self._index[key]

    def start_position(self) -> int:
        """Where a resumed interview continues: the first step still to answer.

        An optional step left empty counts as still to answer only when
        nothing after it is answered.
        """
        last_answered = -1
        for index, step in enumerate(self.steps):
            if self.is_answered(step) and self.is_active(step):
                last_answered = index
        for index, step in enumerate(self.steps):
            if not self.is_active(step) or self.is_answered(step):
                continue
            if step.required or index > last_answered:
                return index
        return len(self.steps)

    def progress(self) -> Progress:
        step = self.current
        sections = [s.id for s in self.checklist.checklist.sections]
        total = [s for s in self.steps if self.is_active(s)]
        answered = sum(1 for s in total if self.is_answered(s))
        if step is None:
            return Progress(
                OPINION_SECTION,
                OPINION_TITLE,
                len(sections) + 1,
                len(sections),
                0,
                0,
                answered,
                len(total),
            )
        if step.section_id == FACTS_SECTION:
            number = 0
        elif step.section_id == OPINION_SECTION:
            number = len(sections) + 1
        else:
            number = sections.index(step.section_id) + 1
        same = [s for s in total if s.section_id == step.section_id and s.kind != "conclusion"]
        position = next((i for i, s in enumerate(same) if s.key == step.key), len(same))
        return Progress(
            step.section_id,
            step.section_title,
            number,
            len(sections),
            position + 1,
            len(same),
            answered,
            len(total),
        )

    # --- the answer file ----------------------------------------------------

    @property
    def loan_id(self) -> str | None:
        value = self.values.get("loan.id")
        return value if isinstance(value, str) else None

    @property
    def inspection_date(self) -> dt.date | None:
        value = self.values.get("inspection.date")
        return value if isinstance(value, dt.date) else None

    def answer_file_dict(
        self, status: str = "draft", *, include_opinion: bool = True
    ) -> dict[str, Any]:
        """The answer file as plain data (dates, ``Decimal`` and money as mappings).

        A draft keeps optional questions that were skipped as ``null`` (so a
        resumed interview does not ask them again); a final file leaves them out.
        """
        v = self.values
        currency = v.get("loan.currency")
        loan: dict[str, Any] = {}
        _put(loan, "id", v.get("loan.id"))
        borrower: dict[str, Any] = {}
        _put(borrower, "name", v.get("loan.borrower.name"))
        _put(borrower, "id", self.extra.get("loan.borrower.id"))
        _put(borrower, "industry", self.extra.get("loan.borrower.industry"))
        if borrower:
            loan["borrower"] = borrower
        _put(loan, "type", v.get("loan.type"))
        for name in ("amount", "outstanding"):
            money = v.get(f"loan.{name}")
            if isinstance(money, Money):
                loan[name] = {"amount": money.amount, "currency": currency or money.currency}
        for name in (
            "disbursed_on",
            "matures_on",
            "purpose",
            "days_past_due",
            "bank",
            "branch",
            "contract",
        ):
            _put(loan, name, v.get(f"loan.{name}"))
        inspection: dict[str, Any] = {}
        _put(inspection, "date", v.get("inspection.date"))
        _put(inspection, "kind", v.get("inspection.kind"))
        _put(inspection, "reason", v.get("inspection.reason"))
        officer: dict[str, Any] = {}
        _put(officer, "name", v.get("inspection.officer.name"))
        _put(officer, "id", self.extra.get("inspection.officer.id"))
        _put(officer, "certificate", v.get("inspection.officer.certificate"))
        _put(officer, "role", self.extra.get("inspection.officer.role"))
        if officer:
            inspection["officer"] = officer
        _put(inspection, "previous", self.previous_date)
        _put(inspection, "place", self.extra.get("inspection.place"))

        answers: dict[str, dict[str, Any]] = {}
        for step in self.steps:
            if step.kind != "question":
                continue
            value = v.get(step.key)
            if value is None and not (status == "draft" and step.key in self.skipped):
                continue
            plain = _plain(value)
            note = self.notes.get(step.key)
            evidence = self.evidence.get(step.key)
            if note or evidence:
                entry: dict[str, Any] = {"value": plain}
                _put(entry, "note", note)
                if evidence:
                    entry["evidence"] = list(evidence)
                plain = entry
            answers.setdefault(step.section_id, {})[step.key] = plain

        data: dict[str, Any] = {
            "checklist": {"id": self.checklist.id, "version": self.checklist.version},
            "status": status,
            "loan": loan,
            "inspection": inspection,
            "answers": answers,
        }
        if include_opinion:
            opinion: dict[str, Any] = {}
            areas = {
                s.section_id: v[s.key]
                for s in self.steps
                if s.kind == "conclusion" and v.get(s.key)
            }
            if areas:
                opinion["areas"] = areas
            _put(opinion, "overall", v.get("opinion.overall"))
            _put(opinion, "proposed_classification", v.get("opinion.proposed_classification"))
            _put(opinion, "reason", v.get("opinion.reason"))
            if opinion:
                data["opinion"] = opinion
        return data

    # --- showing values -----------------------------------------------------

    def display(self, step: Step, value: Any) -> str:
        """``value`` as the officer reads it (choice labels, yes/no in their language...)."""
        return display_value(step.question, value, self.lang, self.default_language)


def display_value(question: AnyQuestion, value: Any, lang: str, default: str = "en") -> str:
    """A typed answer as text for the terminal."""
    if value is None:
        return "—"
    if isinstance(question, YesNoQuestion):
        return localize(YES if value else NO, lang, default)
    if isinstance(question, SingleChoiceQuestion):
        labels = {c.id: localize(c.label, lang, default) for c in question.choices}
        return labels.get(str(value), str(value))
    if isinstance(question, MultipleChoiceQuestion):
        labels = {c.id: localize(c.label, lang, default) for c in question.choices}
        return ", ".join(labels.get(str(v), str(v)) for v in value) or "—"
    if isinstance(question, MoneyQuestion):
        if isinstance(value, Money):
            return f"{_number(money_amount(value.amount))} {value.currency}"
        return str(value)
    if isinstance(question, PercentQuestion):
        return f"{_number(value)} %"
    if isinstance(question, DateQuestion):
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    if isinstance(question, GroupQuestion):
        if not value:
            return "(none)"
        names = [item_label(question, item, i) for i, item in enumerate(value)]
        return f"{len(value)}: " + ", ".join(names)
    if isinstance(value, Decimal):
        return _number(value)
    return str(value)


def format_computed(value: Any, fmt: str, currency: str | None = None) -> str:
    """A computed value for the terminal, by its format."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | Decimal):
        number = float(value)
        if fmt == "ratio":
            return f"{number:.2f}"
        if fmt == "percent":
            return f"{number:.1f} %"
        if fmt == "money":
            return f"{number:,.2f}" + (f" {currency}" if currency else "")
        if fmt in ("integer", "days"):
            text = f"{round(number):,}"
            return f"{text} days" if fmt == "days" else text
        return f"{number:,.4g}" if abs(number) < 1e6 else f"{number:,.0f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def money_amount(amount: Decimal) -> Decimal:
    """An amount with at least two decimals (``2100000.0`` read from YAML is ``2100000.00``)."""
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        return amount.quantize(Decimal("0.01"))
    return amount


def _number(value: Any) -> str:
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        return f"{value:,.{places}f}"
    return str(value)


def _relaxed(question: AnyQuestion) -> AnyQuestion:
    """``question`` without its item-count limits (a group being built or carried over)."""
    if isinstance(question, GroupQuestion):
        return question.model_copy(update={"min_items": 0, "max_items": None})
    return question


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and value != "":
        target[key] = value


def _plain(value: Any) -> Any:
    """A typed value as answer-file data: money as ``{amount, currency}``; empty fields left out."""
    if isinstance(value, Money):
        return {"amount": value.amount, "currency": value.currency}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    return value


def _for_evaluation(value: Any) -> Any:
    """Plain data as the checks expect it from YAML: exact decimals as text."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return [_for_evaluation(v) for v in value]
    if isinstance(value, dict):
        return {k: _for_evaluation(v) for k, v in value.items()}
    return value


def _comparable(value: Any) -> Any:
    return _plain(value)


def _signal_key(signal: Signal) -> tuple[str, str | None]:
    return (signal.rule_id, signal.item)


def _computed_views(ev: Evaluation) -> dict[tuple[str, str | None], ComputedView]:
    views: dict[tuple[str, str | None], ComputedView] = {}
    for comp in ev.checklist.computed:
        cid = comp.computed.id
        views[(cid, None)] = ComputedView(
            cid, comp.computed.label, ev.computed.get(cid), comp.computed.format
        )
    for group_id, comps in ev.checklist.group_computed.items():
        items = ev.values.get(group_id) or []
        group = ev.checklist.questions[group_id].question
        assert isinstance(group, GroupQuestion)
        for index, item in enumerate(items):
            name = item_label(group, item, index)
            for comp in comps:
                cid = comp.computed.id
                views[(cid, f"{group_id}:{index}")] = ComputedView(
                    cid, comp.computed.label, item.get(cid), comp.computed.format, name
                )
    return views
