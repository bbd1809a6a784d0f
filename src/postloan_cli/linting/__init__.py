"""``postloan lint``: checks for checklists, templates and example answer files.

:func:`lint_paths` is the library entry point: it finds the files under the
given paths, loads each one (a file that does not load or does not match the
model gets its ``PL1xx``/``PL200`` problems and no more), runs every enabled
rule of :mod:`postloan_cli.linting.registry` and returns every problem,
located, in a :class:`LintResult`. One bad file never stops the run, and no
input makes it raise: reporting is the CLI's job
(:mod:`postloan_cli.linting.reporters`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from postloan_cli.errors import EXIT_FINDINGS, EXIT_OK, InputError, Problem

YAML_SUFFIXES = (".yaml", ".yml")
TEMPLATE_SUFFIXES = (".j2", ".jinja", ".jinja2")
_SKIP_DIRS = {"__pycache__", "node_modules"}


@dataclass(frozen=True)
class LintOptions:
    """What to check and how."""

    #: Codes (or prefixes) to report; ``None``: every rule.
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    #: Warnings fail the run too.
    strict: bool = False
    #: One lock file for every checklist (default: ``<root>/postloan.lock`` per root).
    lock: Path | None = None
    #: Rewrite the lock file(s) from the checklists before checking.
    update_lock: bool = False
    #: Extra folders searched for the checklists example answer files pin.
    checklist_dirs: tuple[Path, ...] = ()
    #: Also check answer files in an ``examples`` folder beside a linted folder.
    examples: bool = True


@dataclass
class LintResult:
    """Every problem found, and what was checked."""

    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    #: Lock files written by ``update_lock``, with one line per changed entry.
    lock_changes: dict[str, list[str]] = field(default_factory=dict)
    strict: bool = False

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "warning"]

    @property
    def exit_code(self) -> int:
        """1 when an error (or, strict, a warning) was found, else 0."""
        failing = self.problems if self.strict else self.errors
        return EXIT_FINDINGS if failing else EXIT_OK


def lint_paths(paths: Sequence[Path], options: LintOptions | None = None) -> LintResult:
    """Lint every checklist, template and answer file under ``paths``."""
    from postloan_cli.linting.runner import Runner

    return Runner(options or LintOptions()).run(paths)


def discover(paths: Iterable[Path], *, examples: bool = True) -> dict[Path, bool]:
    """Files to lint under ``paths`` (folders walked, hidden entries skipped).

    The value is true for files found only in an ``examples`` folder beside
    a given folder (``checklists/`` brings ``examples/``): of those, only
    answer files are checked.
    """
    found: dict[Path, bool] = {}
    extra: dict[Path, bool] = {}
    for path in paths:
        if path.is_dir():
            for item in _walk(path):
                found.setdefault(item, False)
            sibling = path.resolve().parent / "examples"
            if examples and sibling.is_dir() and sibling != path.resolve():
                for item in _walk(sibling):
                    if item.suffix in YAML_SUFFIXES:
                        extra.setdefault(_relative(item), True)
        else:
            found.setdefault(path, False)
    seen = {p.resolve() for p in found}
    for item, flag in extra.items():
        if item.resolve() not in seen:
            found[item] = flag
    return found


def _relative(path: Path) -> Path:
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _walk(folder: Path) -> list[Path]:
    result: list[Path] = []
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return result
    for entry in entries:
        if entry.name.startswith(".") or entry.name in _SKIP_DIRS:
            continue
        if entry.is_dir():
            result.extend(_walk(entry))
        elif entry.suffix in YAML_SUFFIXES + TEMPLATE_SUFFIXES:
            result.append(entry)
    return result


__all__ = ["InputError", "LintOptions", "LintResult", "discover", "lint_paths"]
