"""Loading checklists and answer files into models, with located problems.

The fast path parses with the C loader and validates with pydantic; only a
file that fails pays for locating each error's line and column.

A checklist that loaded and compiled cleanly is also kept, validated, in the
persistent compile cache (:mod:`postloan_cli.cache`), keyed by the hash of
its bytes and of the code that reads it: parsing and validating the shipped
checklist (~150 KB of YAML) costs more than the rest of a one-file
``postloan inspect``, and it only changes when the file or postloan does.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG
from types import ModuleType
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
        # What ``model.model_validate`` does, without its Python layer (its
        # options checks and keyword arguments): an answer file is validated
        # per file in a batch.
        validated: M = model.__pydantic_validator__.validate_python(doc.data)
    except ValidationError as exc:
        raise InputError(validation_problems(exc, code, doc)) from None
    return validated


def read_checklist(path: Path, display: str | None = None) -> tuple[yamlio.Document, Checklist]:
    """Parse and validate a checklist file (structure only)."""
    doc = yamlio.load(path, display=display)
    return doc, _validate(doc, Checklist, "PL200")


@functools.lru_cache(maxsize=32)
def _load_compiled(path: Path, mtime_ns: int, size: int) -> CompiledChecklist:
    stored = _StoredChecklist(path, size)
    checklist = stored.get()
    if checklist is not None:
        # Validated and compiled without errors when it was stored: compiling
        # again is quick (expressions come from the cache) and cannot fail.
        return compile_checklist(checklist, str(path))
    doc, checklist = read_checklist(path)
    try:
        compiled = compile_checklist(checklist, doc.file)
    except InputError as exc:
        raise InputError([doc.place(p) for p in exc.problems]) from None
    stored.put(checklist)
    return compiled


#: Bumped when the layout of a stored checklist changes.
_STORE_LAYOUT = 1


@functools.cache
def _code_fingerprint() -> str:
    """What a stored checklist depends on besides the file: the code that read it.

    The source text of the models, of the YAML reader and of this module,
    the versions of the libraries they use (pydantic, the YAML parsers) and
    Python's: an edited model or parser never meets a checklist read by its
    older self. Empty when a source cannot be read (nothing is then stored).
    """
    import pydantic

    from postloan_cli import models

    digest = hashlib.sha256(
        f"{_STORE_LAYOUT}|{sys.implementation.cache_tag}|{pydantic.VERSION}|"
        f"{yamlio.parser_versions()}".encode()
    )
    for module in (models, yamlio, sys.modules[__name__]):
        try:
            digest.update(Path(str(module.__file__)).read_bytes())
        except (OSError, TypeError):
            return ""
        used = (v for v in vars(module).values() if isinstance(v, ModuleType))
        libraries = sorted(f"{m.__name__}={getattr(m, '__version__', '')}" for m in used)
        digest.update("|".join(libraries).encode())
    return digest.hexdigest()


class _StoredChecklist:
    """The validated checklist of one checklist file, in the compile cache."""

    def __init__(self, path: Path, size: int) -> None:
        self._file: Path | None = None
        if size > yamlio.MAX_BYTES:
            return  # read_checklist refuses it, without reading it all
        from postloan_cli.cache import cache_dir

        folder = cache_dir()
        fingerprint = _code_fingerprint() if folder is not None else ""
        if folder is None or not fingerprint:
            return
        try:
            content = path.read_bytes()
        except OSError:
            return  # read_checklist reports it
        key = hashlib.sha256(f"{fingerprint}|".encode() + content).hexdigest()
        self._file = folder / "checklists" / f"{key}.pickle"

    def get(self) -> Checklist | None:
        """The stored checklist; ``None`` when absent, disabled or unusable."""
        if self._file is None:
            return None
        try:
            data = self._file.read_bytes()
        except OSError:
            return None
        try:
            # Our own file, written by put() below, named by the hash of the
            # checklist and the code: cache_dir() refuses a folder that anyone
            # but the user owns or may write to, so nobody else can plant it.
            checklist = pickle.loads(data)  # noqa: S301  # safe: private cache folder, our own file
        except Exception:  # damaged, truncated or foreign: read the YAML again
            return None
        return checklist if isinstance(checklist, Checklist) else None

    def put(self, checklist: Checklist) -> None:
        """Store ``checklist`` (silently skipped when the cache is unusable)."""
        if self._file is None:
            return
        from postloan_cli.cache import write_atomic

        try:
            self._file.parent.mkdir(exist_ok=True)
            data = pickle.dumps(checklist, protocol=pickle.HIGHEST_PROTOCOL)
        except (OSError, pickle.PicklingError, TypeError):
            return
        write_atomic(self._file, data)


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
    folders = tuple(dirs)
    key = (folders, checklist_id, version)
    found = _FOUND.get(key)
    stat = found.recheck() if found is not None else None
    if found is None or stat is None:
        found, stat = _search(checklist_id, version, folders, referrer)
        if len(_FOUND) >= _FOUND_MAX:
            _FOUND.clear()
        _FOUND[key] = found
    compiled = _load_compiled(found.resolved, stat.st_mtime_ns, stat.st_size)
    if compiled.id != checklist_id or compiled.version != version:
        raise InputError(
            [
                Problem(
                    "PL205",
                    f"file declares {compiled.id} {compiled.version}, but its path says "
                    f"{checklist_id} {version}",
                    str(found.path),
                )
            ]
        )
    return compiled


@dataclass(frozen=True)
class _Found:
    """Where :func:`find_checklist` found a checklist file, and what shows it still would.

    Searching (a ``stat`` per folder, then resolving the path: a dozen system
    calls and path objects) cost more than anything else about a checklist
    in a batch, where every answer file asks for the same one. ``recheck``
    does what the search depends on with one ``stat``: the file is the same
    (device, inode, modification time and size; an edited or replaced file
    differs) and no earlier folder has gained the file since. What the search
    would do again is then known, so the result is the one a search gives.
    """

    #: The candidates in earlier folders, which were not files.
    absent: tuple[Path, ...]
    path: Path
    resolved: Path
    identity: tuple[int, int, int, int]

    def recheck(self) -> os.stat_result | None:
        """The file's ``stat`` if a search would find the same file; else ``None``."""
        for candidate in self.absent:
            if candidate.is_file():
                return None
        try:
            stat = os.stat(self.path)
        except (OSError, ValueError):
            return None
        if _identity(stat) != self.identity or not S_ISREG(stat.st_mode):
            return None
        return stat


#: :func:`find_checklist`'s searches, by (folders, id, version); bounded
#: (when full it starts again), as a long-lived process may see many folders.
_FOUND: dict[tuple[tuple[Path, ...], str, str], _Found] = {}
_FOUND_MAX = 256


def _identity(stat: os.stat_result) -> tuple[int, int, int, int]:
    return (stat.st_dev, stat.st_ino, stat.st_mtime_ns, stat.st_size)


def _search(
    checklist_id: str, version: str, dirs: Sequence[Path], referrer: str | None
) -> tuple[_Found, os.stat_result]:
    """Search ``dirs`` for the checklist file, or raise the problem that names what exists."""
    candidates = resources.checklist_candidates(checklist_id, version, dirs)
    index = next((i for i, candidate in enumerate(candidates) if candidate.is_file()), None)
    if index is None:
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
    path = candidates[index]
    try:
        stat = path.stat()
    except OSError:
        raise InputError([Problem("PL100", "no such checklist file", str(path))]) from None
    found = _Found(tuple(candidates[:index]), path, path.resolve(), _identity(stat))
    return found, stat


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
    path: Path,
    checklist_dirs: Sequence[Path] = (),
    *,
    display: str | None = None,
    raw: bytes | None = None,
) -> LoadedAnswers:
    """Read an answer file and the checklist version it pins (``raw``: its bytes, if read)."""
    doc = yamlio.load(path, display=display, raw=raw)
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
