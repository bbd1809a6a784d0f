"""``postloan inspect --answers``: what an officer sees and gets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import CORE, EXAMPLES, ROOT
from postloan_cli import __version__
from postloan_cli.cli import app

runner = CliRunner()
GOOD = (CORE / "answers" / "good.yaml").read_text()


def _inspect(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["inspect", *args])
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_example_renders_both_formats(example: Path, tmp_path: Path) -> None:
    code, out, err = _inspect(
        "--answers", str(example), "-f", "md", "-f", "html", "-o", str(tmp_path)
    )
    assert code == 0, err
    md = tmp_path / f"{example.stem}.md"
    html = tmp_path / f"{example.stem}.html"
    assert md.read_text().startswith("# ")
    assert html.read_text().startswith("<!DOCTYPE html>")
    assert "Suggested classification:" in out
    assert f"md: {md}" in out and f"html: {html}" in out


def test_summary_names_loan_classification_and_signals(tmp_path: Path) -> None:
    code, out, _ = _inspect(
        "--answers", str(EXAMPLES / "07-overdue-120-days.yaml"), "-o", str(tmp_path)
    )
    assert code == 0
    assert "Suggested classification: Substandard" in out
    assert "Warning signals:" in out
    # The overdue signal and its required action are in the table.
    assert "Major" in out


def test_spanish_summary(tmp_path: Path) -> None:
    code, out, _ = _inspect(
        "--answers",
        str(EXAMPLES / "01-healthy-working-capital.yaml"),
        "--lang",
        "es",
        "-o",
        str(tmp_path),
        "-f",
        "md",
    )
    assert code == 0
    assert "Clasificación sugerida: Normal" in out
    assert "No se detectaron señales de alerta." in out
    assert list(tmp_path.iterdir()) == [tmp_path / "01-healthy-working-capital.md"]


def test_condition_false_answer_is_a_warning_not_an_error(tmp_path: Path) -> None:
    answers = tmp_path / "a.yaml"
    answers.write_text(
        GOOD.replace(
            "    funds_as_contracted:", "    own_funding_pct: 40\n    funds_as_contracted:"
        )
    )
    code, _out, err = _inspect(
        "--answers",
        str(answers),
        "--checklists",
        str(CORE / "checklists"),
        "-o",
        str(tmp_path / "out"),
    )
    assert code == 0
    (line,) = err.strip().splitlines()
    assert line.startswith(f"{answers}:15:5: warning PL306 ")
    assert (tmp_path / "out" / "a.md").exists()


def test_draft_is_not_rendered(tmp_path: Path) -> None:
    answers = tmp_path / "d.yaml"
    answers.write_text(
        GOOD.replace(
            'checklist: {id: mini, version: "1.0.0"}',
            'checklist: {id: mini, version: "1.0.0"}\nstatus: draft',
        )
    )
    code, _, err = _inspect(
        "--answers",
        str(answers),
        "--checklists",
        str(CORE / "checklists"),
        "-o",
        str(tmp_path / "out"),
    )
    assert code == 2
    assert " error PL309 " in err and "--resume" in err
    assert not (tmp_path / "out").exists()


def test_user_templates_override_shipped(tmp_path: Path) -> None:
    templates = tmp_path / "tpl"
    templates.mkdir()
    (templates / "opinion.md.j2").write_text("CUSTOM {{ loan.id }}\n")
    code, _, err = _inspect(
        "--answers",
        str(EXAMPLES / "03-funds-diverted.yaml"),
        "--templates",
        str(templates),
        "-o",
        str(tmp_path / "out"),
    )
    assert code == 0, err
    assert (tmp_path / "out" / "03-funds-diverted.md").read_text().startswith("CUSTOM ")
    # The HTML template was not overridden: the shipped one is used.
    assert "<!DOCTYPE html>" in (tmp_path / "out" / "03-funds-diverted.html").read_text()


def test_broken_user_template_is_an_input_error(tmp_path: Path) -> None:
    templates = tmp_path / "tpl"
    templates.mkdir()
    (templates / "opinion.md.j2").write_text("line one\n{% if %}\n")
    code, _, err = _inspect(
        "--answers",
        str(EXAMPLES / "03-funds-diverted.yaml"),
        "--templates",
        str(templates),
        "-o",
        str(tmp_path / "out"),
    )
    assert code == 2
    assert f"{templates / 'opinion.md.j2'}:2" in err and " PL400 " in err


def test_version_and_module_entry_point() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"postloan {__version__}\n"
    module = subprocess.run(
        [sys.executable, "-m", "postloan_cli", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert module.returncode == 0
    for command in ("inspect", "batch", "lint", "schema"):
        assert command in module.stdout


def test_schema_command_prints_draft07() -> None:
    for kind in ("checklist", "answers"):
        result = runner.invoke(app, ["schema", kind])
        assert result.exit_code == 0
        assert result.stdout == (ROOT / "schemas" / f"{kind}.schema.json").read_text()
    assert runner.invoke(app, ["schema", "loans"]).exit_code == 2


def test_reports_do_not_depend_on_the_process(tmp_path: Path) -> None:
    # Sets iterate in a different order in each process (string hashing is
    # seeded per process); a report must come out the same every time.
    example = EXAMPLES / "02-fixed-asset-own-funding-lag.yaml"
    texts = []
    for seed in ("1", "2", "3"):
        out = tmp_path / seed
        subprocess.run(
            [
                sys.executable,
                "-m",
                "postloan_cli",
                "inspect",
                "--answers",
                str(example),
                "--output",
                str(out),
                "--format",
                "md",
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        texts.append((out / f"{example.stem}.md").read_text(encoding="utf-8"))
    assert texts[0] == texts[1] == texts[2]
