"""The run: find files, load them, run the enabled rules, collect located problems."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from postloan_cli import yamlio
from postloan_cli.errors import InputError, Problem
from postloan_cli.linting import (
    TEMPLATE_SUFFIXES,
    YAML_SUFFIXES,
    LintOptions,
    LintResult,
    discover,
)
from postloan_cli.linting import lock as locking
from postloan_cli.linting.model import (
    AnswersFile,
    ChecklistFile,
    Finding,
    Locator,
    Project,
    RuleInfo,
    TemplateFile,
)
from postloan_cli.linting.registry import INTERNAL, LOADING_WARNINGS, RULES, is_enabled


def looks_like_answers(data: dict[Any, Any]) -> bool:
    """An answer file pins a checklist (``checklist: {id, version}``) and names a loan."""
    return isinstance(data.get("checklist"), dict) and ("loan" in data or "answers" in data)


class Runner:
    def __init__(self, options: LintOptions) -> None:
        self.options = options
        self.problems: list[Problem] = []
        self.locks: dict[Path, locking.LockFile] = {}

    # --- helpers -----------------------------------------------------------------------

    def enabled(self, code: str) -> bool:
        return is_enabled(code, self.options.select, self.options.ignore)

    def rules(self, scope: str) -> list[RuleInfo]:
        return [r for r in RULES.values() if r.scope == scope and self.enabled(r.code)]

    def report(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            if problem.code in LOADING_WARNINGS and problem.level != "warning":
                problem = Problem(
                    problem.code,
                    problem.message,
                    problem.file,
                    problem.line,
                    problem.column,
                    "warning",
                )
            if self.enabled(problem.code):
                self.problems.append(problem)

    def apply(self, rule: RuleInfo, target: Any, file: str, locator: Locator | None) -> None:
        try:
            findings = list(rule.check(target))
        except Exception as exc:  # a bug in a rule must not hide the other findings
            self.report(
                [
                    Problem(
                        INTERNAL,
                        f"rule {rule.code} ({rule.name}) failed with {type(exc).__name__}; "
                        "this is a bug in postloan, please report it",
                        file,
                    )
                ]
            )
            return
        self.report(self.place(rule, f, file, locator) for f in findings)

    def place(
        self, rule: RuleInfo, finding: Finding, file: str, locator: Locator | None
    ) -> Problem:
        line, column = finding.line, finding.column
        if line is None and locator is not None:
            line, column = locator.locate(finding.path, key=finding.key)
        return Problem(
            finding.code or rule.code,
            finding.message,
            finding.file or file,
            line,
            column,
            finding.level or rule.level,
            path=finding.path,
        )

    def lock_for(self, checklist: Path) -> locking.LockFile:
        return self.lock_at(self.options.lock or locking.lock_path_for(checklist))

    def lock_at(self, path: Path) -> locking.LockFile:
        key = path.resolve()
        if key not in self.locks:
            self.locks[key] = locking.read_lock(path, display=str(path))
        return self.locks[key]

    # --- the run -----------------------------------------------------------------------

    def run(self, paths: Sequence[Path]) -> LintResult:
        result = LintResult(strict=self.options.strict)
        files = discover(paths, examples=self.options.examples)
        checklists: list[ChecklistFile] = []
        answers: list[tuple[Path, str, Locator]] = []
        templates: list[Path] = []
        for path, example_only in files.items():
            display = str(path)
            if path.suffix in TEMPLATE_SUFFIXES:
                templates.append(path)
            elif path.name == locking.LOCK_NAME:
                self.lock_at(path)
            elif path.suffix not in YAML_SUFFIXES:
                self.report(
                    [
                        Problem(
                            "PL100",
                            "not a .yaml or template file; not checked",
                            display,
                            level="warning",
                        )
                    ]
                )
                continue
            else:
                try:
                    doc = yamlio.load(path, display=display)
                except InputError as exc:
                    if not example_only:
                        self.report(exc.problems)
                        result.files.append(display)
                    continue
                if looks_like_answers(doc.data):
                    answers.append((path, display, Locator(doc.text)))
                elif example_only:
                    continue
                else:
                    loaded = self.load_checklist(path, doc)
                    if loaded is not None:
                        checklists.append(loaded)
            result.files.append(display)

        if self.options.update_lock:
            result.lock_changes = self.update_locks(checklists, paths)
        for ctx in checklists:
            ctx.lock = self.lock_for(ctx.path)
            for rule in self.rules("checklist"):
                self.apply(rule, ctx, ctx.display, ctx.locator)

        project = Project(checklists, self.locks)
        locators = {c.display: c.locator for c in checklists}
        for rule in self.rules("project"):
            try:
                findings = list(rule.check(project))
            except Exception as exc:
                self.report(
                    [
                        Problem(
                            INTERNAL,
                            f"rule {rule.code} failed with {type(exc).__name__}; this is a bug",
                            None,
                        )
                    ]
                )
                continue
            for finding in findings:
                file = finding.file or ""
                self.report([self.place(rule, finding, file, locators.get(file))])

        if templates:
            self.lint_templates(templates)
        if answers:
            roots = list(dict.fromkeys(c.path.parent.parent for c in checklists))
            dirs = (*roots, *self.options.checklist_dirs)
            for path, display, locator in answers:
                target = AnswersFile(path, display, tuple(dirs))
                for rule in self.rules("answers"):
                    self.apply(rule, target, display, locator)

        result.problems = sorted(
            self.problems,
            key=lambda p: (p.file or "", p.line or 0, p.column or 0, p.code, p.message),
        )
        return result

    def load_checklist(self, path: Path, doc: yamlio.Document) -> ChecklistFile | None:
        from pydantic import ValidationError

        from postloan_cli.loading import validation_problems
        from postloan_cli.models import Checklist

        try:
            checklist = Checklist.model_validate(doc.data)
        except ValidationError as exc:
            self.report(validation_problems(exc, "PL200", doc))
            return None
        return ChecklistFile(path, doc.file, doc, checklist, Locator(doc.text))

    def lint_templates(self, templates: list[Path]) -> None:
        from postloan_cli.linting.templates import context_keys, environment, template_kind

        for path in templates:
            display = str(path)
            try:
                text = yamlio.read_text(path, display=display)
            except InputError as exc:
                self.report(exc.problems)
                continue
            kind = template_kind(path)
            known = context_keys(kind) | frozenset(environment(kind).globals)
            target = TemplateFile(path, display, text, known)
            for rule in self.rules("template"):
                self.apply(rule, target, display, None)

    def update_locks(
        self, checklists: list[ChecklistFile], paths: Sequence[Path]
    ) -> dict[str, list[str]]:
        """Rewrite each lock from every checklist under its root; return the changes."""
        targets: dict[Path, list[Path]] = {}
        for ctx in checklists:
            lock_path = self.options.lock or locking.lock_path_for(ctx.path)
            targets.setdefault(lock_path, [])
            root = ctx.path.parent.parent
            if root not in targets[lock_path]:
                targets[lock_path].append(root)
        changes: dict[str, list[str]] = {}
        for lock_path, roots in targets.items():
            old = locking.read_lock(lock_path)
            entries: dict[tuple[str, str], str] = {}
            for root in roots:
                for file in sorted(root.glob("*/*.yaml")) + sorted(root.glob("*/*.yml")):
                    try:
                        data = yamlio.load(file).data
                    except InputError:
                        continue
                    cid, version = data.get("id"), data.get("version")
                    if (
                        isinstance(cid, str)
                        and isinstance(version, str)
                        and not looks_like_answers(data)
                    ):
                        entries[(cid, version)] = locking.content_hash(data)
            lines: list[str] = []
            for key in sorted(set(entries) | set(old.entries)):
                before, after = old.entries.get(key), entries.get(key)
                if before == after:
                    continue
                what = "added" if before is None else "removed" if after is None else "re-hashed"
                lines.append(f"{key[0]} {key[1]}: {what}")
            if lines or not old.exists or old.problems:
                locking.write_lock(lock_path, entries)
                self.locks.pop(lock_path.resolve(), None)
            changes[str(lock_path)] = lines
        return changes
