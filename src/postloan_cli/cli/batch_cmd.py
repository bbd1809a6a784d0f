"""``postloan batch``: every answer file of a folder to its opinion, plus a portfolio summary."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from postloan_cli.batch import BatchResult, FileResult

_SEVERITIES = ("critical", "major", "watch", "info")
#: Exit code of a batch stopped with Ctrl-C (as a shell reports SIGINT).
EXIT_INTERRUPTED = 130


def batch(
    input_dir: Path = typer.Argument(
        ..., metavar="INPUT", help="Folder of answer files (searched recursively)."
    ),
    output: Path = typer.Option(
        Path("reports"), "--output", "-o", help="Folder for the reports and the summary."
    ),
    formats: list[str] = typer.Option(
        ["md", "html"], "--format", "-f", help="Report format: md or html (repeatable)."
    ),
    jobs: int | None = typer.Option(
        None, "--jobs", "-j", min=1, help="Worker processes (default: one per core)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Render every file, even those unchanged since the last run."
    ),
    fail_on: str | None = typer.Option(
        None,
        "--fail-on",
        metavar="SEVERITY",
        help="Also exit 1 when a signal of this severity or worse fired "
        "(critical, major, watch, info).",
    ),
    lang: str | None = typer.Option(
        None, "--lang", help="Report language (en, es, zh...); default: each checklist's."
    ),
    templates: Path | None = typer.Option(
        None, "--templates", help="Folder whose templates override the shipped ones."
    ),
    checklists: Path | None = typer.Option(
        None, "--checklists", help="Folder of checklists searched before the shipped ones."
    ),
) -> None:
    """Inspect every answer file under INPUT and write a portfolio summary.

    Reports mirror the input tree under --output; the summary (index.html,
    summary.md, summary.json, summary.csv) lists every inspection worst first,
    the totals by classification, the escalation list, unfinished drafts and
    failed files. A re-run renders only what changed (--force: everything).
    Exit codes: 0 ok; 1 some file failed (or --fail-on matched); 2 usage error;
    130 interrupted (the reports written are kept; a re-run finishes the rest).
    """
    from postloan_cli.cli._edge import fail, resume_gc, usage

    if fail_on is not None and fail_on not in _SEVERITIES:
        usage(f"unknown severity {fail_on!r} for --fail-on; choose from {', '.join(_SEVERITIES)}")
    from postloan_cli.batch import BatchOptions, run_batch
    from postloan_cli.errors import EXIT_FINDINGS, EXIT_OK, InputError
    from postloan_cli.pipeline import FORMATS, RenderOptions

    bad = [f for f in formats if f not in FORMATS]
    if bad:
        usage(f"unknown format {bad[0]!r}; choose from {', '.join(FORMATS)}")
    if not input_dir.is_dir():
        usage(f"{input_dir} is not a folder of answer files")
    options = BatchOptions(
        render=RenderOptions(
            formats=tuple(dict.fromkeys(formats)),
            lang=lang,
            template_dirs=(templates,) if templates else (),
            checklist_dirs=(checklists,) if checklists else (),
        ),
        jobs=jobs,
        force=force,
    )
    reporter = _Reporter()
    resume_gc()  # thousands of files: collect as usual
    try:
        result = run_batch(
            input_dir, output, options, on_result=reporter.result, on_start=reporter.start
        )
    except InputError as exc:
        reporter.stop()
        fail(exc.problems)
    except KeyboardInterrupt:
        # Typer would exit 130 in silence; say what is kept and how to go on.
        reporter.stop()
        sys.stderr.write(
            f"\ninterrupted after {reporter.done} of {reporter.total} file(s); the reports "
            "written are kept, and running the same command again renders only the rest\n"
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        reporter.stop()
    _report_end(result)
    failed = result.failed or (fail_on is not None and result.fired_at_or_above(fail_on))
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_OK)


class _Reporter:
    """Progress as files complete: a live bar on a terminal, one plain line per file otherwise."""

    def __init__(self) -> None:
        from postloan_cli.cli._edge import console

        self.console = console()
        self.progress: Any = None
        self.task: Any = None
        self.total = 0
        self.done = 0

    def start(self, total: int) -> None:
        self.total = total
        if not self.console.is_interactive:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("inspecting"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self.progress.start()
        self.task = self.progress.add_task("batch", total=total)

    def result(self, res: FileResult) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress.advance(self.task)  # failures are listed at the end
            return
        sys.stdout.write(_line(res) + "\n")
        sys.stdout.flush()

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def _line(res: FileResult) -> str:
    """``rendered  sub/a.yaml  L-1  substandard  critical 1, major 2``."""
    if res.status == "failed":
        first = res.problems[0].format() if res.problems else "failed"
        more = f" (+{len(res.problems) - 1} more)" if len(res.problems) > 1 else ""
        return f"failed     {res.input}  {first}{more}".replace("\n", " ")
    loan = res.loan or ""
    if res.status == "draft" or res.row_status == "draft":
        return f"draft      {res.input}  {loan}  unfinished, not rendered"
    counts = res.signals or {}
    fired = ", ".join(f"{s} {counts[s]}" for s in _SEVERITIES if counts.get(s))
    text = f"{res.status:<10} {res.input}  {loan}  {res.suggested or ''}"
    return (f"{text}  {fired}" if fired else text).replace("\n", " ")


def _report_end(result: BatchResult) -> None:
    from postloan_cli.cli._edge import print_problems

    if result.warnings:
        print_problems(result.warnings)
    for _input, problems in sorted(result.failures, key=lambda f: f[0]):
        print_problems(problems)
    counts = result.signals
    sys.stdout.write(
        f"{result.total} file(s): {result.rendered} rendered, "
        f"{result.unchanged} unchanged, {result.drafts} draft(s), "
        f"{len(result.failures)} failed; signals: "
        + ", ".join(f"{s} {counts.get(s, 0)}" for s in _SEVERITIES)
        + f"; {result.seconds:.1f} s\n"
    )
    if result.summary:
        sys.stdout.write(f"summary: {result.summary[0]}\n")


def register(app: typer.Typer) -> None:
    app.command("batch")(batch)
