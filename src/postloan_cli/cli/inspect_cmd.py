"""``postloan inspect``: one loan's inspection, from an answer file or interactively."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from postloan_cli.pipeline import Inspected


def inspect(
    answers: Path | None = typer.Option(
        None, "--answers", "-a", help="Answer file to evaluate and render (no questions asked)."
    ),
    formats: list[str] = typer.Option(
        ["md", "html"], "--format", "-f", help="Report format: md or html (repeatable)."
    ),
    output: Path = typer.Option(
        Path("reports"), "--output", "-o", help="Folder for the opinion reports."
    ),
    lang: str | None = typer.Option(
        None, "--lang", help="Report language (en, es, zh...); default: the checklist's."
    ),
    templates: Path | None = typer.Option(
        None, "--templates", help="Folder whose templates override the shipped ones."
    ),
    checklists: Path | None = typer.Option(
        None, "--checklists", help="Folder of checklists searched before the shipped ones."
    ),
    loan: str | None = typer.Option(None, "--loan", help="Loan id (interactive inspection)."),
    previous: Path | None = typer.Option(
        None, "--previous", help="The loan's previous answer file: its answers become defaults."
    ),
    resume: Path | None = typer.Option(
        None, "--resume", help="Continue an interrupted interactive inspection from its draft."
    ),
    checklist: str = typer.Option(
        "post-loan-standard", "--checklist", help="Checklist id for a new interactive inspection."
    ),
    checklist_version: str | None = typer.Option(
        None, "--checklist-version", help="Checklist version (default: the newest)."
    ),
    inspections: Path = typer.Option(
        Path("inspections"),
        "--inspections",
        help="Folder where interactive answer files and drafts are kept.",
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite existing final files."),
) -> None:
    """Inspect one loan: evaluate its answers and write the inspection opinion.

    With --answers the answer file is evaluated and rendered; without it the
    checklist is asked question by question in the terminal.
    Exit codes: 0 ok (whatever the findings), 2 input or usage error.
    """
    from postloan_cli.cli._edge import fail, usage
    from postloan_cli.errors import InputError
    from postloan_cli.pipeline import FORMATS, RenderOptions, inspect_answers

    bad = [f for f in formats if f not in FORMATS]
    if bad:
        usage(f"unknown format {bad[0]!r}; choose from {', '.join(FORMATS)}")
    options = RenderOptions(
        formats=tuple(dict.fromkeys(formats)),
        lang=lang,
        template_dirs=(templates,) if templates else (),
        checklist_dirs=(checklists,) if checklists else (),
    )
    if answers is None:
        if not sys.stdin.isatty():
            usage(
                "standard input is not a terminal, so no questions can be asked; "
                "give an answer file with --answers FILE"
            )
        from postloan_cli.cli._edge import resume_gc
        from postloan_cli.interactive import InteractiveOptions, run_interactive

        resume_gc()  # a session of any length: collect as usual
        code = run_interactive(
            InteractiveOptions(
                render=options,
                output=output,
                inspections=inspections,
                loan=loan,
                previous=previous,
                resume=resume,
                checklist=checklist,
                checklist_version=checklist_version,
                force=force,
            )
        )
        raise typer.Exit(code)
    try:
        result = inspect_answers(answers, output, options)
    except InputError as exc:
        fail(exc.problems)
    from postloan_cli.cli._edge import print_problems

    print_problems(result.warnings)
    print_summary(result, lang)


def print_summary(result: Inspected, lang: str | None) -> None:
    """The terminal summary: loan, suggested classification, signals, files written.

    Plain text (see :mod:`postloan_cli.cli._table`): rich is not imported for
    these few lines.
    """
    from postloan_cli.cli._edge import printable
    from postloan_cli.i18n import labels, localize

    ev = result.evaluation
    checklist = ev.checklist.checklist
    language = lang or checklist.default_language
    words = labels(language)
    loan = ev.answer_file.loan
    out = sys.stdout

    def classification(value: str) -> str:
        return words.get(f"classification_{value}", value)

    out.write(
        printable(
            f"{words['loan']} {loan.id} — {loan.borrower.name}  "
            f"({ev.answer_file.inspection.date.isoformat()})"
        )
        + "\n"
    )
    proposed = classification(ev.proposed.value) if ev.proposed else "—"
    out.write(
        printable(
            f"{words['suggested_classification']}: {classification(ev.suggested.value)}   "
            f"{words['proposed_classification']}: {proposed}"
        )
        + "\n"
    )
    if ev.signals:
        from postloan_cli.cli._table import print_table

        rows = []
        for signal in ev.signals:
            text = localize(signal.text, language, checklist.default_language)
            if signal.item:
                text = f"{text} ({signal.item})"
            escalate = localize(signal.escalate_to, language, checklist.default_language)
            if escalate and signal.due:
                escalate = f"{escalate} — {signal.due.isoformat()}"
            rows.append(
                (
                    words.get(f"severity_{signal.severity.value}", signal.severity.value),
                    text,
                    localize(signal.action, language, checklist.default_language),
                    escalate,
                )
            )
        print_table(
            f"{words['warning_signals']}: {len(ev.signals)}",
            [words[c] for c in ("severity", "signal", "required_action", "escalate_to")],
            rows,
            out,
        )
    else:
        out.write(printable(words["no_signals"]) + "\n")
    for fmt, path in result.written.items():
        out.write(printable(f"{fmt}: {path}") + "\n")


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect)
