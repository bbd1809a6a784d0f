"""The interview without a terminal: conditions, defaults, navigation, autosave, writing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from postloan_cli import yamlio
from postloan_cli.answer_writer import DraftSaver, dump_answer_file, previous_from_draft
from postloan_cli.answers import Invalid
from postloan_cli.evaluation import evaluate
from postloan_cli.interview import Interview, NavigationError
from postloan_cli.loading import find_checklist, load_answers
from postloan_cli.models import AnswerFile

ROOT = Path(__file__).resolve().parents[1]
CHECKLISTS = ROOT / "checklists"
EXAMPLES = ROOT / "examples" / "answers"
TODAY = dt.date(2026, 11, 20)

MINI = """\
id: mini
version: "1.0.0"
title: {en: Mini, es: Mini}
languages: [en, es]
loan_types:
  - {id: working_capital, label: Working capital}
  - {id: fixed_asset, label: {en: Fixed asset, es: Activo fijo}}
thresholds:
  - {id: current_ratio_min, label: Minimum current ratio, type: ratio, value: 1.0}
sections:
  - id: use_of_funds
    area: use_of_funds
    title: {en: Use of funds, es: Uso de los fondos}
    questions:
      - id: funds_as_contracted
        type: yes_no
        prompt: {en: "Funds used as contracted?", es: "¿Fondos usados según contrato?"}
        help: Compare the payments with the contract.
      - id: own_funding_pct
        type: percent
        prompt: Own funding arrived (%)
        when: "loan.type == 'fixed_asset'"
      - id: own_funding_note
        type: text
        required: false
        prompt: Why is own funding late?
        when: "own_funding_pct is not none and own_funding_pct < 50"
    rules:
      - id: funds_diverted
        when: "funds_as_contracted == false"
        severity: critical
        signal: Funds diverted
  - id: financials
    area: financials
    title: Financials
    questions:
      - id: statements
        type: group
        prompt: Statements
        item_label: period
        min_items: 1
        fields:
          - {id: period, type: text, prompt: Period}
          - {id: period_end, type: date, prompt: End}
          - {id: current_assets, type: money, prompt: Current assets}
          - {id: current_liabilities, type: money, prompt: Current liabilities}
        computed:
          - id: current_ratio
            label: Current ratio
            expr: "item.current_assets / item.current_liabilities"
            format: ratio
      - {id: employees, type: integer, prompt: Employees, required: false}
    computed:
      - id: latest_current_ratio
        label: Current ratio (latest)
        expr: "latest(statements, 'period_end').current_ratio"
        format: ratio
    rules:
      - id: low_cr
        when: "latest_current_ratio < threshold.current_ratio_min"
        severity: major
        signal: Current ratio below 1.0
"""

FACTS = [
    "L-2026-0142",
    "2026-11-20",
    "ACME Trading Ltd",
    "fixed_asset",
    "cny",
    "1,000,000",
    "800000.50",
    "2025-01-01",
    "2028-01-01",
    "Warehouse construction",
    "0",
]


@pytest.fixture(scope="module")
def mini(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("checklists")
    (folder / "mini").mkdir()
    (folder / "mini" / "1.0.0.yaml").write_text(MINI, encoding="utf-8")
    return folder, find_checklist("mini", "1.0.0", [folder])


def answer_facts(iv: Interview) -> None:
    for raw in FACTS:
        iv.answer(raw)
    assert iv.current is not None and iv.current.key == "loan.bank"
    iv.skip()  # bank
    iv.skip()  # branch
    iv.skip()  # contract
    iv.answer(iv.default(iv.current))  # kind: regular (the default)
    iv.answer("Li Wei")
    iv.skip()  # certificate


def item(period: str, end: str, assets: str, liabilities: str) -> dict[str, str]:
    return {
        "period": period,
        "period_end": end,
        "current_assets": assets,
        "current_liabilities": liabilities,
    }


def test_facts_first_then_sections_with_progress(mini: Any) -> None:
    _, checklist = mini
    iv = Interview(checklist, today=TODAY)
    assert iv.current is not None and iv.current.key == "loan.id"
    answer_facts(iv)
    assert iv.facts_complete()
    assert iv.current is not None and iv.current.key == "funds_as_contracted"
    progress = iv.progress()
    assert (progress.section_number, progress.section_count) == (1, 2)
    # fixed asset: own funding is asked; the note only below 50 %
    assert (progress.question_number, progress.question_count) == (1, 2)
    assert iv.values["loan.currency"] == "CNY"
    assert iv.values["loan.amount"].amount == Decimal("1000000")


def test_condition_false_means_not_asked_and_answers_dropped(mini: Any) -> None:
    _, checklist = mini
    iv = Interview(checklist, today=TODAY)
    answer_facts(iv)
    iv.answer("yes")
    assert iv.current is not None and iv.current.key == "own_funding_pct"
    iv.answer("40")
    assert iv.current is not None and iv.current.key == "own_funding_note"
    iv.answer("Shareholder loan delayed")
    # changing the loan type makes both conditions false: both answers go, with notices
    iv.goto("loan.type")
    feedback = iv.answer("working_capital")
    assert [s.key for s in feedback.dropped] == ["own_funding_pct", "own_funding_note"]
    assert "own_funding_pct" not in iv.values
    assert not iv.is_active(iv.step("own_funding_pct"))
    # a chained condition: own funding back above 50 % drops only the note
    iv.goto("loan.type")
    iv.answer("fixed_asset")
    iv.goto("own_funding_pct")
    iv.answer("30")
    iv.answer("late")
    iv.goto("own_funding_pct")
    feedback = iv.answer("80")
    assert [s.key for s in feedback.dropped] == ["own_funding_note"]


def test_live_feedback_computed_and_signals(mini: Any) -> None:
    _, checklist = mini
    iv = Interview(checklist, today=TODAY)
    answer_facts(iv)
    feedback = iv.answer("no")
    assert [s.rule_id for s in feedback.fired] == ["funds_diverted"]
    iv.answer("60")
    iv.skip()  # conclusion of the area
    assert iv.current is not None and iv.current.key == "statements"
    feedback = iv.set_group_items([item("2026-Q3", "2026-09-30", "84", "100")])
    values = {(c.id, c.item): c.value for c in feedback.computed}
    assert values[("latest_current_ratio", None)] == pytest.approx(0.84)
    assert values[("current_ratio", "2026-Q3")] == pytest.approx(0.84)
    assert [s.rule_id for s in feedback.fired] == ["low_cr"]
    # the officer adds evidence while still at the question
    iv.set_note("Stock build-up before the holidays", ["BS-2026-Q3"])
    feedback = iv.answer(iv.values["statements"])
    assert feedback.fired == []
    # correcting the funds answer clears the signal
    iv.goto("funds_as_contracted")
    feedback = iv.answer("yes")
    assert [s.rule_id for s in feedback.cleared] == ["funds_diverted"]
    data = iv.answer_file_dict("draft")
    entry = data["answers"]["financials"]["statements"]
    assert entry["note"] == "Stock build-up before the holidays"
    assert entry["evidence"] == ["BS-2026-Q3"]


def test_invalid_answer_is_refused_with_a_message(mini: Any) -> None:
    _, checklist = mini
    iv = Interview(checklist, today=TODAY)
    answer_facts(iv)
    iv.answer("yes")
    with pytest.raises(Invalid) as err:
        iv.answer("abc")
    assert "percentage" in err.value.message
    assert iv.current is not None and iv.current.key == "own_funding_pct"
    with pytest.raises(Invalid):
        iv.answer("")
    iv.goto("loan.matures_on")
    with pytest.raises(Invalid) as err:
        iv.answer("2024-01-01")
    assert "before disbursement" in err.value.message
    with pytest.raises(Invalid) as err:
        iv.answer("2026-02-30")
    assert "not a real date" in err.value.message


def test_navigation_back_jump_skip(mini: Any) -> None:
    _, checklist = mini
    iv = Interview(checklist, today=TODAY)
    with pytest.raises(NavigationError):
        iv.jump("financials")  # facts first
    with pytest.raises(NavigationError):
        iv.skip()  # loan id is required
    answer_facts(iv)
    iv.answer("yes")
    assert iv.back()
    assert iv.current is not None and iv.current.key == "funds_as_contracted"
    assert iv.default(iv.current) is True  # the answer given is offered again
    iv.jump("financials")
    assert iv.current is not None and iv.current.key == "statements"
    assert iv.back()
    assert iv.current is not None and iv.current.key == "funds_as_contracted"
    iv.jump("financials")
    with pytest.raises(Invalid):
        iv.answer([])  # at least one period
    iv.answer([item("2026-Q3", "2026-09-30", "120", "100")])
    assert iv.current is not None and iv.current.key == "employees"
    iv.skip()
    iv.skip()  # conclusion
    # required questions left behind are asked before the opinion
    assert iv.current is not None and iv.current.key == "own_funding_pct"
    iv.answer("70")
    iv.skip()  # conclusion (now reached in order)
    assert iv.current is not None and iv.current.key == "statements"


def finish(iv: Interview) -> None:
    """Answer everything still open with defaults or simple values."""
    values = {
        "funds_as_contracted": "yes",
        "own_funding_pct": "70",
        "statements": [item("2026-Q3", "2026-09-30", "120", "100")],
        "opinion.overall": "Performing as agreed.",
    }
    for _ in range(40):
        step = iv.current
        if step is None:
            return
        if step.key in values:
            iv.answer(values[step.key])
        elif not step.required:
            iv.skip()
        else:
            iv.answer(iv.default(step))
    raise AssertionError("interview did not finish")


def test_answer_file_writes_and_loads_back_identically(mini: Any, tmp_path: Path) -> None:
    folder, checklist = mini
    iv = Interview(checklist, today=TODAY)
    answer_facts(iv)
    finish(iv)
    assert iv.finished
    data = iv.answer_file_dict("final")
    assert data["opinion"]["proposed_classification"] == "normal"
    assert "employees" not in data["answers"]["financials"]  # skipped: left out of a final
    text = dump_answer_file(data)
    assert text.startswith("# yaml-language-server: $schema=")
    assert "amount: 800000.50" in text
    assert "amount: 1000000.00" in text
    path = tmp_path / "final.yaml"
    path.write_text(text, encoding="utf-8")
    loaded = load_answers(path, [folder])
    ev = evaluate(loaded.checklist, loaded.answers)
    assert ev.errors == []
    assert loaded.answers.loan.outstanding.amount == Decimal("800000.50")
    assert loaded.answers.inspection.date == TODAY
    assert iv.evaluation is not None
    for qid, value in ev.values.items():
        assert value == iv.evaluation.values[qid], qid
    # writing what was read gives the same data
    data_read = yamlio.load(path).data
    assert yamlio.parse(dump_answer_file(data_read), "again") == data_read


def test_writer_keeps_tricky_text() -> None:
    data = {
        "status": "final",
        "checklist": {"id": "x", "version": "1.0.0"},
        "answers": {
            "s": {
                "a": "yes",
                "b": "12",
                "c": "- dash: colon",
                "d": "two\nlines",
                "e": "中文 and español",
                "f": Decimal("0.10"),
                "g": None,
            }
        },
    }
    text = dump_answer_file(data, comments=["hello"])
    assert text.splitlines()[1] == "# hello"
    assert text.index("checklist:") < text.index("status:")
    back = yamlio.parse(text, "x")
    assert back["checklist"]["version"] == "1.0.0"
    assert back["answers"]["s"] == {
        "a": "yes",
        "b": "12",
        "c": "- dash: colon",
        "d": "two\nlines",
        "e": "中文 and español",
        "f": 0.1,
        "g": None,
    }
    assert "f: 0.1" in text


def test_autosave_and_resume_continue_at_first_unanswered(mini: Any, tmp_path: Path) -> None:
    _, checklist = mini
    saver = DraftSaver(tmp_path / "inspections", previous=Path("prev.yaml"))
    iv = Interview(checklist, today=TODAY, on_change=saver.save)
    iv.answer("L-2026-0142")
    assert saver.path is None  # no date yet: nothing to name the draft after
    for raw in FACTS[1:]:
        iv.answer(raw)
    draft = tmp_path / "inspections" / "L-2026-0142" / "2026-11-20.draft.yaml"
    assert saver.path == draft and draft.is_file()
    iv.skip()
    iv.skip()
    iv.skip()
    iv.answer("regular")
    iv.answer("Li Wei")
    iv.skip()
    iv.answer("no")
    iv.set_note(
        "Paid to a related company",
        ["bank statement 2026-10"],
        step=iv.step("funds_as_contracted"),
    )
    text = draft.read_text(encoding="utf-8")
    assert "status: draft" in text
    assert "Paid to a related company" in text
    assert previous_from_draft(text) == Path("prev.yaml")
    # a draft is never rendered as an opinion
    assert AnswerFile.model_validate(yamlio.parse(text, "d")).status == "draft"

    resumed, problems = Interview.from_draft(checklist, yamlio.parse(text, "d"), today=TODAY)
    assert problems == []
    assert resumed.current is not None and resumed.current.key == "own_funding_pct"
    assert resumed.values == iv.values
    assert resumed.notes == iv.notes
    # finishing both gives the same final answer file
    finish(iv)
    finish(resumed)
    assert dump_answer_file(resumed.answer_file_dict("final")) == dump_answer_file(
        iv.answer_file_dict("final")
    )
    saver.discard()
    assert not draft.exists()


def test_draft_moves_when_the_date_changes(mini: Any, tmp_path: Path) -> None:
    _, checklist = mini
    saver = DraftSaver(tmp_path)
    iv = Interview(checklist, today=TODAY, loan_id="L-1", on_change=saver.save)
    iv.answer("2026-11-20")
    first = saver.path
    assert first is not None and first.exists()
    iv.goto("inspection.date")
    iv.answer("2026-11-21")
    assert saver.path is not None and saver.path.name == "2026-11-21.draft.yaml"
    assert not first.exists()


def test_skipped_optional_question_is_not_asked_again_on_resume(mini: Any) -> None:
    _, checklist = mini
    iv = Interview(checklist, today=TODAY)
    answer_facts(iv)
    iv.answer("yes")
    iv.answer("30")
    assert iv.current is not None and iv.current.key == "own_funding_note"
    iv.skip()
    data = iv.answer_file_dict("draft")
    assert data["answers"]["use_of_funds"]["own_funding_note"] is None
    resumed, _ = Interview.from_draft(checklist, data, today=TODAY)
    assert resumed.current is not None and resumed.current.key == "conclusion:use_of_funds"


@pytest.mark.skipif(
    not (CHECKLISTS / "post-loan-standard" / "1.0.0.yaml").exists()
    or not (EXAMPLES / "01-healthy-working-capital.yaml").exists(),
    reason="standard checklist or example not present",
)
def test_previous_inspection_gives_facts_and_defaults() -> None:
    previous_path = EXAMPLES / "01-healthy-working-capital.yaml"
    previous = load_answers(previous_path).answers
    checklist = find_checklist("post-loan-standard", "1.0.0", [CHECKLISTS])
    iv = Interview(checklist, today=TODAY, previous=previous)
    # the loan's static facts are taken; the date is asked first
    assert iv.current is not None and iv.current.key == "inspection.date"
    assert iv.values["loan.id"] == previous.loan.id
    assert iv.default(iv.step("loan.outstanding")) == previous.loan.outstanding
    iv.answer("2026-11-20")
    assert iv.current is not None and iv.current.key == "loan.outstanding"
    while iv.current is not None and iv.current.kind == "fact":
        default = iv.default(iv.current)
        if default is None:
            iv.skip()
        else:
            iv.answer(default)
    assert iv.facts_complete()
    # every checklist answer of the previous inspection is offered as the default
    first = iv.step("funds_used_as_contracted")
    assert iv.default(first) is True
    assert iv.previous_value(first) is True
    assert iv.current is not None and iv.current.key == "funds_used_as_contracted"
    feedback = iv.answer(False)
    assert feedback.changed and feedback.changed_from is True
    assert iv.changed_from_previous(first)
    assert iv.current is not None and iv.current.key == "disbursement_method"
    assert iv.is_active(iv.step("diverted_uses"))
    iv.goto("funds_used_as_contracted")
    iv.answer(True)
    assert not iv.is_active(iv.step("diverted_uses"))
    # finish with the defaults: the answer file is valid and pins the previous date
    for _ in range(200):
        step = iv.current
        if step is None:
            break
        if step.key == "opinion.overall":
            iv.answer("Funds partly diverted; watch.")
        elif step.key == "opinion.reason":
            iv.answer("Diversion is being repaid.")
        else:
            default = iv.default(step)
            if default is None and not step.required:
                iv.skip()
            else:
                iv.answer(default)
    assert iv.finished
    data = iv.answer_file_dict("final")
    assert data["inspection"]["previous"] == previous.inspection.date
    assert data["loan"]["borrower"]["id"] == previous.loan.borrower.id
    answer_file = AnswerFile.model_validate(yamlio.parse(dump_answer_file(data), "x"))
    ev = evaluate(checklist, answer_file)
    assert ev.errors == []


def test_questionary_prompter_in_process(mini: Any, tmp_path: Path) -> None:
    """The real prompts, driven through a pipe: arrow keys, validation, Enter."""
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from postloan_cli.interactive import BACK, QuestionaryPrompter

    with create_pipe_input() as pipe:
        prompter = QuestionaryPrompter(input=pipe, output=DummyOutput())
        pipe.send_text("\x1b[B\r")  # arrow down, Enter
        choice = prompter.select("Funds used as contracted?", [("yes", True), ("no", False)])
        assert choice is False
        pipe.send_text("3\r")  # shortcut to the third entry
        choice = prompter.select("q", [("yes", True), ("no", False), ("<- back", BACK)])
        assert choice == BACK
        seen: list[str] = []

        def validate(text: str) -> str | None:
            seen.append(text)
            return None if text.replace(".", "").isdigit() else "expected a number"

        pipe.send_text("abc\r\x1512.5\r")  # refused, cleared, typed again
        assert prompter.text("Own funding (%)", "", validate).strip() == "12.5"
        assert seen[0] == "abc"
        pipe.send_text(" \x1b[B \r")  # tick first and second
        ticked = prompter.checkbox(
            "Pick", [("a", "a"), ("b", "b"), ("c", "c")], [], lambda _s: None
        )
        assert ticked == ["a", "b"]
