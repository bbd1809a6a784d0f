"""The values lint rules work on and produce.

A rule is a module with ``CODE``, ``NAME``, ``LEVEL``, ``SCOPE`` and a
``check`` function; its docstring is its documentation. ``check`` receives
one file (or, for ``SCOPE == "project"``, every checklist linted at once)
and yields :class:`Finding` values: a message and a *path* into the YAML
document. The runner turns findings into located
:class:`~postloan_cli.errors.Problem` values, once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from postloan_cli import yamlio
from postloan_cli.errors import Level

if TYPE_CHECKING:
    from jinja2 import nodes

    from postloan_cli.expressions import ExpressionError
    from postloan_cli.linting.lock import LockFile
    from postloan_cli.models import AnyQuestion, Checklist, GroupQuestion

Scope = Literal["checklist", "project", "template", "answers"]
DocPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Finding:
    """One thing a rule found: a message and where (a document path, or a line)."""

    message: str
    path: DocPath = ()
    #: Point at the last key of ``path`` rather than its value.
    key: bool = False
    line: int | None = None
    column: int | None = None
    #: Another file than the one checked (project rules).
    file: str | None = None
    level: Level | None = None
    #: Another code than the rule's (answer-file problems keep their ``PL3xx`` codes).
    code: str | None = None


@dataclass(frozen=True)
class RuleInfo:
    """A registered rule: its code, name, default level, scope, docs and check."""

    code: str
    name: str
    level: Level
    scope: Scope
    doc: str
    check: Callable[[Any], Iterable[Finding]]

    @property
    def summary(self) -> str:
        """The first line of the docstring."""
        return self.doc.strip().splitlines()[0].strip() if self.doc.strip() else self.name

    @property
    def rationale(self) -> str:
        """The docstring up to the first example."""
        text = self.doc.strip()
        head = text.split("Fails:", 1)[0]
        return " ".join(head.split())


class Locator:
    """Line and column of document paths (the node tree is composed once, cached in yamlio)."""

    def __init__(self, text: str) -> None:
        self._text = text

    def locate(self, path: Sequence[str | int], *, key: bool = False) -> tuple[int, int]:
        """1-based position of ``path`` (the deepest node reached); ``(1, 1)`` if none."""
        return yamlio.locate(self._text, path, key=key) or (1, 1)


# --- checklist files ----------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionSite:
    """A question (top-level or a group field) and where it is."""

    question: AnyQuestion
    path: DocPath
    #: Interview order of top-level questions; group fields share their group's order.
    order: int
    #: The group a field belongs to (``None`` for top-level questions).
    group: GroupQuestion | None = None


@dataclass(frozen=True)
class ExprSite:
    """One expression of a checklist, parsed once for every rule."""

    source: str
    #: Path of the expression's value in the document.
    path: DocPath
    #: ``question_when``, ``field_when``, ``computed``, ``group_computed`` or ``rule``.
    kind: str
    #: Item fields visible as ``item.*`` (group computed values, rules with ``for_each``).
    item_fields: frozenset[str] | None = None
    #: The group whose items the expression sees as ``item``.
    group: GroupQuestion | None = None
    #: The question a ``when`` belongs to.
    question: QuestionSite | None = None
    #: Position in its group's computed list (group computed values).
    index: int = 0
    tree: nodes.Expr | None = None
    error: ExpressionError | None = None

    @property
    def names(self) -> frozenset[str]:
        from postloan_cli.expressions import names_used

        if self.tree is None:
            return frozenset()
        return names_used(self.tree)[0]


@dataclass
class ChecklistFile:
    """A checklist that loaded and matches the model: what checklist rules see."""

    path: Path
    display: str
    document: yamlio.Document
    checklist: Checklist
    locator: Locator
    lock: LockFile | None = None

    @functools.cached_property
    def questions(self) -> dict[str, QuestionSite]:
        """Top-level questions by id (first occurrence), in interview order."""
        found: dict[str, QuestionSite] = {}
        order = 0
        for s_index, section in enumerate(self.checklist.sections):
            for q_index, question in enumerate(section.questions):
                if question.id not in found:
                    path: DocPath = ("sections", s_index, "questions", q_index)
                    found[question.id] = QuestionSite(question, path, order)
                    order += 1
        return found

    @functools.cached_property
    def all_questions(self) -> list[QuestionSite]:
        """Every question and group field, in document order."""
        from postloan_cli.models import GroupQuestion

        result: list[QuestionSite] = []
        order = 0
        for s_index, section in enumerate(self.checklist.sections):
            for q_index, question in enumerate(section.questions):
                path: DocPath = ("sections", s_index, "questions", q_index)
                result.append(QuestionSite(question, path, order))
                if isinstance(question, GroupQuestion):
                    for f_index, item in enumerate(question.fields):
                        result.append(
                            QuestionSite(item, (*path, "fields", f_index), order, question)
                        )
                order += 1
        return result

    @functools.cached_property
    def computed_ids(self) -> dict[str, DocPath]:
        """Section-level computed values by id (first occurrence)."""
        found: dict[str, DocPath] = {}
        for s_index, section in enumerate(self.checklist.sections):
            for c_index, comp in enumerate(section.computed):
                found.setdefault(comp.id, ("sections", s_index, "computed", c_index))
        return found

    @functools.cached_property
    def thresholds(self) -> dict[str, Any]:
        return {t.id: t for t in self.checklist.thresholds}

    @functools.cached_property
    def expressions(self) -> list[ExprSite]:
        """Every expression of the checklist, parsed, in document order."""
        from postloan_cli.models import GroupQuestion

        sites: list[ExprSite] = []
        for site in self.all_questions:
            question = site.question
            if question.when:
                kind = "field_when" if site.group is not None else "question_when"
                fields = _item_fields(site.group) if site.group is not None else None
                sites.append(
                    _parsed(
                        ExprSite(
                            question.when,
                            (*site.path, "when"),
                            kind,
                            fields,
                            site.group,
                            site,
                        )
                    )
                )
            if isinstance(question, GroupQuestion):
                fields = _item_fields(question)
                for c_index, comp in enumerate(question.computed):
                    cpath = (*site.path, "computed", c_index, "expr")
                    sites.append(
                        _parsed(
                            ExprSite(
                                comp.expr, cpath, "group_computed", fields, question, index=c_index
                            )
                        )
                    )
        for s_index, section in enumerate(self.checklist.sections):
            for c_index, comp in enumerate(section.computed):
                cpath = ("sections", s_index, "computed", c_index, "expr")
                sites.append(_parsed(ExprSite(comp.expr, cpath, "computed")))
        for s_index, section in enumerate(self.checklist.sections):
            for r_index, rule in enumerate(section.rules):
                rpath: DocPath = ("sections", s_index, "rules", r_index, "when")
                group: GroupQuestion | None = None
                fields = None
                if rule.for_each is not None:
                    target = self.questions.get(rule.for_each)
                    if target is not None and isinstance(target.question, GroupQuestion):
                        group = target.question
                        fields = _item_fields(group)
                sites.append(_parsed(ExprSite(rule.when, rpath, "rule", fields, group)))
        return sites

    def question_of(self, node: nodes.Node, site: ExprSite) -> AnyQuestion | None:
        """The question an expression node reads: ``qid`` or ``item.field``."""
        from jinja2 import nodes as n

        if isinstance(node, n.Name):
            ref = self.questions.get(node.name)
            return ref.question if ref is not None else None
        if (
            isinstance(node, n.Getattr)
            and isinstance(node.node, n.Name)
            and node.node.name == "item"
            and site.group is not None
        ):
            for item in site.group.fields:
                if item.id == node.attr:
                    return item
        return None


def _item_fields(group: GroupQuestion) -> frozenset[str]:
    return frozenset([f.id for f in group.fields] + [c.id for c in group.computed])


def _parsed(site: ExprSite) -> ExprSite:
    from dataclasses import replace

    from postloan_cli.expressions import ExpressionError, parse

    try:
        return replace(site, tree=parse(site.source))
    except ExpressionError as exc:
        return replace(site, error=exc)


def compares(tree: nodes.Node) -> Iterator[tuple[nodes.Expr, str, nodes.Expr]]:
    """Every binary comparison ``left op right`` in ``tree`` (chains split in pairs)."""
    from jinja2 import nodes as n

    found = [tree] if isinstance(tree, n.Compare) else []
    for compare in [*found, *tree.find_all(n.Compare)]:
        assert isinstance(compare, n.Compare)
        left = compare.expr
        for operand in compare.ops:
            yield left, operand.op, operand.expr
            left = operand.expr


# --- templates and answer files ------------------------------------------------------------


@dataclass(frozen=True)
class TemplateFile:
    path: Path
    display: str
    text: str
    #: Names a template may read (report context keys and environment globals).
    known: frozenset[str]


@dataclass(frozen=True)
class AnswersFile:
    path: Path
    display: str
    checklist_dirs: tuple[Path, ...]
    #: Checklist files (``id``, ``version``) linted in this run that have errors.
    broken: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass
class Project:
    """Every checklist of the run at once, for rules across files (versions, lock)."""

    checklists: list[ChecklistFile]
    locks: dict[Path, LockFile]

    def locked(self) -> Iterator[tuple[ChecklistFile, LockFile, tuple[str, str]]]:
        """Each checklist whose lock file exists and reads cleanly, with its (id, version)."""
        for ctx in self.checklists:
            lock = ctx.lock
            if lock is None or not lock.exists or lock.problems:
                continue  # no lock: version checks are off; a broken one is CL305's
            yield ctx, lock, (ctx.checklist.id, ctx.checklist.version)
