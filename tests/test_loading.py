"""Finding the checklist an answer file pins: what a search finds, every time it is asked."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import CORE
from postloan_cli.compiled import CompiledChecklist
from postloan_cli.errors import InputError
from postloan_cli.loading import find_checklist, load_answers


def _folder(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    shutil.copytree(CORE / "checklists", folder)
    return folder


def _signals(compiled: CompiledChecklist) -> list[object]:
    return [rule.signal for section in compiled.checklist.sections for rule in section.rules]


def _edit(path: Path, old: str, new: str) -> None:
    before = path.stat().st_mtime_ns
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))


def test_the_same_checklist_is_found_again_without_searching_anew(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "a")
    first = find_checklist("mini", "1.0.0", [folder])
    assert find_checklist("mini", "1.0.0", [folder]) is first
    assert find_checklist("mini", "1.0.0", (folder,)) is first


def test_a_checklist_edited_during_a_run_is_read_again(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "a")
    assert "Funds diverted" in _signals(find_checklist("mini", "1.0.0", [folder]))
    _edit(folder / "mini" / "1.0.0.yaml", "signal: Funds diverted", "signal: Funds moved")
    signals = _signals(find_checklist("mini", "1.0.0", [folder]))
    assert "Funds moved" in signals and "Funds diverted" not in signals


def test_a_checklist_replaced_by_another_file_is_read_again(tmp_path: Path) -> None:
    # Same size and modification time, another file (an editor's atomic save).
    folder = _folder(tmp_path, "a")
    path = folder / "mini" / "1.0.0.yaml"
    assert "Funds diverted" in _signals(find_checklist("mini", "1.0.0", [folder]))
    stat = path.stat()
    other = tmp_path / "other.yaml"
    other.write_text(
        path.read_text(encoding="utf-8").replace("Funds diverted", "Funds sentout"),
        encoding="utf-8",
    )
    os.replace(other, path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert "Funds sentout" in _signals(find_checklist("mini", "1.0.0", [folder]))


def test_a_checklist_added_to_an_earlier_folder_is_found_first(tmp_path: Path) -> None:
    shipped = _folder(tmp_path, "shipped")
    user = tmp_path / "user"
    user.mkdir()
    dirs = [user, shipped]
    assert "Funds diverted" in _signals(find_checklist("mini", "1.0.0", dirs))
    shutil.copytree(shipped / "mini", user / "mini")
    _edit(user / "mini" / "1.0.0.yaml", "signal: Funds diverted", "signal: Funds moved")
    assert "Funds moved" in _signals(find_checklist("mini", "1.0.0", dirs))
    (user / "mini" / "1.0.0.yaml").unlink()
    assert "Funds diverted" in _signals(find_checklist("mini", "1.0.0", dirs))


def test_a_checklist_removed_during_a_run_is_missing(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "a")
    find_checklist("mini", "1.0.0", [folder])
    (folder / "mini" / "1.0.0.yaml").unlink()
    with pytest.raises(InputError) as info:
        find_checklist("mini", "1.0.0", [folder], referrer="a.yaml")
    (problem,) = info.value.problems
    assert (problem.code, problem.file) == ("PL205", "a.yaml")
    assert "no checklist with id 'mini'" in problem.message


def test_a_checklist_whose_file_declares_another_version_is_refused_every_time(
    tmp_path: Path,
) -> None:
    folder = _folder(tmp_path, "a")
    (folder / "mini" / "1.0.0.yaml").rename(folder / "mini" / "2.0.0.yaml")
    for _ in range(2):
        with pytest.raises(InputError) as info:
            find_checklist("mini", "2.0.0", [folder])
        (problem,) = info.value.problems
        assert problem.code == "PL205"
        assert "file declares mini 1.0.0, but its path says mini 2.0.0" in problem.message


def test_answer_file_errors_keep_their_line_and_column(tmp_path: Path) -> None:
    text = (CORE / "answers" / "good.yaml").read_text(encoding="utf-8")
    text = text.replace("officer: {name: Li Wei}}", "officer: {name: Li Wei}, colour: red}")
    path = tmp_path / "a.yaml"
    path.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    (line,) = [n for n, ln in enumerate(lines, 1) if "colour: red" in ln]
    with pytest.raises(InputError) as info:
        load_answers(path, [CORE / "checklists"], display="a.yaml")
    (problem,) = info.value.problems
    column = lines[line - 1].index("colour") + 1
    assert (problem.code, problem.file, problem.line, problem.column) == (
        "PL300",
        "a.yaml",
        line,
        column,
    )
    assert problem.message == "unknown key 'colour' in inspection"
