"""``postloan lint``: check checklists, templates and example answer files for CI."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from postloan_cli.errors import Problem


class Format(str, Enum):  # noqa: UP042 - typer reads str enums
    text = "text"
    json = "json"
    github = "github"
    sarif = "sarif"


def _codes(values: list[str]) -> tuple[str, ...]:
    return tuple(c.strip().upper() for v in values for c in v.split(",") if c.strip())


def lint(
    paths: list[Path] = typer.Argument(
        None, help="Checklist folders or files, template folders or files, answer files."
    ),
    fmt: Format = typer.Option(
        Format.text, "--format", "-f", help="Output: text, json, github or sarif."
    ),
    select: list[str] = typer.Option(
        [], "--select", help="Report only these codes or prefixes (repeatable, or comma-separated)."
    ),
    ignore: list[str] = typer.Option(
        [], "--ignore", help="Do not report these codes or prefixes (repeatable)."
    ),
    strict: bool = typer.Option(False, "--strict", help="Warnings fail the run too (exit 1)."),
    list_rules: bool = typer.Option(False, "--list-rules", help="Print every rule and exit."),
    update_lock: bool = typer.Option(
        False, "--update-lock", help="Rewrite the lock file(s) from the checklists, then lint."
    ),
    lock: Path | None = typer.Option(
        None, "--lock", help="Lock file (default: postloan.lock in each checklist folder)."
    ),
    checklists: list[Path] = typer.Option(
        [], "--checklists", help="Folder searched for checklists pinned by answer files."
    ),
    examples: bool = typer.Option(
        True, "--examples/--no-examples", help="Check answer files in an examples/ folder beside."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the report to this file instead of standard output."
    ),
) -> None:
    """Check checklists, templates and example answer files.

    Prints every problem as 'file:line:col: severity CODE message'.
    Exit codes: 0 clean; 1 an error was found (with --strict: or a warning);
    2 the command was misused (unknown option, code or path).
    """
    from postloan_cli.cli._edge import usage
    from postloan_cli.linting.registry import unknown_patterns

    if list_rules:
        sys.stdout.write(_rules_listing())
        raise typer.Exit(0)
    if not paths:
        usage(
            "give the checklist and template folders or files to lint (e.g. checklists/ templates/)"
        )
    missing = [p for p in paths if not p.exists()]
    if missing:
        usage(f"no such file or folder: {missing[0]}")
    selected, ignored = _codes(select), _codes(ignore)
    bad = unknown_patterns((*selected, *ignored))
    if bad:
        usage(f"unknown rule code {bad[0]!r}; see 'postloan lint --list-rules'")

    from postloan_cli.linting import LintOptions, lint_paths
    from postloan_cli.linting.reporters import REPORTERS, summary

    options = LintOptions(
        select=selected or None,
        ignore=ignored,
        strict=strict,
        lock=lock,
        update_lock=update_lock,
        checklist_dirs=tuple(checklists),
        examples=examples,
    )
    from postloan_cli.cli._edge import resume_gc
    from postloan_cli.errors import InputError

    resume_gc()  # folders of files: collect as usual
    try:
        result = lint_paths(paths, options)
    except InputError as exc:  # e.g. the lock file cannot be written
        from postloan_cli.cli._edge import fail

        fail(exc.problems)
    for lock_file, changes in result.lock_changes.items():
        sys.stderr.write(
            f"updated {lock_file}" + (f": {', '.join(changes)}" if changes else "") + "\n"
        )
    report = REPORTERS[fmt.value](result)
    if output is not None:
        from postloan_cli.outputs import atomic_write

        try:
            atomic_write(output, report)
        except InputError as exc:
            from postloan_cli.cli._edge import fail

            fail(exc.problems)
    elif fmt is Format.text and sys.stdout.isatty():
        _print_coloured(result.problems)
    else:
        sys.stdout.write(report)
    if fmt is Format.text:
        sys.stderr.write(summary(result))
    raise typer.Exit(result.exit_code)


def _print_coloured(problems: list[Problem]) -> None:
    from rich.text import Text

    from postloan_cli.cli._edge import console

    out = console()
    for problem in problems:
        line = problem.format().replace("\n", " ")
        head, _, rest = line.partition(f": {problem.level} ")
        text = Text(head + ": ")
        text.append(problem.level, style="bold red" if problem.level == "error" else "yellow")
        text.append(" " + rest)
        out.print(text, soft_wrap=True, markup=False, highlight=False)


def _rules_listing() -> str:
    from postloan_cli.linting.registry import INTERNAL, LOADING_CODES, LOADING_WARNINGS, RULES

    lines = [f"{r.code}  {r.level:<7}  {r.name:<22}  {r.summary}" for r in RULES.values()]
    lines.append("")
    lines.append("Problems found while loading a file:")
    for code, text in LOADING_CODES.items():
        level = "warning" if code in LOADING_WARNINGS else "error"
        lines.append(f"{code}  {level:<7}  {text}")
    lines.append(f"{INTERNAL}  error    a lint rule failed (a bug in postloan)")
    return "\n".join(lines) + "\n"


def register(app: typer.Typer) -> None:
    app.command("lint")(lint)
