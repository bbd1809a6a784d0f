"""Every bad input to ``postloan inspect --answers``: one line, a location, exit 2.

Each case names the file, the line and column where known, and a stable
code; none prints a Python traceback.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import CORE
from postloan_cli.cli import app

GOOD = (CORE / "answers" / "good.yaml").read_text()
CHECKLIST = (CORE / "checklists" / "mini" / "1.0.0.yaml").read_text()
runner = CliRunner()


def _run(answers: Path, checklists: Path, tmp_path: Path) -> tuple[int, str]:
    result = runner.invoke(
        app,
        [
            "inspect",
            "--answers",
            str(answers),
            "--checklists",
            str(checklists),
            "--output",
            str(tmp_path / "out"),
        ],
    )
    assert "Traceback" not in result.stderr + result.stdout
    return result.exit_code, result.stderr


def _answers_case(text: str | bytes) -> Callable[[Path], tuple[Path, Path]]:
    def build(tmp: Path) -> tuple[Path, Path]:
        path = tmp / "answers.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return path, CORE / "checklists"

    return build


def _checklist_case(old: str, new: str) -> Callable[[Path], tuple[Path, Path]]:
    def build(tmp: Path) -> tuple[Path, Path]:
        folder = tmp / "checklists" / "mini"
        folder.mkdir(parents=True)
        assert old in CHECKLIST
        (folder / "1.0.0.yaml").write_text(CHECKLIST.replace(old, new, 1))
        path = tmp / "answers.yaml"
        path.write_text(GOOD)
        return path, tmp / "checklists"

    return build


def _bomb() -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    return "\n".join(lines) + "\n"


CASES: dict[str, tuple[Callable[[Path], tuple[Path, Path]], str, str, str]] = {
    # name: (builder, code, "file" or "checklist", location regex, i.e. ":line:col" or "")
    "yaml syntax": (
        _answers_case(GOOD.replace("kind: regular,", "kind: [regular,")),
        "PL104",
        "answers",
        r":\d+:\d+",
    ),
    "duplicate key": (
        _answers_case(
            GOOD.replace(
                "  purpose: Raw materials\n", "  purpose: Raw materials\n  purpose: again\n"
            )
        ),
        "PL105",
        "answers",
        ":11:3",
    ),
    "text where a number is due": (
        _answers_case(GOOD.replace("days_past_due: 120", "days_past_due: many")),
        "PL300",
        "answers",
        ":11:18",
    ),
    "impossible date in loan": (
        _answers_case(GOOD.replace("disbursed_on: 2025-01-01", "disbursed_on: 2026-02-30")),
        "PL300",
        "answers",
        ":8:17",
    ),
    "impossible date in an answer": (
        _answers_case(
            GOOD.replace("registration_expiry: 2026-12-10", "registration_expiry: 2026-02-30")
        ),
        "PL305",
        "answers",
        ":22:26",
    ),
    "text where money is due": (
        _answers_case(GOOD.replace("current_assets: 40,", "current_assets: forty,")),
        "PL305",
        "answers",
        ":19:67",
    ),
    "unknown section": (
        _answers_case(GOOD.replace("  collateral:\n", "  colateral:\n")),
        "PL301",
        "answers",
        ":20:3",
    ),
    "unknown question": (
        _answers_case(GOOD.replace("collateral_kind:", "collateral_knd:")),
        "PL302",
        "answers",
        ":21:5",
    ),
    "missing required answer": (
        _answers_case(
            GOOD.replace(
                '    funds_as_contracted: {value: false, note: "paid to an unrelated company", '
                "evidence: [stmt-1]}\n",
                "",
            )
        ),
        "PL303",
        "answers",
        r":\d+:\d+",
    ),
    "choice not among options": (
        _answers_case(GOOD.replace("collateral_kind: property", "collateral_kind: castle")),
        "PL304",
        "answers",
        ":21:22",
    ),
    "choice whose text reads 'extra'": (
        _answers_case(GOOD.replace("collateral_kind: property", "collateral_kind: extra")),
        "PL304",
        "answers",
        ":21:22",
    ),
    "unknown checklist version": (
        _answers_case(GOOD.replace('version: "1.0.0"', 'version: "9.9.9"')),
        "PL205",
        "answers",
        ":1:",
    ),
    "unknown checklist id": (
        _answers_case(GOOD.replace("id: mini,", "id: nosuch,")),
        "PL205",
        "answers",
        ":1:",
    ),
    "empty file": (_answers_case(""), "PL103", "answers", ":1:1"),
    "not utf-8": (
        _answers_case(
            GOOD.replace("ACME Ltd", "ACME S.L. Caf\udce9", 1).encode("utf-8", "surrogateescape")
        ),
        "PL102",
        "answers",
        r":4:\d+",
    ),
    "alias bomb": (_answers_case(_bomb()), "PL106", "answers", ""),
    "over the size limit": (
        _answers_case("a: " + "x" * (2 * 1024 * 1024 + 10) + "\n"),
        "PL101",
        "answers",
        "",
    ),
    "malformed checklist expression": (
        _checklist_case('when: "funds_as_contracted == false"', 'when: "funds_as_contracted =="'),
        "PL201",
        "checklist",
        r":\d+:\d+",
    ),
    "expression names unknown question": (
        _checklist_case(
            'when: "funds_as_contracted == false"', 'when: "funds_as_contractd == false"'
        ),
        "PL202",
        "checklist",
        r":\d+:\d+",
    ),
    "expression reaches python internals": (
        _checklist_case(
            'when: "funds_as_contracted == false"',
            'when: "().__class__.__mro__[1].__subclasses__()"',
        ),
        "PL203",
        "checklist",
        r":\d+:\d+",
    ),
    "unquoted checklist version": (
        _checklist_case('version: "1.0.0"', "version: 1.0"),
        "PL200",
        "checklist",
        ":2:10",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name: str, tmp_path: Path) -> None:
    build, code, which, location = CASES[name]
    answers, checklists = build(tmp_path)
    exit_code, stderr = _run(answers, checklists, tmp_path)
    assert exit_code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    named = str(answers) if which == "answers" else str(checklists / "mini" / "1.0.0.yaml")
    line = lines[0]
    assert line.startswith(named), line
    assert f" error {code} " in line, line
    if location:
        assert re.match(re.escape(named) + location, line), line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_missing_version_lists_available(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(GOOD.replace('version: "1.0.0"', 'version: "2.0.0"'))
    _, stderr = _run(path, CORE / "checklists", tmp_path)
    assert "has no version '2.0.0'; versions available: 1.0.0" in stderr


def test_unknown_format_is_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["inspect", "--answers", str(CORE / "answers" / "good.yaml"), "--format", "pdf"]
    )
    assert result.exit_code == 2
    assert "unknown format 'pdf'" in result.stderr


def test_non_terminal_stdin_is_refused_without_answers() -> None:
    result = runner.invoke(app, ["inspect"], input="")
    assert result.exit_code == 2
    assert "--answers" in result.stderr


def test_checklist_file_not_copied_shipped_untouched(tmp_path: Path) -> None:
    # The shipped folder is searched after the user's: a user's folder can add versions.
    extra = tmp_path / "checklists" / "mini"
    extra.mkdir(parents=True)
    shutil.copy(CORE / "checklists" / "mini" / "1.0.0.yaml", extra / "1.0.0.yaml")
    path = tmp_path / "a.yaml"
    path.write_text(GOOD.replace('version: "1.0.0"', 'version: "1.1.0"'))
    _, stderr = _run(path, tmp_path / "checklists", tmp_path)
    assert "versions available: 1.0.0" in stderr
