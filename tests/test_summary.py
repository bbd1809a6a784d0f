"""The portfolio summary's files, escaping and rows, written from stored JSON texts."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from postloan_cli import summary
from postloan_cli.summary import SummaryInfo, csv_line, md_escape, url, write_summaries

ROOT = Path(__file__).resolve().parents[1]


def dumps(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))


def row(
    loan: str, borrower: str, classification: str = "substandard", **extra: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "input": f"north/{loan}.yaml",
        "status": "ok",
        "loan": loan,
        "borrower": borrower,
        "branch": "North & Co",
        "officer": "Li Wei",
        "date": "2026-11-20",
        "kind": "regular",
        "checklist": "mini 1.0.0",
        "currency": "CNY",
        "outstanding": "800000",
        "review": "pending",
        "reviewer": None,
        "suggested": classification,
        "proposed": "normal",
        "classification": classification,
        "signals": {"info": 0, "watch": 1, "major": 2, "critical": 1},
        "escalations": [],
        "reports": {"md": f"north/{loan}.md", "html": f"north/{loan} x.html"},
        "warnings": [],
    }
    data.update(extra)
    return data


class Source:
    """A summary source over rows in memory (the batch keeps them in SQLite)."""

    def __init__(self, rows: list[dict[str, Any]], escalations: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.escalation_rows = escalations

    def _by(self, status: str) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["status"] == status]

    def inspections(self) -> Iterator[str]:
        return map(dumps, self._by("ok"))

    def escalations(self) -> Iterator[str]:
        return map(dumps, self.escalation_rows)

    def count_escalations(self) -> int:
        return len(self.escalation_rows)

    def drafts(self) -> Iterator[str]:
        return map(dumps, self._by("draft"))

    def failures(self) -> Iterator[str]:
        return map(dumps, self._by("failed"))

    def csv_lines(self) -> Iterator[str]:
        for status in ("ok", "draft", "failed"):
            yield from map(csv_line, self._by(status))


HOSTILE = "ACME <script>alert('x')</script> & \"Sons\" | *bold* [link](http://x)"


@pytest.fixture
def source() -> Source:
    bad = row("L-BAD", HOSTILE, "doubtful")
    ok = row("L-OK", "Good  Co\tLtd", "normal")
    escalation = {
        "severity": "critical",
        "rule": "funds_diverted",
        "area": "use_of_funds",
        "signal": "Funds <diverted> & gone",
        "item": None,
        "action": "Recall the loan",
        "escalate_to": "Branch head",
        "due": "2026-11-21",
        "loan": "L-BAD",
        "borrower": HOSTILE,
        "officer": "Li Wei",
        "date": "2026-11-20",
        "reports": bad["reports"],
    }
    draft = {"input": "d.yaml", "status": "draft", "loan": None, "borrower": None}
    draft.update(officer=None, date=None, review="pending")
    failed = {
        "input": "f.yaml",
        "status": "failed",
        "problems": [{"text": "f.yaml:3:1: error PL104 =cmd|' /C calc'!A0"}],
    }
    return Source([bad, ok, draft, failed], [escalation])


INFO = SummaryInfo(
    generated="2026-11-28T10:00:00+08:00",
    tool="0.1.0",
    input="in",
    formats=("md", "html"),
    counts={"inspections": 2, "rendered": 2, "unchanged": 0, "drafts": 1, "failed": 1},
    suggested={"normal": 1, "special_mention": 0, "substandard": 0, "doubtful": 1, "loss": 0},
    proposed={"normal": 2, "special_mention": 0, "substandard": 0, "doubtful": 0, "loss": 0},
    signals={"critical": 2, "major": 4, "watch": 2, "info": 0},
)


@pytest.mark.parametrize(
    "value",
    [
        "plain text",
        "L-2026-0142",
        "a*b_c`d[e](f)<g>#h+i!j|k~l&m$n\\o{p}",
        "  leading",
        "trailing ",
        "two  spaces",
        "tab\there",
        "new\nline",
        "ideographic\u3000space",
        "no-break\xa0space",
        "",
        " ",
        None,
        42,
        2.5,
    ],
)
def test_md_escape_is_one_line_with_markup_escaped(value: Any) -> None:
    text = "" if value is None else " ".join(str(value).split())
    expected = "".join(f"\\{c}" if c in "\\`*_{}[]()<>#+!|~&$" else c for c in text)
    assert md_escape(value) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("north/L-1.html", "north/L-1.html"),
        ("a b/c~d_e.md", "a%20b/c~d_e.md"),
        ("借款人/报告.md", "%E5%80%9F%E6%AC%BE%E4%BA%BA/%E6%8A%A5%E5%91%8A.md"),
        ("x#y?z%.md", "x%23y%3Fz%25.md"),
        ("", ""),
    ],
)
def test_url_encodes_only_what_is_unsafe(path: str, expected: str) -> None:
    assert url(path) == expected


def test_csv_line_is_one_spreadsheet_safe_row() -> None:
    data = row("=HYPERLINK(1)", 'Comma, "quoted"\nand a new line')
    data["problems"] = [{"text": "one"}, {"text": "-two"}]
    line = csv_line(data)
    assert line.endswith("\r\n")
    (cells,) = list(csv.reader(io.StringIO(line)))
    values = dict(zip(summary.CSV_COLUMNS, cells, strict=True))
    assert values["loan"] == "'=HYPERLINK(1)"
    assert values["borrower"] == 'Comma, "quoted"\nand a new line'
    assert values["critical"] == "1" and values["info"] == "0"
    assert values["report_html"] == "north/=HYPERLINK(1) x.html"
    assert values["problems"] == "one | -two"  # only a leading sign is neutralised
    failed = csv_line({"input": "f.yaml", "status": "failed", "problems": []})
    (cells,) = list(csv.reader(io.StringIO(failed)))
    assert cells[:2] == ["failed", "f.yaml"] and set(cells[2:]) == {""}


def test_summary_json_and_csv_are_the_stored_texts(source: Source, tmp_path: Path) -> None:
    write_summaries(tmp_path, INFO, source, files=(summary.JSON, summary.CSV))
    text = (tmp_path / "summary.json").read_text(encoding="utf-8")
    data = json.loads(text)
    assert data["format"] == "postloan-batch-summary" and data["counts"] == INFO.counts
    assert data["inspections"] == source.rows[:2]
    assert data["drafts"] == [source.rows[2]] and data["failures"] == [source.rows[3]]
    assert data["escalations"] == source.escalation_rows
    # One row per line, compact, as stored; an empty list stays on its line.
    assert f"\n  {dumps(source.rows[0])},\n  {dumps(source.rows[1])}\n ]" in text
    write_summaries(tmp_path, INFO, Source([], []), files=(summary.JSON,))
    empty = (tmp_path / "summary.json").read_text(encoding="utf-8")
    assert '"inspections": [],\n "drafts": []' in empty and json.loads(empty)["failures"] == []

    rows = list(csv.reader((tmp_path / "summary.csv").open(encoding="utf-8", newline="")))
    assert rows[0] == list(summary.CSV_COLUMNS)
    assert [r[2] for r in rows[1:]] == ["L-BAD", "L-OK", "", ""]
    assert rows[4][-1].startswith("f.yaml:3:1: error PL104 =cmd")
    assert b"\r\n" in (tmp_path / "summary.csv").read_bytes()


def test_shipped_templates_escape_as_jinja_autoescape_does(source: Source, tmp_path: Path) -> None:
    """The shipped HTML escapes values itself; the sandbox (user folders) by autoescape."""
    user = tmp_path / "templates"
    user.mkdir()
    for name in ("summary.html.j2", "summary.md.j2"):
        shutil.copy(ROOT / "templates" / name, user / name)
    shipped, sandboxed = tmp_path / "shipped", tmp_path / "sandboxed"
    for folder in (shipped, sandboxed):
        folder.mkdir()
    files = (summary.HTML, summary.MARKDOWN)
    write_summaries(shipped, INFO, source, files=files)
    write_summaries(sandboxed, INFO, source, template_dirs=(user,), files=files)
    for name in files:
        assert (shipped / name).read_text("utf-8") == (sandboxed / name).read_text("utf-8")
    html = (shipped / "index.html").read_text("utf-8")
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &#34;Sons&#34;" in html
    assert "<script>" not in html and "Funds &lt;diverted&gt; &amp; gone" in html
    assert 'href="north/L-BAD%20x.html"' in html
    assert '<a href="north/L-OK.md">md</a> · <a href="north/L-OK%20x.html">html</a>' in html
    md = (shipped / "summary.md").read_text("utf-8")
    assert "ACME \\<script\\>alert\\('x'\\)\\</script\\> \\& \"Sons\" \\| \\*bold\\*" in md
    assert "| Good Co Ltd |" in md  # whitespace runs fold into one space
    assert "| [L-BAD](<north/L-BAD.md>) |" in md  # the Markdown summary links the Markdown
