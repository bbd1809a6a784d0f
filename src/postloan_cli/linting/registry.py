"""The explicit list of lint rules, and their documentation.

A rule is one module under :mod:`postloan_cli.linting.rules` with ``CODE``,
``NAME``, ``LEVEL``, ``SCOPE``, a ``check`` function and a docstring (a
summary line, the rationale, a failing and a passing example). Adding a
rule means adding its module here: nothing is discovered implicitly.

Problems found while *loading* a file (YAML syntax, structure) keep the
``PL1xx``/``PL200``/``PL3xx`` codes of :data:`postloan_cli.errors.CODES`;
they are listed by ``--list-rules`` too and can be selected and ignored.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from types import ModuleType

from postloan_cli.errors import CODES
from postloan_cli.linting.model import RuleInfo
from postloan_cli.linting.rules import (
    answer_file,
    classification_map,
    default_language,
    duplicate_id,
    duplicate_version,
    evaluation_order,
    expression_internals,
    expression_syntax,
    lock_file,
    missing_translation,
    never_asked,
    not_locked,
    path_layout,
    rule_action,
    schema_modeline,
    single_option,
    standard_areas,
    template_names,
    template_syntax,
    threshold_range,
    type_mismatch,
    unknown_choice,
    unknown_name,
    version_changed,
)

_MODULES: tuple[ModuleType, ...] = (
    schema_modeline,
    duplicate_id,
    expression_syntax,
    expression_internals,
    unknown_name,
    unknown_choice,
    type_mismatch,
    evaluation_order,
    never_asked,
    rule_action,
    classification_map,
    standard_areas,
    single_option,
    missing_translation,
    default_language,
    threshold_range,
    path_layout,
    version_changed,
    duplicate_version,
    not_locked,
    lock_file,
    template_syntax,
    template_names,
    answer_file,
)


def _info(module: ModuleType) -> RuleInfo:
    return RuleInfo(
        code=module.CODE,
        name=module.NAME,
        level=module.LEVEL,
        scope=module.SCOPE,
        doc=inspect.cleandoc(module.__doc__ or ""),
        check=module.check,
    )


#: Every lint rule by code, in documentation order.
RULES: dict[str, RuleInfo] = {m.CODE: _info(m) for m in _MODULES}

#: Codes of problems found while loading files (kept from :mod:`postloan_cli.errors`).
LOADING_CODES: dict[str, str] = {
    code: text for code, text in CODES.items() if code.startswith(("PL1", "PL200", "PL205", "PL3"))
}
#: Loading problems that are warnings, not errors.
LOADING_WARNINGS = frozenset({"PL306"})

#: A problem raised by a rule that crashed (a bug in postloan, reported, never a traceback).
INTERNAL = "CL000"


def all_codes() -> list[str]:
    return [INTERNAL, *RULES, *LOADING_CODES]


def description(code: str) -> str:
    """One line about ``code``."""
    if code in RULES:
        return RULES[code].summary
    if code == INTERNAL:
        return "a lint rule failed (a bug in postloan; please report it)"
    return CODES.get(code, code)


def matches(code: str, patterns: Iterable[str]) -> bool:
    """``code`` equals one of ``patterns`` or starts with one (``CL1`` selects CL1xx)."""
    return any(code.startswith(p) for p in patterns)


def unknown_patterns(patterns: Iterable[str]) -> list[str]:
    """Patterns that match no known code (a typo in ``--select``/``--ignore``)."""
    codes = all_codes()
    return [p for p in patterns if not any(c.startswith(p) for c in codes)]


def is_enabled(code: str, select: Iterable[str] | None, ignore: Iterable[str]) -> bool:
    if select is not None and not matches(code, select):
        return False
    return not matches(code, ignore)


def rules_markdown() -> str:
    """``docs/lint-rules.md``: every rule from its docstring, then the loading codes."""
    out = [
        "# `postloan lint` rules\n",
        "<!-- Generated from the rule docstrings by "
        "postloan_cli.linting.registry.rules_markdown(); do not edit by hand. -->\n",
        "Each finding is printed as `file:line:col: severity CODE message`. "
        "Choose rules with `--select CODE` and `--ignore CODE` (a prefix such as `CL1` "
        "selects a group). `postloan lint --list-rules` prints this list.\n",
        "| code | name | severity | summary |",
        "|---|---|---|---|",
    ]
    for rule in RULES.values():
        out.append(
            f"| [{rule.code}](#{rule.code.lower()}) | {rule.name} | {rule.level} | {rule.summary} |"
        )
    out.append("")
    for rule in RULES.values():
        out.append(f"## {rule.code}\n")
        out.append(f"`{rule.name}` · {rule.level} · checks {_SCOPES[rule.scope]}\n")
        out.append(doc_markdown(rule.doc))
    out.append("## Loading and structure problems\n")
    out.append(
        "Problems found while reading a file keep the codes `postloan` uses everywhere; "
        "a file with one of them is not checked by the rules above.\n"
    )
    out.append("| code | severity | meaning |")
    out.append("|---|---|---|")
    for code, text in LOADING_CODES.items():
        level = "warning" if code in LOADING_WARNINGS else "error"
        out.append(f"| {code} | {level} | {text} |")
    out.append(f"| {INTERNAL} | error | {description(INTERNAL)} |")
    return "\n".join(out) + "\n"


_SCOPES = {
    "checklist": "each checklist",
    "project": "all linted checklists together",
    "template": "each template",
    "answers": "each example answer file",
}


def doc_markdown(doc: str) -> str:
    """A rule docstring as Markdown: prose kept, the indented examples fenced."""
    lang = "jinja" if "{{" in doc or "{%" in doc else "yaml"
    out: list[str] = []
    block: list[str] | None = None
    expecting = False

    def close() -> None:
        nonlocal block
        if block is not None:
            while block and not block[-1].strip():
                block.pop()
            out.extend([f"```{lang}", *block, "```", ""])
            block = None

    for line in doc.splitlines()[1:]:
        if line.strip() in ("Fails:", "Passes:"):
            close()
            out.extend([f"**{line.strip()}**", ""])
            expecting = True
        elif block is not None and (line.startswith("    ") or not line.strip()):
            block.append(line[4:])
        elif expecting and line.startswith("    "):
            block = [line[4:]]
            expecting = False
        elif expecting and not line.strip():
            continue
        else:
            close()
            out.append(line)
    close()
    return "\n".join(out).strip() + "\n"
