"""Where checklists are looked for."""

from __future__ import annotations

from pathlib import Path

import pytest

from postloan_cli import resources


def test_checklist_candidates_are_each_folder_in_order() -> None:
    dirs = [Path("user"), Path("shipped")]
    assert resources.checklist_candidates("mini", "1.0.0", dirs) == [
        Path("user/mini/1.0.0.yaml"),
        Path("shipped/mini/1.0.0.yaml"),
    ]


@pytest.mark.parametrize(
    ("checklist_id", "version"), [("../x", "1.0.0"), ("mini", "../../1"), ("a/b", "1"), ("", "1")]
)
def test_no_candidates_outside_the_folders(checklist_id: str, version: str) -> None:
    assert resources.checklist_candidates(checklist_id, version, [Path("c")]) == []


def test_checklist_file_is_the_first_candidate_that_exists(tmp_path: Path) -> None:
    user, shipped = tmp_path / "user", tmp_path / "shipped"
    (shipped / "mini").mkdir(parents=True)
    (shipped / "mini" / "1.0.0.yaml").write_text("id: mini\n")
    (user / "mini" / "1.0.0.yaml").mkdir(parents=True)  # a folder is not a checklist
    dirs = [user, shipped]
    assert resources.checklist_file("mini", "1.0.0", dirs) == shipped / "mini" / "1.0.0.yaml"
    assert resources.checklist_file("mini", "2.0.0", dirs) is None
