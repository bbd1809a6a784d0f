"""The expression language: sandboxed, names checked, missing data never fires."""

from __future__ import annotations

import datetime as dt

import pytest

from postloan_cli import expressions
from postloan_cli.expressions import ExpressionError, check_names, compile_expression


@pytest.mark.parametrize(
    "source",
    [
        "().__class__.__mro__",
        "loan.__class__",
        "loan['__class__']",
        "''.__class__.__base__.__subclasses__()",
        "__builtins__",
    ],
)
def test_python_internals_are_refused(source: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(source)
    assert info.value.code == "PL203"


def test_sandbox_refuses_at_run_time_too() -> None:
    expr = compile_expression("x.mro()")
    with pytest.raises(ExpressionError) as info:
        expr.evaluate({"x": int})
    assert info.value.code == "PL203"


@pytest.mark.parametrize("source", ["a >", "a b", "{{ a }}", "a }} {{ b", "(", "{% if a %}"])
def test_malformed(source: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(source)
    assert info.value.code == "PL201"


def test_names_and_attributes() -> None:
    expr = compile_expression("loan.days_past_due > threshold.limit and item.ratio < x")
    assert expr.names == {"loan", "threshold", "item", "x"}
    assert expr.attributes["loan"] == {"days_past_due"}
    assert check_names(
        expr, {"loan", "threshold", "item"}, {"loan": {"days_past_due"}, "threshold": set()}
    ) == [
        "unknown name 'x'",
        "'threshold' has no field 'limit'",
    ]


def test_missing_inputs_never_fire() -> None:
    expr = compile_expression("ratio < 1")
    assert expr.evaluate({"ratio": None}) is None
    assert expr.test({"ratio": None}) is False
    assert expr.test({"ratio": 0.5}) is True
    assert compile_expression("a / b").evaluate({"a": 1, "b": 0}) is None


def test_functions() -> None:
    ns = {
        "d": dt.date(2026, 12, 10),
        "today": dt.date(2026, 11, 20),
        "items": [{"p": dt.date(2026, 3, 31), "v": 1}, {"p": dt.date(2026, 6, 30), "v": 2}],
    }
    assert compile_expression("days_between(today, d)").evaluate(ns) == 20
    assert compile_expression("latest(items, 'p').v").evaluate(ns) == 2
    assert compile_expression("previous(items, 'p').v").evaluate(ns) == 1
    assert compile_expression("pct_change(150, 200)").evaluate(ns) == -25.0


# --- closures: what the checklist expressions compile to -----------------------------------

NS = {
    "n": 5,
    "m": 7,
    "x": "a",
    "rec": {"b": 1, "c": {"d": 2}, "items": "an item called items"},
    "lst": [{"v": 1, "k": "p"}, {"v": 2, "k": "q"}, {"v": 2, "k": "r"}],
    "d1": dt.date(2026, 1, 1),
    "d2": dt.date(2026, 1, 6),
}


def _run(source: str, **extra: object) -> object:
    return compile_expression(source).evaluate({**expressions.base_namespace(), **NS, **extra})


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # names and constants
        ("n", 5),
        ("'a'", "a"),
        ("1.5", 1.5),
        ("none", None),
        ("true", True),
        # attribute and item access (a dict's item, as Jinja2 reads it)
        ("rec.b", 1),
        ("rec['b']", 1),
        ("rec.c.d", 2),
        ("lst[1].v", 2),
        ("rec[x]", None),
        # comparisons, chained as in Python
        ("n > 3", True),
        ("n >= 5 and n <= 5", True),
        ("0 < n < 10", True),
        ("0 < n < 3", False),
        ("n == 5 != m", True),
        ("x in ['a', 'b']", True),
        ("x not in ['a']", False),
        ("x in []", False),
        ("'b' in rec", True),
        # and / or / not
        ("n > 3 and m > 3", True),
        ("n > 9 or m", 7),
        ("not x", False),
        # arithmetic
        ("n + m", 12),
        ("m - n", 2),
        ("n * 2", 10),
        ("m / 2", 3.5),
        ("m // 2", 3),
        ("m % 4", 3),
        ("n ** 2", 25),
        ("-n", -5),
        ("+n", 5),
        ("x ~ n", "a5"),
        # conditional expressions, lists, tuples
        ("n if x else m", 5),
        ("n if none else m", 7),
        ("n if none", None),
        ("[n, m]", [5, 7]),
        ("(n, m)", (5, 7)),
        # the whitelisted functions
        ("days_between(d1, d2)", 5),
        ("days_between(start=d1, end=d2)", 5),
        ("latest(lst, 'k').v", 2),
        ("previous(lst, 'k').v", 2),
        ("pct_change(m, n)", 40.0),
        # filters and tests
        ("lst | sum(attribute='v')", 5),
        ("lst | selectattr('v', 'equalto', 2) | list | length", 2),
        ("lst | map(attribute='k') | join(',')", "p,q,r"),
        ("x | upper", "A"),
        ("rec.zz is none", False),
        ("rec.zz is not none", True),
        ("rec.zz is defined", False),
        ("none is none", True),
        ("n is number", True),
        ("n is divisibleby 5", True),
    ],
)
def test_each_node_type_runs_as_closures(source: str, expected: object) -> None:
    assert isinstance(expressions._plan(expressions.parse(source)), tuple)  # no template
    result = _run(source)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # A missing input is none, and so is what cannot be computed from it.
        ("nope", None),
        ("nope == 1", None),
        ("rec.zz > 1", None),
        ("n / 0", None),
        ("n + none", None),
        ("-x", None),
        ("latest(nope, 'k')", None),
        ("latest(lst, 'zz').v", None),
        ("pct_change(n, 0)", None),
        ("days_between(d1, nope)", None),
        # but ``is none`` of something missing is false, as in Jinja2
        ("nope is none", False),
        ("nope | default('x')", "x"),
    ],
)
def test_missing_or_uncomputable_is_none(source: str, expected: object) -> None:
    assert _run(source) == expected


# Sources with surprises: dict methods as attributes, undefined values inside
# results, exceptions half-way, calls of whatever a name holds, Jinja2 quirks.
TRICKY = [
    "rec.items",
    "rec['items']",
    "rec.keys",
    "rec.pop",
    "rec.pop == 1",
    "rec.zz",
    "rec.zz is undefined",
    "[rec.zz, n]",
    "(n if x) == 1",
    "n if nope else m",
    "nope in [1, 2]",
    "1 in nope",
    "x in [y, 'a']",
    "0 < n < m < 100",
    "n < m > 2",
    "s ~ nope",
    "s ~ n ~ rec.b",
    "'%s-%d' % (s, n)",
    "s * 3",
    "lst[5]",
    "lst[n]",
    "s[0]",
    "d1.year",
    "d1.replace",
    "d2 - d1",
    "lst.append",
    "lst | first",
    "lst | rejectattr('v', 'gt', 1) | map(attribute='v') | list",
    "lst | selectattr('v') | list",
    "nope | length",
    "n is sameas n",
    "x is in ['a']",
    "latest(lst, 'v').v",
    "pct_change(n)",
    "latest(lst, 'v')",
    "days_between(d1, d2) > 3 and rec.c.d",
    # selectattr/rejectattr with a constant field and test run without a context:
    # as Jinja2's generator does, down to the failures.
    "lst | selectattr('v', 'equalto', n) | list",
    "lst | selectattr('v', 'equalto', lst[1].v) | list | length",
    "lst | selectattr('v', 'equalto', lst[1].v) | list",
    "lst | rejectattr('v', 'none') | list",
    "lst | selectattr('v', 'gt', 1) | list",
    "lst | selectattr('v', 'lt', m) | map(attribute='v') | list",
    "lst | selectattr('w', 'defined') | list",
    "lst | selectattr('v', 'in', [1, 2, none]) | list",
    "lst | selectattr('v.x', 'none') | list",
    "lst | selectattr(0, 'none') | list",
    "lst | selectattr('v', 'equalto') | list",
    "lst | selectattr('v', 'equalto', nope) | list",
    "lst | selectattr('v', 'nosuchtest') | list",
    "lst | selectattr('__class__', 'equalto', 1) | list",
    "lst | selectattr('v', 'equalto', 1, 2) | list",
    "nope | selectattr('v', 'none') | list",
    "rec | rejectattr('v', 'none') | list",
    "s | selectattr('v', 'undefined') | list",
    "lst | selectattr('v', n) | list",
    "lst | selectattr('v', 'sameas', none) | first",
    # Filters Jinja2 wraps for async environments, called unwrapped.
    "lst | sum(attribute='v')",
    "lst | map(attribute='v') | select | list | sum",
    "lst | select('none') | list",
    "lst | unique | list",
    "lst | list | first",
    "lst | length",
    "lst | groupby('v') | list",
    "lst | map('string') | join(',')",
    "s | list",
    "n | abs",
]
TRICKY_NAMESPACES = [
    {**NS, "y": "b", "s": "abc"},
    {
        "rec": {"b": None},
        "x": None,
        "y": None,
        "n": None,
        "m": None,
        "s": None,
        "lst": None,
        "d1": None,
        "d2": "2026-01-06",
    },
    {"rec": None, "x": 3, "y": 3, "n": 3.0, "m": 0, "s": "", "lst": [], "d2": dt.date(2025, 1, 1)},
    {"rec": [1], "x": ["a"], "n": True, "m": False, "s": ["a"], "lst": [{"v": None}, 3, {"w": 1}]},
    {"latest": len, "days_between": 3, "pct_change": None, "n": 2**70, "m": -1},
    {},
]


def _outcome(expr: expressions.Expression, namespace: dict[str, object]) -> tuple[object, ...]:
    try:
        result = expr.evaluate({**expressions.base_namespace(), **namespace})
    except ExpressionError as exc:
        return ("refused", exc.code)
    except Exception as exc:
        return ("raised", type(exc).__name__)
    return ("ok", type(result).__name__, repr(result))


@pytest.mark.parametrize("source", TRICKY)
def test_closures_do_what_jinja_does(source: str) -> None:
    closures = compile_expression(source)
    jinja = expressions.compile_with_jinja(source)
    for namespace in TRICKY_NAMESPACES:
        assert _outcome(closures, namespace) == _outcome(jinja, namespace), namespace


def test_sandbox_refusals_hold_in_closures() -> None:
    # A mutating method is reached only as an unsafe value: using it is refused.
    with pytest.raises(ExpressionError) as info:
        _run("rec.pop == 1")
    assert info.value.code == "PL203"
    assert _run("rec.pop") is None

    # What a function's name holds is called through the sandbox, not blindly.
    def dangerous(*_: object) -> None:
        raise AssertionError("called")

    dangerous.unsafe_callable = True  # type: ignore[attr-defined]
    with pytest.raises(ExpressionError) as info:
        _run("latest(lst, 'v')", latest=dangerous)
    assert info.value.code == "PL203"
    assert _run("latest(lst, 'v')", latest=3) is None  # not callable: none, as before


def test_blueprint_with_internals_is_not_built() -> None:
    # Only from a tampered cache could a blueprint name an internal: it is not used.
    for plan in [
        ("getattr", ("name", "rec"), "__class__"),
        ("name", "__builtins__"),
        ("getitem", ("name", "rec"), ("const", "__class__")),
        ("call", "_private", (), ()),
        ("const", object()),
        ("what", 1),
    ]:
        assert expressions._runner(plan) is None


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("rec.get('b')", 1),  # a method call
        ("lst[0:1] | length", 1),  # a slice
        ("{'a': n}['a']", 5),  # a dict
        ("days_between(*[d1, d2])", 5),  # *args
        ("'{}-{}'.format(x, n)", "a-5"),  # the sandbox's own str.format
    ],
)
def test_what_closures_do_not_cover_runs_as_before(source: str, expected: object) -> None:
    assert not isinstance(expressions._plan(expressions.parse(source)), tuple)
    assert _run(source) == expected


def test_fallback_keeps_the_sandbox() -> None:
    with pytest.raises(ExpressionError) as info:
        _run("'{0.__class__}'.format(rec)")
    assert info.value.code == "PL203"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("x | nofilter", "no filter named 'nofilter'"),
        ("x is nosuchtest", "no test named 'nosuchtest'"),
        ("(x | nofilter) > 1", "no filter named 'nofilter'"),
    ],
)
def test_unknown_filter_or_test_is_a_parse_error(source: str, message: str) -> None:
    # Jinja would only notice while compiling, as an internal error; say it at once.
    with pytest.raises(ExpressionError) as info:
        compile_expression(source)
    assert info.value.code == "PL201" and message in str(info.value)


@pytest.mark.parametrize(
    "source",
    [
        "'a' * 10 ** 9",  # would build a gigabyte string
        "[1] * 10 ** 9",
        "[('a' * 99999)] * 100000",  # few items, each large
        "2 ** 100000 > 1",  # a number of a hundred thousand bits
        "(['x'] * 99999) | join('y' * 99)",
    ],
)
def test_expressions_cannot_exhaust_memory_or_time(source: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(source).evaluate({})
    assert info.value.code == "PL203" and "refused by the sandbox" in str(info.value)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("'ab' * 3", "ababab"),
        ("[1, 2] * 2", [1, 2, 1, 2]),
        ("2 ** 10", 1024),
        ("1.5 ** 2", 2.25),
        ("['a', 'b'] | join(', ')", "a, b"),
        ("'a' ~ 'b'", "ab"),
        ("[1, 2, 3] | sum", 6),
    ],
)
def test_bounded_operations_still_work(source: str, expected: object) -> None:
    assert compile_expression(source).evaluate({}) == expected


@pytest.mark.parametrize("name", ["center", "indent", "format", "wordwrap", "random", "replace"])
def test_unbounded_or_random_filters_are_not_available(name: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(f"'x' | {name}(5)")
    assert info.value.code == "PL201"


def test_jinja_fallback_bounds_repetition_too() -> None:
    # Method calls are not compiled to closures: they run in Jinja's sandbox,
    # whose binary operators go through the same bounds.
    expr = compile_expression("('a' * 10 ** 9).upper()")
    with pytest.raises(ExpressionError) as info:
        expr.evaluate({})
    assert info.value.code == "PL203"


#: Forms :attr:`Expression.runner` runs in one closure, each with inputs that
#: make it fail, be none or be undefined.
RUNNER_FORMS = [
    "x == 'a'",
    "x > 'a'",
    "n > 3",
    "n >= m",
    "n < rec.b",
    "rec.b <= 1",
    "rec.b > 0",
    "rec.nope > 0",
    "rec.items == 1",
    "nope == 1",
    "nope > 1",
    "n - m",
    "m / n",
    "n // m",
    "d2 - d1",
    "rec.b - n",
    "x - 1",
    "1 - n",
    "rec.items - 1",
    "nope.x - 1",
    "x.y / 2",
    "100 * rec.b / n",
    "n * 2 - rec.c",
    "3 - n",
    "x == rec.nope",
    "x != nope",
    "rec.b == rec.c",
    "nope.x == rec.b",
    "n == 3 or x == 'a'",
    "n > 3 and x == 'a'",
    "n > 3 or nope",
    "rec.b > 0 or x == 'a'",
    "rec.nope == 1 and n > 1",
    "x == 'b' or rec.pop == 1",
    "x == 'a' and rec.pop == 1",
    "nope.x == 1 or n >= 1",
    "n == 5 and x.y == 1",
    "rec.b < 1 and rec.c == none",
    "x > 1 or n < 1",
    "x in ['a', 'b']",
    "x not in [y, 'b']",
    "latest(lst, 'v').k",
    "n",
    "nope",
    "1 if n else 2",
    "n if m",
]


@pytest.mark.parametrize("source", TRICKY + RUNNER_FORMS)
def test_runner_does_what_evaluate_does(source: str) -> None:
    """``Expression.runner`` (one closure for the usual forms) gives what ``evaluate`` gives."""
    for expr in (compile_expression(source), expressions.compile_with_jinja(source)):
        for namespace in [*TRICKY_NAMESPACES, {**NS, "n": None, "m": 2, "x": None}]:
            full = {**expressions.base_namespace(), **namespace}
            assert _outcome_of(expr.runner, full) == _outcome(expr, namespace), namespace


def _outcome_of(run: expressions.Runner, namespace: dict[str, object]) -> tuple[object, ...]:
    try:
        result = run(namespace)
    except ExpressionError as exc:
        return ("refused", exc.code)
    except Exception as exc:
        return ("raised", type(exc).__name__)
    return ("ok", type(result).__name__, repr(result))


def test_runner_keeps_the_sandbox() -> None:
    namespace = {**expressions.base_namespace(), **NS}
    with pytest.raises(ExpressionError) as info:
        compile_expression("rec.pop == 1").runner(namespace)
    assert info.value.code == "PL203"
    with pytest.raises(ExpressionError) as info:
        compile_expression("rec.pop or 1").runner(namespace)
    assert info.value.code == "PL203"


THRESHOLDS = {"limit": 70.0, "drop": 10.0, "items": 3.0, "flag": True}


@pytest.mark.parametrize(
    "source",
    [
        "n > threshold.limit",
        "n <= -threshold.drop",
        "threshold.limit",
        "-threshold.drop * 2",
        "threshold.items",
        "threshold.nope",
        "threshold.flag == true",
        "-threshold.flag",
        "threshold['limit'] > n",
        "[threshold.limit, threshold.drop] | max",
        "lst | selectattr('v', 'gt', threshold.limit) | list",
        "latest(lst, 'v').v > threshold.limit",
        "x if threshold.limit > 3 else y",
    ],
)
def test_thresholds_read_as_constants_give_what_evaluate_gives(source: str) -> None:
    bindings = expressions.bind([], {"threshold": THRESHOLDS}, frozenset())
    expr = compile_expression(source)
    for namespace in TRICKY_NAMESPACES:
        full = {**expressions.base_namespace(), **namespace, "threshold": THRESHOLDS}
        expected = _outcome(expr, {**namespace, "threshold": THRESHOLDS})
        assert _outcome_of(bindings.runner(expr), full) == expected, namespace


def test_entries_a_dict_answers_as_attributes_are_not_constants() -> None:
    bindings = expressions.bind([], {"threshold": THRESHOLDS}, frozenset())
    namespace = {**expressions.base_namespace(), "threshold": THRESHOLDS}
    # ``threshold.items`` is the dict's own method in the sandbox, not the entry.
    assert bindings.runner(compile_expression("threshold.items"))(namespace) is not None
    assert bindings.runner(compile_expression("threshold.items == 3"))(namespace) is False
    assert bindings.runner(compile_expression("threshold.limit == 70"))(namespace) is True


SHARING = [
    "latest(lst, 'v').k",
    "latest(lst, 'v').v > 1",
    "previous(lst, 'v').k == 'p'",
    "pct_change(latest(lst, 'v').v, previous(lst, 'v').v)",
    "previous(lst, 'v')",
    "latest(item, 'v')",
    "latest(item, 'v').k",
    "latest(c, 'v')",
    "latest(c, 'v').k",
    "latest(lst, 'v') is none",
    "latest(lst, 'v') | list",
]


def test_shared_calls_give_what_each_expression_computes() -> None:
    exprs = [compile_expression(source) for source in SHARING]
    bindings = expressions.bind(exprs, {}, frozenset({"item", "c"}))
    # Calls made more than once, reading nothing that changes: computed once per namespace.
    assert sorted(bindings.shared) == sorted(
        [
            repr(("call", "latest", (("name", "lst"), ("const", "v")), ())),
            repr(("call", "previous", (("name", "lst"), ("const", "v")), ())),
        ]
    )
    lists = [
        NS["lst"],
        [],
        None,
        [{"v": 1, "k": "p"}, {"v": "a", "k": "q"}],  # cannot be sorted: each call fails
        [{"v": None}, 3],
        "not a list",
    ]
    for lst in lists:
        namespace = {**expressions.base_namespace(), **NS, "lst": lst, "item": lst, "c": lst}
        expected = [_outcome(expr, namespace) for expr in exprs]
        bindings.share(namespace)
        assert [_outcome_of(bindings.runner(expr), namespace) for expr in exprs] == expected
        # Run before the shared values are there, each computes them itself.
        early = {**expressions.base_namespace(), **NS, "lst": lst, "item": lst, "c": lst}
        assert [_outcome_of(bindings.runner(expr), early) for expr in exprs] == expected
        assert [
            _outcome_of(bindings.runner(expr, shared=False), namespace) for expr in exprs
        ] == expected


def test_only_plain_shared_values_are_kept() -> None:
    # A call that gives an iterator (what a name holding another callable may)
    # is not shared: each expression gets its own, as before.
    exprs = [compile_expression("latest(lst, 'v') | list")] * 2
    bindings = expressions.bind(exprs, {}, frozenset())
    assert bindings.shared
    namespace = {**expressions.base_namespace(), **NS, "latest": lambda *_: iter([1, 2])}
    bindings.share(namespace)
    assert [bindings.runner(expr)(namespace) for expr in exprs] == [[1, 2], [1, 2]]


def test_calls_of_a_changing_name_are_not_shared() -> None:
    exprs = [compile_expression("latest(lst, 'v')")] * 2
    assert expressions.bind(exprs, {}, frozenset({"latest"})).shared == {}
    assert expressions.bind(exprs, {}, frozenset({"lst"})).shared == {}
    assert expressions.bind(exprs, {}, frozenset()).shared


def test_shared_nodes_from_a_cache_are_not_built() -> None:
    # Only Bindings make shared nodes; one naming anything else is refused.
    call = ("call", "latest", (("name", "lst"), ("const", "v")), ())
    for plan in [("shared", "lst", call), ("shared", 3, call), ("shared", "(shared 0)", ("x",))]:
        assert expressions._runner(plan) is None
    assert expressions._runner(("shared", "(shared 0)", call)) is not None
