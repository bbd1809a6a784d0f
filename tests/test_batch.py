"""``postloan batch``: reports mirroring the tree, the portfolio summary, incremental runs."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from postloan_cli.batch import MANIFEST, BatchOptions, BatchResult, FileResult, run_batch
from postloan_cli.cli import app
from postloan_cli.errors import InputError
from postloan_cli.pipeline import RenderOptions

ENV = {"_TYPER_FORCE_DISABLE_TERMINAL": "1", "TERMINAL_WIDTH": "200", "NO_COLOR": "1"}
ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "answers"
SHIPPED_TEMPLATES = ROOT / "templates"

CHECKLIST = """\
id: mini
version: "1.0.0"
title: {en: Mini}
languages: [en]
loan_types:
  - {id: working_capital, label: Working capital}
thresholds:
  - {id: overdue_substandard_days, label: Days, type: days, value: 90}
sections:
  - id: use_of_funds
    area: use_of_funds
    title: Use of funds
    questions:
      - {id: funds_as_contracted, type: yes_no, prompt: "Funds used as contracted?"}
    rules:
      - id: funds_diverted
        when: "funds_as_contracted == false"
        severity: critical
        signal: Funds diverted
        action: Recall the loan
        escalate_to: Branch head
        within_days: 1
      - id: overdue_90
        when: "loan.days_past_due > threshold.overdue_substandard_days"
        severity: major
        signal: Overdue more than 90 days
        classification: substandard
"""


def answer(
    loan: str = "L-1",
    borrower: str = "ACME Ltd",
    *,
    diverted: bool = False,
    overdue: int = 0,
    proposed: str = "normal",
    status: str = "final",
    version: str = "1.0.0",
    extra: str = "",
) -> str:
    return f"""\
checklist: {{id: mini, version: "{version}"}}
status: {status}
loan:
  id: {json.dumps(loan)}
  borrower: {{name: {json.dumps(borrower)}}}
  type: working_capital
  amount: {{amount: 1000000, currency: CNY}}
  outstanding: {{amount: 800000, currency: CNY}}
  disbursed_on: 2025-01-01
  matures_on: 2027-01-01
  purpose: Raw materials
  days_past_due: {overdue}
inspection: {{date: 2026-11-20, kind: regular, officer: {{name: Li Wei}}}}
answers:
  use_of_funds:
    funds_as_contracted: {"false" if diverted else "true"}
opinion: {{overall: Seen, proposed_classification: {proposed}}}
{extra}"""


@pytest.fixture
def checklists(tmp_path: Path) -> Path:
    folder = tmp_path / "checklists"
    (folder / "mini").mkdir(parents=True)
    (folder / "mini" / "1.0.0.yaml").write_text(CHECKLIST, encoding="utf-8")
    return folder


def put(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    put(
        root,
        "north/bad-loan.yaml",
        answer(
            "L-BAD",
            "ACME <script>alert(1)</script>",
            diverted=True,
            overdue=120,
            proposed="substandard",
        ),
    )
    put(root, "north/ok-loan.yaml", answer("L-OK", "Good | Co"))
    put(
        root,
        "south/deep/late.yaml",
        answer("L-LATE", "Late Co", overdue=100, proposed="substandard"),
    )
    put(root, "broken/syntax.yaml", answer("L-X").replace("loan:\n", "loan: [\n", 1))
    put(
        root,
        "broken/wrong-type.yaml",
        answer("L-Y").replace("days_past_due: 0", "days_past_due: many"),
    )
    put(root, "broken/unknown-version.yaml", answer("L-Z", version="9.9.9"))
    put(root, "drafts/unfinished.yaml", answer("L-DRAFT", "Draft Co", status="draft"))
    put(root, "notes.txt", "not an answer file")
    if EXAMPLES.is_dir():
        (root / "examples").mkdir()
        for example in sorted(EXAMPLES.glob("*.yaml")):
            shutil.copy(example, root / "examples" / example.name)
    return root


def options(checklists: Path, **kw: object) -> BatchOptions:
    render = RenderOptions(checklist_dirs=(checklists,), template_dirs=kw.pop("templates", ()))  # type: ignore[arg-type]
    return BatchOptions(render=render, jobs=kw.pop("jobs", 1), **kw)  # type: ignore[arg-type]


def good_inputs(root: Path) -> list[str]:
    names = ["north/bad-loan.yaml", "north/ok-loan.yaml", "south/deep/late.yaml"]
    examples = sorted(f"examples/{p.name}" for p in (root / "examples").glob("*.yaml"))
    finals = [e for e in examples if "status: draft" not in (root / e).read_text()]
    return names + finals


def run(inputs: Path, out: Path, opts: BatchOptions) -> tuple[BatchResult, dict[str, list[str]]]:
    """Run a batch; also return the inputs by outcome (rendered, unchanged, draft, failed)."""
    seen: dict[str, list[str]] = {"rendered": [], "unchanged": [], "draft": [], "failed": []}

    def on_result(res: FileResult) -> None:
        seen["draft" if res.row_status == "draft" else res.status].append(res.input)

    result = run_batch(inputs, out, opts, on_result=on_result)
    # The result keeps counts only; they agree with what was reported file by file.
    assert (result.rendered, result.unchanged, result.drafts, len(result.failures)) == (
        len(seen["rendered"]),
        len(seen["unchanged"]),
        len(seen["draft"]),
        len(seen["failed"]),
    )
    assert sorted(k for k, _ in result.failures) == sorted(seen["failed"])
    return result, {k: sorted(v) for k, v in seen.items()}


def mtimes(folder: Path) -> dict[str, int]:
    return {
        str(p.relative_to(folder)): p.stat().st_mtime_ns
        for p in folder.rglob("*")
        if p.is_file() and p.suffix in (".md", ".html") and p.parent != folder
    }


def test_batch_renders_mirrors_and_summarises(inputs: Path, checklists: Path, tmp_path: Path):
    out = tmp_path / "out"
    result, seen = run(inputs, out, options(checklists))

    good = good_inputs(inputs)
    assert seen["rendered"] == sorted(good)
    assert sum(map(len, seen.values())) == result.total == len(good) + 4
    for rel in good:
        for fmt in ("md", "html"):
            assert (out / rel).with_suffix(f".{fmt}").is_file(), rel
    assert not (out / "broken").exists() and not (out / "drafts").exists()
    assert seen["draft"] == ["drafts/unfinished.yaml"]
    assert result.failed
    failed = dict(result.failures)
    assert set(failed) == {
        "broken/syntax.yaml",
        "broken/wrong-type.yaml",
        "broken/unknown-version.yaml",
    }
    assert failed["broken/syntax.yaml"][0].line is not None
    assert failed["broken/wrong-type.yaml"][0].line == 12
    assert "9.9.9" in failed["broken/unknown-version.yaml"][0].message

    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    loans = [row["loan"] for row in summary["inspections"]]
    assert loans.index("L-BAD") < loans.index("L-LATE") < loans.index("L-OK")  # worst first
    ranks = ["normal", "special_mention", "substandard", "doubtful", "loss"]
    worst = [ranks.index(r["classification"]) for r in summary["inspections"]]
    assert worst == sorted(worst, reverse=True)
    assert sum(summary["suggested"].values()) == len(good)
    assert summary["counts"]["failed"] == 3 and summary["counts"]["drafts"] == 1
    escalation = next(e for e in summary["escalations"] if e["loan"] == "L-BAD")
    assert escalation["severity"] == "critical"
    assert escalation["action"] == "Recall the loan"
    assert escalation["escalate_to"] == "Branch head"
    assert escalation["due"] == "2026-11-21"
    assert [d["loan"] for d in summary["drafts"]] == ["L-DRAFT"]
    lines = [p["text"] for f in summary["failures"] for p in f["problems"]]
    assert any(t.startswith(f"{inputs}/broken/wrong-type.yaml:12:") for t in lines)

    html = (out / "index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    assert 'href="north/bad-loan.html"' in html
    assert "http://" not in html and "https://" not in html  # self-contained
    assert html.index("L-BAD") < html.index("L-OK")
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert "[L\\-BAD](<north/bad-loan.md>)" in md or "[L-BAD](<north/bad-loan.md>)" in md
    assert "ACME \\<script\\>" in md and "Good \\| Co" in md
    assert "Recall the loan" in md and "Branch head" in md and "2026-11-21" in md
    assert "wrong-type.yaml:12:" in md
    assert "Unfinished drafts (1)" in md
    rows = list(csv.DictReader((out / "summary.csv").open(encoding="utf-8")))
    assert {r["status"] for r in rows} == {"ok", "draft", "failed"}
    assert len(rows) == result.total
    assert (out / MANIFEST).is_file()
    assert not list(out.rglob("*.tmp"))


def test_rerun_renders_nothing_force_renders_all(inputs: Path, checklists: Path, tmp_path: Path):
    out = tmp_path / "out"
    first_summary = {}
    first_result, first = run(inputs, out, options(checklists))
    for name in ("summary.json", "summary.csv", "summary.md"):
        first_summary[name] = (out / name).read_text(encoding="utf-8")
    before = mtimes(out)
    second_result, second = run(inputs, out, options(checklists))
    assert second["rendered"] == []
    assert second["unchanged"] == first["rendered"]
    assert second["draft"] == first["draft"] and second["failed"] == first["failed"]
    assert second_result.signals == first_result.signals
    assert mtimes(out) == before
    assert json.loads((out / "summary.json").read_text())["counts"]["inspections"] == len(
        first["rendered"]
    )
    # The rows reused from the manifest make the same summary (but for its counts).
    assert (out / "summary.csv").read_text(encoding="utf-8") == first_summary["summary.csv"]
    again = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    earlier = json.loads(first_summary["summary.json"])
    for key in ("inspections", "drafts", "failures", "escalations", "suggested", "signals"):
        assert again[key] == earlier[key], key
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert md.split("## Totals")[1] == first_summary["summary.md"].split("## Totals")[1]

    put(inputs, "north/ok-loan.yaml", answer("L-OK", "Good Co renamed"))
    _, third = run(inputs, out, options(checklists))
    assert third["rendered"] == ["north/ok-loan.yaml"]

    _, forced = run(inputs, out, options(checklists, force=True))
    assert forced["rendered"] == first["rendered"]
    assert all(mtimes(out)[k] >= before[k] for k in before)


def test_changed_template_or_checklist_rerenders(inputs: Path, checklists: Path, tmp_path: Path):
    templates = tmp_path / "templates"
    templates.mkdir()
    shutil.copy(SHIPPED_TEMPLATES / "opinion.md.j2", templates / "opinion.md.j2")
    out = tmp_path / "out"
    first = run_batch(inputs, out, options(checklists, templates=(templates,)))
    assert run_batch(inputs, out, options(checklists, templates=(templates,))).rendered == 0
    with (templates / "opinion.md.j2").open("a", encoding="utf-8") as handle:
        handle.write("\nCustom footer of the risk-policy team.\n")
    again = run_batch(inputs, out, options(checklists, templates=(templates,)))
    assert again.rendered == first.rendered > 0
    assert "Custom footer" in (out / "north" / "ok-loan.md").read_text(encoding="utf-8")

    with (checklists / "mini" / "1.0.0.yaml").open("a", encoding="utf-8") as handle:
        handle.write("# a comment changes the checklist file\n")
    _, mini = run(inputs, out, options(checklists, templates=(templates,)))
    assert mini["rendered"] == [
        "north/bad-loan.yaml",
        "north/ok-loan.yaml",
        "south/deep/late.yaml",
    ]


@pytest.mark.parametrize("jobs", [1, 2])
def test_removed_input_and_new_failure_prune_reports(
    inputs: Path, checklists: Path, tmp_path: Path, jobs: int
):
    out = tmp_path / "out"
    run_batch(inputs, out, options(checklists, jobs=jobs))
    (inputs / "south" / "deep" / "late.yaml").unlink()
    put(inputs, "north/ok-loan.yaml", "loan: [\n")
    result = run_batch(inputs, out, options(checklists, jobs=jobs))
    assert not (out / "south").exists()
    assert not (out / "north" / "ok-loan.md").exists()
    assert sorted(result.pruned) == [
        "north/ok-loan.html",
        "north/ok-loan.md",
        "south/deep/late.html",
        "south/deep/late.md",
    ]
    summary = json.loads((out / "summary.json").read_text())
    for row in summary["inspections"]:
        for rel in row["reports"].values():
            assert (out / rel).is_file()
    manifest = (out / MANIFEST).read_text()
    assert "south/deep/late" not in manifest and '"stale"' not in manifest
    again = run_batch(inputs, out, options(checklists, jobs=jobs))
    assert (again.rendered, again.pruned) == (0, [])
    assert sorted(f for f, _ in again.failures) == sorted(f for f, _ in result.failures)


@pytest.mark.parametrize("jobs", [1, 2])
def test_interrupted_run_keeps_output_consistent(
    inputs: Path, checklists: Path, tmp_path: Path, jobs: int
):
    out = tmp_path / "out"
    run_batch(inputs, out, options(checklists))
    old_summary = (out / "index.html").read_text(encoding="utf-8")
    for name in ("north/ok-loan.yaml", "north/bad-loan.yaml", "south/deep/late.yaml"):
        text = (inputs / name).read_text().replace("Raw materials", "Raw materials and wages")
        put(inputs, name, text)
    calls = 0

    def interrupt(res: FileResult) -> None:
        nonlocal calls
        calls += 1
        if res.status == "rendered":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(inputs, out, options(checklists, jobs=jobs, chunk_size=1), on_result=interrupt)
    assert (out / "index.html").read_text(encoding="utf-8") == old_summary
    summary = json.loads((out / "summary.json").read_text())
    for row in summary["inspections"]:
        for rel in row["reports"].values():
            assert (out / rel).is_file()
    assert not list(out.rglob("*.tmp"))
    resumed = run_batch(inputs, out, options(checklists))
    assert resumed.rendered == 2  # the one finished before the interruption is kept
    assert not [p for p in out.iterdir() if p.name.startswith(".postloan-spool")]


def test_hostile_names_stay_inside_output(tmp_path: Path, checklists: Path):
    root = tmp_path / "in"
    names = [
        "CON.yaml",
        "x\\..\\..\\evil.yaml",
        "..hidden-looking.yaml",
        "借款人 Ω (north).yaml",
        "index.yaml",
        "summary.yaml",
        "twin.yaml",
        "twin.yml",
        "x;rm -rf ~.yaml",
    ]
    for i, name in enumerate(names):
        put(root, name, answer(f"../../../etc/passwd-{i}", f"<b>{name}</b>"))
    out = tmp_path / "nested" / "out"
    _, seen = run(root, out, options(checklists))
    names.remove("..hidden-looking.yaml")  # hidden files (dot-files) are skipped
    assert seen["rendered"] == sorted(names)
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix in (".md", ".html")]
    resolved_out = out.resolve()
    reports = [p for p in written if p.name not in ("index.html", "summary.md")]
    assert len(reports) == 2 * len(names)  # no two inputs share a report
    for path in written:
        assert resolved_out in path.resolve().parents
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["counts"]["inspections"] == len(names)  # index.html is the summary's
    assert "Portfolio summary".lower() in (out / "index.html").read_text().lower()
    targets = {rel for row in summary["inspections"] for rel in row["reports"].values()}
    assert "_CON.md" in targets and "index-2.html" in targets and len(targets) == 16


def test_parallel_matches_serial(inputs: Path, checklists: Path, tmp_path: Path):
    _, serial = run(inputs, tmp_path / "a", options(checklists))
    _, parallel = run(inputs, tmp_path / "b", options(checklists, jobs=2, chunk_size=2))
    assert parallel == serial
    a = json.loads((tmp_path / "a" / "summary.json").read_text())
    b = json.loads((tmp_path / "b" / "summary.json").read_text())
    a.pop("generated"), b.pop("generated")
    assert a == b  # rows, escalations, drafts and failures in the same order
    assert (tmp_path / "a" / "index.html").read_text().split("</header>")[1:] == (
        (tmp_path / "b" / "index.html").read_text().split("</header>")[1:]
    )


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["batch", *args], env=ENV)
    return result.exit_code, result.stdout, result.stderr


def test_cli_plain_lines_failures_and_exit_code(inputs: Path, checklists: Path, tmp_path: Path):
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(
        str(inputs), "-o", str(out), "--checklists", str(checklists), "-j", "1"
    )
    assert code == 1
    total = len(good_inputs(inputs)) + 4
    per_file = [
        ln
        for ln in stdout.splitlines()
        if ln.split(" ", 1)[0] in ("rendered", "unchanged", "draft", "failed")
    ]
    assert len(per_file) == total
    assert all("\x1b[" not in ln for ln in stdout.splitlines())
    assert any(ln.startswith("failed") and "wrong-type.yaml:12:" in ln for ln in per_file)
    assert "wrong-type.yaml:12:" in stderr and "syntax.yaml:" in stderr
    assert f"{total} file(s)" in stdout
    code, stdout, _ = run_cli(
        str(inputs), "-o", str(out), "--checklists", str(checklists), "-j", "1"
    )
    assert code == 1 and "0 rendered" in stdout


def test_cli_fail_on(tmp_path: Path, checklists: Path):
    root = tmp_path / "in"
    put(root, "ok.yaml", answer("L-OK"))
    base = [str(root), "-o", str(tmp_path / "out"), "--checklists", str(checklists), "-j", "1"]
    assert run_cli(*base)[0] == 0
    assert run_cli(*base, "--fail-on", "critical")[0] == 0
    put(root, "bad.yaml", answer("L-BAD", diverted=True, proposed="substandard"))
    assert run_cli(*base)[0] == 0
    assert run_cli(*base, "--fail-on", "critical")[0] == 1
    assert run_cli(*base, "--fail-on", "info")[0] == 1
    code, _, stderr = run_cli(*base, "--fail-on", "severe")
    assert code == 2 and "severe" in stderr


def test_cli_usage_errors(tmp_path: Path):
    code, _, stderr = run_cli(str(tmp_path / "missing"), "-o", str(tmp_path / "out"))
    assert code == 2 and "not a folder" in stderr
    code, _, stderr = run_cli(str(tmp_path), "-f", "pdf")
    assert code == 2 and "pdf" in stderr


def test_output_inside_input_is_not_read(tmp_path: Path, checklists: Path):
    root = tmp_path / "in"
    put(root, "a.yaml", answer("L-A"))
    out = root / "reports"
    run_batch(root, out, options(checklists))
    put(out, "stray.yaml", answer("L-STRAY"))
    result = run_batch(root, out, options(checklists))
    assert result.total == 1
    assert os.path.isfile(out / "a.md")


def test_early_draft_is_listed_as_unfinished(tmp_path: Path) -> None:
    """A draft saved before the loan facts were complete is a draft, not a failure."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "early.draft.yaml").write_text(
        'checklist: {id: post-loan-standard, version: "1.0.0"}\nstatus: draft\n'
        "loan: {id: L-9}\ninspection: {date: 2026-11-28}\n"
    )
    result = CliRunner().invoke(app, ["batch", str(inputs), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.stderr
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "- early.draft.yaml: loan L-9, —, officer —, 2026-11-28" in summary
    single = CliRunner().invoke(
        app, ["inspect", "--answers", str(inputs / "early.draft.yaml"), "-o", str(tmp_path / "x")]
    )
    assert single.exit_code == 2
    assert single.stderr.count("\n") == 1 and " PL309 " in single.stderr


def test_user_summary_template_is_sandboxed(inputs: Path, checklists: Path, tmp_path: Path):
    templates = tmp_path / "templates"
    templates.mkdir()
    shipped = (SHIPPED_TEMPLATES / "summary.md.j2").read_text(encoding="utf-8")
    (templates / "summary.md.j2").write_text(shipped + "\nBranch office copy.\n", "utf-8")
    out = tmp_path / "out"
    run_batch(inputs, out, options(checklists, templates=(templates,)))
    assert "Branch office copy." in (out / "summary.md").read_text(encoding="utf-8")

    (templates / "summary.md.j2").write_text("{{ info.__class__.__mro__ }}\n", "utf-8")
    with pytest.raises(InputError) as info:
        run_batch(inputs, tmp_path / "out2", options(checklists, templates=(templates,)))
    assert "summary.md.j2" in str(info.value.problems[0])


def test_summary_files_get_the_usual_mode_and_stale_temporaries_go(
    inputs: Path, checklists: Path, tmp_path: Path
):
    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".index.html.999999999-1.tmp"  # a pid no process has
    stale.write_text("from a run that was killed")
    old = os.umask(0o027)
    try:
        run_batch(inputs, out, options(checklists))
    finally:
        os.umask(old)
    assert not stale.exists()
    for name in ("index.html", "summary.md", "summary.json", "summary.csv", MANIFEST):
        assert (out / name).stat().st_mode & 0o777 == 0o640, name
    assert not [p for p in out.iterdir() if p.name.startswith(".postloan-spool")]


def test_parallel_reruns_match_serial_when_chunks_wait(
    inputs: Path, checklists: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Reruns send each file's previous entry; a chunk too big for the pipe waits its turn."""
    from postloan_cli import batch

    monkeypatch.setattr(batch, "_buffer_size", lambda conn: 0)  # no chunk may go ahead
    for jobs, out in ((1, tmp_path / "a"), (2, tmp_path / "b")):
        run(inputs, out, options(checklists, jobs=jobs, chunk_size=1))
        put(inputs, "north/ok-loan.yaml", answer("L-OK", "Good Co renamed"))
        _, second = run(inputs, out, options(checklists, jobs=jobs, chunk_size=1))
        assert second["rendered"] == ["north/ok-loan.yaml"]
        put(inputs, "north/ok-loan.yaml", answer("L-OK", "Good | Co"))
    a = json.loads((tmp_path / "a" / "summary.json").read_text())
    b = json.loads((tmp_path / "b" / "summary.json").read_text())
    a.pop("generated"), b.pop("generated")
    assert a == b
    assert (tmp_path / "a" / MANIFEST).read_text() == (tmp_path / "b" / MANIFEST).read_text()
    assert (tmp_path / "a" / "summary.csv").read_text() == (
        tmp_path / "b" / "summary.csv"
    ).read_text()


def test_a_worker_that_dies_fails_its_file_and_the_batch_goes_on(
    inputs: Path, checklists: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from postloan_cli import batch

    work = batch._work

    def crash_on_bad(task: batch._Task) -> FileResult:
        if task.input == "north/bad-loan.yaml":
            os._exit(3)  # as a crash in native code or the OOM killer would
        return work(task)

    monkeypatch.setattr(batch, "_work", crash_on_bad)  # the workers are forked after this
    out = tmp_path / "out"
    result, seen = run(inputs, out, options(checklists, jobs=2, chunk_size=1))
    died = {
        name
        for name, problems in result.failures
        if "worker process died" in problems[0].message and problems[0].file
    }
    # Its file fails, and the one sent ahead to the same worker, if any; the others go on.
    assert "north/bad-loan.yaml" in died and len(died) <= 2
    assert seen["rendered"] == sorted(set(good_inputs(inputs)) - died)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["failed"] == 3 + len(died) and (out / "index.html").is_file()

    monkeypatch.setattr(batch, "_work", work)
    _, again = run(inputs, out, options(checklists, jobs=2))
    assert again["rendered"] == sorted(died)  # the others are up to date


def test_summary_written_by_a_worker_reports_template_errors(
    inputs: Path, checklists: Path, tmp_path: Path
):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "summary.html.j2").write_text("{{ info.__class__ }}\n", "utf-8")
    with pytest.raises(InputError) as info:
        run_batch(inputs, tmp_path / "out", options(checklists, templates=(templates,), jobs=2))
    assert "summary.html.j2" in str(info.value.problems[0])


@pytest.mark.parametrize("c_encoder", [True, False])
def test_stored_texts_are_compact_json(monkeypatch: pytest.MonkeyPatch, c_encoder: bool):
    """Manifest entries and summary rows are written as ``json.dumps`` writes them."""
    import json.encoder

    from postloan_cli import batch

    if not c_encoder:  # another interpreter: the public encoder
        monkeypatch.setattr(json.encoder, "c_make_encoder", None)
    dumps = batch._compact_json()
    values = [
        {"loan": "贷款 Ω", "n": [1, -2.5, 1e300, None, True], "nested": {"a": {}, "b": []}},
        ["tab\there", 'quote " back \\ slash', "\u2028\x00\x1f", "é"],
        {"1": "x", "": ""},
        "text",
        0,
    ]
    for value in values:
        assert dumps(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def test_cli_ctrl_c_says_what_is_kept_and_a_rerun_finishes(tmp_path: Path, checklists: Path):
    # A real process and a real SIGINT, as a terminal sends on Ctrl-C (Typer
    # alone would exit 130 without a word).
    import signal
    import subprocess
    import sys

    root = tmp_path / "in"
    total = 600
    for n in range(total):
        put(root, f"b{n % 4}/loan-{n:04d}.yaml", answer(f"L-{n}", overdue=n % 60))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "postloan_cli", "batch", str(root), "-o", str(out)]
    command += ["--checklists", str(checklists), "-j", "2"]
    env = {**os.environ, **ENV, "POSTLOAN_CACHE_DIR": "off"}
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # a file is done: the run is under way
    assert first.startswith("rendered")
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    said = re.search(r"interrupted after (\d+) of (\d+) file\(s\)", stderr)
    assert said is not None, stderr
    done = int(said.group(1))
    assert int(said.group(2)) == total
    assert 1 <= done < total, "the batch ended before the interruption; make it longer"
    assert "running the same command again renders only the rest" in stderr
    assert "Traceback" not in stderr
    assert not list(out.rglob("*.tmp"))
    code, stdout, _ = run_cli(str(root), "-o", str(out), "--checklists", str(checklists))
    assert code == 0
    counts = re.search(r"(\d+) rendered, (\d+) unchanged", stdout)
    assert counts is not None, stdout
    rendered, unchanged = int(counts.group(1)), int(counts.group(2))
    assert rendered + unchanged == total
    # Every file counted as done is kept; one more may be, when Ctrl-C came
    # between filing a result and counting it.
    assert done <= unchanged <= done + 1, (done, rendered, unchanged)


@pytest.mark.skipif(
    not hasattr(os, "confstr") or not os.confstr("CS_GNU_LIBC_VERSION"), reason="glibc only"
)
def test_a_worker_keeps_freed_heap_memory_for_the_next_file() -> None:
    # A report's large strings, freed after each file, must not be handed back to the
    # system and faulted in again for the next one (page faults are kernel time).
    import subprocess
    import sys

    churn = """
import resource, sys
from postloan_cli import batch
if sys.argv[1] == "worker":
    batch._init_worker(None)
def files(first, last):
    for i in range(first, last):  # reports ever larger: glibc's adaptive limit lags behind
        text = "x" * (150_000 + 4096 * i)
        data = text.encode()
        del text, data
files(0, 50)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
files(50, 100)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

    def faults(mode: str) -> int:
        done = subprocess.run(
            [sys.executable, "-c", churn, mode], capture_output=True, text=True, check=True
        )
        return int(done.stdout)

    plain, worker = faults("plain"), faults("worker")
    # glibc maps, faults in and unmaps ~50 pages per report; the worker reuses its heap
    assert plain > 1000 and worker * 10 < plain, (plain, worker)


def test_reports_are_made_in_the_workers_own_scratch_folder(
    inputs: Path, checklists: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # Two workers creating files in one folder wait for each other in the kernel;
    # each makes its reports' temporary files in a folder of its own instead.
    from postloan_cli import outputs

    made: list[tuple[str, str | None]] = []
    create = outputs.create_temporary

    def recording(path: Path | str, scratch: str | None = None) -> tuple[int, str]:
        made.append((str(path), scratch))
        return create(path, scratch)

    monkeypatch.setattr(outputs, "create_temporary", recording)
    out = tmp_path / "out"
    result = run_batch(inputs, out, options(checklists))
    reports = [(p, s) for p, s in made if p.endswith((".md", ".html")) and "summary" not in p]
    assert len(reports) == 2 * result.rendered > 0
    spool = f"{out.resolve()}{os.sep}.postloan-spool-{os.getpid()}-"
    assert all(s is not None and s.startswith(spool) for _, s in reports)
    assert not list(out.glob(".postloan-spool-*"))  # gone with the run
