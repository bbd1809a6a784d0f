"""End to end: the real ``postloan inspect`` in a pseudo-terminal, driven by pexpect.

The sessions start from the previous inspection of an example loan
(``--previous``), so the loan's facts are known and every answer has a
default; the officer mostly presses Enter, as in a routine monthly visit.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")

ROOT = Path(__file__).resolve().parents[1]
PREVIOUS = ROOT / "examples" / "answers" / "01-healthy-working-capital.yaml"
STANDARD = ROOT / "checklists" / "post-loan-standard" / "1.0.0.yaml"

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="pexpect needs a POSIX pty"),
    pytest.mark.skipif(
        not PREVIOUS.exists() or not STANDARD.exists(), reason="standard checklist missing"
    ),
]

#: A question prompt: questionary's "?" (styled), then "(i/n) text" or "(conclusion) text".
HEADER = r"\?(?:\x1b\[[0-9;]*m)* \((?:\d+/\d+|conclusion)\) [^\r\n\x1b]*"
PATTERNS = [
    HEADER,  # 0: a question
    r"What next\?",  # 1: a repeating group's menu
    r"All done\. What now\?",  # 2: the finish screen
    r"Note or evidence for this answer",  # 3: a signal fired
    r"Evidence references",  # 4
    r"Continue with: postloan inspect --resume",  # 5: interrupted
]
ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


def env() -> dict[str, str]:
    values = dict(os.environ)
    values.update(
        TERM="xterm-256color",
        NO_COLOR="1",
        PROMPT_TOOLKIT_NO_CPR="1",  # pexpect does not answer cursor position requests
        PYTHONPATH=str(ROOT / "src"),
        COLUMNS="120",
        LINES="40",
    )
    values.pop("FORCE_COLOR", None)
    return values


def spawn(cwd: Path, *args: str) -> pexpect.spawn:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "postloan_cli", "inspect", *args],
        cwd=str(cwd),
        env=env(),
        encoding="utf-8",
        timeout=8,
        dimensions=(40, 120),
    )
    return child


@dataclass
class Driver:
    """Answers each new prompt: given keys for matching questions, else Enter (the default)."""

    child: pexpect.spawn
    answers: dict[str, str] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)
    last: str | None = None

    def run(self, stop_after: int | None = None) -> int:
        """Until the program ends; ``stop_after`` questions, then Ctrl-C. Returns the exit code."""
        while True:
            index = self.child.expect([*PATTERNS, pexpect.EOF])
            if index == len(PATTERNS):
                break
            text = ANSI.sub("", self.child.after).lstrip("? ").strip()
            if index == 0:
                if text == self.last:
                    continue  # the same prompt drawn again
                self.last = text
                self.seen.append(text)
                if stop_after is not None and len(self.seen) > stop_after:
                    self.child.send("\x03")
                    continue
                keys = next((k for pattern, k in self.answers.items() if pattern in text), "\r")
                self.child.send(keys)
            elif index in (1, 2, 3, 4):
                self.last = text
                self.child.send("\r")
        self.child.close()
        return int(self.child.exitstatus if self.child.exitstatus is not None else -1)


OPINION = {"overall opinion": "The borrower performs as agreed; statements requested.\r"}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Driver]:
    work = tmp_path_factory.mktemp("full")
    child = spawn(work, "--previous", str(PREVIOUS), "--inspections", "insp", "--output", "rep")
    driver = Driver(child, dict(OPINION))
    assert driver.run() == 0
    return work, driver


def only_final(work: Path) -> Path:
    finals = [p for p in (work / "insp").rglob("*.yaml") if not p.name.endswith(".draft.yaml")]
    assert len(finals) == 1, finals
    assert not list((work / "insp").rglob("*.draft.yaml")), "the draft is removed at the end"
    return finals[0]


def test_full_inspection_matches_inspect_answers(uninterrupted: tuple[Path, Driver]) -> None:
    work, driver = uninterrupted
    # facts first, then the eight areas in order, then the opinion
    assert driver.seen[0].startswith("(2/17) Inspection date")
    assert any("Proposed classification" in s for s in driver.seen)
    final = only_final(work)
    text = final.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=")
    assert "status: final" in text
    assert "The borrower performs as agreed" in text
    # the same answers through `inspect --answers` give the same reports
    result = subprocess.run(
        [sys.executable, "-m", "postloan_cli", "inspect", "--answers", str(final), "-o", "again"],
        cwd=work,
        env=env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for fmt in ("md", "html"):
        interactive = next((work / "rep").rglob(f"*.{fmt}"))
        batch = work / "again" / f"{final.stem}.{fmt}"
        assert interactive.read_text(encoding="utf-8") == batch.read_text(encoding="utf-8")


def test_ctrl_c_then_resume_gives_the_same_answer_file(
    uninterrupted: tuple[Path, Driver], tmp_path: Path
) -> None:
    full, _ = uninterrupted
    args = ("--previous", str(PREVIOUS), "--inspections", "insp", "--output", "rep")
    first = Driver(spawn(tmp_path, *args), dict(OPINION))
    assert first.run(stop_after=30) == 130
    drafts = list((tmp_path / "insp").rglob("*.draft.yaml"))
    assert len(drafts) == 1
    assert "status: draft" in drafts[0].read_text(encoding="utf-8")
    # a draft is never rendered as an opinion
    refused = subprocess.run(
        [sys.executable, "-m", "postloan_cli", "inspect", "--answers", str(drafts[0])],
        cwd=tmp_path,
        env=env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "draft" in refused.stderr
    second = Driver(spawn(tmp_path, "--resume", str(drafts[0]), "--output", "rep"), dict(OPINION))
    assert second.run() == 0
    # it continued at the first unanswered question
    assert second.seen[0] == first.seen[-1]
    assert only_final(tmp_path).read_text(encoding="utf-8") == only_final(full).read_text(
        encoding="utf-8"
    )


def test_wrong_number_is_asked_again_and_back_returns(tmp_path: Path) -> None:
    child = spawn(tmp_path, "--previous", str(PREVIOUS), "--inspections", "insp")
    child.expect(r"\(2/17\) Inspection date")
    child.send("\x152026-02-30\r")  # Ctrl-U clears the pre-filled default
    child.expect("not a real date")
    child.send("\x152026-11-20\r")
    child.expect(r"Outstanding balance \(EUR\)")
    child.send("\x15abc\r")
    child.expect("expected an amount of money")
    child.send("\x151,900,000.50\r")
    child.expect("Days past due")
    child.send("\x15<\r")  # back
    child.expect(r"Outstanding balance \(EUR\)")
    child.send("\r")  # keep 1900000.50
    child.expect("Days past due")
    child.send("\x03")
    child.expect("Continue with: postloan inspect --resume")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    draft = tmp_path / "insp" / "WC-2025-04417" / "2026-11-20.draft.yaml"
    text = draft.read_text(encoding="utf-8")
    assert "amount: 1900000.50" in text
    assert "status: draft" in text


def test_non_terminal_stdin_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "postloan_cli", "inspect", "--loan", "L-1"],
        cwd=tmp_path,
        env=env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--answers" in result.stderr
    assert not (tmp_path / "inspections").exists()
