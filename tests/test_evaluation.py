"""Evaluation: answers typed, computed values, rules fired with evidence, floors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import CORE, EXAMPLES
from postloan_cli.compiled import CompiledChecklist, compile_checklist
from postloan_cli.evaluation import Evaluation, evaluate
from postloan_cli.loading import load_answers
from postloan_cli.models import Classification

CHECKLISTS = [CORE / "checklists"]
GOOD = (CORE / "answers" / "good.yaml").read_text()


def _evaluate(path: Path) -> Evaluation:
    loaded = load_answers(path, CHECKLISTS)
    return evaluate(loaded.checklist, loaded.answers)


def test_good_file_signals_and_floor() -> None:
    ev = _evaluate(CORE / "answers" / "good.yaml")
    assert ev.errors == []
    fired = {(s.rule_id, s.item) for s in ev.signals}
    assert fired == {
        ("funds_diverted", None),
        ("overdue_90", None),
        ("low_cr", None),
        ("per_period", "2026-Q3"),
        ("registration_expiring", None),
    }
    # overdue_90 carries an explicit substandard floor; critical maps to substandard too.
    assert ev.suggested is Classification.substandard
    assert [s.severity.value for s in ev.signals][:1] == ["critical"]
    assert ev.computed["latest_current_ratio"] == pytest.approx(0.4)
    assert ev.counts() == {"info": 0, "watch": 2, "major": 2, "critical": 1}


def test_signal_keeps_its_evidence() -> None:
    ev = _evaluate(CORE / "answers" / "good.yaml")
    by_rule = {s.rule_id: s for s in ev.signals}
    diverted = by_rule["funds_diverted"].evidence
    assert [(e.kind, e.id, e.value) for e in diverted] == [("answer", "funds_as_contracted", False)]
    assert diverted[0].note == "paid to an unrelated company"
    assert diverted[0].references == ("stmt-1",)
    overdue = {(e.kind, e.id): e.value for e in by_rule["overdue_90"].evidence}
    assert overdue[("loan", "days_past_due")] == 120
    assert float(overdue[("threshold", "overdue_substandard_days")]) == 90
    assert str(by_rule["funds_diverted"].due) == "2026-11-21"


def test_condition_false_answer_is_ignored_with_warning(write: Callable[..., Path]) -> None:
    path = write(
        "a.yaml",
        GOOD.replace(
            "    funds_as_contracted:", "    own_funding_pct: 40\n    funds_as_contracted:"
        ),
    )
    ev = _evaluate(path)
    assert ev.errors == []
    (warning,) = ev.warnings
    assert warning.code == "PL306"
    assert ev.values["own_funding_pct"] is None
    assert ev.asked["own_funding_pct"] is False


def test_better_proposal_needs_reason(write: Callable[..., Path]) -> None:
    path = write(
        "a.yaml",
        GOOD.replace("proposed_classification: substandard", "proposed_classification: normal"),
    )
    ev = _evaluate(path)
    assert [p.code for p in ev.errors] == ["PL307"]
    path = write(
        "b.yaml",
        GOOD.replace(
            "proposed_classification: substandard",
            "proposed_classification: special_mention\n  reason: Repaid in full on 2026-11-22.",
        ),
    )
    ev = _evaluate(path)
    assert ev.errors == []
    assert ev.proposal_differs


def test_missing_inputs_do_not_fire(write: Callable[..., Path]) -> None:
    text = GOOD.replace("days_past_due: 120", "days_past_due: 0")
    text = text.replace(
        '    funds_as_contracted: {value: false, note: "paid to an unrelated '
        'company", evidence: [stmt-1]}\n',
        "    funds_as_contracted: true\n",
    )
    text = (
        text.split("  financials:")[0]
        + "opinion:\n  overall: ok\n  proposed_classification: normal\n"
    )
    text = text.replace(
        "funds_as_contracted: true\n",
        "funds_as_contracted: true\n  financials:\n    statements: []\n",
    )
    ev = _evaluate(write("a.yaml", text))
    assert ev.errors == []
    assert ev.signals == []
    assert ev.suggested is Classification.normal


def test_draft_may_be_incomplete(write: Callable[..., Path]) -> None:
    text = GOOD.replace(
        'checklist: {id: mini, version: "1.0.0"}',
        'checklist: {id: mini, version: "1.0.0"}\nstatus: draft',
    )
    text = text.split("answers:")[0] + "answers: {}\n"
    ev = _evaluate(write("d.yaml", text))
    assert ev.errors == []


def test_numbers_with_commas_only_as_thousands_separators() -> None:
    from postloan_cli.answers import Invalid, coerce
    from postloan_cli.models import DecimalQuestion

    question = DecimalQuestion(id="x", type="decimal", prompt="x")
    assert str(coerce(question, "1,234,567.89", (), "CNY")) == "1234567.89"
    assert str(coerce(question, "12.5", (), "CNY")) == "12.5"
    for text in ("1.234,56", "12,5", "1,23"):
        with pytest.raises(Invalid) as info:
            coerce(question, text, (), "CNY")
        assert "'.' for decimals" in info.value.message


def _jinja_only(monkeypatch: pytest.MonkeyPatch, checklist: CompiledChecklist) -> CompiledChecklist:
    """``checklist`` compiled again with every expression run by Jinja2 templates."""
    from postloan_cli import expressions

    def unsupported(node: object) -> None:
        raise expressions._Unsupported(node)

    expressions.compile_expression.cache_clear()
    try:
        with monkeypatch.context() as patch:
            patch.setenv("POSTLOAN_CACHE_DIR", "off")
            patch.setattr(expressions, "_lower", unsupported)
            return compile_checklist(checklist.checklist)
    finally:
        expressions.compile_expression.cache_clear()


@pytest.mark.parametrize(
    "path", [CORE / "answers" / "good.yaml", *sorted(EXAMPLES.glob("*.yaml"))], ids=lambda p: p.name
)
def test_closures_and_templates_evaluate_alike(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load_answers(path, CHECKLISTS)
    fast = evaluate(loaded.checklist, loaded.answers)
    slow = evaluate(_jinja_only(monkeypatch, loaded.checklist), loaded.answers)
    assert fast.computed  # something was computed, and compared
    for name in ("values", "given", "asked", "computed", "signals", "suggested", "problems"):
        assert getattr(fast, name) == getattr(slow, name), name
    # Evidence.question is left out of ==: compare it too.
    assert [[e.question for e in s.evidence] for s in fast.signals] == [
        [e.question for e in s.evidence] for s in slow.signals
    ]


def test_per_item_rules_see_each_item_with_its_computed_values() -> None:
    ev = _evaluate(CORE / "answers" / "good.yaml")
    (signal,) = [s for s in ev.signals if s.rule_id == "per_period"]
    assert signal.item == "2026-Q3"
    fields = {e.id: e.value for e in signal.evidence if e.kind == "field"}
    assert fields
    # The item's values are the typed answers, not what expressions saw (floats).
    item = ev.values["statements"][1]
    assert all(item[k] == v for k, v in fields.items())


@pytest.mark.parametrize(
    "entry",
    [
        {"value": 3},
        {"value": "x", "note": "seen on site"},
        {"value": None, "note": None, "evidence": []},
        {"value": [1, 2], "evidence": ["a", "b"]},
        {"note": "no value"},
        {"value": 1, "note": 5},
        {"value": 1, "evidence": "not a list"},
        {"value": 1, "evidence": ["a", 2]},
        {"value": 1, "evidence": ("a",)},
        {"value": 1, "evidence": None},
        {"value": 1, "extra": 2},
        {},
        "bare",
        12.5,
        [1, 2],
    ],
)
def test_long_form_answers_read_as_the_answer_model_reads_them(entry: object) -> None:
    from pydantic import ValidationError

    from postloan_cli.answers import GivenAnswer, split_answer
    from postloan_cli.models import Answer

    path = ("answers", "s", "q")
    given, problem = split_answer(entry, path)
    long_form = isinstance(entry, dict) and entry and set(entry) <= {"value", "note", "evidence"}
    if not long_form:
        assert (given, problem) == (GivenAnswer(entry, None, (), path, path), None)
        return
    try:
        answer = Answer.model_validate(entry)
    except ValidationError as exc:
        assert given is None
        assert problem is not None and problem.code == "PL300"
        assert problem.path == (*path, *exc.errors()[0]["loc"])
    else:
        expected = GivenAnswer(
            answer.value, answer.note, tuple(answer.evidence), path, (*path, "value")
        )
        assert (given, problem) == (expected, None)


def test_answers_to_subclassed_question_types_are_checked_as_their_base() -> None:
    from postloan_cli.answers import Invalid, coerce
    from postloan_cli.models import IntegerQuestion

    class Counted(IntegerQuestion):
        pass

    question = Counted(id="x", type="integer", prompt="x", min=0)
    assert coerce(question, 3, (), "CNY") == 3
    with pytest.raises(Invalid):
        coerce(question, -1, (), "CNY")


@pytest.mark.parametrize(
    "raw",
    [
        "yes",
        "maybe",
        3,
        None,
        [{"name": "A", "kind": "land", "value": 10}],
        [{"name": "A", "kind": "boat", "value": 10}],
        [{"name": "A", "kind": "land", "value": "ten"}],
        [{"name": "A", "colour": "red"}],
        [{"kind": "land"}],
        "not a list",
    ],
)
def test_checklist_checkers_check_as_coerce_does(raw: object) -> None:
    from postloan_cli.answers import Invalid, checker, coerce
    from postloan_cli.models import GroupQuestion, SingleChoiceQuestion

    choice = SingleChoiceQuestion.model_validate(
        {
            "id": "c",
            "type": "single_choice",
            "prompt": "c",
            "choices": [{"id": "yes", "label": "Yes"}, {"id": "no", "label": "No"}],
        }
    )
    group = GroupQuestion.model_validate(
        {
            "id": "g",
            "type": "group",
            "prompt": "g",
            "fields": [
                {"id": "name", "type": "text", "prompt": "n"},
                {
                    "id": "kind",
                    "type": "single_choice",
                    "prompt": "k",
                    "choices": [{"id": "land", "label": "Land"}],
                },
                {"id": "value", "type": "money", "prompt": "v", "required": False},
            ],
        }
    )

    def outcome(check: Callable[..., object], question: object) -> object:
        try:
            return ("ok", check(question, raw, ("p",), "CNY"))
        except Invalid as exc:
            return ("invalid", exc.code, exc.message, exc.path)

    for question in (choice, group):
        assert outcome(checker(question), question) == outcome(coerce, question)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "path", [CORE / "answers" / "good.yaml", *sorted(EXAMPLES.glob("*.yaml"))], ids=lambda p: p.name
)
def test_signals_and_evidence_are_what_their_classes_make(path: Path) -> None:
    """Records made by ``evaluate`` hold every field, in order, as the dataclass makes them."""
    from dataclasses import fields

    from postloan_cli.evaluation import Evidence, Signal

    ev = _evaluate(path)
    records: list[Any] = [ev, *ev.signals, *(e for s in ev.signals for e in s.evidence)]
    for record in records:
        cls = type(record)
        assert list(vars(record)) == [f.name for f in fields(cls)]
        made = cls(**vars(record))
        assert made == record
        assert repr(made) == repr(record)
    for signal in ev.signals:
        assert isinstance(signal, Signal)
        assert all(isinstance(e, Evidence) for e in signal.evidence)
        with pytest.raises(AttributeError):
            signal.item = "changed"


def test_each_compiled_checklist_is_evaluated_by_its_own_rules(tmp_path: Path) -> None:
    """Two checklists of one id and version in one process: each file is judged by its own."""
    text = (CORE / "checklists" / "mini" / "1.0.0.yaml").read_text()
    changed = text.replace("type: days, value: 90}", "type: days, value: 100}").replace(
        "signal: Overdue > 90", "signal: Overdue > 100"
    )
    assert changed != text
    (tmp_path / "mini").mkdir()
    (tmp_path / "mini" / "1.0.0.yaml").write_text(changed)
    answers = CORE / "answers" / "good.yaml"

    def overdue(ev: Evaluation) -> tuple[object, ...]:
        (signal,) = [s for s in ev.signals if s.rule_id == "overdue_90"]
        threshold = [e.value for e in signal.evidence if e.kind == "threshold"]
        return (signal.text, *(float(v) for v in threshold))

    before = _evaluate(answers)
    loaded = load_answers(answers, [tmp_path])
    after = evaluate(loaded.checklist, loaded.answers)
    assert overdue(before) == ("Overdue > 90", 90.0)
    assert overdue(after) == ("Overdue > 100", 100.0)
    assert overdue(_evaluate(answers)) == ("Overdue > 90", 90.0)


def test_evaluating_does_not_keep_a_checklist_alive() -> None:
    import gc
    import weakref

    loaded = load_answers(CORE / "answers" / "good.yaml", CHECKLISTS)
    checklist = compile_checklist(loaded.checklist.checklist)
    assert evaluate(checklist, loaded.answers).signals
    gone = weakref.ref(checklist)
    del checklist
    gc.collect()
    assert gone() is None


@pytest.mark.parametrize(
    "path", [CORE / "answers" / "good.yaml", *sorted(EXAMPLES.glob("*.yaml"))], ids=lambda p: p.name
)
def test_thresholds_as_constants_and_shared_calls_change_nothing(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An evaluation is the same with its plan's bindings as with none at all."""
    from postloan_cli import evaluation
    from postloan_cli.expressions import Bindings

    loaded = load_answers(path, CHECKLISTS)
    bound = evaluate(loaded.checklist, loaded.answers)
    assert evaluation._plan_of(loaded.checklist).bindings.constants
    with monkeypatch.context() as patch:
        patch.setattr(evaluation, "_PLANS", {})
        patch.setattr(evaluation, "_bindings", lambda _: Bindings())
        plain = evaluate(loaded.checklist, loaded.answers)
    for name in ("values", "given", "asked", "computed", "signals", "suggested", "problems"):
        assert getattr(bound, name) == getattr(plain, name), name


def test_real_checklist_sorts_the_statements_once_per_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``latest(financial_statements, 'period_end')``, in every ratio, is computed once."""
    from postloan_cli import evaluation, expressions

    loaded = load_answers(sorted(EXAMPLES.glob("*.yaml"))[0])
    shared = evaluation._plan_of(loaded.checklist).bindings.shared
    assert any("'latest', (('name', 'financial_statements')" in text for text in shared)
    sorts: list[object] = []
    sorted_by = expressions._sorted_by
    monkeypatch.setattr(
        expressions, "_sorted_by", lambda *args: sorts.append(args) or sorted_by(*args)
    )
    ev = evaluate(loaded.checklist, loaded.answers)
    assert ev.computed["latest_current_ratio"] is not None
    # latest and previous of the statements, previous of those of the same length.
    assert len(sorts) == 3


def test_calls_reading_computed_values_are_not_shared(tmp_path: Path) -> None:
    """A computed value changes after the shared calls are made: calls reading it run as before."""
    text = (CORE / "checklists" / "mini" / "1.0.0.yaml").read_text()
    rule = "      - id: per_period\n"
    extra = "".join(
        f"      - {{id: change_{n}, when: 'pct_change(latest_current_ratio, 0.5) < {n}',"
        f" severity: watch, signal: changed {n}}}\n"
        for n in (0, 1)
    )
    changed = text.replace(rule, extra + rule)
    assert changed != text
    (tmp_path / "mini").mkdir()
    (tmp_path / "mini" / "1.0.0.yaml").write_text(changed)
    loaded = load_answers(CORE / "answers" / "good.yaml", [tmp_path])
    ev = evaluate(loaded.checklist, loaded.answers)
    # latest_current_ratio is 0.4: a change of -20 % from 0.5.
    assert {s.rule_id for s in ev.signals} >= {"change_0", "change_1"}


def test_a_question_named_threshold_is_read_as_its_answer(tmp_path: Path) -> None:
    """Its answer takes the name's place in expressions: the thresholds are not constants then."""
    from postloan_cli import evaluation

    text = (CORE / "checklists" / "mini" / "1.0.0.yaml").read_text()
    question = "      - id: funds_as_contracted\n"
    changed = text.replace(
        question,
        "      - {id: threshold, type: yes_no, prompt: Named so, required: false}\n" + question,
    )
    assert changed != text
    (tmp_path / "mini").mkdir()
    (tmp_path / "mini" / "1.0.0.yaml").write_text(changed)
    answers = tmp_path / "a.yaml"
    answers.write_text(GOOD.replace("  use_of_funds:\n", "  use_of_funds:\n    threshold: true\n"))
    loaded = load_answers(answers, [tmp_path])
    ev = evaluate(loaded.checklist, loaded.answers)
    assert ev.values["threshold"] is True
    assert evaluation._plan_of(loaded.checklist).bindings.constants == {}
    # ``true.overdue_substandard_days`` is undefined: the rule cannot fire on 120 days.
    fired = {s.rule_id for s in ev.signals}
    assert "overdue_90" not in fired
    assert "low_cr" not in fired
    assert "overdue_90" in {s.rule_id for s in _evaluate(CORE / "answers" / "good.yaml").signals}
