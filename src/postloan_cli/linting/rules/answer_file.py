"""Example answer files are valid against the checklist version they pin.

Answer files shipped as examples (found in the linted folders, or in an
``examples`` folder beside them) document how a checklist is filled in;
they are loaded and evaluated exactly as ``postloan inspect`` would, and
their problems are reported with their own codes (``PL3xx``). ``CL501``
itself means the pinned checklist could not be loaded.

Fails:

    checklist: {id: post-loan-standard, version: "1.0.0"}
    answers:
      use_of_funds:
        funds_as_contracted: "maybe"     # PL305: a yes/no answer

Passes:

    checklist: {id: post-loan-standard, version: "1.0.0"}
    answers:
      use_of_funds:
        funds_as_contracted: true
"""

from __future__ import annotations

from collections.abc import Iterator

from postloan_cli.errors import InputError, Problem
from postloan_cli.linting.model import AnswersFile, Finding

CODE = "CL501"
NAME = "answer-file"
LEVEL = "error"
SCOPE = "answers"


def _finding(problem: Problem) -> Finding:
    return Finding(
        problem.message,
        line=problem.line,
        column=problem.column,
        level=problem.level,
        code=problem.code,
    )


def check(ctx: AnswersFile) -> Iterator[Finding]:
    from postloan_cli.evaluation import evaluate
    from postloan_cli.loading import load_answers

    try:
        loaded = load_answers(ctx.path, ctx.checklist_dirs, display=ctx.display)
    except InputError as exc:
        elsewhere = [p for p in exc.problems if p.file != ctx.display]
        for problem in exc.problems:
            if problem.file == ctx.display:
                yield _finding(problem)
        if elsewhere:
            where = elsewhere[0].file or "its file"
            yield Finding(
                f"the pinned checklist cannot be loaded ({len(elsewhere)} problem(s) in "
                f"{where}; lint that file)",
                ("checklist",),
            )
        return
    evaluation = evaluate(loaded.checklist, loaded.answers)
    for problem in evaluation.problems:
        yield _finding(loaded.document.place(problem))
