"""Output files: atomic, and names from data never leave the output folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePath

import pytest

from postloan_cli.errors import InputError
from postloan_cli.outputs import atomic_write, inside, inside_text, safe_name

Locate = Callable[[Path, PurePath], Path]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("L-2026-0142", "L-2026-0142"),
        ("../../etc/passwd", "etc_passwd"),
        ("a/b\\c", "a_b_c"),
        ("CON", "_CON"),
        ("lpt1.md", "_lpt1.md"),
        ("...", "_"),
        ("", "_"),
        ("贷款 2026", "贷款_2026"),
        ("x" * 300, "x" * 100),
        # names kept as they are (the common case, checked in one match) and their neighbours
        ("WC-2025-04417-000459", "WC-2025-04417-000459"),
        ("report.v2_final-b", "report.v2_final-b"),
        ("a__b", "a_b"),
        ("a..b", "a..b"),
        ("_a", "a"),
        ("a_", "a"),
        ("COM1.tar.gz", "_COM1.tar.gz"),
        ("Nul", "_Nul"),
        ("com10", "com10"),
        ("x" * 99 + ".y", "x" * 99),
        ("x" * 100, "x" * 100),
    ],
)
def test_safe_name(text: str, expected: str) -> None:
    assert safe_name(text) == expected


def _inside_as_text(base: Path, relative: PurePath) -> Path:
    return Path(inside_text(base, relative.as_posix()))


#: The two ways to name a file inside the output folder: they must agree.
LOCATE = pytest.mark.parametrize("locate", [inside, _inside_as_text], ids=["path", "text"])


@LOCATE
@pytest.mark.parametrize("relative", ["../escape.md", "/etc/x.md", "a/../../b.md", "..\\..\\c.md"])
def test_inside_never_escapes(tmp_path: Path, relative: str, locate: Locate) -> None:
    base = tmp_path / "out"
    target = locate(base, PurePath(relative))
    assert base.resolve() in target.parents


@LOCATE
def test_inside_refuses_symlink_escape(tmp_path: Path, locate: Locate) -> None:
    base = tmp_path / "out"
    base.mkdir()
    (base / "link").symlink_to(tmp_path)
    with pytest.raises(InputError):
        locate(base, PurePath("link/x.md"))


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "r.md"
    atomic_write(path, "one")
    atomic_write(path, "two", durable=True)
    assert path.read_text() == "two"
    assert [p.name for p in path.parent.iterdir()] == ["r.md"]


def test_atomic_write_honours_the_umask(tmp_path: Path) -> None:
    import os

    old = os.umask(0o027)
    try:
        atomic_write(tmp_path / "r.md", "x")
        atomic_write(tmp_path / "new" / "folder" / "r.md", "x")  # folders made on the way
    finally:
        os.umask(old)
    assert (tmp_path / "r.md").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "new" / "folder" / "r.md").read_text() == "x"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["folder", "new", "r.md", "r.md"]


@LOCATE
def test_inside_names_the_same_file_every_time(tmp_path: Path, locate: Locate) -> None:
    out = tmp_path / "out"
    (out / "north").mkdir(parents=True)
    first = [locate(out, PurePath(f"north/{n}.md")) for n in ("a", "b", "CON", "a")]
    again = [locate(out, PurePath(f"north/{n}.md")) for n in ("a", "b", "CON", "a")]
    assert (
        first == again == [out.resolve() / "north" / n for n in ("a.md", "b.md", "_CON.md", "a.md")]
    )
    assert locate(out, PurePath("r.md")) == out.resolve() / "r.md"
    atomic_write(locate(out, PurePath("r.md")), "x")  # a temporary beside it, then renamed
    assert [p.name for p in out.iterdir() if p.is_file()] == ["r.md"]


@LOCATE
def test_a_link_to_a_folder_elsewhere_is_refused(tmp_path: Path, locate: Locate) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    assert locate(out, PurePath("branch/r.md")) == out.resolve() / "branch" / "r.md"
    (out / "branch").symlink_to(elsewhere)  # created after the first look
    with pytest.raises(InputError):
        locate(out, PurePath("branch/r.md"))


@pytest.mark.parametrize(
    "relative",
    [
        "north/a.md",
        "north/../../x.md",
        "./n/./r.html",
        "con/nul.md",
        "日本/報告 1.md",
        "_/x.md",
        "r.md",
    ],
)
def test_inside_text_names_the_file_inside_names(tmp_path: Path, relative: str) -> None:
    out = tmp_path / "out"
    (out / "north").mkdir(parents=True)
    assert inside_text(out, relative) == str(inside(out, PurePath(relative)))
    atomic_write(inside_text(out, relative), "x")  # folders made on the way, as text too
    assert inside(out, PurePath(relative)).read_text() == "x"


def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(child.stdout)


def test_killed_runs_leave_nothing_behind_for_long(tmp_path: Path) -> None:
    import os

    from postloan_cli.outputs import remove_stale_temporaries

    dead, alive = _dead_pid(), os.getpid()
    (tmp_path / "north").mkdir()
    stale = tmp_path / "north" / f".r.md.{dead}-3.tmp"
    stale.write_text("half a report")
    mine = tmp_path / f".r.md.{alive}-1.tmp"  # a write in progress
    mine.write_text("x")
    spool = tmp_path / f".postloan-spool-{dead}-abc"
    (spool / "inner").mkdir(parents=True)
    kept = [mine, tmp_path / ".hidden.tmp", tmp_path / "north" / "r.md"]
    for path in kept[1:]:
        path.write_text("keep")
    assert sorted(remove_stale_temporaries(tmp_path)) == sorted([stale, spool])
    assert not stale.exists() and not spool.exists()
    assert all(path.exists() for path in kept)


@pytest.mark.parametrize(
    "path",
    [
        "a/b.md",
        "../../etc/passwd",
        "./x/./y",
        "con/nul.txt",
        "a\\b/c",
        "日本/報告 1",
        "_/x",
        "..",
        "",
        "a//b",
    ],
)
def test_safe_relative_text_agrees_with_safe_relative(path: str) -> None:
    from postloan_cli.outputs import safe_relative, safe_relative_text

    assert safe_relative_text(path) == safe_relative(PurePath(path)).as_posix()


def test_atomic_write_via_a_scratch_folder(tmp_path: Path) -> None:
    scratch = tmp_path / "out" / ".spool" / "w1"
    target = tmp_path / "out" / "north" / "r.md"  # neither folder exists yet
    atomic_write(target, "one", scratch=str(scratch))
    atomic_write(target, "two", scratch=str(scratch))
    assert target.read_text() == "two"
    assert list(scratch.iterdir()) == []  # renamed away: nothing left behind
    assert [p.name for p in target.parent.iterdir()] == ["r.md"]


def test_atomic_write_falls_back_when_the_scratch_folder_is_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    replace = os.replace

    def across_devices(src: str, dst: str) -> None:
        if "/spool/" in src:  # as a rename onto another file system fails
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        replace(src, dst)

    monkeypatch.setattr(os, "replace", across_devices)
    target = tmp_path / "out" / "r.md"
    target.parent.mkdir()
    atomic_write(target, "x", scratch=str(tmp_path / "spool"))
    assert target.read_text() == "x"
    assert list((tmp_path / "spool").iterdir()) == []
    assert [p.name for p in target.parent.iterdir()] == ["r.md"]


def test_atomic_write_via_scratch_names_the_file_it_cannot_write(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where a folder should be")
    with pytest.raises(InputError) as caught:
        atomic_write(blocked / "r.md", "x", scratch=str(tmp_path / "spool"))
    assert caught.value.problems[0].code == "PL401"
    assert caught.value.problems[0].file == str(blocked / "r.md")
    assert list((tmp_path / "spool").iterdir()) == []
