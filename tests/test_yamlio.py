"""Reading untrusted YAML: one meaning (YAML 1.2), refusals with locations."""

from __future__ import annotations

from pathlib import Path

import pytest

from postloan_cli import yamlio
from postloan_cli.errors import InputError


def _problem(text: str | bytes, tmp_path: Path) -> tuple[str, int | None, int | None]:
    path = tmp_path / "f.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(InputError) as info:
        yamlio.load(path)
    (problem,) = info.value.problems
    assert problem.file == str(path)
    return problem.code, problem.line, problem.column


def test_yaml_12_meaning() -> None:
    data = yamlio.parse(
        "a: yes\nb: no\nc: on\nd: 0755\ne: 0o17\nf: 2026-01-02\ng: ~\nh: 1e3\n", "x"
    )
    assert data == {
        "a": "yes",
        "b": "no",
        "c": "on",
        "d": 755,
        "e": 15,
        "f": "2026-01-02",
        "g": None,
        "h": 1000.0,
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: [1\n", ("PL104", 2, 1)),
        ("a: 1\nb: 2\na: 3\n", ("PL105", 3, 1)),
        ("", ("PL103", 1, 1)),
        ("# only a comment\n\n", ("PL103", 1, 1)),
        ("- 1\n- 2\n", ("PL107", 1, 1)),
        ("a: 1\n---\nb: 2\n", ("PL107", 2, 1)),
        ("a: !!python/object/apply:os.system [ls]\n", ("PL104", 1, 4)),
        (b"a: caf\xe9\n", ("PL102", 1, 7)),
    ],
)
def test_refusals(text: str | bytes, expected: tuple[str, int, int], tmp_path: Path) -> None:
    assert _problem(text, tmp_path) == expected


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    code, _, _ = _problem("\n".join(lines) + "\n", tmp_path)
    assert code == "PL106"


def test_small_aliases_are_fine() -> None:
    assert yamlio.parse("base: &b {x: 1}\nother: *b\n", "x") == {
        "base": {"x": 1},
        "other": {"x": 1},
    }


def test_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * 200 + "\n")
    with pytest.raises(InputError) as info:
        yamlio.load(path, max_bytes=100)
    assert info.value.problems[0].code == "PL101"
    assert "limit is 100 bytes" in info.value.problems[0].message


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        yamlio.load(tmp_path / "nope.yaml")
    assert info.value.problems[0].code == "PL100"
    with pytest.raises(InputError) as info:
        yamlio.load(tmp_path)
    assert info.value.problems[0].code == "PL100"


def test_locate_walks_keys_and_indexes() -> None:
    text = "a:\n  b:\n    - x: 1\n    - y: 2\n"
    assert yamlio.locate(text, ("a", "b", 1, "y")) == (4, 10)
    assert yamlio.locate(text, ("a", "b", 1, "y"), key=True) == (4, 7)
    # Elements that are not in the document (a discriminator tag) are skipped.
    assert yamlio.locate(text, ("a", "yes_no", "b", 0, "x")) == (3, 10)
