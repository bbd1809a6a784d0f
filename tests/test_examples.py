"""The shipped standard checklist and the example answer files.

Every example in ``examples/answers`` must load, evaluate without errors,
and produce exactly the warning signals and suggested classification the
table below states for it. The table is the documentation of what each
example demonstrates; a change to a rule that alters an example's outcome
must update the table deliberately.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from postloan_cli.evaluation import Evaluation, evaluate
from postloan_cli.loading import load_answers, load_checklist
from postloan_cli.models import (
    AREAS,
    QUESTION_TYPES,
    Checklist,
    Classification,
    GroupQuestion,
    Severity,
)

ROOT = Path(__file__).resolve().parents[1]
CHECKLIST = ROOT / "checklists" / "post-loan-standard" / "1.0.0.yaml"
EXAMPLES = ROOT / "examples" / "answers"
RULES_DOC = ROOT / "docs" / "warning-rules.md"
LANGUAGES = ("en", "es", "zh")

#: example file -> (suggested classification, rule ids that fire).
EXPECTED: dict[str, tuple[str, set[str]]] = {
    "01-healthy-working-capital.yaml": ("normal", set()),
    "02-fixed-asset-own-funding-lag.yaml": (
        "special_mention",
        {
            "own_funding_lagging",
            "drawdown_ahead_of_progress",
            "project_behind_schedule",
            "statements_unaudited",
        },
    ),
    "03-funds-diverted.yaml": (
        "substandard",
        {
            "funds_diverted",
            "payments_not_to_counterparties",
            "unrelated_large_investment",
            "statements_unaudited",
        },
    ),
    "04-collateral-registration-expired.yaml": (
        "special_mention",
        {
            "collateral_registration_invalid",
            "collateral_registration_expiring",
            "collateral_insurance_lapsed",
        },
    ),
    "05-guarantor-in-decline.yaml": (
        "special_mention",
        {
            "guarantor_capacity_seriously_weakened",
            "guarantees_exceed_net_assets",
            "chain_guarantee",
            "industry_deteriorating",
        },
    ),
    "06-irregular-major-lawsuit.yaml": (
        "substandard",
        {
            "major_lawsuit",
            "assets_frozen",
            "key_customers_or_suppliers_lost",
            "restrictive_policy",
        },
    ),
    "07-overdue-120-days.yaml": (
        "substandard",
        {
            "overdue_substandard",
            "environment_material_adverse",
            "industry_deteriorating",
            "production_partly_stopped",
            "sales_falling_sharply",
            "wage_or_tax_arrears",
            "low_capacity_utilisation",
            "working_capital_strain",
            "low_settlement_share",
            "current_ratio_low",
            "debt_to_assets_watch",
            "interest_coverage_low",
            "revenue_decline",
            "negative_operating_cash_flow",
            "statements_late",
            "statements_unaudited",
            "overdue_at_other_lenders",
            "repayment_not_from_operations",
            "guarantor_capacity_weakened",
            "collateral_value_drop",
        },
    ),
    "08-financial-ratios-breached.yaml": (
        "special_mention",
        {
            "current_ratio_low",
            "debt_to_assets_high",
            "interest_coverage_low",
            "revenue_decline",
            "negative_operating_cash_flow",
            "industry_deteriorating",
            "collateral_value_drop",
        },
    ),
    "09-production-stopped-collateral-disposed.yaml": (
        "doubtful",
        {
            "overdue_doubtful",
            "funds_diverted",
            "funds_not_traced",
            "trade_documents_inconsistent",
            "trade_proceeds_diverted",
            "low_settlement_share",
            "production_stopped",
            "operations_deteriorated",
            "sales_falling_sharply",
            "low_capacity_utilisation",
            "working_capital_strain",
            "activity_inconsistent",
            "no_site_visit",
            "current_ratio_low",
            "debt_to_assets_high",
            "interest_coverage_below_one",
            "negative_operating_cash_flow",
            "net_loss",
            "revenue_decline",
            "statements_late",
            "overdue_at_other_lenders",
            "key_manager_absconded",
            "management_litigation",
            "borrower_uncooperative",
            "restructuring_event",
            "guarantor_capacity_seriously_weakened",
            "guarantees_exceed_net_assets",
            "guarantor_in_default_or_litigation",
            "ltv_above_limit",
            "collateral_disposed_without_consent",
            "collateral_lost",
            "collateral_seized",
            "collateral_damaged",
            "collateral_insurance_lapsed",
            "collateral_value_drop",
        },
    ),
}


def example_files() -> list[Path]:
    return sorted(EXAMPLES.glob("*.yaml"))


def test_every_example_is_in_the_table() -> None:
    names = {p.name for p in example_files()}
    assert len(names) >= 8
    assert names == set(EXPECTED), (
        f"not in EXPECTED: {sorted(names - set(EXPECTED))}; "
        f"no such file: {sorted(set(EXPECTED) - names)}"
    )


@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.name)
def test_example_evaluates_as_documented(path: Path) -> None:
    loaded = load_answers(path)
    assert loaded.answers.checklist.id == "post-loan-standard"
    assert loaded.answers.checklist.version == "1.0.0"
    ev = evaluate(loaded.checklist, loaded.answers)
    assert ev.errors == []
    assert ev.warnings == []

    suggested, rules = EXPECTED[path.name]
    fired = {s.rule_id for s in ev.signals}
    assert ev.suggested.value == suggested
    assert fired == rules, f"unexpected: {sorted(fired - rules)}; missing: {sorted(rules - fired)}"
    if suggested == "normal":
        assert all(s.severity.rank <= Severity.info.rank for s in ev.signals)


@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.name)
def test_example_is_a_complete_report(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=../../schemas/answers.schema.json\n")
    loaded = load_answers(path)
    answers = loaded.answers
    assert answers.inspection.date.year == 2026
    assert answers.inspection.officer.certificate
    if answers.inspection.kind == "irregular":
        assert answers.inspection.reason
    assert answers.loan.bank and answers.loan.branch and answers.loan.contract
    assert set(answers.opinion.areas) == set(AREAS)
    assert answers.opinion.overall and answers.opinion.proposed_classification
    statements = evaluate(loaded.checklist, answers).values["financial_statements"]
    assert statements is not None and 2 <= len(statements) <= 3


def test_healthy_example_has_no_signal_above_info() -> None:
    loaded = load_answers(EXAMPLES / "01-healthy-working-capital.yaml")
    ev = evaluate(loaded.checklist, loaded.answers)
    assert ev.suggested.value == "normal"
    assert [s.rule_id for s in ev.signals if s.severity.rank > Severity.info.rank] == []


def test_examples_cover_escaping_cases() -> None:
    notes: list[str] = []
    for path in example_files():
        loaded = load_answers(path)
        given = evaluate(loaded.checklist, loaded.answers).given.values()
        notes.extend(g.note for g in given if g.note)
    assert any(
        "<script>alert(1)</script>" in n and "|" in n and re.search(r"^# ", n, re.M) for n in notes
    )
    assert any(re.search(r"[\u4e00-\u9fff]", n) for n in notes)
    assert any("ñ" in n or "ó" in n for n in notes)  # notes in Spanish
    currencies = {load_answers(p).answers.loan.amount.currency for p in example_files()}
    assert len(currencies) >= 5


# --- rules the examples do not reach, and rules on missing data -----------------------


def _evaluate_variant(
    example: str,
    changes: dict[str, dict[str, Any]],
    loan: dict[str, Any] | None = None,
) -> Evaluation:
    """Evaluate ``example`` with some answers (and loan fields) replaced."""
    loaded = load_answers(EXAMPLES / example)
    answers = {k: dict(v) for k, v in loaded.answers.answers.items()}
    for section, entries in changes.items():
        answers.setdefault(section, {}).update(entries)
    # The worst proposal never needs a reason, whatever the variant suggests.
    opinion = loaded.answers.opinion.model_copy(
        update={"proposed_classification": Classification.loss}
    )
    update: dict[str, Any] = {"answers": answers, "opinion": opinion}
    if loan:
        update["loan"] = loaded.answers.loan.model_copy(update=loan)
    variant = loaded.answers.model_copy(update=update)
    return evaluate(loaded.checklist, variant)


HEALTHY = "01-healthy-working-capital.yaml"
PROJECT = "02-fixed-asset-own-funding-lag.yaml"


@pytest.mark.parametrize(
    ("days", "classification", "rule"),
    [
        (0, "normal", None),
        (1, "special_mention", "overdue_any"),
        (90, "special_mention", "overdue_any"),
        (91, "substandard", "overdue_substandard"),
        (120, "substandard", "overdue_substandard"),
        (270, "substandard", "overdue_substandard"),
        (271, "doubtful", "overdue_doubtful"),
        (360, "doubtful", "overdue_doubtful"),
        (361, "loss", "overdue_loss"),
    ],
)
def test_overdue_bands(days: int, classification: str, rule: str | None) -> None:
    ev = _evaluate_variant(HEALTHY, {}, loan={"days_past_due": days})
    assert ev.errors == []
    overdue = [s.rule_id for s in ev.signals if s.rule_id.startswith("overdue_")]
    assert overdue == ([rule] if rule else [])
    assert ev.suggested.value == classification


@pytest.mark.parametrize(
    ("example", "changes", "rule"),
    [
        (
            HEALTHY,
            {
                "management": {
                    "key_managers_changed": True,
                    "key_manager_change_kind": "resignation",
                    "key_manager_change_detail": "The CFO resigned without notice.",
                }
            },
            "key_manager_left",
        ),
        (HEALTHY, {"management": {"ownership_changed": True}}, "ownership_changed"),
        (HEALTHY, {"management": {"management_systems": "weak"}}, "weak_management"),
        (
            HEALTHY,
            {"management": {"control_weaknesses": ["unreliable_accounts"]}},
            "weak_management",
        ),
        (HEALTHY, {"major_events": {"new_major_debts": True}}, "new_major_debts"),
        (
            HEALTHY,
            {
                "major_events": {
                    "major_events_occurred": True,
                    "major_events": [
                        {
                            "title": "Fire in the corrugator hall",
                            "event_kind": "accident",
                            "event_date": "2026-04-02",
                            "financial_impact": "significant",
                        }
                    ],
                }
            },
            "major_accident",
        ),
        (
            HEALTHY,
            {"guarantor": {"guarantee_contracts_valid": False}},
            "guarantee_contracts_invalid",
        ),
        (
            HEALTHY,
            {"guarantor": {"guarantee_period_end": "2026-06-30"}},
            "guarantee_period_short",
        ),
        (
            HEALTHY,
            {"use_of_funds": {"payments_to_related_parties": True}},
            "payments_not_to_counterparties",
        ),
        (
            HEALTHY,
            {"environment": {"industry_outlook": "severely_deteriorating"}},
            "environment_material_adverse",
        ),
        (PROJECT, {"use_of_funds": {"project_status": "suspended"}}, "project_suspended"),
        (PROJECT, {"use_of_funds": {"project_permits_valid": False}}, "project_permits_invalid"),
    ],
)
def test_rule_fires_on_its_condition(
    example: str, changes: dict[str, dict[str, Any]], rule: str
) -> None:
    before = {s.rule_id for s in _evaluate_variant(example, {}).signals}
    ev = _evaluate_variant(example, changes)
    assert ev.errors == []
    assert rule not in before
    assert rule in {s.rule_id for s in ev.signals}


def test_every_rule_is_exercised() -> None:
    """Each shipped rule fires in an example or in a test above."""
    compiled = load_checklist(CHECKLIST)
    exercised = set().union(*(rules for _, rules in EXPECTED.values()))
    exercised |= {"overdue_any", "overdue_loss", "overdue_substandard", "overdue_doubtful"}
    exercised |= {
        "key_manager_left", "ownership_changed", "weak_management", "new_major_debts",
        "major_accident", "guarantee_contracts_invalid", "guarantee_period_short",
        "project_suspended", "project_permits_invalid", "environment_material_adverse",
        "payments_not_to_counterparties",
    }  # fmt: skip
    assert {r.rule.id for r in compiled.rules} - exercised == set()


def test_no_rule_fires_on_missing_data() -> None:
    """A draft with no answers at all raises no signal and no error."""
    loaded = load_answers(EXAMPLES / HEALTHY)
    empty = loaded.answers.model_copy(update={"answers": {}, "status": "draft"})
    for loan_type in ("working_capital", "fixed_asset", "trade_finance"):
        variant = empty.model_copy(
            update={"loan": empty.loan.model_copy(update={"type": loan_type})}
        )
        ev = evaluate(loaded.checklist, variant)
        assert ev.errors == []
        assert ev.signals == []
        assert ev.suggested.value == "normal"


def test_unanswered_optional_fields_do_not_fire() -> None:
    """Group items without the optional dates raise no expiry or insurance signal."""
    item = {
        "description": "Pledged deposit",
        "kind": "deposits_or_securities",
        "appraised_value": 3000000,
        "current_value": 3000000,
        "registration_status": "valid",
        "insurance_status": "not_required",
        "condition": "good",
        "disposed_without_consent": False,
        "seized_or_frozen": False,
    }
    ev = _evaluate_variant(HEALTHY, {"collateral": {"collateral_items": [item]}})
    assert ev.errors == []
    assert [s.rule_id for s in ev.signals if s.area == "collateral"] == []


# --- the standard checklist ---------------------------------------------------------


@pytest.fixture(scope="module")
def standard() -> Checklist:
    return load_checklist(CHECKLIST).checklist


def test_standard_checklist_loads() -> None:
    compiled = load_checklist(CHECKLIST)
    assert compiled.id == "post-loan-standard"
    assert compiled.version == "1.0.0"
    assert compiled.checklist.kind == "standard"
    assert compiled.problems == []
    assert len(compiled.questions) >= 50
    assert CHECKLIST.read_text(encoding="utf-8").startswith(
        "# yaml-language-server: $schema=../../schemas/checklist.schema.json\n"
    )


def test_standard_checklist_has_the_eight_areas_in_order(standard: Checklist) -> None:
    assert [s.area for s in standard.sections] == list(AREAS)
    assert [s.id for s in standard.sections] == list(AREAS)


def test_standard_checklist_uses_every_question_type(standard: Checklist) -> None:
    types = {q.type for s in standard.sections for q in s.questions}
    for s in standard.sections:
        for q in s.questions:
            if isinstance(q, GroupQuestion):
                types.update(f.type for f in q.fields)
    assert types >= QUESTION_TYPES


def _texts(checklist: Checklist) -> Iterator[tuple[str, object]]:
    """Every user-facing text of the checklist, with where it is."""
    yield "title", checklist.title
    yield "description", checklist.description
    for t in checklist.loan_types:
        yield f"loan_types.{t.id}", t.label
    for th in checklist.thresholds:
        yield f"thresholds.{th.id}", th.label
    for s in checklist.sections:
        yield f"{s.id}.title", s.title
        yield f"{s.id}.description", s.description
        for c in s.computed:
            yield f"{s.id}.computed.{c.id}", c.label
        for q in s.questions:
            yield from _question_texts(f"{s.id}.{q.id}", q)
            if isinstance(q, GroupQuestion):
                for f in q.fields:
                    yield from _question_texts(f"{s.id}.{q.id}.{f.id}", f)
                for c in q.computed:
                    yield f"{s.id}.{q.id}.computed.{c.id}", c.label
        for r in s.rules:
            yield f"{s.id}.rules.{r.id}.signal", r.signal
            yield f"{s.id}.rules.{r.id}.action", r.action
            if r.escalate_to is not None:
                yield f"{s.id}.rules.{r.id}.escalate_to", r.escalate_to


def _question_texts(where: str, q: object) -> Iterator[tuple[str, object]]:
    yield f"{where}.prompt", q.prompt  # type: ignore[attr-defined]
    yield f"{where}.help", q.help  # type: ignore[attr-defined]
    unit = getattr(q, "unit", None)
    if unit is not None:
        yield f"{where}.unit", unit
    for choice in getattr(q, "choices", None) or []:
        yield f"{where}.choices.{choice.id}", choice.label


def test_every_text_is_in_english_and_spanish(standard: Checklist) -> None:
    assert standard.languages == list(LANGUAGES)
    assert standard.default_language == "en"
    missing = [
        where
        for where, text in _texts(standard)
        if not isinstance(text, dict)
        or set(text) != set(LANGUAGES)
        or not all(isinstance(v, str) and v.strip() for v in text.values())
    ]
    assert missing == []


def test_rules_are_complete(standard: Checklist) -> None:
    thresholds = {t.id for t in standard.thresholds}
    used: set[str] = set()
    for s in standard.sections:
        for r in s.rules:
            assert r.action is not None, r.id
            if r.severity in (Severity.major, Severity.critical):
                assert r.escalate_to is not None and r.within_days is not None, r.id
            used.update(re.findall(r"threshold\.([a-z0-9_]+)", r.when))
    assert used <= thresholds
    assert thresholds - used == set(), "thresholds no rule uses"
    assert standard.classification.info.value == "normal"
    assert standard.classification.watch.value == "normal"
    assert standard.classification.major.value == "special_mention"
    assert standard.classification.critical.value == "substandard"


def test_overdue_rules_follow_the_five_categories(standard: Checklist) -> None:
    rules = {r.id: r for s in standard.sections for r in s.rules}
    floors = {rid: rules[rid].classification for rid in rules if rid.startswith("overdue_")}
    assert {k: v.value if v else None for k, v in floors.items()} == {
        "overdue_any": "special_mention",
        "overdue_substandard": "substandard",
        "overdue_doubtful": "doubtful",
        "overdue_loss": "loss",
        "overdue_at_other_lenders": None,
    }
    values = {t.id: t.value for t in standard.thresholds}
    assert (
        values["overdue_substandard_days"],
        values["overdue_doubtful_days"],
        values["overdue_loss_days"],
    ) == (90, 270, 360)


def test_warning_rules_doc_lists_every_rule(standard: Checklist) -> None:
    doc = RULES_DOC.read_text(encoding="utf-8")
    for s in standard.sections:
        for r in s.rules:
            assert f"`{r.id}`" in doc, r.id


def test_readme_lists_every_shipped_rule() -> None:
    """The README's rule list is kept in step with the standard checklist."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    checklist = load_checklist(CHECKLIST)
    missing = [r.rule.id for r in checklist.rules if f"`{r.rule.id}`" not in readme]
    assert missing == []


# --- Simplified Chinese -------------------------------------------------------------


def _has_cjk(text: str) -> bool:
    return re.search(r"[\u4e00-\u9fff]", text) is not None


def test_prompts_choices_signals_and_actions_are_in_en_es_and_zh(standard: Checklist) -> None:
    """Every prompt, choice label, signal and action has non-empty en, es and zh text."""
    assert "zh" in standard.languages
    texts: list[tuple[str, object]] = []
    for s in standard.sections:
        questions = [(q.id, q) for q in s.questions]
        for q in s.questions:
            if isinstance(q, GroupQuestion):
                questions += [(f"{q.id}.{f.id}", f) for f in q.fields]
        for where, q in questions:
            texts.append((f"{s.id}.{where}.prompt", q.prompt))
            for choice in getattr(q, "choices", None) or []:
                texts.append((f"{s.id}.{where}.choices.{choice.id}", choice.label))
        for r in s.rules:
            texts.append((f"{s.id}.rules.{r.id}.signal", r.signal))
            texts.append((f"{s.id}.rules.{r.id}.action", r.action))
    assert len(texts) > 300
    bad = [
        where
        for where, text in texts
        if not isinstance(text, dict)
        or not all(isinstance(text.get(lang), str) and text[lang].strip() for lang in LANGUAGES)
        or not _has_cjk(text["zh"])
    ]
    assert bad == []


def test_chinese_markdown_report(tmp_path: Path, standard: Checklist) -> None:
    from typer.testing import CliRunner

    from postloan_cli.cli import app

    result = CliRunner().invoke(
        app,
        [
            "inspect",
            "--answers",
            str(EXAMPLES / "03-funds-diverted.yaml"),
            "--lang",
            "zh",
            "-o",
            str(tmp_path),
            "-f",
            "md",
        ],
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    md = (tmp_path / "03-funds-diverted.md").read_text(encoding="utf-8")
    use_of_funds = next(s for s in standard.sections if s.id == "use_of_funds")
    question = next(q for q in use_of_funds.questions if q.id == "funds_used_as_contracted")
    rule = next(r for r in use_of_funds.rules if r.id == "funds_diverted")
    assert isinstance(question.prompt, dict) and isinstance(rule.signal, dict)
    assert question.prompt["zh"] == "贷款资金是否按借款合同约定的用途使用？"
    assert question.prompt["zh"] in md
    assert rule.signal["zh"] in md
    assert isinstance(use_of_funds.title, dict) and f"1. {use_of_funds.title['zh']}" in md
    # The suggested five-category classification, in Chinese.
    assert re.search(r"\| 建议分类 \| \*\*次级\*\* \|", md)
    assert question.prompt["en"] not in md
