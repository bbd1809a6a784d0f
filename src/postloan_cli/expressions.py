"""The expression language of checklists: sandboxed Jinja2 expressions.

Conditions (``when``), computed values (``expr``) and warning rules are
written as Jinja2 expressions, e.g.::

    loan.days_past_due > threshold.overdue_substandard_days
    item.current_assets / item.current_liabilities
    funds_used_as_contracted == false and loan.type == 'working_capital'

They are parsed once per checklist by Jinja2 and run with the semantics
of Jinja2's *immutable sandbox*: no Python ``eval``; attributes starting
with ``_`` are refused both when the checklist loads (statically, so
``().__class__.__mro__`` never runs) and at run time by the sandbox. The
usual expressions run as a tree of closures that reproduce, node for node,
what the sandbox's generated code does (a hundred expressions per answer
file, each cheaper than creating a template context); the rest run as
Jinja2 templates (see :func:`compile_expression`).

Semantics that matter to rule authors:

* an unanswered question is ``none``;
* an expression that cannot be computed because an input is missing
  (``none > 3``, division by zero) yields ``none``; a condition that is
  ``none`` is false, so a rule never fires on missing data;
* money, decimals and percents are plain numbers (percent in per-hundred
  units: ``70`` is 70 %); dates are dates and compare as such.

Functions available besides Jinja2's tests and the filters in
:data:`FILTERS`: ``days_between(a, b)``, ``latest(items, field)``,
``previous(items, field)``, ``pct_change(new, old)``. Repetition (``*``),
powers (``**``) and joining (``+``, ``~``) are bounded, so that no
expression can exhaust memory or time.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Set
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
    usable = [
        i
        for i in items
        if (i.__class__ is dict or isinstance(i, Mapping)) and i.get(key) is not None
    ]
    return sorted(usable, key=operator.itemgetter(key))


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

    class Sandbox(ImmutableSandboxedEnvironment):
        # Jinja's sandbox bounds ``range`` but not ``*``, ``**`` or ``+``:
        # ``[1] * 10 ** 9`` would exhaust memory. These go through call_binop.
        intercepted_binops = frozenset(_BOUNDED)

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            return _BOUNDED[operator](left, right)

    env = Sandbox(undefined=StrictUndefined, autoescape=False)
    env.globals.clear()
    env.globals.update(FUNCTIONS)
    filters = {name: env.filters[name] for name in FILTERS if name in env.filters}
    filters["join"] = _bounded_join(filters["join"])
    env.filters = filters
    return env


def _bounded_join(join: Callable[..., Any]) -> Callable[..., Any]:
    """Jinja2's ``join``, refusing results longer than :data:`MAX_JOINED`."""
    from jinja2.utils import pass_eval_context

    @pass_eval_context
    def bounded(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> Any:
        items = list(value) if not isinstance(value, list | tuple) else value
        if _size(items) + len(str(d)) * len(items) > MAX_JOINED:
            raise _too_large(f"a string longer than {MAX_JOINED:,}")
        return join(eval_ctx, items, d, attribute)

    return bounded


#: The Jinja2 filters checklist expressions may use: pure, deterministic, and
#: bounded by their inputs (``center(10 ** 9)``, ``indent``, ``format``,
#: ``wordwrap`` or ``random`` are not).
FILTERS = (
    *("abs", "attr", "capitalize", "count", "d", "default", "dictsort", "first", "float"),
    *("groupby", "int", "items", "join", "last", "length", "list", "lower", "map", "max"),
    *("min", "reject", "rejectattr", "reverse", "round", "select", "selectattr", "sort"),
    *("string", "sum", "title", "trim", "unique", "upper", "wordcount"),
)

#: The longest string or list ``*`` may build, and the most bits ``**`` may
#: make: far above any checklist's need, far below exhausting memory or time.
MAX_REPEAT = 100_000
MAX_POWER_BITS = 10_000
#: The longest string or list ``+`` or ``~`` may build (answer files are at most 2 MiB).
MAX_JOINED = 4 * 1024 * 1024


def _sized(value: Any) -> bool:
    return isinstance(value, str | list | tuple)


def _size(value: Any, seen: dict[int, int] | None = None) -> int:
    """How much ``value`` holds: characters of strings, items of lists, counted
    through nested lists (a list of a thousand references to one long string
    counts that string a thousand times: joining or mapping it would)."""
    if isinstance(value, str):
        return len(value)
    if not isinstance(value, list | tuple):
        return 1
    seen = {} if seen is None else seen
    key = id(value)
    if key not in seen:
        seen[key] = len(value) + sum(_size(item, seen) for item in value)
    return seen[key]


def _too_large(what: str) -> ExpressionError:
    return ExpressionError("PL203", f"refused by the sandbox: {what}")


#: Operand types that are certainly not strings or lists (``*`` and ``+`` of two of
#: them build nothing): checked by exact type, before the general checks.
_NUMBERS: frozenset[type[Any]] = frozenset({int, float})


def bounded_mul(left: Any, right: Any) -> Any:
    """``left * right``, refusing to repeat a string or list past :data:`MAX_REPEAT`."""
    if left.__class__ in _NUMBERS and right.__class__ in _NUMBERS:
        return left * right  # ``100 * item.x``: the usual case, nothing repeated
    for seq, times in ((left, right), (right, left)):
        if _sized(seq) and isinstance(times, int) and _size(seq) * times > MAX_REPEAT:
            raise _too_large(f"a repetition longer than {MAX_REPEAT:,}")
    return left * right


def bounded_pow(left: Any, right: Any) -> Any:
    """``left ** right``, refusing whole numbers of more than :data:`MAX_POWER_BITS` bits."""
    if (
        isinstance(left, int)
        and isinstance(right, int)
        and right > 0
        and abs(left) > 1
        and (abs(left).bit_length() - 1) * right > MAX_POWER_BITS
    ):
        raise _too_large(f"a power of more than {MAX_POWER_BITS:,} bits")
    return left**right


def bounded_add(left: Any, right: Any) -> Any:
    """``left + right``, refusing strings or lists longer than :data:`MAX_JOINED`."""
    if left.__class__ in _NUMBERS and right.__class__ in _NUMBERS:
        return left + right
    if _sized(left) and _sized(right) and _size(left) + _size(right) > MAX_JOINED:
        raise _too_large(f"a string or list longer than {MAX_JOINED:,}")
    return left + right


def bounded_concat(parts: list[str]) -> str:
    """``a ~ b``: the parts joined, refusing results longer than :data:`MAX_JOINED`."""
    if sum(map(len, parts)) > MAX_JOINED:
        raise _too_large(f"a string longer than {MAX_JOINED:,}")
    return "".join(parts)


_BOUNDED: dict[str, Callable[[Any, Any], Any]] = {
    "*": bounded_mul,
    "**": bounded_pow,
    "+": bounded_add,
}


#: What :meth:`Expression.evaluate` runs: the namespace in, the raw result out.
Runner = Callable[[dict[str, Any]], Any]

#: Result types that are certainly not Jinja's ``Undefined`` (checked without importing Jinja2).
_PLAIN_RESULTS = frozenset({bool, int, float, str, type(None), dt.date, list, dict, tuple})


#: Errors that make an expression's value ``None`` (an input missing, arithmetic failing).
_NONE_ERRORS = (TypeError, ZeroDivisionError, ValueError, ArithmeticError)


@dataclass(frozen=True)
class Expression:
    """A compiled expression and the names it reads."""

    source: str
    #: Top-level names read (question ids, ``loan``, ``item``...).
    names: frozenset[str]
    #: Attributes read per top-level name: ``{"item": {"value"}, "loan": {"type"}}``.
    attributes: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: The compiled expression: a tree of closures (see :func:`_lower`) or, for
    #: what those do not cover, the Jinja2 template run as before.
    _run: Runner | None = field(default=None, repr=False, compare=False)
    #: :meth:`evaluate` for a namespace holding the functions, as one closure
    #: (see :attr:`runner`); ``None``: :meth:`evaluate` itself.
    _checked: Runner | None = field(default=None, repr=False, compare=False)
    #: The closures' blueprint (see :func:`_lower`); ``None`` when run by Jinja2.
    _blueprint: tuple[Any, ...] | None = field(default=None, repr=False, compare=False)

    def evaluate(self, namespace: dict[str, Any]) -> Any:
        """Run the expression; ``None`` when an input is missing or arithmetic fails.

        ``namespace`` is used as the context as is (not copied): evaluating
        a hundred expressions per answer file must not copy it a hundred
        times. Start it from :func:`base_namespace` so the functions are there.
        """
        if "latest" not in namespace:
            namespace = {**FUNCTIONS, **namespace}
        run = self._run
        if run is None:
            raise ValueError(f"expression {self.source!r} was not compiled")
        try:
            result = run(namespace)
        except _NONE_ERRORS:
            return None
        except Exception as exc:
            return _failed(exc)
        if result.__class__ in _PLAIN_RESULTS:
            return result
        return _defined(result)

    @property
    def runner(self) -> Runner:
        """:meth:`evaluate` for namespaces started from :func:`base_namespace`.

        The same results and the same errors, with less work per call: for
        the usual expressions (``answer == 'x'``, ``a or b``...) one closure
        runs the expression and does what :meth:`evaluate` does with its
        result. Bind it once (an evaluation plan does) and call it per file.
        """
        checked = self._checked
        return self.evaluate if checked is None else checked

    def test(self, namespace: dict[str, Any]) -> bool:
        """Evaluate as a condition: true only for a true result."""
        return bool(self.evaluate(namespace))


def _failed(exc: Exception) -> None:
    """What evaluating makes of an exception other than :data:`_NONE_ERRORS`.

    A sandbox refusal is a PL203 :class:`ExpressionError`, an undefined value
    is ``None``; anything else is raised again.
    """
    # Only Jinja2 raises these, so only then is it imported here.
    from jinja2.exceptions import SecurityError, UndefinedError

    if isinstance(exc, SecurityError):
        raise ExpressionError("PL203", f"refused by the sandbox: {exc}") from None
    if isinstance(exc, UndefinedError):
        return None
    if isinstance(exc, StopIteration):
        # What escapes a template's generator instead (PEP 479).
        raise RuntimeError("generator raised StopIteration") from exc
    raise exc


def _defined(result: Any) -> Any:
    """An expression's result of a type not in :data:`_PLAIN_RESULTS`: ``None`` if undefined."""
    from jinja2.runtime import Undefined

    return None if isinstance(result, Undefined) else result


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
    _refuse_unknown_filters(expr, env)
    return expr


def _refuse_unknown_filters(tree: nodes.Node, env: Any) -> None:
    """Name an unknown filter or test here: Jinja would only fail when compiling it."""
    from jinja2 import nodes

    candidates = [tree, *tree.find_all((nodes.Filter, nodes.Test))]
    for node in candidates:
        if isinstance(node, nodes.Filter) and node.name not in env.filters:
            raise ExpressionError(
                "PL201", f"expression does not parse: no filter named {node.name!r}"
            )
        if isinstance(node, nodes.Test) and node.name not in env.tests:
            raise ExpressionError(
                "PL201", f"expression does not parse: no test named {node.name!r}"
            )


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

    An expression is turned into a tree of Python closures that does what
    the Jinja2 sandbox would do, node for node (see :func:`_lower`), without
    building a Jinja2 context per evaluation. An expression using anything
    the closures do not cover is compiled by Jinja2 and run as a template,
    so every expression the sandbox accepts keeps working.

    The result of the work (the closures' blueprint, or the Jinja2 code) is
    kept in the persistent compile cache (:mod:`postloan_cli.cache`), keyed
    by the source: an expression that was checked and compiled once is not
    parsed again. Only expressions that passed every check are stored.
    """
    from postloan_cli.cache import EXPRESSIONS

    entry = EXPRESSIONS.get(source)
    if entry is not None:
        names, attrs, payload = entry
        runners = _runners(payload)
        if runners is not None:
            return Expression(source, names, attrs, *runners, _blueprint_of(payload))
    tree = parse(source)
    names, attrs = names_used(tree)
    payload = _plan(tree)
    runners = _runners(payload)
    if runners is None:  # pragma: no cover - a fresh plan always builds
        raise AssertionError(f"cannot build {source!r}")
    EXPRESSIONS.put(source, (names, attrs, payload))
    return Expression(source, names, attrs, *runners, _blueprint_of(payload))


def compile_with_jinja(source: str) -> Expression:
    """``source`` compiled by Jinja2 only, never as closures: the reference they must match."""
    tree = parse(source)
    names, attrs = names_used(tree)
    run = _template_runner(_from_code(_compile(tree)))
    return Expression(source, names, attrs, run, _checked(run))


def _plan(tree: nodes.Expr) -> Any:
    """The closures' blueprint of ``tree``, or Jinja2's code when they do not cover it."""
    try:
        return _lower(tree)
    except _Unsupported:
        return _compile(tree)


def _runner(payload: Any) -> Runner | None:
    """A runner for a stored payload; ``None`` when it cannot be used (a damaged cache)."""
    runners = _runners(payload)
    return None if runners is None else runners[0]


def _blueprint_of(payload: Any) -> tuple[Any, ...] | None:
    """The blueprint a usable payload holds (``None``: Jinja2 code)."""
    return payload if isinstance(payload, tuple) else None


def _runners(payload: Any) -> tuple[Runner, Runner] | None:
    """A stored payload's runner and its checked form (:attr:`Expression.runner`).

    ``None`` when the payload cannot be used (a damaged cache).
    """
    if isinstance(payload, tuple):
        try:
            run = _build(payload)
            return run, _build_checked(payload, run)
        except Exception:  # a blueprint from a foreign or damaged cache: compile again
            return None
    if isinstance(payload, type(_runner.__code__)):
        run = _template_runner(_from_code(payload))
        return run, _checked(run)
    return None


def _compile(expr: nodes.Expr) -> Any:
    """Python code for ``result = <expr>``, as ``Environment.compile_expression`` builds it."""
    from jinja2 import nodes

    body = [nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)]
    return environment().compile(nodes.Template(body, lineno=1))


def _from_code(code: Any) -> Any:
    """The template a Jinja2 runner runs: a shared context, no dict copy per call."""
    env = environment()
    return env.template_class.from_code(env, code, env.make_globals(None), None)


def _template_runner(template: Any) -> Runner:
    """Run ``result = <expr>`` as a Jinja2 template in a context sharing the namespace."""

    def run(namespace: dict[str, Any]) -> Any:
        context = template.new_context(namespace, shared=True)
        for _ in template.root_render_func(context):
            pass
        return context.vars["result"]

    return run


# --- closures ----------------------------------------------------------------------------
#
# A checklist expression runs a hundred times per answer file. Running it as
# a Jinja2 template builds a context each time, which costs more than the
# expression itself. Instead the parsed expression is lowered to a
# *blueprint* (nested tuples of strings and constants, so the compile cache
# can store it with marshal) and the blueprint is built into closures, one
# per node, that do exactly what the code Jinja2 generates for the node does:
#
# * names are looked up in the namespace; a missing one is the sandbox's
#   ``StrictUndefined`` (so using it fails as in Jinja2, ``is none`` is false);
# * ``a.b`` and ``a['b']`` go through the sandbox's ``getattr``/``getitem``
#   (attribute first, then item; ``_`` names and mutating methods refused),
#   with a shortcut only where the result is certain: a plain ``dict`` and a
#   name that is not one of ``dict``'s attributes is an item lookup;
# * operators, comparisons (chained as in Python), ``and``/``or``/``not`` and
#   conditional expressions are Python's, as in the generated code (the
#   sandbox intercepts none of them);
# * filters and tests are the environment's, passed the environment, an
#   evaluation context or a context exactly as the generated code does;
# * a call must name a function (``days_between(...)``): the whitelisted
#   function found under that name is called directly; anything else found
#   there goes through the sandbox's ``call`` as before;
# * operands are evaluated in the generated code's order, so when two of
#   them would fail, the same one fails first (a refusal stays a refusal).
#
# Everything else (slices, dicts, method calls, ``*args``...) raises
# _Unsupported while lowering and the expression is compiled by Jinja2.
#
# What a checklist's evaluations run is built once more per checklist (see
# Bindings): the thresholds as constants, the calls several expressions make
# as ``shared`` nodes (never stored in the cache), and the top of each
# expression in one closure with what Expression.evaluate does around it.


class _Unsupported(Exception):
    """A node the closures do not cover: compile the expression with Jinja2."""


_MISSING: Any = object()

_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "add": bounded_add,
    "sub": operator.sub,
    "mul": bounded_mul,
    "div": operator.truediv,
    "floordiv": operator.floordiv,
    "mod": operator.mod,
    "pow": bounded_pow,
}
_UNARY: dict[str, Callable[[Any], Any]] = {"neg": operator.neg, "pos": operator.pos}
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gteq": operator.ge,
    "lt": operator.lt,
    "lteq": operator.le,
    "in": lambda a, b: a in b,
    "notin": lambda a, b: a not in b,
}
_CONST_TYPES = (str, int, float, bool, type(None))
_ORDERING_FUNCTIONS = frozenset({operator.gt, operator.ge, operator.lt, operator.le})


def _lower(node: nodes.Node) -> tuple[Any, ...]:
    """The blueprint of ``node``: ``(kind, ...)`` tuples; raise :class:`_Unsupported`."""
    from jinja2 import nodes

    if isinstance(node, nodes.Const):
        if not isinstance(node.value, _CONST_TYPES):
            raise _Unsupported(node)
        return ("const", node.value)
    if isinstance(node, nodes.Name):
        if node.ctx != "load":
            raise _Unsupported(node)
        return ("name", node.name)
    if isinstance(node, nodes.Getattr):
        return ("getattr", _lower(node.node), node.attr)
    if isinstance(node, nodes.Getitem):
        if isinstance(node.arg, nodes.Slice):
            raise _Unsupported(node)
        return ("getitem", _lower(node.node), _lower(node.arg))
    if isinstance(node, nodes.Compare):
        ops = tuple((op.op, _lower(op.expr)) for op in node.ops)
        if not ops or any(op not in _COMPARE for op, _ in ops):
            raise _Unsupported(node)
        return ("compare", _lower(node.expr), ops)
    if isinstance(node, nodes.And | nodes.Or):
        return (
            "and" if isinstance(node, nodes.And) else "or",
            _lower(node.left),
            _lower(node.right),
        )
    if isinstance(node, nodes.Not):
        return ("not", _lower(node.node))
    if isinstance(node, nodes.Neg | nodes.Pos):
        return ("unary", "neg" if isinstance(node, nodes.Neg) else "pos", _lower(node.node))
    if isinstance(node, nodes.BinExpr):
        kind = type(node).__name__.lower()
        if kind not in _BINARY:
            raise _Unsupported(node)
        return ("binary", kind, _lower(node.left), _lower(node.right))
    if isinstance(node, nodes.Concat):
        return ("concat", tuple(_lower(n) for n in node.nodes))
    if isinstance(node, nodes.CondExpr):
        otherwise = None if node.expr2 is None else _lower(node.expr2)
        return ("cond", _lower(node.test), _lower(node.expr1), otherwise, node.lineno)
    if isinstance(node, nodes.List | nodes.Tuple):
        if isinstance(node, nodes.Tuple) and node.ctx != "load":
            raise _Unsupported(node)
        kind = "list" if isinstance(node, nodes.List) else "tuple"
        return (kind, tuple(_lower(n) for n in node.items))
    if isinstance(node, nodes.Call):
        if not isinstance(node.node, nodes.Name) or node.node.ctx != "load":
            raise _Unsupported(node)  # method calls and the like: the sandbox decides
        return ("call", node.node.name, *_lower_signature(node))
    if isinstance(node, nodes.Filter | nodes.Test):
        kind = "filter" if isinstance(node, nodes.Filter) else "test"
        known = environment().filters if kind == "filter" else environment().tests
        if node.node is None or node.name not in known:
            raise _Unsupported(node)  # Jinja2 reports an unknown filter or test
        return (kind, node.name, _lower(node.node), *_lower_signature(node))
    raise _Unsupported(node)


def _lower_signature(node: nodes.Call | nodes.Filter | nodes.Test) -> tuple[Any, Any]:
    if node.dyn_args is not None or node.dyn_kwargs is not None:
        raise _Unsupported(node)
    # Context.call drops ``_loop_vars``/``_block_vars`` keywords; let Jinja2 handle any ``_``.
    if any(not isinstance(kw.key, str) or kw.key.startswith("_") for kw in node.kwargs):
        raise _Unsupported(node)
    args = tuple(_lower(a) for a in node.args)
    kwargs = tuple((kw.key, _lower(kw.value)) for kw in node.kwargs)
    return args, kwargs


def _build(plan: tuple[Any, ...]) -> Runner:
    """Closures for a blueprint made by :func:`_lower` (or read back from the cache)."""
    env = environment()
    undefined = env.undefined
    kind = plan[0]

    if kind == "const":
        value = plan[1]
        if not isinstance(value, _CONST_TYPES):
            raise ValueError(plan)
        return lambda ns: value

    if kind == "name":
        name = _checked_name(plan[1])

        def run_name(ns: dict[str, Any]) -> Any:
            value = ns.get(name, _MISSING)
            return undefined(name=name) if value is _MISSING else value

        return run_name

    if kind == "getattr":
        return _build_getattr(plan[1], _checked_name(plan[2]))

    if kind == "shared":
        # A call whose value Bindings.share keeps in the namespace (if it could).
        key = plan[1]
        if not isinstance(key, str) or not key.startswith(_SHARED_PREFIX):
            raise ValueError(plan)
        call = _build(plan[2])

        def run_shared(ns: dict[str, Any]) -> Any:
            value = ns.get(key, _MISSING)
            return call(ns) if value is _MISSING else value

        return run_shared

    if kind == "getitem":
        obj, arg = _build(plan[1]), _build(plan[2])
        if plan[2][0] == "const" and isinstance(plan[2][1], str):
            _checked_name(plan[2][1])
        getitem = env.getitem

        def run_getitem(ns: dict[str, Any]) -> Any:
            target = obj(ns)
            key = arg(ns)
            if target.__class__ is dict and key.__class__ is str:
                value = target.get(key, _MISSING)
                if value is not _MISSING:
                    return value
            return getitem(target, key)

        return run_getitem

    if kind == "compare":
        return _build_compare(plan[1], plan[2])

    if kind == "and":
        left, right = _build(plan[1]), _build(plan[2])
        return lambda ns: left(ns) and right(ns)

    if kind == "or":
        left, right = _build(plan[1]), _build(plan[2])
        return lambda ns: left(ns) or right(ns)

    if kind == "not":
        inner = _build(plan[1])
        return lambda ns: not inner(ns)

    if kind == "unary":
        unary = _UNARY[plan[1]]
        inner = _build(plan[2])
        return lambda ns: unary(inner(ns))

    if kind == "binary":
        binary = _BINARY[plan[1]]
        left, right = _build(plan[2]), _build(plan[3])
        if plan[2][0] == "const":
            constant = plan[2][1]  # ``100 * x`` (the constant is checked by _build above)
            return lambda ns: binary(constant, right(ns))
        return lambda ns: binary(left(ns), right(ns))

    if kind == "concat":
        parts = tuple(_build(p) for p in plan[1])
        return lambda ns: bounded_concat([str(part(ns)) for part in parts])

    if kind == "cond":
        return _build_cond(plan)

    if kind == "list":
        items = tuple(_build(p) for p in plan[1])
        return lambda ns: [item(ns) for item in items]

    if kind == "tuple":
        items = tuple(_build(p) for p in plan[1])
        return lambda ns: tuple([item(ns) for item in items])

    if kind == "call":
        return _build_call(_checked_name(plan[1]), plan[2], plan[3])

    if kind in ("filter", "test"):
        return _build_filter_or_test(kind, plan[1], _build(plan[2]), plan[3], plan[4])

    raise ValueError(f"unknown blueprint {kind!r}")


def _checked(run: Runner) -> Runner:
    """:meth:`Expression.evaluate` of ``run``, for a namespace holding the functions."""

    def run_checked(ns: dict[str, Any]) -> Any:
        try:
            result = run(ns)
        except _NONE_ERRORS:
            return None
        except Exception as exc:
            return _failed(exc)
        if result.__class__ in _PLAIN_RESULTS:
            return result
        return _defined(result)

    return run_checked


def _build_checked(plan: tuple[Any, ...], run: Runner) -> Runner:
    """:func:`_checked` of ``run`` (built from ``plan``), in one closure for the usual forms.

    ``answer == 'x'``, ``item.kind == 'x'`` (most conditions and rules), one
    comparison or subtraction or division of other operands (``a - b``,
    ``item.x / item.y``), ``a or b`` and ``a and b`` at the top: the closure
    that would run the expression, with what :meth:`Expression.evaluate` does
    around it. Other forms: :func:`_checked` of ``run``.
    """
    kind = plan[0]
    if kind == "compare" and len(plan[2]) == 1:
        ((op, right_plan),) = plan[2]
        if right_plan[0] == "const":
            fused = _fused_compare(plan[1], _COMPARE[op], right_plan[1], checked=True)
            if fused is not None:
                return fused
        elif right_plan[0] != "list":
            # What _build_compare builds for one comparison with these operands.
            return _checked_operation(_COMPARE[op], op in _ORDERING, plan[1], right_plan)
    if kind == "binary" and plan[1] in _NONE_FAILS:
        return _checked_operation(_BINARY[plan[1]], True, plan[2], plan[3])
    if kind in ("and", "or"):
        fused = _fused_either(kind == "and", plan[1], plan[2])
        if fused is not None:
            return fused
    return _checked(run)


#: Types of the entries :class:`Bindings` read as constants (exactly the constants
#: a blueprint may hold).
_FOLDABLE = frozenset(_CONST_TYPES)


def _fold(
    plan: tuple[Any, ...],
    constants: Mapping[str, Mapping[str, Any]],
    shared: Mapping[str, str],
) -> tuple[Any, ...]:
    """``plan`` with each ``name.attr`` of ``constants`` as a constant and each call
    in ``shared`` (by the ``repr`` of its blueprint) read from where it is kept.

    Returns ``plan`` itself when nothing changes (see :class:`Bindings`).
    """
    if plan[0] == "call" and shared:
        key = shared.get(repr(plan))
        if key is not None:
            return ("shared", key, _fold_inside(plan, constants, shared))
    return _fold_inside(plan, constants, shared)


def _fold_inside(
    plan: tuple[Any, ...],
    constants: Mapping[str, Mapping[str, Any]],
    shared: Mapping[str, str],
) -> tuple[Any, ...]:
    """:func:`_fold` of what ``plan`` holds, ``plan`` itself not taken as shared.

    The arguments of filters and tests get no constants: some of those are
    built differently when they are constants (see :func:`_fused_select`).
    """

    def fold(inner: tuple[Any, ...]) -> tuple[Any, ...]:
        return _fold(inner, constants, shared)

    kind = plan[0]
    if kind in ("const", "name"):
        return plan
    if kind == "getattr":
        obj, attr = plan[1], plan[2]
        if obj[0] == "name" and obj[1] in constants and attr not in _DICT_ATTRIBUTES:
            value = constants[obj[1]].get(attr, _MISSING)
            if value.__class__ in _FOLDABLE:
                return ("const", value)
        folded: tuple[Any, ...] = ("getattr", fold(obj), attr)
    elif kind == "unary":
        inner = fold(plan[2])
        if inner is not plan[2] and inner[0] == "const" and inner[1].__class__ in _NUMBERS:
            # ``-threshold.drop``: what the closure would compute, once.
            return ("const", _UNARY[plan[1]](inner[1]))
        folded = ("unary", plan[1], inner)
    elif kind == "binary":
        folded = ("binary", plan[1], fold(plan[2]), fold(plan[3]))
    elif kind in ("getitem", "and", "or"):
        folded = (kind, fold(plan[1]), fold(plan[2]))
    elif kind == "not":
        folded = ("not", fold(plan[1]))
    elif kind == "compare":
        folded = ("compare", fold(plan[1]), tuple((op, fold(p)) for op, p in plan[2]))
    elif kind in ("concat", "list", "tuple"):
        folded = (kind, tuple(fold(p) for p in plan[1]))
    elif kind == "cond":
        otherwise = None if plan[3] is None else fold(plan[3])
        folded = ("cond", fold(plan[1]), fold(plan[2]), otherwise, plan[4])
    elif kind == "call":
        args = tuple(fold(p) for p in plan[2])
        kwargs = tuple((k, fold(p)) for k, p in plan[3])
        folded = ("call", plan[1], args, kwargs)
    elif kind in ("filter", "test"):
        # Shared calls only in the arguments: see the docstring.
        args = tuple(_fold(p, {}, shared) for p in plan[3])
        kwargs = tuple((k, _fold(p, {}, shared)) for k, p in plan[4])
        folded = (kind, plan[1], fold(plan[2]), args, kwargs)
    else:
        return plan
    # Nothing folded below: the plan itself (so callers can tell).
    return plan if folded == plan else folded


def _subplans(plan: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
    """Every node of a blueprint, inner nodes before the node holding them."""
    kind = plan[0]
    inner: list[tuple[Any, ...]] = []
    if kind == "getattr" or kind == "not":
        inner = [plan[1]]
    elif kind == "unary":
        inner = [plan[2]]
    elif kind == "binary":
        inner = [plan[2], plan[3]]
    elif kind in ("getitem", "and", "or"):
        inner = [plan[1], plan[2]]
    elif kind == "compare":
        inner = [plan[1], *(p for _, p in plan[2])]
    elif kind in ("concat", "list", "tuple"):
        inner = list(plan[1])
    elif kind == "cond":
        inner = [p for p in plan[1:4] if p is not None]
    elif kind == "call":
        inner = [*plan[2], *(p for _, p in plan[3])]
    elif kind in ("filter", "test"):
        inner = [plan[2], *plan[3], *(p for _, p in plan[4])]
    for node in inner:
        yield from _subplans(node)
    yield plan


def _names_read(plan: tuple[Any, ...]) -> set[str]:
    return {node[1] for node in _subplans(plan) if node[0] == "name"}


#: The namespace key of a shared call's value: no question or computed value id
#: (lower-case letters, digits, ``_``) looks like it, nor can an expression name it.
_SHARED_PREFIX = "(shared "
_SHARED_KEY = _SHARED_PREFIX + "{})"


@dataclass(frozen=True)
class Bindings:
    """What the namespaces of one checklist's evaluations hold alike on every file.

    * ``constants``: names whose value is a dict that no file changes (the
      thresholds): ``x > threshold.limit`` runs as ``x > 70`` does (and
      ``-threshold.drop`` as ``-10``), one closure instead of four. Only
      entries of the types a blueprint holds as constants are read so, never
      one the sandbox would take as a dict's own attribute (``threshold.items``).
    * shared calls: a call of an expression function that the expressions make
      more than once with the same arguments (``latest(statements,
      'period_end')``, in every financial ratio). :meth:`share` computes its
      value once per file, when the names it reads no longer change; the
      expressions then read it. Expressions are pure, so the value is what
      each would have computed; one that fails or is not a plain value is
      left out, and each expression computes the call itself, as before.

    Make them with :func:`bind`; run expressions through :meth:`runner`.
    """

    constants: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: The ``repr`` of a shared call's blueprint: the key its value is kept under.
    shared: Mapping[str, str] = field(default_factory=dict)
    #: ``(key, runner)`` of each shared call, calls inside others first.
    calls: tuple[tuple[str, Runner], ...] = ()

    def runner(self, expression: Expression, *, shared: bool = True) -> Runner:
        """:attr:`Expression.runner` of ``expression`` for these bindings' namespaces.

        ``shared``: whether it runs after :meth:`share` (only then does reading
        shared values save anything; before, each call is computed as before).
        """
        blueprint = expression._blueprint
        if blueprint is None:
            return expression.runner
        folded = _fold(blueprint, self.constants, self.shared if shared else {})
        if folded is blueprint:
            return expression.runner
        return _build_checked(folded, _build(folded))

    def share(self, namespace: dict[str, Any]) -> None:
        """Compute the shared calls into ``namespace``, once the names they read are final."""
        for key, run in self.calls:
            try:
                value = run(namespace)
            except Exception:
                value = _MISSING  # each expression fails as before, computing it itself
            if value.__class__ in _PLAIN_RESULTS:
                namespace[key] = value


def bind(
    expressions: Iterable[Expression],
    constants: Mapping[str, Mapping[str, Any]],
    changing: Set[str],
) -> Bindings:
    """:class:`Bindings` for ``expressions``, run in namespaces holding ``constants``.

    A call is shared when ``expressions`` make it more than once and it reads
    no name in ``changing`` (names whose value changes after :meth:`Bindings.share`:
    computed values, ``item``), nor calls a function of such a name.
    """
    counts: dict[str, int] = {}
    calls: dict[str, tuple[Any, ...]] = {}
    for expression in expressions:
        blueprint = expression._blueprint
        if blueprint is None:
            continue
        for node in _subplans(blueprint):
            if (
                node[0] == "call"
                and node[1] in FUNCTIONS
                and node[1] not in changing
                and not _names_read(node) & changing
            ):
                text = repr(node)
                counts[text] = counts.get(text, 0) + 1
                calls.setdefault(text, node)
    # In the order first met: a call inside another is met before it.
    shared = {
        text: _SHARED_KEY.format(index)
        for index, text in enumerate(text for text in calls if counts[text] > 1)
    }
    runners = tuple(
        (key, _build(_fold_inside(calls[text], constants, shared))) for text, key in shared.items()
    )
    return Bindings(constants, shared, runners)


def _comparison(plan: tuple[Any, ...]) -> tuple[str, str | None, Any, Any, bool] | None:
    """``(name, attribute or None, compare, constant, none_fails)`` of ``name <op> const``
    or ``name.attr <op> const`` (what :func:`_fused_compare` fuses), else ``None``."""
    if plan[0] != "compare" or len(plan[2]) != 1 or plan[2][0][1][0] != "const":
        return None
    left = plan[1]
    if left[0] == "name":
        name, attr = _checked_name(left[1]), None
    elif left[0] == "getattr" and left[1][0] == "name" and left[2] not in _DICT_ATTRIBUTES:
        name, attr = _checked_name(left[1][1]), _checked_name(left[2])
    else:
        return None
    ((op, (_, constant)),) = plan[2]
    return name, attr, _COMPARE[op], constant, op in _ORDERING


def _fused_either(
    both: bool, left_plan: tuple[Any, ...], right_plan: tuple[Any, ...]
) -> Runner | None:
    """``a == 'x' or b.c > 1`` (``and``: ``both``) with what :meth:`Expression.evaluate`
    does around it, in one closure: each side read and compared as
    :func:`_fused_compare` does, the second only when the first does not
    decide; ``None`` unless both sides are such comparisons."""
    first, second = _comparison(left_plan), _comparison(right_plan)
    if first is None or second is None:
        return None
    env = environment()
    undefined, getattr_ = env.undefined, env.getattr
    plain = _PLAIN_RESULTS

    name1, attr1, compare1, constant1, none_fails1 = first
    name2, attr2, compare2, constant2, none_fails2 = second

    def run_either(ns: dict[str, Any]) -> Any:
        try:
            value = _operand_value(ns, name1, attr1, undefined, getattr_)
            if value is None and none_fails1:
                return None  # the TypeError ``none > 3`` raises ends the expression
            result = compare1(value, constant1)
            # ``a and b`` is a when a is false, ``a or b`` a when a is true.
            if (not result) if both else result:
                pass
            else:
                value = _operand_value(ns, name2, attr2, undefined, getattr_)
                if value is None and none_fails2:
                    return None
                result = compare2(value, constant2)
        except _NONE_ERRORS:
            return None
        except Exception as exc:
            return _failed(exc)
        if result.__class__ in plain:
            return result
        return _defined(result)

    return run_either


#: Comparisons (operators) that fail for ``none`` and any value of a type in
#: :data:`_PLAIN_RESULTS`: Python raises ``TypeError`` (``none > 3``, ``none - 3``).
_ORDERING = frozenset({"gt", "gteq", "lt", "lteq"})
_NONE_FAILS = frozenset({"sub", "div", "floordiv"})


def _checked_operation(
    operation: Callable[[Any, Any], Any],
    none_fails: bool,
    left_plan: tuple[Any, ...],
    right_plan: tuple[Any, ...],
) -> Runner:
    """``left <op> right`` with what :meth:`Expression.evaluate` does around it.

    When ``none_fails`` (an ordering or arithmetic operator), an operand that is
    ``none`` next to a plain value gives ``None`` at once: what the ``TypeError``
    the operation would raise gives, without raising it (a question not asked
    makes its rules and values ``none`` on every file that does not ask it).
    """
    left_of, right_of = _build(left_plan), _build(right_plan)
    plain = _PLAIN_RESULTS

    def run_checked_operation(ns: dict[str, Any]) -> Any:
        try:
            left, right = left_of(ns), right_of(ns)
            if none_fails and (
                (left is None and right.__class__ in plain)
                or (right is None and left.__class__ in plain)
            ):
                return None
            result = operation(left, right)
        except _NONE_ERRORS:
            return None
        except Exception as exc:
            return _failed(exc)
        if result.__class__ in plain:
            return result
        return _defined(result)

    return run_checked_operation


def _checked_name(name: Any) -> str:
    """A name or attribute from a blueprint, refused as :func:`parse` refuses it."""
    if not isinstance(name, str) or name.startswith("_"):
        raise ValueError(f"refused name {name!r}")
    return name


#: Names a plain dict answers as attributes (``items``, ``get``...): the sandbox decides those.
_DICT_ATTRIBUTES = frozenset(dir(dict))


def _build_getattr(obj_plan: tuple[Any, ...], attr: str) -> Runner:
    env = environment()
    getattr_ = env.getattr
    undefined = env.undefined
    obj = _build(obj_plan)
    if attr in _DICT_ATTRIBUTES:
        return lambda ns: getattr_(obj(ns), attr)

    if obj_plan[0] == "name":
        # ``loan.type``, ``item.value``: the most common node, in one closure.
        name = _checked_name(obj_plan[1])

        def run_name_getattr(ns: dict[str, Any]) -> Any:
            target = ns.get(name, _MISSING)
            if target.__class__ is dict:
                value = target.get(attr, _MISSING)
                return undefined(obj=target, name=attr) if value is _MISSING else value
            if target is _MISSING:
                target = undefined(name=name)
            return getattr_(target, attr)

        return run_name_getattr

    def run_getattr(ns: dict[str, Any]) -> Any:
        target = obj(ns)
        if target.__class__ is dict:
            # No attribute of that name on a dict: the sandbox would look the item up.
            value = target.get(attr, _MISSING)
            return undefined(obj=target, name=attr) if value is _MISSING else value
        return getattr_(target, attr)

    return run_getattr


def _build_compare(first_plan: tuple[Any, ...], ops: Any) -> Runner:
    first = _build(first_plan)
    steps = tuple((_COMPARE[op], _build(p), p) for op, p in ops)
    if len(steps) == 1:
        compare, right, plan = steps[0]
        if plan[0] == "const":
            constant = plan[1]
            fused = _fused_compare(first_plan, compare, constant)
            if fused is not None:
                return fused
            return lambda ns: compare(first(ns), constant)
        if (
            plan[0] == "list"
            and all(p[0] == "const" for p in plan[1])
            and compare
            in (
                _COMPARE["in"],
                _COMPARE["notin"],
            )
        ):
            # ``x in ['a', 'b']``: a tuple holds the same things and tests them the same way.
            members = tuple(p[1] for p in plan[1])
            return lambda ns: compare(first(ns), members)
        return lambda ns: compare(first(ns), right(ns))

    def run_chain(ns: dict[str, Any]) -> Any:
        # ``a < b < c`` as Python runs it: b evaluated once, stop at the first false.
        left = first(ns)
        last = len(steps) - 1
        for index, (compare, right_of, _) in enumerate(steps):
            right = right_of(ns)
            result = compare(left, right)
            if index == last or not result:
                return result
            left = right
        raise AssertionError("unreachable")  # pragma: no cover

    return run_chain


def _operand_value(
    ns: dict[str, Any], name: str, attr: str | None, undefined: Any, getattr_: Any
) -> Any:
    """``name`` or ``name.attr`` read from ``ns`` as the name and attribute closures read it."""
    value = ns.get(name, _MISSING)
    if attr is None:
        return undefined(name=name) if value is _MISSING else value
    if value.__class__ is dict:
        found = value.get(attr, _MISSING)
        return undefined(obj=value, name=attr) if found is _MISSING else found
    return getattr_(undefined(name=name) if value is _MISSING else value, attr)


def _checked_compare(name: str, attr: str | None, compare: Any, constant: Any) -> Runner:
    """``name <op> const`` or ``name.attr <op> const`` with what
    :meth:`Expression.evaluate` does around it, in one closure."""
    env = environment()
    undefined, getattr_ = env.undefined, env.getattr
    # ``none > 3`` raises TypeError for any constant (see _ORDERING).
    none_fails = compare in _ORDERING_FUNCTIONS

    def run_checked_compare(ns: dict[str, Any]) -> Any:
        try:
            value = _operand_value(ns, name, attr, undefined, getattr_)
            if value is None and none_fails:
                return None  # what the TypeError of ``none > 3`` gives, not raised
            result = compare(value, constant)
        except _NONE_ERRORS:
            return None
        except Exception as exc:
            return _failed(exc)
        if result.__class__ in _PLAIN_RESULTS:
            return result
        return _defined(result)

    return run_checked_compare


def _fused_compare(
    left_plan: tuple[Any, ...],
    compare: Callable[[Any, Any], Any],
    constant: Any,
    checked: bool = False,
) -> Runner | None:
    """``answer == 'x'``, ``item.kind == 'x'``: most rules, in one closure each.

    Exactly what the name (or attribute) closure followed by the comparison
    does (``checked``: and what :meth:`Expression.evaluate` does with the
    result, see :func:`_checked`); ``None`` for other left sides.
    """
    env = environment()
    undefined = env.undefined
    if left_plan[0] == "name":
        name = _checked_name(left_plan[1])

        def run_name_compare(ns: dict[str, Any]) -> Any:
            value = ns.get(name, _MISSING)
            if value is _MISSING:
                value = undefined(name=name)
            return compare(value, constant)

        return _checked_compare(name, None, compare, constant) if checked else run_name_compare
    if (
        left_plan[0] == "getattr"
        and left_plan[1][0] == "name"
        and left_plan[2] not in _DICT_ATTRIBUTES
    ):
        name = _checked_name(left_plan[1][1])
        attr = _checked_name(left_plan[2])
        getattr_ = env.getattr

        def run_attribute_compare(ns: dict[str, Any]) -> Any:
            target = ns.get(name, _MISSING)
            if target.__class__ is dict:
                value = target.get(attr, _MISSING)
                if value is _MISSING:
                    value = undefined(obj=target, name=attr)
            else:
                if target is _MISSING:
                    target = undefined(name=name)
                value = getattr_(target, attr)
            return compare(value, constant)

        if checked:
            return _checked_compare(name, attr, compare, constant)
        return run_attribute_compare
    return None


def _build_cond(plan: tuple[Any, ...]) -> Runner:
    test, then = _build(plan[1]), _build(plan[2])
    if plan[3] is not None:
        otherwise = _build(plan[3])
        return lambda ns: then(ns) if test(ns) else otherwise(ns)
    from jinja2.runtime import Undefined

    # What the generated code returns for a false ``a if b`` (a plain Undefined).
    hint = (
        f"the inline if-expression on line {int(plan[4])} evaluated to false and"
        " no else section was defined."
    )
    return lambda ns: then(ns) if test(ns) else Undefined(hint)


def _build_call(name: str, args_plan: Any, kwargs_plan: Any) -> Runner:
    env = environment()
    undefined = env.undefined
    args = tuple(_build(p) for p in args_plan)
    kwargs = tuple((_checked_name(k), _build(p)) for k, p in kwargs_plan)
    allowed = FUNCTIONS.get(name)

    if allowed is not None and not kwargs and len(args) in (1, 2):
        # ``latest(items, 'period_end')``, ``days_between(a, b)``: the usual calls, unrolled.
        first = args[0]
        second = args[-1]
        single = len(args) == 1

        def run_simple_call(ns: dict[str, Any]) -> Any:
            func = ns.get(name, _MISSING)
            if func is allowed:
                values = (first(ns),) if single else (first(ns), second(ns))
                try:
                    return allowed(*values)
                except StopIteration:
                    return undefined(
                        "value was undefined because a callable raised a StopIteration exception"
                    )
            return run_call(ns)

    def run_call(ns: dict[str, Any]) -> Any:
        func = ns.get(name, _MISSING)
        if func is _MISSING:
            func = undefined(name=name)
        values = [a(ns) for a in args]
        named = {k: v(ns) for k, v in kwargs}
        if allowed is not None and func is allowed:
            try:
                return allowed(*values, **named)
            except StopIteration:
                return undefined(
                    "value was undefined because a callable raised a StopIteration exception"
                )
        # Not the whitelisted function: whatever it is, the sandbox decides.
        return env.call(_context(ns), func, *values, **named)

    if allowed is not None and not kwargs and len(args) in (1, 2):
        return run_simple_call
    return run_call


def _build_filter_or_test(
    kind: str, name: Any, value: Runner, args_plan: Any, kwargs_plan: Any
) -> Runner:
    from jinja2 import filters as jinja_filters
    from jinja2 import tests as jinja_tests
    from jinja2.nodes import EvalContext
    from jinja2.utils import _PassArg

    env = environment()
    func: Any = (env.filters if kind == "filter" else env.tests)[name]
    args = tuple(_build(p) for p in args_plan)
    kwargs = tuple((_checked_name(k), _build(p)) for k, p in kwargs_plan)
    if func is jinja_tests.test_none and not args and not kwargs:
        return lambda ns: value(ns) is None
    func = _synchronous(env, func)
    if func is jinja_filters.sync_do_selectattr or func is jinja_filters.sync_do_rejectattr:
        keep = func is jinja_filters.sync_do_selectattr
        fused = _fused_select(keep, value, args_plan, args, kwargs)
        if fused is not None:
            return fused
    pass_arg = _PassArg.from_obj(func)
    if pass_arg is None and not args and not kwargs:
        # ``| list``, ``| length``, ``is defined``: the function itself, as ``run`` would call it.
        return lambda ns: func(value(ns))

    def run(ns: dict[str, Any]) -> Any:
        subject = value(ns)
        values = [a(ns) for a in args]
        named = {k: v(ns) for k, v in kwargs}
        if pass_arg is _PassArg.context:
            return func(_context(ns), subject, *values, **named)
        if pass_arg is _PassArg.eval_context:
            # What a template context holds (a template without a name).
            return func(EvalContext(env, None), subject, *values, **named)
        if pass_arg is _PassArg.environment:
            return func(env, subject, *values, **named)
        return func(subject, *values, **named)

    return run


def _synchronous(env: Any, func: Any) -> Any:
    """The synchronous function behind one of Jinja2's async-aware filters, else ``func``.

    Jinja2 wraps filters such as ``list``, ``sum`` or ``selectattr`` so that
    they can await in an async environment. In a synchronous one (the
    sandbox is) the wrapper calls the function it wraps, its ``__wrapped__``,
    with the same arguments (less the evaluation context the wrapper asks for
    to find the environment): calling that function directly does the same
    without the wrapper, nor an evaluation context built per call.
    """
    import inspect

    if env.is_async or not getattr(func, "jinja_async_variant", False):
        return func
    wrapped = getattr(func, "__wrapped__", None)
    if not callable(wrapped) or inspect.iscoroutinefunction(wrapped):
        return func  # pragma: no cover - not how Jinja2 makes them
    return wrapped


def _fused_select(
    keep: bool, value: Runner, args_plan: Any, args: tuple[Runner, ...], kwargs: Any
) -> Runner | None:
    """``items | selectattr('field', 'test', ...)`` (``rejectattr``), without a context per call.

    What Jinja2's ``select_or_reject`` does when the attribute and the test
    are named by constants and the test takes no context: the same lazy
    generator, the attribute read by the same getter (the sandbox's
    ``getitem``), the same test called with the same arguments. ``None``
    for other forms: those are run as the filter itself.
    """
    from jinja2.filters import make_attrgetter
    from jinja2.utils import _PassArg

    env = environment()
    if kwargs or len(args_plan) < 2 or args_plan[0][0] != "const" or args_plan[1][0] != "const":
        return None
    attribute, test_name = args_plan[0][1], args_plan[1][1]
    test: Any = env.tests.get(test_name) if isinstance(test_name, str) else None
    if test is None or _PassArg.from_obj(test) is not None:
        return None
    getter = make_attrgetter(env, attribute)
    others = args[2:]

    def run_select(ns: dict[str, Any]) -> Any:
        subject = value(ns)
        # The attribute and test names are constants: nothing to evaluate.
        rest = tuple([a(ns) for a in others])
        return select_or_reject(subject, getter, test, rest, keep)

    return run_select


def select_or_reject(
    value: Any,
    getter: Callable[[Any], Any],
    test: Callable[..., Any],
    rest: tuple[Any, ...],
    keep: bool,
) -> Iterator[Any]:
    """The items of ``value`` whose ``getter(item)`` passes ``test`` (fails it: ``keep`` false).

    Named and made as Jinja2's generator of the same name: lazy, and nothing
    at all for an empty or false ``value``.
    """
    if value:
        if keep:
            for item in value:
                if test(getter(item), *rest):
                    yield item
        else:
            for item in value:
                if not test(getter(item), *rest):
                    yield item


def _context(namespace: dict[str, Any]) -> Any:
    """The context a template would run in: what context filters and ``env.call`` get.

    As ``Template.new_context(namespace, shared=True)`` makes it: the namespace
    as parent, no name, no blocks, the environment's globals (their names only:
    that is all a context keeps of them).
    """
    env = environment()
    return env.context_class(env, namespace, None, {}, globals=env.globals)


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
