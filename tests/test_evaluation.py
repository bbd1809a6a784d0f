"""Evaluation: answers typed, computed values, rules fired with evidence, floors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import CORE
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
