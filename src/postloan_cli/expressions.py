"""The expression language of checklists: sandboxed Jinja2 expressions.

Conditions (``when``), computed values (``expr``) and warning rules are
written as Jinja2 expressions, e.g.::

    loan.days_past_due > threshold.overdue_substandard_days
    item.current_assets / item.current_liabilities
    funds_used_as_contracted == false and loan.type == 'working_capital'

They are compiled once per checklist by Jinja2's *immutable sandbox*: no
Python ``eval``; attributes starting with ``_`` are refused both when the
checklist loads (statically, so ``().__class__.__mro__`` never runs) and
at run time by the sandbox.

Semantics that matter to rule authors:

* an unanswered question is ``none``;
* an expression that cannot be computed because an input is missing
  (``none > 3``, division by zero) yields ``none``; a condition that is
  ``none`` is false, so a rule never fires on missing data;
* money, decimals and percents are plain numbers (percent in per-hundred
  units: ``70`` is 70 %); dates are dates and compare as such.

Functions available besides Jinja2's filters and tests: ``days_between(a,
b)``, ``latest(items, field)``, ``previous(items, field)``,
``pct_change(new, old)``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import nodes
    from jinja2.sandbox import ImmutableSandboxedEnvironment


class ExpressionError(Exception):
    """An expression that cannot be compiled or run; ``code`` is a problem code."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


def days_between(start: Any, end: Any) -> int | None:
    """Whole days from ``start`` to ``end`` (negative if ``end`` is earlier)."""
    if not isinstance(start, dt.date) or not isinstance(end, dt.date):
        return None
    return (end - start).days


def _sorted_by(items: Any, key: str) -> list[Mapping[str, Any]]:
    if not isinstance(items, list):
        return []
    usable = [i for i in items if isinstance(i, Mapping) and i.get(key) is not None]
    return sorted(usable, key=lambda i: i[key])


def latest(items: Any, key: str) -> Mapping[str, Any] | None:
    """The item of a repeating group with the greatest ``key`` (e.g. ``period_end``)."""
    ordered = _sorted_by(items, key)
    return ordered[-1] if ordered else None


def previous(items: Any, key: str) -> Mapping[str, Any] | None:
    """The item just before :func:`latest` by ``key``."""
    ordered = _sorted_by(items, key)
    return ordered[-2] if len(ordered) >= 2 else None


def pct_change(new: Any, old: Any) -> float | None:
    """Change from ``old`` to ``new`` in percent, ``none`` when not computable."""
    if not isinstance(new, int | float) or not isinstance(old, int | float) or old == 0:
        return None
    return (float(new) - float(old)) / abs(float(old)) * 100.0


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "days_between": days_between,
    "latest": latest,
    "previous": previous,
    "pct_change": pct_change,
}

#: Names every expression may use besides question and computed ids.
CONTEXT_NAMES = frozenset({"loan", "inspection", "threshold", *FUNCTIONS})


@functools.cache
def environment() -> ImmutableSandboxedEnvironment:
    """The one sandbox all checklist expressions compile in."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    env.globals.clear()
    env.globals.update(FUNCTIONS)
    return env


@dataclass(frozen=True)
class Expression:
    """A compiled expression and the names it reads."""

    source: str
    #: Top-level names read (question ids, ``loan``, ``item``...).
    names: frozenset[str]
    #: Attributes read per top-level name: ``{"item": {"value"}, "loan": {"type"}}``.
    attributes: Mapping[str, frozenset[str]] = field(default_factory=dict)
    _template: Any = field(default=None, repr=False, compare=False)

    def evaluate(self, namespace: dict[str, Any]) -> Any:
        """Run the expression; ``None`` when an input is missing or arithmetic fails.

        ``namespace`` is used as the context as is (not copied): evaluating
        a hundred expressions per answer file must not copy it a hundred
        times. Start it from :func:`base_namespace` so the functions are there.
        """
        from jinja2.exceptions import SecurityError, UndefinedError
        from jinja2.runtime import Undefined

        if "latest" not in namespace:
            namespace = {**FUNCTIONS, **namespace}
        template = self._template
        try:
            context = template.new_context(namespace, shared=True)
            for _ in template.root_render_func(context):
                pass
            result = context.vars["result"]
        except SecurityError as exc:
            raise ExpressionError("PL203", f"refused by the sandbox: {exc}") from None
        except (TypeError, ZeroDivisionError, ValueError, ArithmeticError, UndefinedError):
            return None
        return None if isinstance(result, Undefined) else result

    def test(self, namespace: dict[str, Any]) -> bool:
        """Evaluate as a condition: true only for a true result."""
        return bool(self.evaluate(namespace))


def parse(source: str) -> nodes.Expr:
    """Parse ``source`` into a Jinja2 expression node, or raise :class:`ExpressionError`."""
    from jinja2 import nodes
    from jinja2.exceptions import TemplateSyntaxError

    env = environment()
    try:
        parser_input = env.parse("{{ " + source + " }}")
    except TemplateSyntaxError as exc:
        raise ExpressionError("PL201", f"expression does not parse: {exc.message}") from None
    body = parser_input.body
    if (
        len(body) != 1
        or not isinstance(body[0], nodes.Output)
        or len(body[0].nodes) != 1
        or not isinstance(body[0].nodes[0], nodes.Expr)
        or "}}" in source
        or "{%" in source
    ):
        raise ExpressionError("PL201", "expression does not parse: expected one expression")
    expr = body[0].nodes[0]
    _refuse_internals(expr)
    return expr


def _refuse_internals(tree: nodes.Node) -> None:
    from jinja2 import nodes

    # find_all() yields descendants only; the root can be the offending node.
    candidates = [tree, *tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name))]
    for node in candidates:
        name: object = None
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node, nodes.Name):
            name = node.name
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = node.arg.value
        if isinstance(name, str) and name.startswith("_"):
            raise ExpressionError(
                "PL203",
                f"'{name}' reaches for Python internals; expressions may only read answers",
            )


def names_used(tree: nodes.Node) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """Top-level names and the attributes read from each."""
    from jinja2 import nodes

    everything = [tree, *tree.find_all(nodes.Node)]
    names = frozenset(n.name for n in everything if isinstance(n, nodes.Name) and n.ctx == "load")
    attrs: dict[str, set[str]] = {}
    for node in (n for n in everything if isinstance(n, nodes.Getattr)):
        if isinstance(node.node, nodes.Name):
            attrs.setdefault(node.node.name, set()).add(node.attr)
    for item in (n for n in everything if isinstance(n, nodes.Getitem)):
        if (
            isinstance(item.node, nodes.Name)
            and isinstance(item.arg, nodes.Const)
            and isinstance(item.arg.value, str)
        ):
            attrs.setdefault(item.node.name, set()).add(item.arg.value)
    return names, {k: frozenset(v) for k, v in attrs.items()}


@functools.lru_cache(maxsize=4096)
def compile_expression(source: str) -> Expression:
    """Parse, check and compile ``source``; raise :class:`ExpressionError` if unusable.

    The compiled code is kept in the persistent compile cache
    (:mod:`postloan_cli.cache`), keyed by the source: an expression that was
    checked and compiled once is not parsed nor compiled again. Only
    expressions that passed every check are stored.
    """
    from postloan_cli.cache import EXPRESSIONS

    entry = EXPRESSIONS.get(source)
    if entry is not None:
        names, attrs, code = entry
        return Expression(source, names, attrs, _from_code(code))
    tree = parse(source)
    names, attrs = names_used(tree)
    code = _compile(tree)
    EXPRESSIONS.put(source, (names, attrs, code))
    return Expression(source, names, attrs, _from_code(code))


def _compile(expr: nodes.Expr) -> Any:
    """Python code for ``result = <expr>``, as ``Environment.compile_expression`` builds it."""
    from jinja2 import nodes

    body = [nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)]
    return environment().compile(nodes.Template(body, lineno=1))


def _from_code(code: Any) -> Any:
    """The template Expression.evaluate runs: a shared context, no dict copy per call."""
    env = environment()
    return env.template_class.from_code(env, code, env.make_globals(None), None)


def save_compiled() -> None:
    """Write newly compiled expressions to the persistent cache (if enabled)."""
    from postloan_cli.cache import EXPRESSIONS

    EXPRESSIONS.save()


def base_namespace() -> dict[str, Any]:
    """A fresh namespace holding the expression functions."""
    return dict(FUNCTIONS)


def check_names(
    expr: Expression,
    known: Iterable[str],
    attributes: Mapping[str, Iterable[str]],
) -> list[str]:
    """Messages for names and attributes ``expr`` reads that are not defined.

    ``attributes`` lists, for names that are records (``loan``, ``item``,
    ``threshold``), the attributes they have.
    """
    known_set = set(known)
    problems = [f"unknown name '{name}'" for name in sorted(expr.names) if name not in known_set]
    for name, used in sorted(expr.attributes.items()):
        if name in attributes and name in expr.names:
            allowed = set(attributes[name])
            for attr in sorted(used - allowed):
                problems.append(f"'{name}' has no field '{attr}'")
    return problems
