"""The data model: checklists and answer files.

A *checklist* is a versioned definition of sections and questions, with
computed values, thresholds and warning rules. An *answer file* is one
inspection of one loan on one date. Both are validated by pydantic with
``extra="forbid"`` so that a misspelt key is an error, not a silent no-op.

Answer *values* are kept as plain YAML values here; they are checked
against the pinned checklist by :mod:`postloan_cli.answers`, because their
type depends on the question.
"""

# No ``from __future__ import annotations`` here: pydantic would have to
# evaluate every field's annotation from its text when each class is created,
# a fifth of this module's import time. Everything is defined before use.

import datetime as dt
import enum
from decimal import Decimal
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

# --- shared vocabulary --------------------------------------------------------

Id = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
"""A stable identifier: lower case letters, digits and underscores."""

Lang = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Expr = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
SemVer = Annotated[
    str,
    StringConstraints(pattern=r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$"),
]

Text = str | dict[Lang, str]
"""User-facing text: one string, or one string per language code."""


class Severity(enum.StrEnum):
    """How serious a warning signal is, in increasing order."""

    info = "info"
    watch = "watch"
    major = "major"
    critical = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_ORDER.index(self)


_SEVERITY_ORDER = list(Severity)


class Classification(enum.StrEnum):
    """The five-category loan classification, from best to worst."""

    normal = "normal"
    special_mention = "special_mention"
    substandard = "substandard"
    doubtful = "doubtful"
    loss = "loss"

    @property
    def rank(self) -> int:
        return _CLASSIFICATION_ORDER.index(self)


_CLASSIFICATION_ORDER = list(Classification)


#: The eight inspection areas, in the order the opinion presents them.
AREAS: tuple[str, ...] = (
    "use_of_funds",
    "environment",
    "operations",
    "financials",
    "management",
    "major_events",
    "guarantor",
    "collateral",
)
Area = Literal[
    "use_of_funds",
    "environment",
    "operations",
    "financials",
    "management",
    "major_events",
    "guarantor",
    "collateral",
    "other",
]


class _Strict(BaseModel):
    # defer_build: a model's validator is built when it first validates, not at
    # import. ``postloan inspect`` validates only the answer-file models; the
    # checklist side (half the classes, the costly unions) comes from the
    # compile cache already validated (see postloan_cli.loading), so building
    # it at import would be start-up time spent for nothing.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


# --- checklist ----------------------------------------------------------------


class Choice(_Strict):
    """One option of a single- or multiple-choice question."""

    id: Id
    label: Text


class _QuestionBase(_Strict):
    id: Id
    prompt: Text
    help: Text | None = None
    required: bool = True
    #: Asked only when this expression is true (e.g. ``loan.type == 'fixed_asset'``).
    when: Expr | None = None


class YesNoQuestion(_QuestionBase):
    type: Literal["yes_no"]
    default: bool | None = None


class SingleChoiceQuestion(_QuestionBase):
    type: Literal["single_choice"]
    choices: list[Choice] = Field(min_length=1)
    default: Id | None = None


class MultipleChoiceQuestion(_QuestionBase):
    type: Literal["multiple_choice"]
    choices: list[Choice] = Field(min_length=1)
    default: list[Id] | None = None
    min_selected: int | None = Field(default=None, ge=0)
    max_selected: int | None = Field(default=None, ge=1)


class IntegerQuestion(_QuestionBase):
    type: Literal["integer"]
    default: int | None = None
    min: int | None = None
    max: int | None = None
    unit: Text | None = None


class DecimalQuestion(_QuestionBase):
    type: Literal["decimal"]
    default: Decimal | None = None
    min: Decimal | None = None
    max: Decimal | None = None
    unit: Text | None = None


class MoneyQuestion(_QuestionBase):
    type: Literal["money"]
    default: Decimal | None = None
    min: Decimal | None = None
    max: Decimal | None = None
    #: Fixed currency; when absent the loan's currency is used.
    currency: Currency | None = None


class PercentQuestion(_QuestionBase):
    """A percentage in per-hundred units: ``12.5`` means 12.5 %."""

    type: Literal["percent"]
    default: Decimal | None = None
    min: Decimal | None = None
    max: Decimal | None = None


class DateQuestion(_QuestionBase):
    type: Literal["date"]
    default: dt.date | None = None
    min: dt.date | None = None
    max: dt.date | None = None


class TextQuestion(_QuestionBase):
    type: Literal["text"]
    default: str | None = None
    multiline: bool = False
    pattern: str | None = None
    max_length: int | None = Field(default=None, ge=1)


class Computed(_Strict):
    """A value derived from answers, e.g. a ratio from statement lines."""

    id: Id
    label: Text
    expr: Expr
    format: Literal["number", "integer", "ratio", "percent", "money", "days"] = "number"


ScalarQuestionType = (
    YesNoQuestion
    | SingleChoiceQuestion
    | MultipleChoiceQuestion
    | IntegerQuestion
    | DecimalQuestion
    | MoneyQuestion
    | PercentQuestion
    | DateQuestion
    | TextQuestion
)
ScalarQuestion = Annotated[ScalarQuestionType, Field(discriminator="type")]


class GroupQuestion(_QuestionBase):
    """A repeating group: a list of records (guarantors, collateral, periods)."""

    type: Literal["group"]
    fields: list[ScalarQuestion] = Field(min_length=1)
    #: Field whose value names an item in reports and prompts (e.g. ``name``).
    item_label: Id | None = None
    #: Values computed for each item from its own fields.
    computed: list[Computed] = Field(default_factory=list)
    min_items: int = Field(default=0, ge=0)
    max_items: int | None = Field(default=None, ge=1)
    default: None = None


AnyQuestion = ScalarQuestionType | GroupQuestion
Question = Annotated[AnyQuestion, Field(discriminator="type")]

#: The question types, as written in ``type:`` (pydantic puts them in error paths).
QUESTION_TYPES: frozenset[str] = frozenset(
    get_args(model.model_fields["type"].annotation)[0] for model in get_args(AnyQuestion)
)


class Rule(_Strict):
    """A warning rule: when its condition holds, a warning signal fires."""

    id: Id
    when: Expr
    severity: Severity
    signal: Text
    action: Text | None = None
    escalate_to: Text | None = None
    #: Days after the inspection date by which the action and escalation are due.
    within_days: int | None = Field(default=None, ge=0)
    #: Evaluate once per item of this group question (``item`` names the item).
    for_each: Id | None = None
    #: Overrides the severity's classification floor for this rule.
    classification: Classification | None = None


class Section(_Strict):
    """One inspection area (or an extra section) with its questions and rules."""

    id: Id
    area: Area
    title: Text
    description: Text | None = None
    questions: list[Question] = Field(default_factory=list)
    computed: list[Computed] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)


class LoanType(_Strict):
    id: Id
    label: Text


class Threshold(_Strict):
    """A named limit used by rules; thresholds are data, not code."""

    id: Id
    label: Text
    type: Literal["number", "ratio", "percent", "money", "days", "integer"]
    value: Decimal


class ClassificationMap(_Strict):
    """The classification floor each severity implies."""

    info: Classification = Classification.normal
    watch: Classification = Classification.special_mention
    major: Classification = Classification.special_mention
    critical: Classification = Classification.substandard

    def floor(self, severity: Severity) -> Classification:
        return Classification(getattr(self, severity.value))


class Checklist(_Strict):
    """A versioned checklist definition."""

    id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$", max_length=64)]
    version: SemVer
    kind: Literal["standard", "custom"] = "custom"
    title: Text
    description: Text | None = None
    default_language: Lang = "en"
    languages: list[Lang] = Field(default_factory=lambda: ["en"], min_length=1)
    loan_types: list[LoanType] = Field(min_length=1)
    thresholds: list[Threshold] = Field(default_factory=list)
    sections: list[Section] = Field(min_length=1)
    classification: ClassificationMap = Field(default_factory=ClassificationMap)

    @field_validator("version", mode="before")
    @classmethod
    def _version_is_text(cls, value: Any) -> Any:
        if isinstance(value, int | float):
            raise ValueError(f'version must be a quoted string like "{value}.0", not a number')
        return value


# --- answer file ----------------------------------------------------------------


class Money(_Strict):
    amount: Decimal
    currency: Currency


class Person(_Strict):
    name: Annotated[str, StringConstraints(min_length=1)]
    id: str | None = None
    #: Certificate number of a trained and examined officer.
    certificate: str | None = None
    role: str | None = None


class Party(_Strict):
    name: Annotated[str, StringConstraints(min_length=1)]
    id: str | None = None
    industry: str | None = None


class ChecklistRef(_Strict):
    id: str
    version: str

    @field_validator("version", mode="before")
    @classmethod
    def _version_is_text(cls, value: Any) -> Any:
        if isinstance(value, int | float):
            raise ValueError(f'version must be a quoted string like "{value}.0", not a number')
        return value


class Loan(_Strict):
    id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    borrower: Party
    type: Id
    amount: Money
    outstanding: Money
    disbursed_on: dt.date
    matures_on: dt.date
    purpose: Annotated[str, StringConstraints(min_length=1)]
    days_past_due: int = Field(default=0, ge=0)
    bank: str | None = None
    branch: str | None = None
    contract: str | None = None


class Inspection(_Strict):
    date: dt.date
    kind: Literal["regular", "irregular"]
    #: Why an irregular inspection was made (required when irregular).
    reason: str | None = None
    officer: Person
    #: Date of the previous inspection of this loan, if any.
    previous: dt.date | None = None
    place: str | None = None


class Answer(_Strict):
    """An answer with the officer's note and evidence references."""

    value: Any = None
    note: str | None = None
    evidence: list[str] = Field(default_factory=list)


class Opinion(_Strict):
    """The officer's conclusion per area and overall."""

    areas: dict[Id, str] = Field(default_factory=dict)
    overall: str | None = None
    proposed_classification: Classification | None = None
    #: Required when the proposal is better than the suggested classification.
    reason: str | None = None


class Review(_Strict):
    """The credit supervisor's review of the report."""

    supervisor: Person
    date: dt.date
    decision: Literal["approved", "returned"]
    opinion: str


class AnswerFile(_Strict):
    """One inspection of one loan on one date."""

    checklist: ChecklistRef
    status: Literal["final", "draft"] = "final"
    loan: Loan
    inspection: Inspection
    #: section id -> question id -> answer (a bare value or an :class:`Answer`).
    answers: dict[str, dict[str, Any] | None] = Field(default_factory=dict)
    opinion: Opinion = Field(default_factory=Opinion)
    review: Review | None = None
