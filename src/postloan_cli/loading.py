"""Loading checklists and answer files into models, with located problems.

The fast path parses with the C loader and validates with pydantic; only a
file that fails pays for locating each error's line and column.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from postloan_cli import resources, yamlio
from postloan_cli.compiled import CompiledChecklist, compile_checklist
from postloan_cli.errors import InputError, Problem
from postloan_cli.models import QUESTION_TYPES, AnswerFile, Checklist

M = TypeVar("M", bound=BaseModel)


def validation_problems(exc: ValidationError, code: str, doc: yamlio.Document) -> list[Problem]:
    """One located problem per pydantic error, in document order."""
    problems: list[Problem] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        kind = error["type"]
        where = ".".join(str(part) for part in loc if not _is_tag(part)) or "(top)"
        if kind == "extra_forbidden":
            message = f"unknown key '{loc[-1]}'" + (
                f" in {'.'.join(str(p) for p in loc[:-1] if not _is_tag(p))}"
                if len(loc) > 1
                else ""
            )
        elif kind == "missing":
            message = f"'{where}' is required"
        else:
            message = f"{where}: {_message(error)}"
        problem = Problem(code, message, path=loc)
        pos = doc.locate(loc, key=kind == "extra_forbidden")
        problems.append(problem.at(doc.file, *(pos if pos else (None, None))))
    problems.sort(key=lambda p: (p.line or 0, p.column or 0))
    return problems


def _is_tag(part: Any) -> bool:
    return isinstance(part, str) and (part in QUESTION_TYPES or part.startswith("function-"))


def _message(error: Any) -> str:
    msg = str(error["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    value = error.get("input")
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        return f"{msg} (found {shown})"
    return msg


def _validate(doc: yamlio.Document, model: type[M], code: str) -> M:
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        raise InputError(validation_problems(exc, code, doc)) from None


def read_checklist(path: Path, display: str | None = None) -> tuple[yamlio.Document, Checklist]:
    """Parse and validate a checklist file (structure only)."""
    doc = yamlio.load(path, display=display)
    return doc, _validate(doc, Checklist, "PL200")


@functools.lru_cache(maxsize=32)
def _load_compiled(path: Path, mtime_ns: int, size: int) -> CompiledChecklist:
    doc, checklist = read_checklist(path)
    try:
        return compile_checklist(checklist, doc.file)
    except InputError as exc:
        raise InputError([doc.place(p) for p in exc.problems]) from None


def load_checklist(path: Path) -> CompiledChecklist:
    """Load, validate and compile a checklist file (cached while the file is unchanged)."""
    try:
        stat = path.stat()
    except OSError:
        raise InputError([Problem("PL100", "no such checklist file", str(path))]) from None
    return _load_compiled(path.resolve(), stat.st_mtime_ns, stat.st_size)


def find_checklist(
    checklist_id: str, version: str, dirs: Sequence[Path], *, referrer: str | None = None
) -> CompiledChecklist:
    """The compiled checklist ``checklist_id`` at ``version`` from ``dirs``.

    When it does not exist the problem names the versions (or ids) that do.
    """
    path = resources.checklist_file(checklist_id, version, dirs)
    if path is None:
        versions = resources.checklist_versions(checklist_id, dirs)
        if versions:
            hint = f"versions available: {', '.join(versions)}"
            message = f"checklist '{checklist_id}' has no version '{version}'; {hint}"
        else:
            ids = resources.checklist_ids(dirs)
            message = f"no checklist with id '{checklist_id}'; checklists available: " + (
                ", ".join(ids) or "none"
            )
        raise InputError([Problem("PL205", message, referrer, path=("checklist",))])
    compiled = load_checklist(path)
    if compiled.id != checklist_id or compiled.version != version:
        raise InputError(
            [
                Problem(
                    "PL205",
                    f"file declares {compiled.id} {compiled.version}, but its path says "
                    f"{checklist_id} {version}",
                    str(path),
                )
            ]
        )
    return compiled


class UnfinishedDraft(InputError):
    """A draft saved before it was a valid answer file (e.g. loan facts still missing)."""

    def __init__(self, document: yamlio.Document) -> None:
        self.document = document
        super().__init__(
            [
                Problem(
                    "PL309",
                    "is an unfinished draft (status: draft); continue it with "
                    f"'postloan inspect --resume {document.file}'",
                    document.file,
                )
            ]
        )


@dataclass(frozen=True)
class LoadedAnswers:
    """An answer file with its parsed document and its compiled checklist."""

    document: yamlio.Document
    answers: AnswerFile
    checklist: CompiledChecklist


def load_answers(
    path: Path, checklist_dirs: Sequence[Path] = (), *, display: str | None = None
) -> LoadedAnswers:
    """Read an answer file and the checklist version it pins."""
    doc = yamlio.load(path, display=display)
    try:
        answers = _validate(doc, AnswerFile, "PL300")
    except InputError:
        # A draft is saved after every answer, long before it is complete:
        # say what it is rather than list what it still lacks.
        if doc.data.get("status") == "draft":
            raise UnfinishedDraft(doc) from None
        raise
    dirs = resources.search_path("checklists", checklist_dirs)
    try:
        checklist = find_checklist(
            answers.checklist.id, answers.checklist.version, dirs, referrer=doc.file
        )
    except InputError as exc:
        raise InputError(
            [doc.place(p) if p.file == doc.file else p for p in exc.problems]
        ) from None
    return LoadedAnswers(doc, answers, checklist)
