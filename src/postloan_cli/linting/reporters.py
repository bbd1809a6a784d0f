"""Rendering a :class:`~postloan_cli.linting.LintResult`: text, json, github, sarif.

Reporters are chosen by name from :data:`REPORTERS`. Machine formats are
returned as plain strings for ``sys.stdout.write``: never rich, never
wrapped. Only ``text`` on a terminal uses colour.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Any

from postloan_cli import __version__
from postloan_cli.errors import Problem
from postloan_cli.linting import LintResult
from postloan_cli.linting.registry import LOADING_WARNINGS, RULES, description

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
INFORMATION_URI = "https://example.invalid/postloan"
DOCS = "docs/lint-rules.md"


def text(result: LintResult) -> str:
    """``file:line:col: severity CODE message``, one a line (the summary goes to stderr)."""
    return "".join(p.format().replace("\n", " ").replace("\r", " ") + "\n" for p in result.problems)


def summary(result: LintResult) -> str:
    errors, warnings = len(result.errors), len(result.warnings)
    files = len(result.files)
    if not result.problems:
        return f"{files} file(s) checked: no problems\n"
    return f"{files} file(s) checked: {errors} error(s), {warnings} warning(s)\n"


def _problem_json(problem: Problem) -> dict[str, Any]:
    return {
        "file": problem.file,
        "line": problem.line,
        "column": problem.column,
        "severity": problem.level,
        "code": problem.code,
        "message": problem.message,
    }


def as_json(result: LintResult) -> str:
    payload = {
        "tool": "postloan",
        "version": __version__,
        "files": len(result.files),
        "errors": len(result.errors),
        "warnings": len(result.warnings),
        "problems": [_problem_json(p) for p in result.problems],
    }
    return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def github(result: LintResult) -> str:
    """GitHub workflow commands (``::error file=…,line=…,col=…,title=…::message``), errors first."""
    ordered = sorted(result.problems, key=lambda p: p.level != "error")
    lines: list[str] = []
    for problem in ordered:
        props = []
        if problem.file:
            props.append(f"file={_escape_property(_posix(problem.file))}")
        if problem.line is not None:
            props.append(f"line={problem.line}")
            if problem.column is not None:
                props.append(f"col={problem.column}")
        props.append(f"title={_escape_property(problem.code)}")
        command = "error" if problem.level == "error" else "warning"
        lines.append(
            f"::{command} {','.join(props)}::{_escape_data(problem.code + ' ' + problem.message)}\n"
        )
    return "".join(lines)


def _posix(file: str) -> str:
    return PurePath(file).as_posix()


def _uri(file: str) -> str:
    path = Path(file)
    if path.is_absolute():
        try:
            path = path.relative_to(Path.cwd())
        except ValueError:
            return path.as_uri()
    from urllib.parse import quote

    return quote(path.as_posix())


def _rule_descriptor(code: str) -> dict[str, Any]:
    rule = RULES.get(code)
    if rule is not None:
        name, level = rule.name, rule.level
        full = rule.rationale
        help_text = rule.doc
        from postloan_cli.linting.registry import doc_markdown

        help_markdown = f"**{rule.summary}**\n\n" + doc_markdown(rule.doc)
    else:
        name = code.lower()
        level = "warning" if code in LOADING_WARNINGS else "error"
        full = description(code)
        help_text = f"{description(code)}. See {DOCS}."
        help_markdown = f"{description(code)}. See `{DOCS}`."
    return {
        "id": code,
        "name": name,
        "shortDescription": {"text": description(code)},
        "fullDescription": {"text": full},
        "help": {"text": help_text, "markdown": help_markdown},
        "helpUri": f"{INFORMATION_URI}/{DOCS}#{code.lower()}",
        "defaultConfiguration": {"level": level},
        "properties": {"tags": ["postloan"]},
    }


def sarif(result: LintResult) -> str:
    """SARIF 2.1.0: every rule with ``fullDescription`` and ``help``; a result a problem."""
    codes = list(RULES)
    for problem in result.problems:
        if problem.code not in codes:
            codes.append(problem.code)
    index = {code: i for i, code in enumerate(codes)}
    results = []
    for problem in result.problems:
        region: dict[str, int] = {"startLine": problem.line or 1}
        if problem.column is not None:
            region["startColumn"] = problem.column
        entry: dict[str, Any] = {
            "ruleId": problem.code,
            "ruleIndex": index[problem.code],
            "level": problem.level,
            "message": {"text": problem.message},
        }
        if problem.file:
            entry["locations"] = [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(problem.file)},
                        "region": region,
                    }
                }
            ]
        results.append(entry)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "postloan",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [_rule_descriptor(code) for code in codes],
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(log, ensure_ascii=False, indent=2) + "\n"


REPORTERS: dict[str, Callable[[LintResult], str]] = {
    "text": text,
    "json": as_json,
    "github": github,
    "sarif": sarif,
}
