"""``postloan inspect --answers``: what an officer sees and gets."""

from __future__ import annotations

import os
import shutil
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


# --- the terminal summary ------------------------------------------------------------

LONG_ZH = "借款人的主要客户集中度过高且应收账款回收期明显延长需要重点关注其现金流状况"


def _zh_checklist(tmp_path: Path) -> Path:
    folder = tmp_path / "checklists"
    shutil.copytree(CORE / "checklists", folder)
    path = folder / "mini" / "1.0.0.yaml"
    path.write_text(path.read_text().replace("signal: Funds diverted", f"signal: {LONG_ZH}"))
    return folder


def _table_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line[:1] in ("┏", "┃", "┡", "│", "└")]


def test_summary_table_fits_the_terminal_and_folds_long_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from postloan_cli.cli._table import cell_width

    monkeypatch.setenv("COLUMNS", "50")
    answers = tmp_path / "a.yaml"
    answers.write_text(GOOD)
    code, out, err = _inspect(
        "--answers",
        str(answers),
        "--checklists",
        str(_zh_checklist(tmp_path)),
        "-o",
        str(tmp_path / "out"),
    )
    assert code == 0, err
    lines = _table_lines(out)
    assert lines and all(cell_width(line) <= 50 for line in lines)
    assert all(cell_width(line) == cell_width(lines[0]) for line in lines)
    # Chinese has no spaces to break at: the signal is folded over several
    # lines, every character kept (no "…" cutting it short).
    assert "…" not in out
    signal_column = "".join(line.split("│")[2].strip() for line in lines if line.startswith("│"))
    assert LONG_ZH in signal_column
    assert "\x1b[" not in out  # not a terminal: no styles


@pytest.mark.parametrize(
    ("env", "styled"),
    [
        ({"TTY_COMPATIBLE": "1"}, True),
        ({"TTY_COMPATIBLE": "1", "NO_COLOR": "1"}, True),  # NO_COLOR removes colours only
        ({"TTY_COMPATIBLE": "1", "TERM": "dumb"}, False),
        ({"TTY_COMPATIBLE": "0"}, False),
    ],
)
def test_summary_styles_only_on_a_terminal(
    env: dict[str, str], styled: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, out, _ = _inspect(
        "--answers", str(EXAMPLES / "07-overdue-120-days.yaml"), "-o", str(tmp_path), "-f", "md"
    )
    assert code == 0
    assert ("\x1b[3mWarning signals: " in out) is styled
    assert ("\x1b[1m Severity " in out) is styled
    assert "\x1b[3" + "8;" not in out  # never a colour


def test_summary_table_lists_every_signal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "1000")
    code, out, _ = _inspect(
        "--answers", str(EXAMPLES / "07-overdue-120-days.yaml"), "-o", str(tmp_path), "-f", "md"
    )
    assert code == 0
    title = next(line for line in out.splitlines() if line.startswith("Warning signals: "))
    lines = _table_lines(out)
    header = [cell.strip() for cell in lines[1].split("┃")[1:-1]]
    assert header == ["Severity", "Signal", "Required action", "Escalate to"]
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines[3:-1]]
    assert len(rows) == int(title.split(": ")[1])  # wide enough: one line per signal
    assert rows[0][0] == "Major" and rows[-1][0] == "Information"
    assert any(row[3].startswith("Branch head — 2026-") for row in rows)


# --- the checklist kept validated in the compile cache -------------------------------


def _refuse(*_args: object, **_kwargs: object) -> object:
    raise AssertionError("the checklist file was parsed again")


def test_checklist_is_kept_validated_and_read_again_when_edited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from postloan_cli import loading

    store = tmp_path / "cache" / "checklists"
    monkeypatch.setenv("POSTLOAN_CACHE_DIR", str(tmp_path / "cache"))
    checklists = tmp_path / "checklists"
    shutil.copytree(CORE / "checklists", checklists)
    answers = tmp_path / "a.yaml"
    answers.write_text(GOOD)
    args = ("--answers", str(answers), "--checklists", str(checklists), "-o", str(tmp_path / "o"))

    loading._load_compiled.cache_clear()
    first = _inspect(*args)
    assert first[0] == 0 and "Funds diverted" in first[1]
    assert len(list(store.glob("*.pickle"))) == 1

    # As in a new process: the checklist comes from the cache, not its YAML.
    loading._load_compiled.cache_clear()
    with monkeypatch.context() as m:
        m.setattr(loading, "read_checklist", _refuse)
        assert _inspect(*args) == first

    # An edited checklist is read and validated again.
    path = checklists / "mini" / "1.0.0.yaml"
    path.write_text(path.read_text().replace("signal: Funds diverted", "signal: Funds moved"))
    loading._load_compiled.cache_clear()
    edited = _inspect(*args)
    assert edited[0] == 0 and "Funds moved" in edited[1] and "Funds diverted" not in edited[1]
    assert len(list(store.glob("*.pickle"))) == 2

    # A damaged entry is ignored (the YAML is read) and written again.
    for entry in store.glob("*.pickle"):
        entry.write_bytes(b"not a checklist")
    loading._load_compiled.cache_clear()
    assert _inspect(*args) == edited
    loading._load_compiled.cache_clear()
    with monkeypatch.context() as m:
        m.setattr(loading, "read_checklist", _refuse)
        assert _inspect(*args) == edited


def test_checklist_with_errors_is_not_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from postloan_cli import loading

    monkeypatch.setenv("POSTLOAN_CACHE_DIR", str(tmp_path / "cache"))
    checklists = tmp_path / "checklists"
    shutil.copytree(CORE / "checklists", checklists)
    path = checklists / "mini" / "1.0.0.yaml"
    path.write_text(path.read_text().replace("funds_as_contracted == false", "no_such == 1"))
    answers = tmp_path / "a.yaml"
    answers.write_text(GOOD)
    for _ in range(2):  # the same error every time: nothing was kept
        loading._load_compiled.cache_clear()
        code, _, err = _inspect(
            "--answers", str(answers), "--checklists", str(checklists), "-o", str(tmp_path / "o")
        )
        assert code == 2 and " PL202 " in err and f"{path}:" in err
    assert list((tmp_path / "cache").glob("checklists/*")) == []


def test_summary_neutralises_control_characters_from_files(tmp_path: Path) -> None:
    # An answer file (or a checklist) could carry terminal escape sequences;
    # the summary prints them as U+FFFD, never as escapes the terminal obeys.
    checklists = _zh_checklist(tmp_path)
    path = checklists / "mini" / "1.0.0.yaml"
    path.write_text(path.read_text().replace(f"signal: {LONG_ZH}", 'signal: "Funds\\e]0;x\\a"'))
    answers = tmp_path / "a.yaml"
    answers.write_text(GOOD.replace("{name: ACME Ltd}", '{name: "ACME\\e[2J\\rLtd"}'))
    code, out, err = _inspect(
        "--answers", str(answers), "--checklists", str(checklists), "-o", str(tmp_path / "o")
    )
    assert code == 0, err
    assert "\x1b" not in out and "\r" not in out and "\a" not in out
    assert "ACME\ufffd[2J\ufffdLtd" in out
    assert "Funds\ufffd]0;x\ufffd" in out


@pytest.mark.parametrize(
    ("text", "width"),
    [
        ("借款人已全面停产。营业利润不足以覆盖利息支出。", 8),
        ("查明停产原因及预计持续时间，保全抵（质）押物，冻结未使用的授信额度。", 10),
        ("进行「现场检查」并报告。", 6),
    ],
)
def test_cjk_lines_do_not_start_with_closing_punctuation(text: str, width: int) -> None:
    from postloan_cli.cli._table import cell_width, wrap

    lines = wrap(text, width)
    assert "".join(lines) == text  # nothing lost
    assert all(cell_width(line) <= width for line in lines)
    assert not any(line[0] in "。，、）」" for line in lines[1:])
    assert not any(line[-1] in "（「" for line in lines[:-1])
