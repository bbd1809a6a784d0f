"""``postloan lint``: rules, positions, lock file, templates, answer files, output formats."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from postloan_cli.cli import app
from postloan_cli.linting import LintOptions, LintResult, lint_paths
from postloan_cli.linting.registry import RULES, rules_markdown
from postloan_cli.linting.reporters import github

os.environ["_TYPER_FORCE_DISABLE_TERMINAL"] = "1"
os.environ["TERMINAL_WIDTH"] = "200"

ROOT = Path(__file__).resolve().parents[1]
CASES = Path(__file__).resolve().parent / "lint_cases"
CHECKLIST_CASES = sorted((CASES / "checklists").glob("*/*.yaml"))
TEMPLATE_CASES = sorted((CASES / "templates").glob("*.j2"))
EXPECT = re.compile(r"expect: (\w+) (\d+):(\d+)")

runner = CliRunner()


def found(result: LintResult) -> set[tuple[str, int | None, int | None]]:
    return {(p.code, p.line, p.column) for p in result.problems}


def expected(path: Path) -> set[tuple[str, int | None, int | None]]:
    text = path.read_text(encoding="utf-8")
    return {(m[1], int(m[2]), int(m[3])) for m in EXPECT.finditer(text)}


def lint(*paths: Path, **options: object) -> LintResult:
    options.setdefault("examples", False)
    return lint_paths(list(paths), LintOptions(**options))  # type: ignore[arg-type]


# --- one broken file per rule and per structural error ----------------------------------


@pytest.mark.parametrize("path", CHECKLIST_CASES, ids=lambda p: p.parent.name)
def test_checklist_case(path: Path) -> None:
    result = lint(path)
    assert found(result) == expected(path), [p.format() for p in result.problems]
    if not expected(path):
        assert "expect: clean" in path.read_text(encoding="utf-8")
        assert result.exit_code == 0


@pytest.mark.parametrize("path", TEMPLATE_CASES, ids=lambda p: p.name)
def test_template_case(path: Path) -> None:
    result = lint(path)
    assert found(result) == expected(path), [p.format() for p in result.problems]


def test_every_file_rule_has_a_broken_case() -> None:
    covered = {code for path in [*CHECKLIST_CASES, *TEMPLATE_CASES] for code, *_ in expected(path)}
    per_file = {code for code, rule in RULES.items() if rule.scope in ("checklist", "template")}
    assert per_file <= covered
    assert {"PL104", "PL105", "PL200"} <= covered


def test_whole_case_folder_in_one_run_matches_the_cases() -> None:
    result = lint(CASES / "checklists")
    want = {
        (str(path), code, line, col)
        for path in CHECKLIST_CASES
        for code, line, col in expected(path)
    }
    got = {(p.file, p.code, p.line, p.column) for p in result.problems}
    assert got == want


# --- the shipped checklists, templates and examples ------------------------------------


def test_shipped_files_lint_clean() -> None:
    paths = [p for p in (ROOT / "checklists", ROOT / "templates") if p.is_dir()]
    result = lint_paths(paths, LintOptions(strict=True))
    assert [p.format() for p in result.problems] == []


# --- rule documentation ----------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(RULES))
def test_rule_docstring_has_rationale_and_examples(code: str) -> None:
    rule = RULES[code]
    assert re.fullmatch(r"CL\d{3}", code)
    assert rule.level in ("error", "warning")
    assert "Fails:" in rule.doc and "Passes:" in rule.doc
    assert rule.rationale and len(rule.rationale) > len(rule.summary)


def test_docs_list_every_rule_and_are_up_to_date() -> None:
    docs = (ROOT / "docs" / "lint-rules.md").read_text(encoding="utf-8")
    for code in RULES:
        assert f"## {code}" in docs
    assert docs == rules_markdown(), "regenerate docs/lint-rules.md from rules_markdown()"


def test_list_rules() -> None:
    out = runner.invoke(app, ["lint", "--list-rules"])
    assert out.exit_code == 0
    for code in RULES:
        assert code in out.stdout
    assert "PL200" in out.stdout


# --- versions and the lock file --------------------------------------------------------


def _checklist(tmp: Path, root: str, cid: str, version: str, extra: str = "") -> Path:
    text = (CASES / "checklists" / "clean-minimal" / "1.0.0.yaml").read_text(encoding="utf-8")
    text = text.replace("id: clean-minimal", f"id: {cid}").replace(
        'version: "1.0.0"', f'version: "{version}"'
    )
    text = text.replace("../../../../schemas", "../../schemas") + extra
    path = tmp / root / cid / f"{version}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_lock_detects_a_changed_published_version(tmp_path: Path) -> None:
    path = _checklist(tmp_path, "checklists", "mini", "1.0.0")
    folder = tmp_path / "checklists"
    assert lint(folder).problems == []  # no lock yet: version checks are off
    updated = lint(folder, update_lock=True)
    assert (folder / "postloan.lock").is_file()
    assert updated.lock_changes == {str(folder / "postloan.lock"): ["mini 1.0.0: added"]}
    assert lint(folder).problems == []
    # comments and layout may change ...
    path.write_text(path.read_text(encoding="utf-8") + "# a comment\n", encoding="utf-8")
    assert lint(folder).problems == []
    # ... the meaning may not
    text = path.read_text(encoding="utf-8").replace("Repaid by refinancing", "Refinanced")
    path.write_text(text, encoding="utf-8")
    result = lint(folder)
    assert found(result) == {("CL302", 4, 10)}
    # a new version must be recorded
    _checklist(tmp_path, "checklists", "mini", "1.1.0")
    result = lint(folder)
    assert ("CL304", 4, 10) in found(result)
    assert {p.level for p in result.problems if p.code == "CL304"} == {"warning"}
    lint(folder, update_lock=True)
    assert lint(folder).problems == []


def test_lock_is_found_for_single_files(tmp_path: Path) -> None:
    path = _checklist(tmp_path, "checklists", "mini", "1.0.0")
    lint(tmp_path / "checklists", update_lock=True)
    path.write_text(path.read_text(encoding="utf-8").replace("value: 90", "value: 60"))
    assert {p.code for p in lint(path).problems} == {"CL302"}


def test_same_id_and_version_twice(tmp_path: Path) -> None:
    _checklist(tmp_path, "a", "mini", "1.0.0")
    second = _checklist(tmp_path, "b", "mini", "1.0.0")
    result = lint(tmp_path / "a", tmp_path / "b")
    assert [(p.code, p.file, p.line, p.column) for p in result.problems] == [
        ("CL303", str(second), 4, 10)
    ]


def test_malformed_lock(tmp_path: Path) -> None:
    _checklist(tmp_path, "checklists", "mini", "1.0.0")
    (tmp_path / "checklists" / "postloan.lock").write_text("mini: 1.0.0\n")
    result = lint(tmp_path / "checklists")
    assert found(result) == {("CL305", 1, 1)}


def test_update_lock_from_the_cli(tmp_path: Path) -> None:
    _checklist(tmp_path, "checklists", "mini", "1.0.0")
    out = runner.invoke(app, ["lint", str(tmp_path / "checklists"), "--update-lock"])
    assert out.exit_code == 0, out.stdout + out.stderr
    assert "updated" in out.stderr
    lock = (tmp_path / "checklists" / "postloan.lock").read_text()
    assert '"mini":' in lock and '"1.0.0": "sha256:' in lock


# --- example answer files --------------------------------------------------------------

ANSWERS = """\
checklist: {id: mini, version: "1.0.0"}
loan:
  id: L-1
  borrower: {name: ACME Ltd}
  type: working_capital
  amount: {amount: 1000000, currency: EUR}
  outstanding: {amount: 800000, currency: EUR}
  disbursed_on: 2026-01-10
  matures_on: 2027-01-10
  purpose: Working capital
inspection:
  date: 2026-06-01
  kind: regular
  officer: {name: Ana Officer}
answers:
  use_of_funds:
    funds_as_contracted: VALUE
    repayment_source: sales
opinion:
  overall: Funds used as agreed.
  proposed_classification: normal
"""


def test_example_answers_are_checked_against_their_checklist(tmp_path: Path) -> None:
    _checklist(tmp_path, "checklists", "mini", "1.0.0")
    examples = tmp_path / "examples"
    examples.mkdir()
    (examples / "good.yaml").write_text(ANSWERS.replace("VALUE", "true"))
    (examples / "bad.yaml").write_text(ANSWERS.replace("VALUE", "maybe"))
    result = lint_paths([tmp_path / "checklists"], LintOptions())
    bad = [p for p in result.problems if p.file and p.file.endswith("bad.yaml")]
    assert [(p.code, p.line) for p in bad] == [("PL305", 17)]
    assert not [p for p in result.problems if p.file and p.file.endswith("good.yaml")]
    assert not lint_paths([tmp_path / "checklists"], LintOptions(examples=False)).problems


def test_answer_file_pinning_a_broken_checklist(tmp_path: Path) -> None:
    path = _checklist(tmp_path, "checklists", "mini", "1.0.0")
    path.write_text(path.read_text().replace("funds_as_contracted == false", "nope == false"))
    answers = tmp_path / "answers.yaml"
    answers.write_text(ANSWERS.replace("VALUE", "true"))
    result = lint(tmp_path / "checklists", answers)
    assert ("CL501", 1, 12) in found(result)
    assert "CL104" in {p.code for p in result.problems}


# --- the command: exit codes, selection, formats ---------------------------------------


def test_exit_codes() -> None:
    clean = CASES / "checklists" / "clean-minimal"
    warning = CASES / "checklists" / "cl204-single-option"
    error = CASES / "checklists" / "cl104-unknown-name"
    assert runner.invoke(app, ["lint", str(clean)]).exit_code == 0
    assert runner.invoke(app, ["lint", str(warning)]).exit_code == 0
    assert runner.invoke(app, ["lint", "--strict", str(warning)]).exit_code == 1
    out = runner.invoke(app, ["lint", str(error)])
    assert out.exit_code == 1
    assert out.stdout.startswith(f"{error}/1.0.0.yaml:38:15: error CL104 unknown name")
    assert runner.invoke(app, ["lint"]).exit_code == 2
    assert runner.invoke(app, ["lint", "no/such/folder"]).exit_code == 2
    assert runner.invoke(app, ["lint", "--select", "CL999", str(clean)]).exit_code == 2
    assert runner.invoke(app, ["lint", "--format", "xml", str(clean)]).exit_code == 2


def test_select_and_ignore() -> None:
    folder = CASES / "checklists"
    out = runner.invoke(app, ["lint", str(folder), "--select", "CL2", "-f", "json"])
    codes = {p["code"] for p in json.loads(out.stdout)["problems"]}
    assert codes and all(c.startswith("CL2") for c in codes)
    out = runner.invoke(app, ["lint", str(folder), "--ignore", "CL1,PL", "-f", "json"])
    codes = {p["code"] for p in json.loads(out.stdout)["problems"]}
    assert codes and not any(c.startswith(("CL1", "PL")) for c in codes)


def test_never_a_traceback_for_bad_input(tmp_path: Path) -> None:
    (tmp_path / "x" / "bad").mkdir(parents=True)
    (tmp_path / "x" / "bad" / "1.0.0.yaml").write_bytes(b"\xff\xfe not utf8")
    (tmp_path / "x" / "bad" / "2.0.0.yaml").write_text("- a list\n")
    (tmp_path / "x" / "bad" / "3.0.0.yaml").write_text("")
    (tmp_path / "t.j2").write_bytes(b"{{ \xff }}")
    out = runner.invoke(app, ["lint", str(tmp_path)])
    assert out.exit_code == 1
    assert out.exception is None or isinstance(out.exception, SystemExit)
    assert {"PL102", "PL103", "PL107"} <= set(re.findall(r"PL\d{3}", out.stdout))


def _mixed() -> LintResult:
    return lint(
        CASES / "checklists" / "cl204-single-option",
        CASES / "checklists" / "cl104-unknown-name",
    )


def test_github_format_escapes_and_puts_errors_first() -> None:
    text = github(_mixed())
    lines = text.splitlines()
    assert lines[0].startswith("::error file=")
    assert lines[-1].startswith("::warning file=")
    assert ",line=38,col=15,title=CL104::CL104 unknown name" in lines[0]
    from postloan_cli.errors import Problem

    tricky = LintResult([Problem("CL102", "100% bad\r\nline", "a,b:c.yaml", 1, 2)])
    assert (
        github(tricky)
        == "::error file=a%2Cb%3Ac.yaml,line=1,col=2,title=CL102::CL102 100%25 bad%0D%0Aline\n"
    )


def test_sarif_validates_and_describes_every_rule() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((CASES / "support" / "sarif-2.1.0-essential.schema.json").read_text())
    out = runner.invoke(app, ["lint", "-f", "sarif", str(CASES / "checklists")])
    assert out.exit_code == 1
    log = json.loads(out.stdout)
    jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker()).validate(log)
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} >= set(RULES)
    for rule in rules:
        assert rule["fullDescription"]["text"] and rule["help"]["text"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1


def test_machine_formats_are_not_wrapped() -> None:
    out = runner.invoke(
        app, ["lint", "-f", "json", str(CASES / "checklists")], env={"COLUMNS": "40"}
    )
    payload = json.loads(out.stdout)
    assert payload["errors"] > 0
    long = [p for p in payload["problems"] if len(p["message"]) > 80]
    assert long


def test_output_file(tmp_path: Path) -> None:
    target = tmp_path / "out.sarif"
    out = runner.invoke(
        app, ["lint", "-f", "sarif", "-o", str(target), str(CASES / "checklists" / "clean-minimal")]
    )
    assert out.exit_code == 0
    assert json.loads(target.read_text())["version"] == "2.1.0"


# --- pre-commit ------------------------------------------------------------------------


@pytest.mark.skipif(
    shutil.which("pre-commit") is None and not shutil.which("git"), reason="needs git"
)
def test_pre_commit_try_repo(tmp_path: Path) -> None:
    pre_commit = shutil.which("pre-commit") or shutil.which(
        "pre-commit", path=str(Path(sys.executable).parent)
    )
    if pre_commit is None:
        pytest.skip("pre-commit is not installed")
    if os.environ.get("POSTLOAN_SKIP_PRE_COMMIT"):
        pytest.skip("POSTLOAN_SKIP_PRE_COMMIT is set")
    git = [
        "git",
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.invalid",
        "-c",
        "commit.gpgsign=false",
    ]
    hook_repo = tmp_path / "postloan"
    for part in ("src", "checklists", "templates", "schemas"):
        if (ROOT / part).exists():
            shutil.copytree(
                ROOT / part, hook_repo / part, ignore=shutil.ignore_patterns("__pycache__")
            )
    for part in ("pyproject.toml", ".pre-commit-hooks.yaml", "README.md"):
        if (ROOT / part).exists():
            shutil.copy(ROOT / part, hook_repo / part)
    if not (hook_repo / "README.md").exists():
        (hook_repo / "README.md").write_text("postloan\n")
    subprocess.run([*git, "init", "-q", str(hook_repo)], check=True)
    subprocess.run([*git, "-C", str(hook_repo), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(hook_repo), "commit", "-qm", "hooks"], check=True)

    work = tmp_path / "policies"
    shutil.copytree(CASES / "checklists" / "clean-minimal", work / "checklists" / "clean-minimal")
    broken = work / "checklists" / "cl104-unknown-name"
    shutil.copytree(CASES / "checklists" / "cl104-unknown-name", broken)
    for file in work.rglob("*.yaml"):
        file.write_text(file.read_text().replace("../../../../schemas", "../../schemas"))
    subprocess.run([*git, "init", "-q", str(work)], check=True)
    subprocess.run([*git, "-C", str(work), "add", "-A"], check=True)
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache")}

    def run(*files: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [pre_commit, "try-repo", str(hook_repo), "postloan-lint", "--files", *files],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    ok = run("checklists/clean-minimal/1.0.0.yaml")
    if ok.returncode != 0 and "Passed" not in ok.stdout and "CL" not in ok.stdout:
        pytest.skip(f"pre-commit could not install the hook here: {ok.stdout[-500:]}")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = run("checklists/cl104-unknown-name/1.0.0.yaml")
    assert bad.returncode == 1
    assert "1.0.0.yaml:38:15: error CL104" in bad.stdout
